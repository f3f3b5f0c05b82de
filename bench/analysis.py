"""Benchmark: what the competitor-analysis history costs in space, and how fast `report shop` answers.

1. Space: a 5,000-product shop stored by 30 daily runs in which 10 % of its products move
   (sales, and every third of those its stock), into SQLite through ``Store.write`` (the SQL
   pipeline's worker-thread work). The ``observations`` table's pages (SQLite's ``dbstat``)
   against one snapshot: the ``products`` table's pages after the first run. Goal: <= 3 ×.
2. Speed: a 100,000-product shop with 30 runs of history (10 % moving each run); ``ali1688
   report shop --json`` over the whole period, median of three runs of the command. Goal: <= 5 s.
3. Overhead: what recording the history costs the SQL pipeline. A store of 100,000 products
   gets all of them again, 5 % repriced and 3 % with other stock (so 8 % get a point), in
   batches of 500 through ``Store.write`` (change detection on, as by default), once as it is
   and once with no observation recorded (``records._observation`` stubbed out, which also
   saves working the point out), each from the same copy of the store, alternating which goes
   first; the median pass counts (and, beside it, the median of each round's paired ratio);
   SQLite and a real PostgreSQL (``bench/changes.py``'s store set-up). Goal: <= 5 % of the
   products/s.

Prints a table and writes ``bench/results/analysis.json`` (``analysis-overhead.json`` with
``--skip-space-speed``).

    python bench/analysis.py [--skip-space-speed]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

from _common import REPO, goal_row, print_summary, print_table, workdir, write_results
from changes import Backend, alternating_passes, fill_template, on_each_backend, products

sys.path.insert(0, str(REPO / "tests"))
from product_samples import SAMPLE  # noqa: E402

from sqlalchemy import func, select  # noqa: E402

from ali1688spider.items import Product  # noqa: E402
from ali1688spider.sandbox.process import crawl_environment  # noqa: E402
from ali1688spider.storage import records, schema  # noqa: E402
from ali1688spider.storage.records import product_record  # noqa: E402
from ali1688spider.storage.store import Store  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

BATCH = 500
T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
SELLER = SAMPLE["seller_open_id"]
GOAL_SPACE, GOAL_SECONDS, GOAL_OVERHEAD = 3.0, 5.0, 0.05


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


def history_overhead(backend: Backend, count: int, rounds: int) -> dict[str, Any]:
    """Products/s of storing a 100,000-product store again (8 % moved) with and without history."""
    fill_template(backend, count)
    points = 0

    @contextlib.contextmanager
    def storing(recorded: bool, url: str) -> Iterator[Store]:
        nonlocal points
        store = Store(url)
        store.open()
        with contextlib.ExitStack() as stack:
            if not recorded:
                stack.enter_context(mock.patch.object(records, "_observation", lambda *args: None))
            yield store
        if recorded:
            with store.engine.connect() as connection:
                points = connection.execute(select(func.count()).select_from(schema.observations)).scalar() - count
        store.close()

    seconds = alternating_passes(backend, products(count, round_number=1), rounds,
                                 {"without": partial(storing, False), "with": partial(storing, True)})
    rate = {mode: count / statistics.median(values) for mode, values in seconds.items()}
    # Each round's two passes ran back to back: their ratio shrugs off a machine slow for a while.
    paired = statistics.median(without / with_ for with_, without in zip(seconds["with"], seconds["without"]))
    return {"backend": backend.name, "products": count, "points_recorded": points,
            "overhead_paired": round(1 - paired, 4),
            "products_per_s_without": round(rate["without"], 1), "products_per_s_with": round(rate["with"], 1),
            "overhead": round(1 - rate["with"] / rate["without"], 4), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space-products", type=int, default=5_000)
    parser.add_argument("--speed-products", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--overhead-products", type=int, default=100_000)
    parser.add_argument("--overhead-rounds", type=int, default=4)
    parser.add_argument("--skip-space-speed", action="store_true", help="measure the overhead only")
    options = parser.parse_args()
    summary: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    if not options.skip_space_speed:
        rows, summary = space_and_speed(options)
    overheads = on_each_backend("analysis-overhead", lambda backend: history_overhead(
        backend, options.overhead_products, options.overhead_rounds))
    print_table("History overhead (Store.write, batches of 500, 8 % of products moved)", overheads,
                ["backend", "products", "points_recorded", "products_per_s_without", "products_per_s_with", "overhead",
                 "overhead_paired"])
    summary += [goal_row(f"history overhead on the SQL pipeline, {o['products']:,}-product {o['backend']} store",
                         o["overhead"], f"<= {GOAL_OVERHEAD:.0%}", o["overhead"] <= GOAL_OVERHEAD) for o in overheads]
    # The overhead alone goes to a file of its own, not over the full run's figures.
    name = "analysis-overhead" if options.skip_space_speed else "analysis"
    print_summary(name, summary, write_results(name, summary, {"rows": rows, "overhead": overheads}))


def space_and_speed(options: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with workdir("analysis") as tmp:
        snapshot, _ = build(tmp / "space.db", options.space_products, options.days)
        history_bytes = pages_of(tmp / "space.db")["observations"]
        built_in = build(tmp / "speed.db", options.speed_products, options.days)[1]
        seconds = report_seconds(tmp / "speed.db", options.rounds)
    ratio = history_bytes / snapshot
    rows = [
        {"measure": f"observations of {options.days} daily runs, {options.space_products:,} products, 10 % moving",
         "bytes": history_bytes, "snapshot_bytes": snapshot, "ratio": round(ratio, 3)},
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
    return rows, summary


if __name__ == "__main__":
    main()
