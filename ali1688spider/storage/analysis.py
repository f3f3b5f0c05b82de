"""Competitor analysis of one shop over a period, from what crawls stored (``ali1688 report shop``).

Read-only questions answered in a few queries each, whatever the shop's size: the product count
day by day (first seen, removed), products added and removed per ISO week (the change feed),
top sellers by sales and by sales growth (``observations``), the price distribution and its
moves, stock-outs and restocks. ``shop_report`` returns one JSON-ready dict.
"""

from __future__ import annotations

import bisect
import statistics
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select

from ali1688spider.storage import schema
from ali1688spider.storage.records import price_text

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

TOP = 10


class UnknownShop(LookupError):
    """The store holds no product of the shop asked for."""


class NoRuns(LookupError):
    """No crawl stored anything of the shop in the period asked for."""


def shop_report(connection: Connection, seller_open_id: str, *, since: datetime,
                until: datetime | None = None) -> dict[str, Any]:
    """Every figure of the shop report of *seller_open_id* from *since* to *until* (now)."""
    until = until or datetime.now(timezone.utc)
    products = schema.products
    shop = products.c.seller_open_id == seller_open_id
    rows = connection.execute(
        select(products.c.product_id, products.c.title, products.c.price_min, products.c.sales,
               products.c.stock, products.c.first_seen_at, products.c.removed_at).where(shop)
    ).all()
    if not rows:
        raise UnknownShop(seller_open_id)
    days = _crawl_days(connection, seller_open_id, since, until)
    if not days:
        raise NoRuns(seller_open_id)
    listed = [row for row in rows if row.removed_at is None]
    return {
        "seller_open_id": seller_open_id,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "products": len(listed),
        "product_count": _product_counts(rows, days),
        "weekly": _weekly(connection, seller_open_id, since, until),
        "top_sellers": [_product(row) for row in sorted(listed, key=lambda r: r.sales or 0, reverse=True)[:TOP]],
        "top_growth": _growth(connection, seller_open_id, since, until, {row.product_id: row for row in rows}),
        "prices": _prices([row.price_min for row in listed if row.price_min is not None]),
        "price_moves": _price_moves(connection, seller_open_id, since, until),
        "stock": _stock_events(connection, seller_open_id, since, until),
    }


def _crawl_days(connection: Connection, seller: str, since: datetime, until: datetime) -> list[Any]:
    """The (UTC) days in the period on which crawls stored something of the shop."""
    observations, changes, products = schema.observations, schema.product_changes, schema.products
    observed = (select(observations.c.observed_at)
                .join(products, products.c.product_id == observations.c.product_id)
                .where(products.c.seller_open_id == seller, observations.c.observed_at >= since,
                       observations.c.observed_at <= until))
    detected = select(changes.c.detected_at).where(changes.c.seller_open_id == seller,
                                                   changes.c.detected_at >= since, changes.c.detected_at <= until)
    return sorted({moment.astimezone(timezone.utc).date()
                   for query in (observed, detected) for moment in connection.scalars(query.distinct())})


def _product_counts(rows: list[Any], days: list[Any]) -> list[dict[str, Any]]:
    """Products of the shop at the end of each of *days*: first seen by then, not removed by
    then (sorted times and bisection: a 100,000-product shop over 30 days in milliseconds)."""
    first_seen = sorted(row.first_seen_at for row in rows if row.first_seen_at is not None)
    removed = sorted(row.removed_at for row in rows if row.first_seen_at is not None and row.removed_at)
    counts = []
    for day in days:
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
        counts.append({"day": day.isoformat(),
                       "products": bisect.bisect_left(first_seen, end) - bisect.bisect_left(removed, end)})
    return counts


def _weekly(connection: Connection, seller: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
    changes = schema.product_changes
    query = select(changes.c.kind, changes.c.detected_at).where(
        changes.c.seller_open_id == seller, changes.c.kind.in_(("new", "removed")),
        changes.c.detected_at >= since, changes.c.detected_at <= until,
    )
    weeks: dict[str, Counter[str]] = {}
    for kind, at in connection.execute(query):
        year, week, _ = at.isocalendar()
        weeks.setdefault(f"{year}-W{week:02d}", Counter())[kind] += 1
    return [{"week": week, "added": counts["new"], "removed": counts["removed"]}
            for week, counts in sorted(weeks.items())]


def _growth(connection: Connection, seller: str, since: datetime, until: datetime,
            products: dict[str, Any]) -> list[dict[str, Any]]:
    """The products whose sales grew most between their first and last point of the period."""
    observations, shop = schema.observations, schema.products
    query = (
        select(observations.c.product_id, observations.c.sales)
        .join(shop, shop.c.product_id == observations.c.product_id)
        .where(shop.c.seller_open_id == seller, observations.c.observed_at >= since,
               observations.c.observed_at <= until, observations.c.sales.is_not(None))
        .order_by(observations.c.product_id, observations.c.observed_at, observations.c.id)
    )
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for product_id, sales in connection.execute(query):
        first.setdefault(product_id, sales)
        last[product_id] = sales
    growth = sorted(((last[pid] - first[pid], pid) for pid in first if last[pid] > first[pid]), reverse=True)
    return [{**_product(products[pid]), "sales_growth": grown} for grown, pid in growth[:TOP]]


def _prices(prices: list[Decimal]) -> dict[str, Any]:
    if not prices:
        return {"count": 0}
    ordered = sorted(prices)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    return {"count": len(ordered), "min": price_text(ordered[0]), "p25": price_text(_cents(quartiles[0])),
            "median": price_text(_cents(quartiles[1])), "p75": price_text(_cents(quartiles[2])),
            "max": price_text(ordered[-1])}


def _cents(value: Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def _price_moves(connection: Connection, seller: str, since: datetime, until: datetime) -> dict[str, Any]:
    changes = schema.product_changes
    query = select(changes.c.change_pct).where(
        changes.c.seller_open_id == seller, changes.c.kind == "price", changes.c.sku_id.is_(None),
        changes.c.detected_at >= since, changes.c.detected_at <= until, changes.c.change_pct.is_not(None),
    )
    moves = [Decimal(pct) for pct in connection.scalars(query)]
    return {"up": sum(1 for pct in moves if pct > 0), "down": sum(1 for pct in moves if pct < 0),
            "median_change_pct": price_text(_cents(statistics.median(moves))) if moves else None}


def _stock_events(connection: Connection, seller: str, since: datetime, until: datetime) -> dict[str, Any]:
    changes, products = schema.product_changes, schema.products
    query = (
        select(changes.c.kind, changes.c.product_id, products.c.title)
        .join(products, products.c.product_id == changes.c.product_id)
        .where(and_(changes.c.seller_open_id == seller, changes.c.sku_id.is_(None),
                    changes.c.kind.in_(("out_of_stock", "back_in_stock")),
                    changes.c.detected_at >= since, changes.c.detected_at <= until))
    )
    counts: Counter[str] = Counter()
    outs: Counter[tuple[str, str | None]] = Counter()
    for kind, product_id, title in connection.execute(query):
        counts[kind] += 1
        if kind == "out_of_stock":
            outs[(product_id, title)] += 1
    return {
        "stock_outs": counts["out_of_stock"], "restocks": counts["back_in_stock"],
        "most_stock_outs": [{"product_id": pid, "title": title, "stock_outs": n}
                            for (pid, title), n in outs.most_common(TOP)],
    }


def _product(row: Any) -> dict[str, Any]:
    return {"product_id": row.product_id, "title": row.title, "price_min": price_text(row.price_min),
            "sales": row.sales, "stock": row.stock}
