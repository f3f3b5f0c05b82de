"""The call planner of monitoring runs: which stored products a run's spare calls refresh
(no Scrapy, no database).

Listings come first (they find new, removed, repriced and edited products) and so do the
details the listing asks for (``details=changed``); the calls left are spent on products whose
stock or SKUs most likely moved since their last detail, which no listing shows.

Each product's rate of change is estimated from its own history, with its shop's as the prior
(a Gamma–Poisson estimate): ``(changes + 1) / (days observed + 1 / shop rate)``, the prior
weighing as much as one change at the shop's average rate. The chance that it changed since
its last detail is ``1 - exp(-rate * days since the detail)``. A product without history of
its own gets its shop's rate, a shop without history the rate of every shop; with no history
at all, the oldest detail goes first (round robin). Units cancel out: any clock that every
timestamp shares will do.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


@dataclass(frozen=True)
class History:
    """What the database knows of one stored product, as the planner needs it."""

    product_id: str
    seller_open_id: str | None
    #: Days since the product was first stored.
    observed_days: float
    #: Changes recorded since (``new`` and ``removed`` do not count).
    changes: int
    #: Days since its last detail (since it was first stored when it never had one).
    stale_days: float


@dataclass(frozen=True)
class Candidate:
    """A product the planner ranked: its estimated chance of having changed, and its staleness."""

    product_id: str
    seller_open_id: str | None
    chance: float
    stale_days: float


@dataclass(frozen=True)
class Plan:
    """The products to refresh, most likely changed first, and those left stale."""

    chosen: list[Candidate]
    left: list[Candidate]


def _rate(changes: float, days: float) -> float | None:
    return changes / days if days > 0 and changes > 0 else None


def change_rates(histories: Sequence[History]) -> dict[str, float]:
    """Product id -> its estimated changes per day (0.0 when nothing has ever changed)."""
    shop_changes: dict[str | None, int] = defaultdict(int)
    shop_days: dict[str | None, float] = defaultdict(float)
    for history in histories:
        shop_changes[history.seller_open_id] += history.changes
        shop_days[history.seller_open_id] += history.observed_days
    overall = _rate(sum(shop_changes.values()), sum(shop_days.values()))
    rates = {}
    for history in histories:
        prior = _rate(shop_changes[history.seller_open_id], shop_days[history.seller_open_id]) or overall
        rates[history.product_id] = (
            (history.changes + 1) / (history.observed_days + 1 / prior) if prior else 0.0
        )
    return rates


def rank(histories: Sequence[History]) -> list[Candidate]:
    """Every product, the likeliest to have changed first (ties: the stalest first)."""
    rates = change_rates(histories)
    candidates = [
        Candidate(h.product_id, h.seller_open_id, 1 - math.exp(-rates[h.product_id] * h.stale_days), h.stale_days)
        for h in histories
    ]
    candidates.sort(key=lambda c: (-c.chance, -c.stale_days, c.product_id))
    return candidates


def plan(histories: Iterable[History], calls: int) -> Plan:
    """Spend *calls* detail calls on the products likeliest to have changed."""
    ranked = rank(list(histories))
    calls = max(0, calls)
    return Plan(chosen=ranked[:calls], left=ranked[calls:])
