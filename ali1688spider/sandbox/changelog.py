"""The ground truth of the drift: every change it made, in order (``GET /sandbox/changes``)."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, NamedTuple


class Change(NamedTuple):
    at: int                 # simulated epoch seconds
    product_id: str
    kind: str               # one of ali1688spider.monitoring.changes.KINDS
    in_listing: bool        # a listing entry shows it (price, title, presence, modifyDate)
    seller_open_id: str


class ChangeLog:
    """Changes are recorded in time order (the drift applies them so), so a query is a bisect."""

    def __init__(self) -> None:
        self._changes: list[Change] = []
        self._times: list[int] = []

    def record(self, change: Change) -> None:
        self._changes.append(change)
        self._times.append(change.at)

    def since(self, at: int, seller_open_id: str | None = None) -> list[Change]:
        """Every change strictly after *at* (of one shop's products, if given)."""
        found = self._changes[bisect_right(self._times, at):]
        if seller_open_id is None:
            return found
        return [c for c in found if c.seller_open_id == seller_open_id]


def entry(change: Change, iso: str) -> dict[str, Any]:
    return {"product_id": change.product_id, "kind": change.kind, "at": iso,
            "in_listing": change.in_listing}
