"""Read-only questions to the crawl database (used by ``ali1688 report``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from ali1688spider.storage import schema

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from decimal import Decimal

    from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class PricePoint:
    """One price-history row, with the product's current title."""

    product_id: str
    title: str | None
    observed_at: datetime
    kind: str
    price_min: Decimal | None
    price_max: Decimal | None
    previous_price_min: Decimal | None
    previous_price_max: Decimal | None
    run_id: int


def price_history(
    connection: Connection,
    *,
    product_ids: Sequence[str] = (),
    since: datetime | None = None,
    changes_only: bool = False,
) -> list[PricePoint]:
    """History rows, oldest first, optionally of some products / from *since* on."""
    history, products = schema.price_history, schema.products
    query = (
        select(
            history.c.product_id, products.c.title, history.c.observed_at, history.c.kind,
            history.c.price_min, history.c.price_max, history.c.previous_price_min,
            history.c.previous_price_max, history.c.run_id,
        )
        .join(products, products.c.product_id == history.c.product_id)
        .order_by(history.c.observed_at, history.c.product_id, history.c.id)
    )
    if product_ids:
        query = query.where(history.c.product_id.in_(list(product_ids)))
    if since is not None:
        query = query.where(history.c.observed_at >= since)
    if changes_only:
        query = query.where(history.c.kind == "change")
    return [PricePoint(*row) for row in connection.execute(query)]


def most_changed(connection: Connection, *, since: datetime | None = None, limit: int = 8) -> list[str]:
    """Ids of the products whose lowest price changed by the largest share in one step (either
    way; ties by id), for a chart: a -20 % drop matters more than many 1 % steps."""
    history = schema.price_history
    query = select(history.c.product_id, history.c.price_min, history.c.previous_price_min).where(
        history.c.kind == "change")
    if since is not None:
        query = query.where(history.c.observed_at >= since)
    largest: dict[str, Decimal] = {}
    for row in connection.execute(query):
        if row.price_min is None or not row.previous_price_min:
            continue
        size = abs(row.price_min - row.previous_price_min) / row.previous_price_min
        largest[row.product_id] = max(size, largest.get(row.product_id, size))
    return sorted(largest, key=lambda product_id: (-largest[product_id], product_id))[:limit]


def last_observation(connection: Connection) -> datetime | None:
    """When the latest stored price was observed (the end of every price line)."""
    return connection.execute(select(func.max(schema.price_history.c.observed_at))).scalar()


def last_finished_run(connection: Connection) -> int | None:
    """The id of the latest crawl run that finished (None: no run has)."""
    runs = schema.crawl_runs
    query = select(func.max(runs.c.run_id)).where(runs.c.finished_at.is_not(None))
    return connection.execute(query).scalar()


def run_exists(connection: Connection, run_id: int) -> bool:
    runs = schema.crawl_runs
    return connection.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is not None


def product_changes(
    connection: Connection, *, run_id: int, kinds: Sequence[str] = (), product_ids: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The change rows of one crawl run, in the order they were recorded."""
    table = schema.product_changes
    query = select(table).where(table.c.run_id == run_id).order_by(table.c.id)
    if kinds:
        query = query.where(table.c.kind.in_(list(kinds)))
    if product_ids:
        query = query.where(table.c.product_id.in_(list(product_ids)))
    return [dict(row._mapping) for row in connection.execute(query)]
