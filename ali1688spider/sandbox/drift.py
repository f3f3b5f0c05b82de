"""The drifting catalogue: a simulated clock and the changes that come due as it moves.

Every product has a hidden rate of change (events a day), drawn from a heavy-tailed (Pareto)
distribution by the seed: most products change every few months, a few hot ones several times
a day. A shop's events are one Poisson process whose rate is the sum of its products' (plus the
publication of new products), each event befalling a product in proportion to its rate, so an
advance costs a bisect per event and nothing per product; the rates are drawn at a shop's first
advance. Shops' events are applied in time order (a heap), so the catalogue after advancing
24 hours is the same as after two advances of 12.
"""

from __future__ import annotations

import heapq
import random
from array import array
from bisect import bisect_right
from typing import TYPE_CHECKING

from ali1688spider.sandbox.catalog import ANCHOR
from ali1688spider.sandbox.changelog import Change, ChangeLog
from ali1688spider.sandbox.sellers import Sellers

if TYPE_CHECKING:
    from ali1688spider.sandbox.catalog import Catalog, Shop

DAY = 86_400
#: The rate of the calmest products (events a day) and the Pareto shape above it: about 0.3 %
#: of the products change at least daily.
RARE_RATE, TAIL = 1 / 90, 1.3
HOT_RATE = 6.0
#: New products a day, per product the shop has at the start.
PUBLISH_RATE = 0.002


def draw_rate(rnd: random.Random) -> float:
    return min(HOT_RATE, RARE_RATE * rnd.paretovariate(TAIL))


class ShopDrift:
    """The event process of one shop."""

    def __init__(self, shop: Shop, seed: int, start: int):
        self.shop = shop
        self.rnd = random.Random(f"{seed}:drift:{shop.index}")
        self.cum = array("d")        # cumulative rates, by position
        total = 0.0
        for _ in range(shop.size):
            total += draw_rate(self.rnd)
            self.cum.append(total)
        self.publish_rate = PUBLISH_RATE * shop.size
        self.next_at = start + self.gap()

    def gap(self) -> int:
        """Seconds to the next event; at least one, so no two events of a shop share a second."""
        per_second = (self.cum[-1] + self.publish_rate) / DAY
        return max(1, round(self.rnd.expovariate(per_second)))


class Drift:
    def __init__(self, catalog: Catalog, *, sales_move_modified: bool = False):
        self.catalog = catalog
        self.now = ANCHOR
        self.log = ChangeLog()
        self.sellers = Sellers(catalog, sales_move_modified=sales_move_modified)
        self._shops: list[ShopDrift] | None = None

    def advance(self, seconds: int) -> int:
        """Move the clock *seconds* forward, applying every event due; the changes made."""
        if self._shops is None:
            self._shops = [ShopDrift(s, self.catalog.seed, self.now) for s in self.catalog.shops]
        end = self.now + seconds
        due = [(s.next_at, s.shop.index) for s in self._shops]
        heapq.heapify(due)
        made = 0
        while due and due[0][0] <= end:
            at, index = heapq.heappop(due)
            drift = self._shops[index]
            made += self._event(drift, at)
            drift.next_at = at + drift.gap()
            heapq.heappush(due, (drift.next_at, index))
        self.now = end
        if made:
            self.catalog.changed()
        return made

    def rates(self) -> dict[str, float]:
        """Product id -> its hidden rate of change (events a day), for every product drawn so
        far: what a perfect estimate would know (``bench/planner_bound.py``)."""
        rates = {}
        for drift in self._shops or ():
            below = 0.0
            for index, cumulative in enumerate(drift.cum):
                rates[str(self.catalog.offer_id(drift.shop, index))] = cumulative - below
                below = cumulative
        return rates

    def _event(self, drift: ShopDrift, at: int) -> int:
        shop, rnd, catalog = drift.shop, drift.rnd, self.catalog
        pick = rnd.random() * (drift.cum[-1] + drift.publish_rate)
        if pick >= drift.cum[-1]:
            index = catalog.publish(shop, rnd, at)
            drift.cum.append(drift.cum[-1] + draw_rate(rnd))
            kinds, shown = ["new"], True
        else:
            index = bisect_right(drift.cum, pick)
            if index in catalog.shop_data(shop).delisted:
                return 0
            kinds, shown = self.sellers.act(shop, index, rnd, at)
        product_id = str(catalog.offer_id(shop, index))
        for kind in kinds:
            self.log.record(Change(at, product_id, kind, shown, shop.seller_open_id))
        return len(kinds)
