"""Benchmark: the SQLite store alone, with the crawl writer's WAL checkpoint interval against
SQLite's default.

A short crawl of a sandbox shop yields real listing entries; ``Store.write`` (what the crawl's
writer process runs for each batch) then stores ``--products`` of them, with fresh product ids,
in batches of ``ALI1688_DB_BATCH_SIZE`` into a new file. Each run is timed in this process (wall
and CPU seconds, the store's own work only); the two checkpoint intervals store the same ids
in turn, the first of each round alternating, ``--rounds`` times each, and the ratios are the
medians of each pair's. The goal is on wall time (what a batch's items wait); CPU is shown.
Prints a table and writes ``bench/results/sqlite_writer.json``.

    python bench/sqlite_writer.py --products 150000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from _common import crawl, goal_row, print_summary, print_table, sandbox, workdir, write_results
from sqlalchemy import event

from ali1688spider.config import DEFAULTS
from ali1688spider.storage.store import WAL_CHECKPOINT_PAGES, Store
from ali1688spider.storage.writer import write_batch

#: SQLite's own checkpoint interval, in pages.
SQLITE_DEFAULT_PAGES = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=150_000, help="products stored in each run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each interval, in turn")
    options = parser.parse_args()
    batch_size = DEFAULTS["ALI1688_DB_BATCH_SIZE"]

    with sandbox("--qps", "0", "--shops", "1000") as box, workdir("sqlite_writer") as tmp:
        shop = box.nearest_shop(1000)
        run = crawl("shop", tmp / "listing", sandbox=box, args={"seller_open_id": shop["seller_open_id"]},
                    settings={"ALI1688_QPS": 1_000_000}).run().check()
        with run.output.open(encoding="utf-8") as lines:
            entries = [json.loads(line) for line in lines][:batch_size]
        runs: dict[int, list[dict[str, float]]] = {SQLITE_DEFAULT_PAGES: [], WAL_CHECKPOINT_PAGES: []}
        for round_number in range(options.rounds):
            order = list(runs) if round_number % 2 == 0 else list(reversed(runs))
            for pages in order:
                runs[pages].append(store_products(tmp / f"{pages}-{round_number}.db", entries, options.products,
                                                  pages, seed=round_number))

    rows = [
        {"checkpoint_pages": pages, "products": options.products,
         "wall_s": statistics.median(r["wall_s"] for r in timings),
         "cpu_s": statistics.median(r["cpu_s"] for r in timings),
         "ms_per_product": 1000 * statistics.median(r["wall_s"] for r in timings) / options.products}
        for pages, timings in runs.items()
    ]
    print_table(f"Store.write of {options.products:,} listing entries, batches of {batch_size}", rows,
                ["checkpoint_pages", "products", "wall_s", "cpu_s", "ms_per_product"])
    summary = []
    for measure, goal in (("wall_s", True), ("cpu_s", False)):
        ratio = statistics.median(ours[measure] / default[measure]
                                  for ours, default in zip(runs[WAL_CHECKPOINT_PAGES], runs[SQLITE_DEFAULT_PAGES]))
        summary.append(goal_row(
            f"SQLite store {measure.removesuffix('_s')} time, checkpoint every {WAL_CHECKPOINT_PAGES:,} "
            f"pages ÷ every {SQLITE_DEFAULT_PAGES:,}", round(ratio, 3), "< 1" if goal else "",
            ratio < 1 if goal else None))
    path = write_results("sqlite_writer", summary, {"rows": rows, "runs": {str(k): v for k, v in runs.items()}})
    print_summary("sqlite_writer", summary, path)


def store_products(
    path: Path, entries: list[dict[str, Any]], total: int, checkpoint_pages: int, *, seed: int
) -> dict[str, float]:
    """Store *total* copies of *entries* (fresh ids drawn from *seed*, batches of
    ``len(entries)``) into a new SQLite file at *path*, checkpointing every
    *checkpoint_pages*; the wall and CPU seconds."""
    store = Store(f"sqlite:///{path}")

    @event.listens_for(store.engine, "connect")
    def _interval(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={checkpoint_pages}")

    store.open()
    run_id = store.start_run("shop", entries[0]["crawled_at"])
    ids = random.Random(seed)
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(0, total, len(entries)):
        batch = [{**entry, "product_id": str(ids.randrange(10**11, 10**12))} for entry in entries]
        write_batch(store, run_id, batch, [])
    timing = {"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu_started}
    store.close()
    for leftover in path.parent.glob(f"{path.name}*"):
        leftover.unlink()
    return timing


if __name__ == "__main__":
    main()
