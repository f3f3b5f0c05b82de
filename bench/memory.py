"""Benchmark: peak memory and CPU per product of a whole-shop crawl, 100,000 to 1,000,000 products.

``scrapy crawl shop -a seller_open_id=…`` (details off, JSON lines feed) runs as a subprocess
against an unlimited sandbox holding one shop of ``--shop-size`` products; its peak resident set size is the child's own high-water mark
(``VmHWM``, read while it runs), so the sandbox and this script do not count (``wait4``'s
``ru_maxrss`` would: Linux carries the starting process's mark across ``exec``, and this
script holds the first run's parsed feed when it starts the second). A second run adds the SQL
pipeline (``ALI1688_DB_URL=sqlite:///…``). CPU per product is the child's user + system time
(start-up included) over the products. Goals (issue 26, for 1,000,000 products): <= 250 MB
and <= 0.2 ms of CPU a product. Prints a table and writes ``bench/results/memory.json``.

    python bench/memory.py --shop-size 1000000
"""

from __future__ import annotations

import argparse

from _common import (
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shop-size", type=int, default=100_000)
    parser.add_argument("--no-db", action="store_true", help="skip the run with the SQL pipeline")
    options = parser.parse_args()

    rows = []
    with sandbox("--qps", "0", "--shops", str(options.shop_size)) as box, workdir("memory") as tmp:
        shop = box.nearest_shop(options.shop_size)
        expected = set(box.ids(shop))
        variants = [("feed", {})]
        if not options.no_db:
            variants.append(("feed + sqlite", {"ALI1688_DB_URL": f"sqlite:///{tmp / 'shop.db'}"}))
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
            })

    print_table(f"Shop of {len(expected):,} products, details off", rows,
                ["output", "products", "complete", "peak_rss_mb", "cpu_ms_per_product", "seconds", "products_per_s"])
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
    if len(rows) == 2:
        feed, stored = rows
        ratio = stored["products_per_s"] / feed["products_per_s"]
        summary.append(goal_row("products/s with SQLite ÷ feed only", round(ratio, 3), ">= 0.9", ratio >= 0.9))
    path = write_results("memory", summary, {"shop_products": len(expected), "rows": rows})
    print_summary("memory", summary, path)


if __name__ == "__main__":
    main()
