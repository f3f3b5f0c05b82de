"""Benchmark: calls never paid twice — the HTTP cache and JOBDIR resumes.

Three measurements, each with real ``scrapy crawl`` processes:

1. A shop with ``details=1`` against a sandbox that answers 10 % 5xx and 10 % QPS refusals,
   with ``HTTPCACHE_ENABLED``: the first crawl must be complete, the second must spend at most
   5 % of the first's calls (calls counted at the sandbox).
2. A listing of the 5,000-product shop, stopped half-way with SIGINT (Ctrl-C) and resumed
   from its JOBDIR: the two runs together must spend at most 1.05 x the calls of one
   uninterrupted crawl, with the embedded sandbox and with a standalone one.
3. Two workers of a distributed crawl sharing the Redis cache: after worker A crawled the
   shop, worker B's crawl of it must spend at most 5 % of A's calls.

Prints a table and writes ``bench/results/cache.json``.

    python bench/cache.py
"""

from __future__ import annotations

import argparse
import signal
import time
from typing import TYPE_CHECKING, Any

from _common import (
    crawl,
    enqueue_seed,
    goal_row,
    print_summary,
    print_table,
    sandbox,
    start_redis,
    worker,
    workdir,
    write_results,
)

if TYPE_CHECKING:
    from pathlib import Path

    from _common import Crawl, Sandbox

FAULTS = ("--fail-5xx", "0.1", "--fail-qps", "0.1")
CACHE_GOAL = 0.05
RESUME_GOAL = 1.05


def shop_args(shop: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"seller_open_id": shop["seller_open_id"], **more}


def verdict(run: Crawl) -> str | None:
    report = run.report()
    return None if report is None else report["verdict"]


def cache_run(box: Sandbox, shop: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Two crawls of a shop through one cache, against a failing gateway."""
    settings = {"HTTPCACHE_ENABLED": 1, "HTTPCACHE_DIR": directory / "cache", "ALI1688_QPS": 200}
    runs, calls = [], []
    for name in ("first", "second"):
        before = box.stats()["total_calls"]
        run = crawl("shop", directory / name, sandbox=box, args=shop_args(shop, details=1),
                    settings=settings).run()
        calls.append(box.stats()["total_calls"] - before)
        runs.append(run)
    first, second = runs
    return {
        "scenario": "HTTP cache, gateway with 10 % 5xx + 10 % QPS refusals",
        "products": shop["products"],
        "first_verdict": verdict(first),
        "first_products": len(set(first.product_ids())),
        "second_verdict": verdict(second),
        "second_products": len(set(second.product_ids())),
        "first_calls": calls[0],
        "second_calls": calls[1],
        "share": round(calls[1] / calls[0], 4),
        "cache_hits": second.stats().get("ali1688/cache/hit", 0),
        "exit_codes": [first.returncode, second.returncode],
    }


def resume_run(box: Sandbox | None, shop: dict[str, Any], directory: Path, qps: float) -> dict[str, Any]:
    """One uninterrupted listing crawl, then the same stopped half-way and resumed (JOBDIR).

    Calls are the crawls' own ``ali1688/calls``, which the embedded sandbox cannot be asked
    for once its crawl has ended."""
    settings = {"ALI1688_QPS": qps}

    def run(name: str, **more: Any) -> Crawl:
        return crawl("shop", directory / name, sandbox=box, args=shop_args(shop),
                     settings={**settings, **more})

    whole = run("whole").run()
    stopped = run("stopped", JOBDIR=directory / "job").start()
    time.sleep(whole.seconds / 2)
    stopped.process.send_signal(signal.SIGINT)
    stopped.wait()
    resumed = run("resumed", JOBDIR=directory / "job").run()
    whole_calls = whole.stats()["ali1688/calls"]
    spent = stopped.stats().get("ali1688/calls", 0) + resumed.stats().get("ali1688/calls", 0)
    products = set(stopped.product_ids()) | set(resumed.product_ids())
    return {
        "scenario": f"Ctrl-C half-way + JOBDIR resume, {'embedded' if box is None else 'standalone'} sandbox",
        "products": shop["products"],
        "whole_calls": whole_calls,
        "stopped_calls": stopped.stats().get("ali1688/calls", 0),
        "resumed_calls": resumed.stats().get("ali1688/calls", 0),
        "ratio": round(spent / whole_calls, 4),
        "resumed_products": len(products),
        "resumed_verdict": verdict(resumed),
        "exit_codes": [whole.returncode, stopped.returncode, resumed.returncode],
    }


def shared_cache_run(box: Sandbox, shop: dict[str, Any], directory: Path) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    redis_process, redis_url = start_redis(directory)
    try:
        calls, runs = [], []
        for name in ("worker-a", "worker-b"):
            enqueue_seed(box, redis_url, "shop", f"seller_open_id={shop['seller_open_id']}", "details=1")
            before = box.stats()["total_calls"]
            runs.append(worker(box, redis_url, directory / name, "shop", HTTPCACHE_ENABLED=1,
                               ALI1688_QPS=200).run())
            calls.append(box.stats()["total_calls"] - before)
    finally:
        redis_process.terminate()
        redis_process.wait()
    return {
        "scenario": "two workers sharing the Redis cache (A crawls, then B)",
        "products": shop["products"],
        "first_calls": calls[0],
        "second_calls": calls[1],
        "share": round(calls[1] / calls[0], 4),
        "second_products": len(set(runs[1].product_ids())),
        "exit_codes": [run.returncode for run in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shop-size", type=int, default=640)
    parser.add_argument("--listing-size", type=int, default=5000)
    parser.add_argument("--resume-qps", type=float, default=10.0,
                        help="ALI1688_QPS of the resume crawls (slow enough to stop half-way)")
    options = parser.parse_args()

    with workdir("cache") as tmp:
        with sandbox("--qps", "0", "--page-cap", "5", *FAULTS) as box:
            shop = box.nearest_shop(options.shop_size)
            cached = cache_run(box, shop, tmp / "cache")
        with sandbox("--qps", "0") as box:
            listing = box.nearest_shop(options.listing_size)
            standalone = resume_run(box, listing, tmp / "standalone", options.resume_qps)
            shared = shared_cache_run(box, box.nearest_shop(options.shop_size), tmp / "shared")
        embedded = resume_run(None, listing, tmp / "embedded", options.resume_qps)

    print_table("HTTP cache", [cached, shared],
                ["scenario", "products", "first_calls", "second_calls", "share", "exit_codes"])
    print_table("Stop and resume", [embedded, standalone],
                ["scenario", "products", "whole_calls", "stopped_calls", "resumed_calls", "ratio",
                 "resumed_products", "exit_codes"])
    summary = [
        goal_row("HTTP cache, failing gateway: first crawl complete, second crawl's calls / first's",
                 cached["share"], f"complete, <= {CACHE_GOAL}",
                 cached["first_verdict"] == "complete" and cached["first_products"] == shop["products"]
                 and cached["second_products"] == shop["products"] and cached["share"] <= CACHE_GOAL),
        goal_row("shared Redis cache: worker B's crawl after A's, calls / A's", shared["share"],
                 f"<= {CACHE_GOAL}",
                 shared["share"] <= CACHE_GOAL and shared["second_products"] == shop["products"]),
        *(goal_row(f"{row['scenario']}: calls / uninterrupted crawl's", row["ratio"],
                   f"<= {RESUME_GOAL}, every product",
                   row["ratio"] <= RESUME_GOAL and row["resumed_products"] == listing["products"])
          for row in (embedded, standalone)),
    ]
    path = write_results("cache", summary, {"rows": [cached, shared, embedded, standalone]})
    print_summary("cache", summary, path)


if __name__ == "__main__":
    main()
