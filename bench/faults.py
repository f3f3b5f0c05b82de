"""Benchmark: no product lost or doubled when the gateway misbehaves or the crawl is killed.

1. Faults: a sandbox injecting 10 % 5xx (HTML pages), 5 % QPS-limit errors, 2 % truncated
   JSON and 2 % dropped connections, with a small paging cap (so the listing is sliced); a
   ``details=1`` shop crawl, and every access token expired once half-way
   (``POST /sandbox/expire-tokens``). It must end with every product, no duplicates, and a
   complete crawl report.
2. Kill and resume: the same shop crawled with ``JOBDIR`` and ``ALI1688_DB_URL`` (SQLite) is
   SIGKILLed half-way, then started again with the same command; the database must hold every
   product exactly once and the resumed run's report must say complete. The same after a
   graceful stop (SIGINT, as Ctrl-C), for contrast.
3. Distributed: the shop crawled by workers sharing one Redis (which writes an append-only
   file): the first worker SIGKILLed a third of the way, two more started, Redis SIGKILLed
   two thirds of the way and restarted, then the same worker command run once more. Every
   product must be in the feeds; the dead worker's leases come back to the queue.

Prints a table and writes ``bench/results/faults.json``.

    python bench/faults.py --shop-size 640 --page-cap 5
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

from _common import (
    Crawl,
    Sandbox,
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

FAULTS = ("--fail-5xx", "0.10", "--fail-qps", "0.05", "--fail-truncate", "0.02",
          "--fail-drop", "0.02")


def wait_for_calls(box: Sandbox, run: Crawl, calls: int) -> int:
    """Block until the gateway has seen *calls* calls (or the crawl ended); the count seen."""
    while True:
        seen = box.stats()["total_calls"]
        if seen >= calls or run.process.poll() is not None:
            return seen
        time.sleep(0.05)


def check_report(report: dict[str, Any] | None, expected: int) -> bool:
    return bool(report) and report["verdict"] == "complete" and report["missing_count"] == 0 \
        and report["unique_fetched"] == expected and report["official_total"] == expected


def fault_run(box: Sandbox, shop: dict[str, Any], expected: set[str], directory: Path) -> dict[str, Any]:
    box.reset_stats()
    run = crawl("shop", directory, sandbox=box,
                args={"seller_open_id": shop["seller_open_id"], "details": 1},
                settings={"ALI1688_QPS": 1_000_000, "ALI1688_BACKOFF_BASE": 0.05,
                          "ALI1688_BACKOFF_MAX": 1}).start()
    expired_at = wait_for_calls(box, run, len(expected) // 2)
    expired = box.post("/sandbox/expire-tokens")["expired"]
    run.wait()
    ids = run.product_ids()
    stats, gateway = run.stats(), box.stats()
    return {
        "scenario": "faults + token expiry",
        "exit_code": run.returncode,
        "products": len(set(ids)),
        "missing": len(expected - set(ids)),
        "duplicates": len(ids) - len(set(ids)),
        "report_complete": check_report(run.report(), len(expected)),
        "calls": gateway["total_calls"],
        "faults_injected": gateway["faults"],
        "tokens_expired_after_calls": expired_at,
        "tokens_expired": expired,
        "token_refreshes": run.log().count("Refreshed the access token"),
        "calls_retried_after_refresh": stats.get("ali1688/retries/token", 0),
        "retries": {k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("ali1688/retries/")},
        "gave_up": {k: v for k, v in stats.items() if k.startswith("ali1688/gave_up/")},
        "seconds": run.crawl_seconds(),
    }


def database_ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT product_id FROM products")]


def kill_resume_run(box: Sandbox, shop: dict[str, Any], expected: set[str], directory: Path,
                    qps: float, how: signal.Signals = signal.SIGKILL) -> dict[str, Any]:
    """Stop the crawl half-way with *how*, start it again, check the database."""
    box.reset_stats()
    db = directory / "shop.db"

    def run(name: str) -> Crawl:
        return crawl("shop", directory / name, sandbox=box,
                     args={"seller_open_id": shop["seller_open_id"], "details": 1},
                     settings={"ALI1688_QPS": qps, "JOBDIR": directory / "job",
                               "ALI1688_DB_URL": f"sqlite:///{db}"})

    first = run("first").start()
    killed_at = wait_for_calls(box, first, len(expected) // 2)
    if how is signal.SIGKILL:
        first.kill()
    else:
        first.process.send_signal(how)
        first.wait()
    stored_before = len(database_ids(db)) if db.exists() else 0
    second = run("resumed").run()
    ids = database_ids(db)
    return {
        "scenario": f"{how.name} half-way + resume (JOBDIR, SQLite)",
        "exit_code": second.returncode,
        "products": len(set(ids)),
        "missing": len(expected - set(ids)),
        "duplicates": len(ids) - len(set(ids)),
        "report_complete": check_report(second.report(), len(expected)),
        "calls": box.stats()["total_calls"],
        "killed_after_calls": killed_at,
        "stored_before_resume": stored_before,
        "resumed_run_products": len(second.product_ids()),
        "seconds": second.crawl_seconds() if second.stats_path.exists() else None,
    }


def distributed_run(box: Sandbox, shop: dict[str, Any], expected: set[str], directory: Path,
                    qps: float) -> dict[str, Any]:
    """Workers of one crawl: one SIGKILLed, then Redis SIGKILLed and restarted."""
    box.reset_stats()
    root = directory / "redis"
    root.mkdir(parents=True)
    redis_process, redis_url = start_redis(root, persistent=True)
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    enqueue_seed(box, redis_url, "shop", f"seller_open_id={shop['seller_open_id']}", "details=1")
    calls = len(expected) + len(expected) // 30

    def start(name: str) -> Crawl:
        return worker(box, redis_url, directory / name, "shop", ALI1688_QPS=qps,
                      ALI1688_REDIS_LEASE_SECONDS=5).start()

    first = start("a")
    wait_for_calls(box, first, calls // 3)
    first.kill()
    others = [start("b"), start("c")]
    wait_for_calls(box, others[0], 2 * calls // 3)
    redis_process.kill()
    redis_process.wait()
    time.sleep(2)
    redis_process, _ = start_redis(root, persistent=True, port=port)
    try:
        for run in others:
            run.wait()
        again = start("d").wait()
    finally:
        redis_process.terminate()
        redis_process.wait()
    runs = [first, *others, again]
    ids = [i for run in runs for i in run.product_ids()]
    stats = [run.stats() for run in runs[1:] if run.stats_path.exists()]
    return {
        "scenario": "distributed: worker SIGKILLed, Redis SIGKILLed + restarted, command run again",
        "exit_code": max(run.returncode or 0 for run in runs[1:]),
        "products": len(set(ids)),
        "missing": len(expected - set(ids)),
        # At least once: what the killed worker wrote but had not acknowledged is done again.
        "duplicates": len(ids) - len(set(ids)),
        "report_complete": None,
        "calls": box.stats()["total_calls"],
        "leases_returned": sum(s.get("ali1688/leases/returned", 0) for s in stats),
        "rerun_products": len(again.product_ids()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shop-size", type=int, default=640)
    parser.add_argument("--page-cap", type=int, default=5, help="sandbox paging cap (pages)")
    parser.add_argument("--kill-qps", type=float, default=100.0,
                        help="ALI1688_QPS of the kill/resume crawl (slow enough to kill half-way)")
    parser.add_argument("--worker-qps", type=float, default=40.0,
                        help="ALI1688_QPS of the distributed crawl")
    options = parser.parse_args()

    with workdir("faults") as tmp:
        with sandbox("--qps", "0", "--page-cap", str(options.page_cap), *FAULTS) as box:
            shop = box.nearest_shop(options.shop_size)
            expected = set(box.ids(shop))
            faults = fault_run(box, shop, expected, tmp / "faults")
        with sandbox("--qps", "0", "--page-cap", str(options.page_cap)) as box:
            killed = kill_resume_run(box, shop, expected, tmp / "kill", options.kill_qps)
            # For contrast: Scrapy's own graceful stop (Ctrl-C once) before the resume.
            stopped = kill_resume_run(box, shop, expected, tmp / "stop", options.kill_qps,
                                      signal.SIGINT)
            shared = distributed_run(box, shop, expected, tmp / "distributed", options.worker_qps)
    rows = [faults, killed, stopped, shared]
    print_table(f"Shop of {len(expected)} products, details=1, paging cap {options.page_cap} pages",
                rows, ["scenario", "exit_code", "products", "missing", "duplicates",
                       "report_complete", "calls"])
    print(f"\nfaults injected: {faults['faults_injected']}; retries: {faults['retries']}; "
          f"tokens expired after {faults['tokens_expired_after_calls']} calls, "
          f"refreshed {faults['token_refreshes']}x; gave up: {faults['gave_up'] or 'never'}")
    print(f"{shared['scenario']}: {shared['leases_returned']} leases returned to the queue, "
          f"{shared['duplicates']} products written twice, the re-run wrote {shared['rerun_products']}")
    for row in (killed, stopped):
        print(f"{row['scenario']}: stopped after {row['killed_after_calls']} calls with "
              f"{row['stored_before_resume']} products stored; the resumed run emitted "
              f"{row['resumed_run_products']}")
    summary = [
        goal_row(f"{row['scenario']}: every product once, complete report",
                 f"{row['products']}/{len(expected)}, {row['duplicates']} duplicates",
                 "all, 0 duplicates, complete",
                 row["exit_code"] == 0 and not row["missing"] and not row["duplicates"]
                 and row["report_complete"])
        for row in (faults, killed, stopped)
    ]
    summary.append(goal_row(
        f"{shared['scenario']}: every product in the feeds",
        f"{shared['products']}/{len(expected)}, {shared['leases_returned']} leases returned, "
        f"{shared['duplicates']} written twice", "all, exit 0",
        shared["exit_code"] == 0 and not shared["missing"]))
    path = write_results("faults", summary, {"shop_products": len(expected),
                                             "page_cap": options.page_cap, "rows": rows})
    print_summary("faults", summary, path)


if __name__ == "__main__":
    main()
