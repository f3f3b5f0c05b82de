"""Benchmark: how far ranking alone can take the planner, on a model of the monitoring runs.

``monitoring_economy.py`` measures real crawls. This replays the same drifting catalogue in
process (the sandbox's own ``Catalog`` and ``Drift``; no gateway, no Scrapy) with one run a
simulated day: the listing pages, a detail for each product that is new or whose listing entry
moved, then the calls left of the quota on the products a ranking puts first. A detail reads
the product as the detail API would answer it. Four rankings spend the same calls:

- baseline: the careful user's (the listing, then round robin over the stored ids);
- planner: ``monitoring.planner.rank`` on the history such runs store (what the crawler does);
- planner, true rates: the same ranking given each product's hidden rate of change (what a
  perfect estimate of the rates would reach);
- oracle: the products that are out of stock now and stored in stock first (the bound of any
  ranking).

Scored like ``monitoring_economy.py``: the mean delay of every stock-out and restock (one not
found counts until the last run) and the stock-outs found within 24 h. A model, not a crawl:
the figures of record are ``monitoring_economy.py``'s; this one says what limits them.

    python bench/planner_bound.py            # 10 shops x 5,000 products, 3,000 calls a day, 30 days
    python bench/planner_bound.py --quick    # 2 shops x 1,000, 600 calls a day, 10 days
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from _common import goal_row, print_summary, print_table, write_results

from ali1688spider.monitoring.planner import History, rank
from ali1688spider.sandbox.catalog import Catalog
from ali1688spider.sandbox.drift import Drift
from ali1688spider.sandbox.options import DEFAULT_SEED
from ali1688spider.spiders.shop.changed import RETRY_RESERVE

DAY = 86_400
PAGE = 50
RANKINGS = ("baseline", "planner", "planner, true rates", "oracle")
KINDS = ("out_of_stock", "back_in_stock")


@dataclass
class Row:
    """What the simulated database holds of one product."""

    first_seen: int
    detail_at: int
    modified: int
    stock: int | None = None
    in_stock: int | None = None
    changes: int = 0


@dataclass
class Run:
    """One ranking's simulated store and what its details found."""

    ranking: str
    rows: dict[str, Row] = field(default_factory=dict)
    found: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # (kind, id) -> times
    cursor: int = 0


def read_stock(catalog: Catalog, shop: Any, index: int) -> tuple[int, int]:
    """(stock, variants in stock) of the product as its detail answers."""
    offer = catalog.offer(shop, index)
    if offer.skus:
        return sum(s.stock for s in offer.skus), sum(1 for s in offer.skus if s.stock > 0)
    return offer.stock, int(offer.stock > 0)


def detail(run: Run, catalog: Catalog, product: tuple[Any, int], product_id: str, now: int, *, edited: bool) -> None:
    shop, index = product
    stock, in_stock = read_stock(catalog, shop, index)
    modified = catalog.shop_data(shop).modified[index]
    row = run.rows.get(product_id)
    if row is None:
        run.rows[product_id] = Row(now, now, modified, stock, in_stock)
        return
    if row.stock is not None and stock != row.stock:
        row.changes += 1
        if stock == 0 and row.stock > 0:
            run.found[("out_of_stock", product_id)].append(now)
        elif stock > 0 and row.stock == 0:
            run.found[("back_in_stock", product_id)].append(now)
    row.changes += int(edited)
    row.detail_at, row.modified, row.stock, row.in_stock = now, modified, stock, in_stock


def day_run(run: Run, catalog: Catalog, drift: Drift, shops: list[Any], quota: int, now: int) -> None:
    listed, calls = {}, 0
    for shop in shops:
        positions = catalog.listed(shop)
        calls += math.ceil(len(positions) / PAGE)
        listed.update({str(catalog.offer_id(shop, i)): (shop, i) for i in positions})
    for product_id in [p for p in run.rows if p not in listed]:
        del run.rows[product_id]
    if run.ranking == "baseline":
        for product_id, (shop, index) in listed.items():
            run.rows.setdefault(product_id, Row(now, now, catalog.shop_data(shop).modified[index]))
        ids = sorted(run.rows)
        chunk = min(max(0, quota - calls), len(ids))
        for n in range(chunk):
            product_id = ids[(run.cursor + n) % len(ids)]
            detail(run, catalog, listed[product_id], product_id, now, edited=False)
        run.cursor = (run.cursor + chunk) % max(1, len(ids))
        return
    asked = set()
    for product_id, (shop, index) in listed.items():
        row = run.rows.get(product_id)
        if row is None or row.modified != catalog.shop_data(shop).modified[index]:
            asked.add(product_id)
            detail(run, catalog, (shop, index), product_id, now, edited=row is not None)
    spare = quota - calls - len(asked)
    spare -= max(1, round(spare * RETRY_RESERVE))
    histories = [History(product_id, str(listed[product_id][0].index), (now - row.first_seen) / DAY, row.changes,
                         (now - row.detail_at) / DAY, row.in_stock)
                 for product_id, row in run.rows.items() if product_id not in asked]
    if run.ranking == "oracle":
        def out_now(h: History) -> bool:
            return run.rows[h.product_id].stock != 0 and read_stock(catalog, *listed[h.product_id])[0] == 0
        chosen = [h.product_id for h in sorted(histories, key=lambda h: (not out_now(h), -h.stale_days))]
    else:
        rates = drift.rates() if run.ranking == "planner, true rates" else None
        chosen = [c.product_id for c in rank(histories, rates)]
    for product_id in chosen[:max(0, spare)]:
        detail(run, catalog, listed[product_id], product_id, now, edited=False)


def score(run: Run, drift: Drift, start: int, last: int) -> dict[str, Any]:
    kinds = {}
    for kind in KINDS:
        delays, within = [], 0
        for change in drift.log.since(start - 1):
            if change.kind != kind:
                continue
            later = [t for t in run.found.get((kind, change.product_id), ()) if t >= change.at]
            delay = ((min(later) if later else last) - change.at) / 3600
            within += bool(later) and delay <= 24
            delays.append(max(0.0, delay))
        kinds[kind] = {"changes": len(delays), "found_within_24h": within,
                       "mean_delay_hours": round(statistics.mean(delays), 1) if delays else None}
    return kinds


def simulate(ranking: str, *, shops: int, products: int, quota: int, days: int) -> dict[str, Any]:
    catalog = Catalog(DEFAULT_SEED, [products] * shops)
    drift = Drift(catalog)
    watched = catalog.shops[:shops]
    run, start = Run(ranking), drift.now
    for shop in watched:                       # the first run: every product new, every detail
        for index in catalog.listed(shop):
            detail(run, catalog, (shop, index), str(catalog.offer_id(shop, index)), start, edited=False)
    in_stock_at_start = {product_id: row.in_stock for product_id, row in run.rows.items()}
    for _ in range(days):
        drift.advance(DAY)
        day_run(run, catalog, drift, watched, quota, drift.now)
    return {**score(run, drift, start, drift.now),
            "stock_outs_by_variants_in_stock_at_start": stock_outs_by_variants(drift, start, in_stock_at_start)}


def stock_outs_by_variants(drift: Drift, start: int, in_stock: dict[str, int | None]) -> dict[str, int]:
    """The stock-outs of products listed at the start, by their variants in stock then (what
    ``monitoring.planner.VARIANT_SPREAD`` rests on)."""
    counts: dict[str, int] = defaultdict(int)
    for change in drift.log.since(start - 1):
        if change.kind == "out_of_stock" and change.product_id in in_stock:
            counts[str(in_stock[change.product_id])] += 1
    return dict(sorted(counts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run (seconds)")
    options = parser.parse_args()
    size = (dict(shops=2, products=1000, quota=600, days=10) if options.quick
            else dict(shops=10, products=5000, quota=3000, days=30))
    results = {ranking: simulate(ranking, **size) for ranking in RANKINGS}
    base = results["baseline"]
    rows = [{"ranking": ranking, **{f"{kind} {figure}": result[kind][figure] for kind in KINDS
                                    for figure in ("mean_delay_hours", "found_within_24h")}}
            for ranking, result in results.items()]
    print_table("stock-outs and restocks, simulated", rows, list(rows[0]))
    by_variants = base["stock_outs_by_variants_in_stock_at_start"]
    print_table("stock-outs by the product's variants in stock at the start",
                [{"variants in stock": k, "stock-outs": n, "share": round(n / sum(by_variants.values()), 3)}
                 for k, n in by_variants.items()], ["variants in stock", "stock-outs", "share"])

    def ratio(ranking: str) -> float:
        return results[ranking]["out_of_stock"]["mean_delay_hours"] / base["out_of_stock"]["mean_delay_hours"]

    summary = [
        goal_row(f"mean stock-out delay / baseline's, simulated: {ranking}", ratio(ranking), "-", None, "x")
        for ranking in RANKINGS[1:]
    ]
    path = write_results("planner_bound", summary, {"size": size, "rankings": results})
    print_summary("planner_bound", summary, path)


if __name__ == "__main__":
    main()
