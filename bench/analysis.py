"""Benchmark: what the competitor-analysis history costs in space, and how fast `report shop` answers.

1. Space: a 5,000-product shop stored by 30 daily runs in which 10 % of its products move
   (sales, and every third of those its stock), into SQLite through ``Store.write`` (the SQL
   pipeline's worker-thread work). The ``observations`` table's pages (SQLite's ``dbstat``)
   against one snapshot: the ``products`` table's pages after the first run. Goal: <= 3 ×.
2. Speed: a 100,000-product shop with 30 runs of history (10 % moving each run); ``ali1688
   report shop --json`` over the whole period, median of three runs of the command. Goal: <= 5 s.

Prints a table and writes ``bench/results/analysis.json``.

    python bench/analysis.py
"""

from __future__ import annotations

import argparse
import copy
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from _common import REPO, goal_row, print_summary, print_table, workdir, write_results

sys.path.insert(0, str(REPO / "tests"))
from product_samples import SAMPLE  # noqa: E402

from ali1688spider.items import Product  # noqa: E402
from ali1688spider.sandbox.process import crawl_environment  # noqa: E402
from ali1688spider.storage.records import product_record  # noqa: E402
from ali1688spider.storage.store import Store  # noqa: E402

BATCH = 500
T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
SELLER = SAMPLE["seller_open_id"]
GOAL_SPACE, GOAL_SECONDS = 3.0, 5.0


def record(n: int, day: int, moved: bool) -> Any:
    data = copy.deepcopy(SAMPLE)
    data["product_id"] = str(630_000_000_000 + n)
    data["detail_url"] = f"https://detail.1688.com/offer/{data['product_id']}.html"
    data["crawled_at"] = (T0 + timedelta(days=day)).isoformat()
    data["sales"] = 100 + n % 50 + (day if moved else 0)
    if moved and n % 3 == 0:
        data["stock"] = max(0, data["stock"] - day)
        for sku in data["skus"]:
            sku["stock"] = max(0, sku["stock"] - day)
    return product_record(Product(data))


def build(path: Path, products: int, days: int) -> tuple[int, int]:
    """The store of *products* over *days* daily runs; the products table's pages after the
    first run, and the seconds it all took."""
    store = Store(f"sqlite:///{path}")
    store.open()
    started = time.perf_counter()
    snapshot = 0
    for day in range(days):
        run = store.start_run("shop", T0 + timedelta(days=day))
        # 10 % move each day after the first, a different tenth each day.
        ids = range(products) if day == 0 else [n for n in range(products) if n % 10 == day % 10]
        records = [record(n, day, moved=day > 0) for n in ids]
        for start in range(0, len(records), BATCH):
            store.write(run, records[start:start + BATCH])
        store.finish_run(run, reason="finished", finished_at=T0 + timedelta(days=day, hours=1))
        if day == 0:
            snapshot = pages_of(path)["products"]
    store.close()
    return snapshot, round(time.perf_counter() - started)


def pages_of(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as connection:
        return dict(connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))


def report_seconds(path: Path, rounds: int) -> list[float]:
    command = [sys.executable, "-m", "ali1688spider.cli", "report", "shop", "--db", f"sqlite:///{path}",
               "--seller-open-id", SELLER, "--since", "2026-01-01", "--json"]
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, env=crawl_environment(), check=True, capture_output=True, timeout=600)
        seconds.append(round(time.perf_counter() - started, 3))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space-products", type=int, default=5_000)
    parser.add_argument("--speed-products", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    with workdir("analysis") as tmp:
        snapshot, _ = build(tmp / "space.db", options.space_products, options.days)
        history = pages_of(tmp / "space.db")["observations"]
        built_in = build(tmp / "speed.db", options.speed_products, options.days)[1]
        seconds = report_seconds(tmp / "speed.db", options.rounds)
    ratio = history / snapshot
    rows = [
        {"measure": f"observations of {options.days} daily runs, {options.space_products:,} products, 10 % moving",
         "bytes": history, "snapshot_bytes": snapshot, "ratio": round(ratio, 3)},
        {"measure": f"report shop, {options.speed_products:,} products, {options.days} runs (built in {built_in} s)",
         "seconds": seconds},
    ]
    print_table("Competitor-analysis history", rows, ["measure", "bytes", "snapshot_bytes", "ratio", "seconds"])
    median = statistics.median(seconds)
    summary = [
        goal_row(f"history of {options.days} daily runs ({options.space_products:,} products, 10 % moving a day) "
                 "/ one snapshot", round(ratio, 3), f"<= {GOAL_SPACE:g}", ratio <= GOAL_SPACE),
        goal_row(f"report shop on {options.speed_products:,} products with {options.days} runs of history",
                 median, f"<= {GOAL_SECONDS:g} s", median <= GOAL_SECONDS, "s"),
    ]
    print_summary("analysis", summary, write_results("analysis", summary, {"rows": rows}))


if __name__ == "__main__":
    main()
