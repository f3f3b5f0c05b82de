"""Benchmark: "removed" only on proof, under listings that lie the ways real ones can.

One sandbox shop is crawled into SQLite three times per mode, through a rewriting proxy in
front of the sandbox (``tests/listing_proxy.py``): an honest crawl that stores the shop; then,
after 5 % of its products are delisted for real, a crawl under the hostile mode; then an
honest crawl again. Modes: no total on any page; page 1 claiming 50 products; page 2 lost
(503 every time); a product missing from the listing but stored by a concurrent product crawl
while the shop crawl runs (published mid-listing); and a distributed run on the same Redis
prefix as the last one, with page 2 lost. Counted per mode: false removals (a product removed
that the sandbox still lists), delistings found by the end, and detail calls spent on proof
per removed product. Goal: 0 false removals, every delisting found.

Prints a table and writes ``bench/results/false_removals.json``.

    python bench/false_removals.py
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    REPO,
    crawl,
    goal_row,
    print_summary,
    print_table,
    sandbox,
    start_redis,
    workdir,
    write_results,
)

sys.path.insert(0, str(REPO / "tests"))
from listing_proxy import ListingProxy  # noqa: E402

from ali1688spider.sandbox.process import crawl_environment  # noqa: E402

MODES = ("no_total", "smaller_total", "lose_page", "concurrent", "distributed_rerun")
FAST = {"ALI1688_QPS": 1_000_000, "ALI1688_RETRY_TIMES": 1}


def removed_ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as connection:
        return {row[0] for row in connection.execute("SELECT product_id FROM product_changes WHERE kind = 'removed'")}


def run_mode(mode: str, box: Any, tmp: Path, shop: dict[str, Any]) -> dict[str, Any]:
    seller = shop["seller_open_id"]
    db = tmp / f"{mode}.db"
    proxy = ListingProxy(box.url)
    redis_process = None
    calls_on_proof = 0
    try:
        settings = {**FAST, "ALI1688_DB_URL": f"sqlite:///{db}"}
        args = {"seller_open_id": seller}

        def shop_crawl(name: str, *, details: bool = False, **extra: Any):
            run = crawl("shop", tmp / mode / name, sandbox=box, args={**args, "details": int(details)},
                        settings={**settings, **extra})
            run.env["ALI1688_GATEWAY_URL"] = proxy.url
            return run

        hidden = None
        if mode == "concurrent":
            # Published after the first crawl: absent from its listing, and from the next one's.
            hidden = box.ids(shop)[-1]
            proxy.mode, proxy.hidden = "hide", {hidden}
        shop_crawl("honest-1").run()
        delisted = set(box.post("/sandbox/delist", {"seller_open_id": seller, "fraction": 0.05, "seed": 5})["changed"])
        delisted.discard(hidden)
        if mode == "distributed_rerun":
            redis_process, redis_url = start_redis(tmp)
            proxy.mode, proxy.page = "lose_page", 2
            for name in ("hostile", "honest-2"):
                env = crawl_environment(box.env(ALI1688_REDIS_URL=redis_url, ALI1688_GATEWAY_URL=proxy.url))
                subprocess.run([sys.executable, "-m", "ali1688spider.cli", "enqueue", "shop", f"seller_open_id={seller}"],
                               cwd=REPO, env=env, check=True, capture_output=True, timeout=60)
                run = crawl("shop", tmp / mode / name, sandbox=box, settings=settings)
                run.env.update(ALI1688_REDIS_URL=redis_url, ALI1688_REDIS_IDLE_TIMEOUT="3", ALI1688_GATEWAY_URL=proxy.url)
                run.run()
                calls_on_proof += run.stats().get("ali1688/removals/proof_calls", 0)
                proxy.mode = None
        else:
            if mode == "concurrent":
                # Slow enough that the product crawl stores the hidden product meanwhile.
                hostile = shop_crawl("hostile", details=True, ALI1688_QPS=20).start()
                while "Listing shop" not in hostile.log_path.read_text(errors="replace"):
                    time.sleep(0.1)
                product = crawl("product", tmp / mode / "product", sandbox=box, args={"ids": hidden}, settings=settings)
                product.run()
                hostile.wait()
            else:
                proxy.mode = {"smaller_total": "smaller_total", "no_total": "no_total", "lose_page": "lose_page"}[mode]
                hostile = shop_crawl("hostile").run()
            calls_on_proof += hostile.stats().get("ali1688/removals/proof_calls", 0)
            proxy.mode = "hide" if mode == "concurrent" else None
            honest = shop_crawl("honest-2").run()
            calls_on_proof += honest.stats().get("ali1688/removals/proof_calls", 0)
        removed = removed_ids(db)
        still_listed = set(box.ids(shop))
        return {
            "mode": mode,
            "delisted": len(delisted),
            "found": len(removed & delisted),
            "false_removals": len(removed & still_listed),
            "proof_calls_per_removal": round(calls_on_proof / len(removed), 3) if removed else None,
        }
    finally:
        proxy.close()
        if redis_process is not None:
            redis_process.kill()
            redis_process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shop-size", type=int, default=640)
    options = parser.parse_args()
    rows = []
    for mode in MODES:
        # A sandbox per mode: every mode starts from the same, whole catalogue.
        with sandbox("--qps", "0") as box, workdir("false-removals") as tmp:
            rows.append(run_mode(mode, box, Path(tmp), box.nearest_shop(options.shop_size)))
    print_table("False removals under lying listings", rows,
                ["mode", "delisted", "found", "false_removals", "proof_calls_per_removal"])
    false = sum(row["false_removals"] for row in rows)
    missed = sum(row["delisted"] - row["found"] for row in rows)
    summary = [
        goal_row("false removals, every hostile listing mode", false, "0", false == 0),
        goal_row("real delistings found by the next honest crawl", f"{sum(r['found'] for r in rows)}/"
                 f"{sum(r['delisted'] for r in rows)}", "all", missed == 0),
        goal_row("detail calls spent on proof per removed product",
                 max((r["proof_calls_per_removal"] or 0) for r in rows), "-", None),
    ]
    print_summary("false_removals", summary, write_results("false_removals", summary, {"modes": rows}))


if __name__ == "__main__":
    main()
