"""Items -> database rows, and what storing one product changes (pure Python, no SQL).

``plan_product`` compares a product with its stored row and decides: insert, update or
nothing; which SKU/tier rows to replace; whether a price-history row is due. What an item does
not say (``None``: a search list entry has no SKUs, tiers or stock, and its one price is the
lowest only, whatever its ``price_max`` says) keeps the stored value, so a partial sighting
never erases what a detail call found, and learning a price is no price change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ali1688spider.api.normalize import LIST_ENTRY_SOURCES

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Product item fields stored as columns of ``products`` (besides ``product_id``).
CONTENT_COLUMNS = (
    "seller_open_id", "member_id", "title", "category_id", "status", "price_min", "price_max",
    "moq", "unit", "stock", "sales", "images", "detail_url", "created_at", "modified_at",
    "source_api",
)
PRICE_COLUMNS = ("price_min", "price_max")
DATE_COLUMNS = ("created_at", "modified_at")
CATEGORY_COLUMNS = ("category_id", "parent_id", "name", "level", "is_leaf")


def price_text(value: Decimal | str | None) -> str | None:
    """Canonical text of a price ("10", "1.23"), the same whatever its trailing zeros."""
    if value is None:
        return None
    number = Decimal(str(value))
    return format(number.normalize(), "f") if number else "0"


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class ProductRecord:
    """One product ready to store: typed column values, SKU and tier rows (None = unknown).
    Its hashes are computed once (a batch compares them several times)."""

    product_id: str
    columns: dict[str, Any]
    skus: list[dict[str, Any]] | None
    tiers: list[dict[str, Any]] | None
    observed_at: datetime

    @property
    def is_detail(self) -> bool:
        """Whether a detail call (or a full product model) said this, not a list entry."""
        source = self.columns["source_api"]
        return source is not None and source not in LIST_ENTRY_SOURCES

    @cached_property
    def skus_hash(self) -> str | None:
        if self.skus is None:
            return None
        return _digest([{**row, "price": price_text(row["price"])} for row in self.skus])

    @cached_property
    def tiers_hash(self) -> str | None:
        if self.tiers is None:
            return None
        return _digest([[row["min_quantity"], price_text(row["price"])] for row in self.tiers])


def product_record(item: Mapping[str, Any], *, now: datetime | None = None) -> ProductRecord:
    """The record of a *valid* Product item (see ``pipelines.validate.validate_product``)."""
    product_id = item["product_id"]
    columns: dict[str, Any] = {name: item.get(name) for name in CONTENT_COLUMNS}
    if columns["source_api"] in LIST_ENTRY_SOURCES:
        # A list entry's price_max is its one price again, not the product's highest.
        columns["price_max"] = None
    for name in PRICE_COLUMNS:
        if columns[name] is not None:
            columns[name] = Decimal(columns[name])
    for name in DATE_COLUMNS:
        if columns[name] is not None:
            columns[name] = datetime.fromisoformat(columns[name]).astimezone(timezone.utc)
    if columns["images"] is not None:
        columns["images"] = list(columns["images"])
    skus = None
    if item.get("skus") is not None:
        skus = [
            {
                "product_id": product_id,
                "sku_id": sku["sku_id"],
                "position": position,
                "spec_id": sku.get("spec_id"),
                "attributes": dict(sku.get("attributes") or {}),
                "price": None if sku.get("price") is None else Decimal(sku["price"]),
                "stock": sku.get("stock"),
                "sku_code": sku.get("sku_code"),
            }
            for position, sku in enumerate(item["skus"])
        ]
    tiers = None
    if item.get("price_tiers") is not None:
        tiers = [
            {"product_id": product_id, "min_quantity": tier["min_quantity"], "price": Decimal(tier["price"])}
            for tier in item["price_tiers"]
        ]
    crawled = item.get("crawled_at")
    observed = datetime.fromisoformat(crawled) if crawled else (now or datetime.now(timezone.utc))
    return ProductRecord(product_id, columns, skus, tiers, observed.astimezone(timezone.utc))


def category_row(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: item.get(name) for name in CATEGORY_COLUMNS}


@dataclass(frozen=True)
class ProductPlan:
    """What storing one record does. ``row`` is None when the product is unchanged."""

    kind: str  # "new" | "changed" | "unchanged"
    row: dict[str, Any] | None = None
    skus: list[dict[str, Any]] | None = None  # replace the product's SKU rows with these
    tiers: list[dict[str, Any]] | None = None  # replace its tier rows with these
    history: dict[str, Any] | None = None
    #: A point of the product's sales, stock and lowest price (an ``observations`` row),
    #: when one of them moved (or it is new).
    observation: dict[str, Any] | None = None


#: What an observation keeps of a product: what a competitor analysis compares over time.
OBSERVED = ("sales", "stock", "price_min")


def _observation(record: ProductRecord, columns: Mapping[str, Any], run_id: int) -> dict[str, Any] | None:
    """The observation of *record* (its *columns* merged with what was stored), or None when
    none of the observed values is known."""
    if all(columns[name] is None for name in OBSERVED):
        return None
    return {"product_id": record.product_id, "run_id": run_id, "observed_at": record.observed_at,
            **{name: columns[name] for name in OBSERVED}}


def price_state(
    columns: Mapping[str, Any], tiers: list[dict] | None, skus: list[dict] | None
) -> dict[str, Any]:
    """Every price of a product in canonical, JSON-ready form: a change of any is a price change."""
    return {
        "min": price_text(columns.get("price_min")),
        "max": price_text(columns.get("price_max")),
        "tiers": None if tiers is None else [[t["min_quantity"], price_text(t["price"])] for t in tiers],
        "skus": None if skus is None else {s["sku_id"]: price_text(s["price"]) for s in skus},
    }


def plan_product(record: ProductRecord, stored: Mapping[str, Any] | None, run_id: int) -> ProductPlan:
    """Compare *record* with its *stored* ``products`` row (None: never stored)."""
    if stored is None:
        columns = dict(record.columns)
        prices = price_state(columns, record.tiers, record.skus)
        row = _row(record, columns, prices, run_id, first_run_id=run_id, first_seen_at=record.observed_at)
        history = None
        if any(value for value in prices.values()):
            history = _history(record, run_id, prices, previous=None)
        return ProductPlan("new", row, record.skus, record.tiers, history, _observation(record, columns, run_id))

    columns = {
        name: stored[name] if record.columns[name] is None else record.columns[name]
        for name in CONTENT_COLUMNS
    }
    old_prices = stored["prices"] or {}
    prices = price_state(columns, record.tiers, record.skus)
    for part in ("tiers", "skus"):
        if prices[part] is None:
            prices[part] = old_prices.get(part)
    skus_changed = record.skus is not None and record.skus_hash != stored["skus_hash"]
    tiers_changed = record.tiers is not None and record.tiers_hash != stored["tiers_hash"]
    columns_changed = any(columns[name] != stored[name] for name in CONTENT_COLUMNS)
    relisted = stored["removed_at"] is not None
    if not (skus_changed or tiers_changed or columns_changed or relisted):
        return ProductPlan("unchanged")
    row = _row(
        record, columns, prices, run_id,
        first_run_id=stored["first_run_id"], first_seen_at=stored["first_seen_at"],
        skus_hash=record.skus_hash if record.skus is not None else stored["skus_hash"],
        tiers_hash=record.tiers_hash if record.tiers is not None else stored["tiers_hash"],
    )
    history = None
    if any(old_prices.get(part) is not None and prices[part] != old_prices[part] for part in prices):
        history = _history(record, run_id, prices, previous=stored)
    moved = any(columns[name] != stored[name] for name in OBSERVED)
    return ProductPlan(
        "changed",
        row,
        record.skus if skus_changed else None,
        record.tiers if tiers_changed else None,
        history,
        _observation(record, columns, run_id) if moved else None,
    )


def _row(
    record: ProductRecord,
    columns: dict[str, Any],
    prices: dict[str, Any],
    run_id: int,
    *,
    first_run_id: int,
    first_seen_at: datetime,
    skus_hash: str | None = None,
    tiers_hash: str | None = None,
) -> dict[str, Any]:
    return {
        "product_id": record.product_id,
        **columns,
        "first_run_id": first_run_id,
        "first_seen_at": first_seen_at,
        "changed_run_id": run_id,
        "changed_at": record.observed_at,
        "skus_hash": skus_hash or record.skus_hash,
        "tiers_hash": tiers_hash or record.tiers_hash,
        "prices": prices,
        "removed_at": None,
        "removed_run_id": None,
    }


def _history(
    record: ProductRecord, run_id: int, prices: dict[str, Any], previous: Mapping[str, Any] | None
) -> dict[str, Any]:
    return {
        "product_id": record.product_id,
        "run_id": run_id,
        "observed_at": record.observed_at,
        "kind": "first" if previous is None else "change",
        "price_min": prices["min"],
        "price_max": prices["max"],
        "previous_price_min": None if previous is None else previous["price_min"],
        "previous_price_max": None if previous is None else previous["price_max"],
        "prices": prices,
    }
