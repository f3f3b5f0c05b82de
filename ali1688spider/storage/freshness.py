"""Which listed products need a detail call under ``details=changed`` (no Scrapy).

A listing entry shows a product's lowest price, modification time, title and status; only
stock and SKUs need the detail. A listed product gets a detail call when it is new to the
database, when its entry differs from the stored row in one of those, when its stored detail
is older than the maximum age (or there is none), or when it was a removal suspect or removed;
otherwise its entry is all that changed (nothing a detail would add is known to have moved).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ali1688spider.storage import schema

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping
    from datetime import datetime, timedelta

    from sqlalchemy.engine import Engine

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
