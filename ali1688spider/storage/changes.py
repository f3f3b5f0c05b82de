"""What changed about a product since the database last saw it (pure Python, no SQL).

``detect_changes`` compares a record with its stored row (and, when its SKUs changed, the
stored SKU rows) and returns one ``product_changes`` row per change. Only what the record
knows is compared: a listing entry has no stock or SKUs, so it never reports a stock change;
a value the database never had (``None``) is learnt, not changed. ``removal`` is the row of a
product that a complete listing of its shop no longer holds (or whose detail says it is gone).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ali1688spider.storage.records import price_text

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from ali1688spider.storage.records import ProductRecord

#: The status a removed product had; a product seen again after its removal changes from it.
REMOVED = "removed"
PERCENT = Decimal("0.01")


def change_pct(old: Decimal | None, new: Decimal | None) -> str | None:
    """The relative change from *old* to *new* in percent, two decimals ("-12.5"), or None."""
    if not old or new is None:
        return None
    return price_text(((new - old) / old * 100).quantize(PERCENT))


def _summary(columns: Mapping[str, Any]) -> dict[str, Any]:
    """What a ``new`` or ``removed`` change says about the product."""
    return {
        "title": columns.get("title"),
        "price_min": price_text(columns.get("price_min")),
        "price_max": price_text(columns.get("price_max")),
        "stock": columns.get("stock"),
    }


def _sku(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"attributes": row.get("attributes"), "price": price_text(row.get("price")), "stock": row.get("stock")}


def _stock_kind(old: int, new: int) -> str:
    if old > 0 and new == 0:
        return "out_of_stock"
    if old == 0 and new > 0:
        return "back_in_stock"
    return "stock"


class _Changes:
    """Collects the change rows of one product."""

    def __init__(self, record: ProductRecord, run_id: int, title: str | None, seller_open_id: str | None):
        self.rows: list[dict[str, Any]] = []
        self.base = {
            "product_id": record.product_id, "run_id": run_id, "detected_at": record.observed_at,
            "title": title, "seller_open_id": seller_open_id,
        }

    def add(self, kind: str, old: Any, new: Any, *, sku_id: str | None = None, pct: str | None = None) -> None:
        self.rows.append({**self.base, "kind": kind, "old": old, "new": new, "sku_id": sku_id, "change_pct": pct})


def detect_changes(
    record: ProductRecord,
    stored: Mapping[str, Any] | None,
    run_id: int,
    *,
    stored_skus: Sequence[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The changes *record* brings to its *stored* row (None: a new product). SKU-level
    changes need *stored_skus* (the product's stored SKU rows); without them none is looked for."""
    known = record.columns
    title = known["title"] if known["title"] is not None else (stored or {}).get("title")
    seller = known["seller_open_id"] if known["seller_open_id"] is not None else (stored or {}).get("seller_open_id")
    changes = _Changes(record, run_id, title, seller)
    if stored is None:
        changes.add("new", None, _summary(known))
        return changes.rows
    if stored["removed_at"] is not None:
        changes.add("status", REMOVED, known["status"] or stored["status"])
    for name in ("title", "status"):
        if known[name] is not None and stored[name] is not None and known[name] != stored[name]:
            changes.add(name, stored[name], known[name])
    old_span = (stored["price_min"], stored["price_max"])
    new_span = tuple(known[n] if known[n] is not None else old for n, old in zip(("price_min", "price_max"), old_span))
    # Each end that both sides know: a list entry knows only the lowest price, and a row only
    # listings ever stored has no highest, yet a lowest price that moved is a price change.
    if any(old is not None and new != old for old, new in zip(old_span, new_span)):
        changes.add(
            "price",
            {"price_min": price_text(old_span[0]), "price_max": price_text(old_span[1])},
            {"price_min": price_text(new_span[0]), "price_max": price_text(new_span[1])},
            pct=change_pct(old_span[0], new_span[0]),
        )
    if known["stock"] is not None and stored["stock"] is not None and known["stock"] != stored["stock"]:
        changes.add(_stock_kind(stored["stock"], known["stock"]), stored["stock"], known["stock"])
    if record.skus is not None and stored_skus is not None:
        _sku_changes(changes, record.skus, stored_skus)
    return changes.rows


def _sku_changes(changes: _Changes, skus: Sequence[Mapping[str, Any]], stored: Sequence[Mapping[str, Any]]) -> None:
    """SKUs added or removed, and SKUs that sold out or came back (a SKU's every stock move
    would drown the feed; the product's stock change says the rest)."""
    before = {row["sku_id"]: row for row in stored}
    after = {row["sku_id"]: row for row in skus}
    for sku_id, row in after.items():
        old = before.get(sku_id)
        if old is None:
            changes.add("sku_added", None, _sku(row), sku_id=sku_id)
        elif old["stock"] is not None and row["stock"] is not None:
            kind = _stock_kind(old["stock"], row["stock"])
            if kind != "stock":
                changes.add(kind, old["stock"], row["stock"], sku_id=sku_id)
    for sku_id, old in before.items():
        if sku_id not in after:
            changes.add("sku_removed", _sku(old), None, sku_id=sku_id)


#: The stored columns a ``removed`` change is made of.
REMOVAL_COLUMNS = ("product_id", "title", "price_min", "price_max", "stock", "seller_open_id")


def removal(stored: Mapping[str, Any], run_id: int, at: datetime) -> dict[str, Any]:
    """The change row of a stored product that is gone from its shop."""
    return {
        "product_id": stored["product_id"], "run_id": run_id, "detected_at": at, "kind": REMOVED,
        "old": _summary(stored), "new": None, "sku_id": None, "change_pct": None,
        "title": stored["title"], "seller_open_id": stored["seller_open_id"],
    }
