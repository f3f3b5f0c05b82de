"""How fresh the stored details are (no Scrapy): which listed products need a detail call under
``details=changed``, what the refresh planner may pick, and ``ali1688 report freshness``.

A listing entry shows a product's lowest price, modification time, title and status; only
stock and SKUs need the detail. A listed product gets a detail call when it is new to the
database, when its entry differs from the stored row in one of those, when its stored detail
is older than the maximum age (or there is none), or when it was a removal suspect or removed;
otherwise its entry is all that changed (nothing a detail would add is known to have moved).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select

from ali1688spider.api.china_time import DAY_SECONDS
from ali1688spider.storage import schema

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping
    from datetime import datetime, timedelta

    from sqlalchemy.engine import Connection, Engine

    from ali1688spider.storage.records import ProductRecord

#: What a listing entry says that a detail would also say: a difference asks for the detail.
LISTING_COLUMNS = ("price_min", "modified_at", "title", "status")
#: Why a detail is asked for; None: skipped as unchanged.
NEW, CHANGED, AGE, SUSPECT = "new", "changed", "age", "suspect"
REASONS = (NEW, CHANGED, AGE, SUSPECT)


def stored_for_listing(engine: Engine, product_ids: Collection[str]) -> dict[str, Mapping[str, Any]]:
    """The stored columns ``detail_reason`` needs, of those of *product_ids* the database holds
    (one query by primary key: a listing page's ids)."""
    products = schema.products
    query = select(
        products.c.product_id, *(products.c[name] for name in LISTING_COLUMNS),
        products.c.detail_at, products.c.suspected_at, products.c.removed_at,
    ).where(products.c.product_id.in_(list(product_ids)))
    with engine.connect() as connection:
        return {row.product_id: row._mapping for row in connection.execute(query)}


def detail_reason(
    entry: ProductRecord, stored: Mapping[str, Any] | None, *, now: datetime, max_age: timedelta | None
) -> str | None:
    """Why listing *entry* needs a detail call, or None when its *stored* row shows nothing
    new. *max_age* None: a detail never gets too old."""
    if stored is None:
        return NEW
    if stored["removed_at"] is not None or stored["suspected_at"] is not None:
        return SUSPECT
    known = entry.columns
    if any(known[name] is not None and known[name] != stored[name] for name in LISTING_COLUMNS):
        return CHANGED
    if stored["detail_at"] is None or (max_age is not None and now - stored["detail_at"] > max_age):
        return AGE
    return None


#: Changes that say nothing about how often a product moves once it is listed.
NOT_ACTIVITY = ("new", "removed")


def refresh_histories(engine: Engine, sellers: Collection[str], detailed_before: datetime) -> list[Mapping[str, Any]]:
    """The stored products of *sellers* a refresh may pick: listed (neither removed nor
    suspected) and not detailed since *detailed_before*; each with ``product_id``,
    ``seller_open_id``, ``first_seen_at``, ``detail_at``, ``changes`` (its recorded changes
    but ``new`` and ``removed``) and ``in_stock`` (its variants in stock, None when no detail
    stored its stock)."""
    products, changes, skus = schema.products, schema.product_changes, schema.skus
    counts = (
        select(changes.c.product_id, func.count().label("changes"))
        .where(changes.c.kind.not_in(NOT_ACTIVITY))
        .group_by(changes.c.product_id)
        .subquery()
    )
    variants = (
        select(skus.c.product_id, func.sum(case((skus.c.stock > 0, 1), else_=0)).label("selling"))
        .group_by(skus.c.product_id)
        .subquery()
    )
    query = (
        select(products.c.product_id, products.c.seller_open_id, products.c.first_seen_at, products.c.detail_at,
               products.c.stock, func.coalesce(counts.c.changes, 0).label("changes"), variants.c.selling)
        .outerjoin(counts, counts.c.product_id == products.c.product_id)
        .outerjoin(variants, variants.c.product_id == products.c.product_id)
        .where(products.c.seller_open_id.in_(list(sellers)), products.c.removed_at.is_(None),
               products.c.suspected_at.is_(None))
        .where((products.c.detail_at.is_(None)) | (products.c.detail_at < detailed_before))
    )
    with engine.connect() as connection:
        return [{**row._mapping, "in_stock": _in_stock(row)} for row in connection.execute(query)]


def _in_stock(row: Any) -> int | None:
    if row.detail_at is None or (row.selling is None and row.stock is None):
        return None
    if row.selling is not None:
        return int(row.selling)
    return 1 if row.stock > 0 else 0


def calls_since(engine: Engine, since: datetime) -> int:
    """Calls of the finished runs that started at or after *since*."""
    runs = schema.crawl_runs
    query = select(func.coalesce(func.sum(runs.c.calls), 0)).where(runs.c.started_at >= since)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


#: The detail ages ``ali1688 report freshness`` counts products by: (label, upper bound in days).
AGE_BUCKETS = (("under 1 day", 1.0), ("1-7 days", 7.0), ("7-30 days", 30.0), ("over 30 days", float("inf")))
NEVER = "never"
#: How many of each shop's latest runs the report lists.
RECENT_RUNS = 10


def freshness_report(connection: Connection, *, now: datetime) -> list[dict[str, Any]]:
    """Per shop the crawls listed whole: its listed products by the age of their last detail,
    and its latest runs' calls, changes found and calls per change found."""
    products, changes, runs, targets = (schema.products, schema.product_changes, schema.crawl_runs,
                                        schema.run_targets)
    shops: dict[str, dict[str, Any]] = {}
    spent = connection.execute(
        select(targets.c.seller_open_id, targets.c.run_id, runs.c.started_at,
               func.sum(targets.c.calls).label("calls"), func.sum(targets.c.listing_calls).label("listing_calls"))
        .join(runs, runs.c.run_id == targets.c.run_id)
        .where(targets.c.seller_open_id.is_not(None))
        .group_by(targets.c.seller_open_id, targets.c.run_id, runs.c.started_at)
    )
    for row in spent:
        shop = shops.setdefault(row.seller_open_id, _empty_shop(row.seller_open_id))
        shop["runs"].append({"run_id": row.run_id, "started_at": row.started_at.isoformat(), "calls": int(row.calls),
                             "listing_calls": int(row.listing_calls), "changes": 0, "calls_per_change": None})
    if not shops:
        return []
    found = connection.execute(
        select(changes.c.seller_open_id, changes.c.run_id, func.count().label("changes"))
        .where(changes.c.seller_open_id.in_(list(shops)))
        .group_by(changes.c.seller_open_id, changes.c.run_id)
    )
    counts = {(row.seller_open_id, row.run_id): row.changes for row in found}
    ages = connection.execute(
        select(products.c.seller_open_id, products.c.detail_at)
        .where(products.c.seller_open_id.in_(list(shops)), products.c.removed_at.is_(None))
    )
    for row in ages:
        shop = shops[row.seller_open_id]
        shop["products"] += 1
        shop["detail_age"][_age_bucket(row.detail_at, now)] += 1
    for shop in shops.values():
        shop["runs"] = sorted(shop["runs"], key=lambda run: run["run_id"])[-RECENT_RUNS:]
        for run in shop["runs"]:
            run["changes"] = counts.get((shop["seller_open_id"], run["run_id"]), 0)
            run["calls_per_change"] = round(run["calls"] / run["changes"], 2) if run["changes"] else None
    return sorted(shops.values(), key=lambda shop: shop["seller_open_id"])


def _empty_shop(seller_open_id: str) -> dict[str, Any]:
    return {"seller_open_id": seller_open_id, "products": 0,
            "detail_age": {NEVER: 0, **{label: 0 for label, _ in AGE_BUCKETS}}, "runs": []}


def _age_bucket(detail_at: datetime | None, now: datetime) -> str:
    if detail_at is None:
        return NEVER
    days = (now - detail_at).total_seconds() / DAY_SECONDS
    return next(label for label, bound in AGE_BUCKETS if days < bound)
