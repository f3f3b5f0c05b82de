"""Suppliers side by side for one keyword, from the last stored search of it (``ali1688 report keyword``).

Each product the search returned, with its lowest unit price at the buyer's quantity: the price
of the highest quantity tier the quantity reaches, or its lowest price when it has no tiers. A
product whose minimum order (its MOQ, or its first tier) is above the quantity is marked, never
priced below its minimum. Suppliers are the products' ``seller_open_id``: search answers do not
carry it (reference §6.1), a detail does (``details=1``) or an earlier shop crawl stored it.
``keyword_report`` returns one JSON-ready dict.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from ali1688spider.storage import schema
from ali1688spider.storage.records import price_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Connection


class UnknownKeyword(LookupError):
    """No stored search of the keyword asked for."""


def unit_price(tiers: Sequence[tuple[int, Decimal]], moq: int | None, price_min: Decimal | None,
               quantity: int) -> tuple[Decimal | None, int]:
    """The unit price of *quantity* pieces (None when the minimum order is above it) and the
    minimum order: the larger of the MOQ and the first tier's quantity. *tiers* ascend."""
    minimum = max(moq or 1, tiers[0][0] if tiers else 1)
    if quantity < minimum:
        return None, minimum
    if not tiers:
        return price_min, minimum
    return [price for start, price in tiers if start <= quantity][-1], minimum


def keyword_report(connection: Connection, keyword: str, *, quantity: int) -> dict[str, Any]:
    """The products of the last stored search of *keyword* and their suppliers, priced at *quantity*."""
    results, products, runs = schema.search_results, schema.products, schema.crawl_runs
    run_id = connection.execute(select(func.max(results.c.run_id)).where(results.c.keyword == keyword)).scalar()
    if run_id is None:
        raise UnknownKeyword(keyword)
    searched_at = connection.execute(select(runs.c.started_at).where(runs.c.run_id == run_id)).scalar_one()
    returned = select(results.c.product_id).where(results.c.run_id == run_id, results.c.keyword == keyword)
    tiers: dict[str, list[tuple[int, Decimal]]] = {}
    tier_query = (select(schema.price_tiers).where(schema.price_tiers.c.product_id.in_(returned))
                  .order_by(schema.price_tiers.c.product_id, schema.price_tiers.c.min_quantity))
    for row in connection.execute(tier_query):
        tiers.setdefault(row.product_id, []).append((row.min_quantity, row.price))
    query = (
        select(results.c.position, products)
        .join(products, products.c.product_id == results.c.product_id)
        .where(results.c.run_id == run_id, results.c.keyword == keyword)
        .order_by(results.c.position)
    )
    rows = [_product(row, tiers.get(row.product_id, []), quantity) for row in connection.execute(query)]
    return {
        "keyword": keyword,
        "quantity": quantity,
        "run_id": run_id,
        "searched_at": searched_at.isoformat(),
        "returned": connection.execute(select(func.count()).select_from(returned.subquery())).scalar_one(),
        "unknown_supplier": sum(1 for row in rows if row["supplier"] is None),
        "suppliers": _suppliers(rows),
        "products": rows,
    }


def _product(row: Any, tiers: list[tuple[int, Decimal]], quantity: int) -> dict[str, Any]:
    price, minimum = unit_price(tiers, row.moq, row.price_min, quantity)
    return {
        "position": row.position,
        "product_id": row.product_id,
        "title": row.title,
        "supplier": row.seller_open_id,
        "unit_price": price_text(price),
        "moq": minimum,
        "moq_above_quantity": minimum > quantity,
        "priced_by": "tiers" if tiers else "lowest price",
        "sales": row.sales,
        "stock": row.stock,
        "unit": row.unit,
        "detail_url": row.detail_url,
    }


def _suppliers(products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per known supplier: its cheapest product at the quantity, its products' sales
    and best position; the cheapest first, those that cannot sell the quantity last."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for product in products:
        if product["supplier"] is not None:
            groups.setdefault(product["supplier"], []).append(product)
    rows = []
    for supplier, offers in groups.items():
        priced = [offer for offer in offers if offer["unit_price"] is not None]
        best = min(priced or offers, key=lambda offer: (Decimal(offer["unit_price"] or 0), offer["moq"]))
        rows.append({
            "supplier": supplier,
            "products": len(offers),
            "unit_price": best["unit_price"],
            "moq": min(offer["moq"] for offer in offers),
            "product_id": best["product_id"],
            "title": best["title"],
            "sales": sum(offer["sales"] or 0 for offer in offers),
            "best_position": min(offer["position"] for offer in offers),
        })
    return sorted(rows, key=lambda row: (row["unit_price"] is None, Decimal(row["unit_price"] or 0),
                                         row["best_position"]))
