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
at all, the oldest detail goes first (round robin, weighted as below). Units cancel out: any
clock that every timestamp shares will do.

Products are refreshed in the order of that chance weighted by how near the stored product is
to a stock-out, the stock change users act on most: every variant in stock must sell out
first, so each variant in stock beyond the first (its SKUs with stock at the last detail)
divides the weight by ``VARIANT_SPREAD``. A product without SKUs that has stock counts as one
variant; so does one out of stock (its next stock change is a restock) and one whose stock was
never stored (its first detail says).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence


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
    #: Its variants in stock at the last detail (SKUs with stock; a product without SKUs is
    #: one); None when its stock was never stored.
    in_stock: int | None = None


@dataclass(frozen=True)
class Candidate:
    """A product the planner ranked: its estimated chance of having changed, and its staleness."""

    product_id: str
    seller_open_id: str | None
    chance: float
    stale_days: float
    #: The chance weighted by the product's nearness to a stock-out or a restock.
    priority: float


@dataclass(frozen=True)
class Plan:
    """The products to refresh, most likely changed first, and those left stale."""

    chosen: list[Candidate]
    left: list[Candidate]


def _rate(changes: float, days: float) -> float | None:
    return changes / days if days > 0 and changes > 0 else None


def change_rates(histories: Sequence[History]) -> dict[str, float] | None:
    """Product id -> its estimated changes per day; None when no product has any history."""
    shop_changes: dict[str | None, int] = defaultdict(int)
    shop_days: dict[str | None, float] = defaultdict(float)
    for history in histories:
        shop_changes[history.seller_open_id] += history.changes
        shop_days[history.seller_open_id] += history.observed_days
    overall = _rate(sum(shop_changes.values()), sum(shop_days.values()))
    if overall is None:
        return None
    rates = {}
    for history in histories:
        prior = _rate(shop_changes[history.seller_open_id], shop_days[history.seller_open_id]) or overall
        rates[history.product_id] = (history.changes + 1) / (history.observed_days + 1 / prior)
    return rates


#: How much less likely a stock-out is with each further variant in stock: all of them must sell
#: out. (In the sandbox's drift, 89 % of a month's stock-outs befall products with one variant in
#: stock, 9 % those with two: ``bench/planner_bound.py``.)
VARIANT_SPREAD = 3.0


def stock_weight(in_stock: int | None) -> float:
    """How near a stock-out or a restock a product with *in_stock* variants in stock is: 1 for
    one variant, none, or not known; divided by ``VARIANT_SPREAD`` for each further one."""
    return 1.0 if in_stock is None or in_stock <= 1 else VARIANT_SPREAD ** (1 - in_stock)


def rank(histories: Sequence[History], rates: Mapping[str, float] | None = None) -> list[Candidate]:
    """Every product, the highest priority first (ties: the stalest first). Without any
    history every product is as likely to have changed: the priority is its staleness,
    weighted the same way. *rates* (product id -> changes a day) replace the estimates, for
    what-if studies (``bench/planner_bound.py``)."""
    if rates is None:
        rates = change_rates(histories)
    candidates = []
    for h in histories:
        chance = 0.0 if rates is None else 1 - math.exp(-rates[h.product_id] * h.stale_days)
        likelihood = h.stale_days if rates is None else chance
        candidates.append(Candidate(h.product_id, h.seller_open_id, chance, h.stale_days,
                                    likelihood * stock_weight(h.in_stock)))
    candidates.sort(key=lambda c: (-c.priority, -c.stale_days, c.product_id))
    return candidates


def plan(histories: Iterable[History], calls: int) -> Plan:
    """Spend *calls* detail calls on the products of highest priority."""
    ranked = rank(list(histories))
    calls = max(0, calls)
    return Plan(chosen=ranked[:calls], left=ranked[calls:])
