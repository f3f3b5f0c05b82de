"""Benchmark: peak memory and CPU per product of a whole-shop crawl, 100,000 to 1,000,000 products.

``scrapy crawl shop -a seller_open_id=…`` (details off, JSON lines feed) runs as a subprocess
against an unlimited sandbox holding one shop of ``--shop-size`` products; its peak resident set size is the child's own high-water mark
(``VmHWM``, read while it runs), so the sandbox and this script do not count (``wait4``'s
``ru_maxrss`` would: Linux carries the starting process's mark across ``exec``, and this
script holds the first run's parsed feed when it starts the second). A second run adds the SQL
pipeline (``ALI1688_DB_URL=sqlite:///…``), and with ``--postgresql`` a third stores into a
PostgreSQL server the script starts. CPU per product is the child's user + system time
(start-up included) over the products. Goals (issue 26, for 1,000,000 products): <= 250 MB
and <= 0.2 ms of CPU a product; products/s with SQLite >= 0.9 and with PostgreSQL >= 0.8 of
the feed-only crawl's, and the last tenth of a stored crawl >= 0.9 of its first tenth's. Prints
a table and writes ``bench/results/memory.json`` (``--results`` names another).

    python bench/memory.py --shop-size 102400 --postgresql
    python bench/memory.py --shop-size 1000000 --postgresql --results memory-1m
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from _common import (
    REPO,
    crawl,
    goal_row,
    print_summary,
    print_table,
    sandbox,
    workdir,
    write_results,
)

GOAL_MB = 250.0
GOAL_CPU_MS = 0.2
#: Products/s storing into each database, against the feed-only crawl's.
GOAL_RATIOS = {"sqlite": 0.9, "postgresql": 0.8}
#: Storing must not slow as the database grows: the last tenth's products/s against the first's.
GOAL_TENTHS = 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shop-size", type=int, default=100_000)
    parser.add_argument("--no-db", action="store_true", help="skip the run with the SQL pipeline")
    parser.add_argument("--postgresql", action="store_true", help="add a run storing into PostgreSQL")
    parser.add_argument("--results", default="memory",
                        help="name of the results file (memory-1m for the million-product run)")
    options = parser.parse_args()

    rows = []
    with ExitStack() as stack:
        box = stack.enter_context(sandbox("--qps", "0", "--shops", str(options.shop_size)))
        tmp = stack.enter_context(workdir("memory"))
        shop = box.nearest_shop(options.shop_size)
        expected = set(box.ids(shop))
        variants = [("feed", {})]
        if not options.no_db:
            variants.append(("feed + sqlite", {"ALI1688_DB_URL": f"sqlite:///{tmp / 'shop.db'}"}))
        if options.postgresql:
            variants.append(("feed + postgresql", {"ALI1688_DB_URL": postgresql_database(stack)}))
        for name, settings in variants:
            run = crawl("shop", tmp / name.replace(" ", ""), sandbox=box,
                        args={"seller_open_id": shop["seller_open_id"]},
                        settings={"ALI1688_QPS": 1_000_000, **settings}).run().check()
            ids = run.product_ids()
            rows.append({
                "output": name,
                "products": len(ids),
                "complete": set(ids) == expected and len(ids) == len(expected),
                "peak_rss_mb": round(run.peak_rss_mb, 1),
                "cpu_ms_per_product": round(1000 * run.cpu_seconds / len(ids), 3),
                "seconds": run.crawl_seconds(),
                "products_per_s": len(ids) / run.crawl_seconds(),
                "last_tenth_vs_first": pace_of_tenths(run.output),
            })

    print_table(f"Shop of {len(expected):,} products, details off", rows,
                ["output", "products", "complete", "peak_rss_mb", "cpu_ms_per_product", "seconds", "products_per_s",
                 "last_tenth_vs_first"])
    summary = [
        goal_row(f"peak RSS, {len(expected):,} products, {row['output']}", row["peak_rss_mb"],
                 f"<= {GOAL_MB:g} MB", row["peak_rss_mb"] <= GOAL_MB and row["complete"], "MB")
        for row in rows
    ] + [
        goal_row(f"CPU per product, {len(expected):,} products, {row['output']}",
                 row["cpu_ms_per_product"], f"<= {GOAL_CPU_MS:g} ms",
                 row["cpu_ms_per_product"] <= GOAL_CPU_MS, "ms")
        for row in rows
    ]
    feed = rows[0]
    for stored in rows[1:]:
        backend = stored["output"].removeprefix("feed + ")
        ratio, goal = stored["products_per_s"] / feed["products_per_s"], GOAL_RATIOS[backend]
        name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend]
        summary.append(goal_row(f"products/s with {name} ÷ feed only", round(ratio, 3), f">= {goal}", ratio >= goal))
        tenths = round(stored["last_tenth_vs_first"], 3)
        summary.append(goal_row(f"products/s with {name}, last tenth ÷ first tenth", tenths,
                                f">= {GOAL_TENTHS}", tenths >= GOAL_TENTHS))
    path = write_results(options.results, summary, {"shop_products": len(expected), "rows": rows})
    print_summary(options.results, summary, path)


def pace_of_tenths(feed: Path) -> float:
    """Products/s over the last tenth of *feed* ÷ over its first, by the items' ``crawled_at``
    (whole seconds: meaningful when a tenth takes tens of seconds, as at 1,000,000 products)."""
    with feed.open(encoding="utf-8") as lines:
        times = [dt.datetime.fromisoformat(json.loads(line)["crawled_at"]).timestamp() for line in lines]
    tenth = len(times) // 10
    first, last = times[tenth] - times[0], times[-1] - times[-1 - tenth]
    return first / last if last > 0 else math.inf


def postgresql_database(stack: ExitStack) -> str:
    """The URL of a new database on a PostgreSQL server started for this run (the tests' own
    way, ``tests/postgres_server.py``), stopped with *stack*."""
    sys.path.insert(0, str(REPO / "tests"))
    from postgres_server import start_postgres_server

    server = start_postgres_server(Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ali1688-bench-pg-"))))
    stack.callback(server.stop)
    return server.url(server.create_database())


if __name__ == "__main__":
    main()
