"""Benchmark: API calls spent per product, full and incremental, against the fewest possible.

An unlimited sandbox (paging cap 50 pages, page size 50 — the platform's; getList pages of
30) is crawled with the shop spider:

- full crawls: the 100,000+ product shop without details (past the paging cap: the listing is
  cut into slices), the ~5,000 product shop with ``details=1``, and the same shop as the
  authorizing seller's own catalogue (``own=1``, ``alibaba.product.getList``);
- then 5 % of that shop's products change (``POST /sandbox/reprice``) and both are crawled
  again with ``incremental=1``.

The minimum is what any crawler must spend to get the same data: one listing call per full
page of what it must list, plus one detail call per product it must detail. The seller
listing (``querySellerOfferList``) has no time filter, so even an incremental crawl must list
the whole shop and then fetch only the changed products' details; ``getList`` filters by
modification day, so an incremental own crawl must list the products modified since the day
of the last crawl's newest modification (+1 call to learn who the authorizing seller is).
An incremental crawl re-emits the product(s) modified exactly at the stored high-water mark
(it starts from that second inclusive, so a change within that second is never missed); the
table counts them as "extra". Goal: calls <= 1.05 x minimum and no product missing. Prints a table and writes
``bench/results/call_economy.json``.

    python bench/call_economy.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from _common import (
    Sandbox,
    crawl,
    goal_row,
    pages,
    print_summary,
    print_table,
    sandbox,
    workdir,
    write_results,
)

GOAL = 1.05
SELLER_PAGE_SIZE = 50
OWN_PAGE_SIZE = 30
#: ``own=1`` first asks ``alibaba.account.basic`` who the authorizing seller is.
OWN_SETUP_CALLS = 1
CHINA = dt.timezone(dt.timedelta(hours=8))


def own_listing_floor(full_feed: list[dict[str, Any]], state: Path, changed: set[str]) -> set[str]:
    """What an incremental ``getList`` crawl must list: getList filters by whole days, so every
    product modified on or after the day of the stored high-water mark, and the changed ones."""
    shops = json.loads(state.read_text(encoding="utf-8"))["shops"]
    mark = next(v["high_water"] for k, v in shops.items() if k.startswith("own:"))
    first_day = dt.datetime.fromisoformat(mark).astimezone(CHINA).date()
    return changed | {
        p["product_id"] for p in full_feed
        if dt.datetime.fromisoformat(p["modified_at"]).astimezone(CHINA).date() >= first_day
    }


def measure(
    box: Sandbox, name: str, directory: Path, *, args: dict[str, Any], expected: set[str],
    minimum: int, state: Path,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The figures of one crawl, and its feed."""
    box.reset_stats()
    run = crawl("shop", directory, sandbox=box, args=args,
                settings={"ALI1688_QPS": 100000, "ALI1688_STATE_FILE": state}).run().check()
    ids = run.product_ids()
    calls = box.stats()["total_calls"]
    return {
        "crawl": name,
        "products": len(set(ids)),
        "missing": len(expected - set(ids)),
        "extra": len(set(ids) - expected),
        "duplicates": len(ids) - len(set(ids)),
        "calls": calls,
        "minimum": minimum,
        "calls_per_product": calls / max(1, len(expected)),
        "minimum_per_product": minimum / max(1, len(expected)),
        "ratio": calls / minimum,
        "seconds": run.crawl_seconds(),
    }, run.items()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=100_000, help="size of the large shop")
    parser.add_argument("--medium", type=int, default=5_000, help="size of the detailed shop")
    parser.add_argument("--changed", type=float, default=0.05, help="share of products changed")
    options = parser.parse_args()

    rows = []
    with sandbox("--qps", "0") as box, workdir("economy") as tmp:
        state = tmp / "state.json"
        large = box.nearest_shop(options.large)
        large_ids = set(box.ids(large))
        rows.append(measure(
            box, f"full, {len(large_ids):,} products, list only", tmp / "large",
            args={"seller_open_id": large["seller_open_id"]}, expected=large_ids,
            minimum=pages(len(large_ids), SELLER_PAGE_SIZE), state=state)[0])

        medium = box.nearest_shop(options.medium)
        if not medium["owner"]:
            raise SystemExit("the medium shop must be the authorizing seller's (sandbox default)")
        medium_ids = set(box.ids(medium))
        seller_args = {"seller_open_id": medium["seller_open_id"], "details": 1}
        list_pages = pages(len(medium_ids), SELLER_PAGE_SIZE)
        rows.append(measure(
            box, f"full, {len(medium_ids):,} products, details=1", tmp / "medium-full",
            args=seller_args, expected=medium_ids,
            minimum=list_pages + len(medium_ids), state=state)[0])
        row, own_feed = measure(
            box, f"full, own catalogue of {len(medium_ids):,} (getList)", tmp / "own-full",
            args={"own": 1}, expected=medium_ids,
            minimum=OWN_SETUP_CALLS + pages(len(medium_ids), OWN_PAGE_SIZE), state=state)
        rows.append(row)

        changed = set(box.post("/sandbox/reprice", {
            "fraction": options.changed, "seed": 8, "seller_open_id": medium["seller_open_id"],
        })["changed"])
        rows.append(measure(
            box, f"incremental, {len(changed)} of {len(medium_ids):,} changed, details=1",
            tmp / "medium-incremental", args={**seller_args, "incremental": 1}, expected=changed,
            minimum=list_pages + len(changed), state=state)[0])
        floor = own_listing_floor(own_feed, state, changed)
        rows.append(measure(
            box, f"incremental, own catalogue, {len(changed)} changed", tmp / "own-incremental",
            args={"own": 1, "incremental": 1}, expected=changed,
            minimum=OWN_SETUP_CALLS + pages(len(floor), OWN_PAGE_SIZE), state=state)[0])

    print_table("Calls per product against the minimum (unlimited sandbox, cap 50 pages)", rows,
                ["crawl", "products", "missing", "extra", "duplicates", "calls", "minimum",
                 "calls_per_product",
                 "minimum_per_product", "ratio"])
    summary = [
        goal_row(f"calls / minimum: {row['crawl']}", round(row["ratio"], 4), f"<= {GOAL}",
                 row["ratio"] <= GOAL and not row["missing"] and not row["duplicates"])
        for row in rows
    ]
    path = write_results("call_economy", summary, {"rows": rows, "changed_share": options.changed})
    print_summary("call_economy", summary, path)


if __name__ == "__main__":
    main()
