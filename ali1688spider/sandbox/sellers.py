"""What sellers and buyers do to one product of the drifting catalogue: seller edits (price,
title, SKUs, restock, delist), which move its modification time, and sales, which lower its
stock and move it only with ``--sales-move-modified``.

Each returns the kinds of change it made, in the change feed's vocabulary. They are worked out
here from the sandbox's own numbers, independently of the crawler's change detection, which
the ground truth is there to check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ali1688spider.sandbox.catalog import set_new_price, touch

if TYPE_CHECKING:
    import random

    from ali1688spider.sandbox.catalog import Catalog, Shop, ShopData

#: How often each event befalls a product, relative to one another.
EVENTS = {"sale": 40, "price": 25, "restock": 10, "title": 7, "sku": 12, "delist": 2}
#: The share of sales that sell a SKU (or a product without SKUs) out.
SELL_OUT = 0.15


def stock_kind(old: int, new: int) -> str | None:
    if old == new:
        return None
    if new == 0:
        return "out_of_stock"
    return "back_in_stock" if old == 0 else "stock"


class Sellers:
    def __init__(self, catalog: Catalog, *, sales_move_modified: bool):
        self.catalog, self.sales_move_modified = catalog, sales_move_modified
        self._names, self._weights = list(EVENTS), list(EVENTS.values())

    def act(self, shop: Shop, index: int, rnd: random.Random, now: int) -> tuple[list[str], bool]:
        """One event on the listed product at *index*: the kinds of change it made and whether
        its listing entry shows them (its modification time moved, or it is gone)."""
        data = self.catalog.shop_data(shop)
        event = rnd.choices(self._names, self._weights)[0]
        if event == "sale" and not self._selling(data, index, self._stocks(shop, data, index)):
            event = "restock"   # nothing left to sell: the seller restocks instead
        kinds = getattr(self, event)(shop, data, index, rnd)
        if event == "delist":
            return kinds, True
        moved = event != "sale" or self.sales_move_modified
        if moved:
            touch(data, index, now)
        return kinds, moved

    def _stocks(self, shop: Shop, data: ShopData, index: int) -> list[int]:
        """The stock of each SKU slot (removed ones included), or the product's own."""
        stocks = data.stock.get(index)
        if stocks is None:
            offer = self.catalog.base_offer(shop, index)
            stocks = tuple(s.stock for s in offer.skus) if offer.skus else (offer.stock,)
        return list(stocks)

    @staticmethod
    def _live(data: ShopData, index: int, stocks: list[int]) -> list[int]:
        removed = data.skus_removed.get(index, frozenset())
        return [slot for slot in range(len(stocks)) if slot not in removed]

    def _selling(self, data: ShopData, index: int, stocks: list[int]) -> list[int]:
        return [s for s in self._live(data, index, stocks) if stocks[s] > 0]

    def _set_stocks(self, data: ShopData, index: int, old: list[int], new: list[int]) -> list[str]:
        data.stock[index] = tuple(new)
        live = self._live(data, index, new)
        kind = stock_kind(sum(old[s] for s in live), sum(new[s] for s in live))
        return [kind] if kind else []

    def sale(self, shop: Shop, data: ShopData, index: int, rnd: random.Random) -> list[str]:
        stocks = self._stocks(shop, data, index)
        slot = rnd.choice(self._selling(data, index, stocks))
        new = list(stocks)
        new[slot] = 0 if rnd.random() < SELL_OUT else new[slot] - rnd.randint(1, max(1, new[slot] // 4))
        return self._set_stocks(data, index, stocks, new)

    def restock(self, shop: Shop, data: ShopData, index: int, rnd: random.Random) -> list[str]:
        stocks = self._stocks(shop, data, index)
        new = [stock + rnd.randrange(50, 1000) for stock in stocks]
        return self._set_stocks(data, index, stocks, new)

    def price(self, shop: Shop, data: ShopData, index: int, rnd: random.Random) -> list[str]:
        set_new_price(data, index, rnd)
        return ["price"]

    def title(self, shop: Shop, data: ShopData, index: int, rnd: random.Random) -> list[str]:
        data.retitled[index] = data.retitled.get(index, 0) + 1
        if data.titles is not None:
            data.titles[index] = self.catalog.title(shop, index).zh.lower()
        return ["title"]

    def delist(self, shop: Shop, data: ShopData, index: int, rnd: random.Random) -> list[str]:
        data.delisted.add(index)
        return ["removed"]

    def sku(self, shop: Shop, data: ShopData, index: int, rnd: random.Random) -> list[str]:
        """Take a SKU off, or put one taken off back; a product without SKUs gets a new price.
        Only SKUs whose price lies within the others' span move, so the product's price span
        (what the listing and the price change say) stays."""
        prices = [s.price for s in self.catalog.base_offer(shop, index).skus]
        removed = data.skus_removed.get(index, frozenset())
        live = [slot for slot in range(len(prices)) if slot not in removed]

        def within(slot: int, others: list[int]) -> bool:
            span = [prices[s] for s in others if s != slot]
            return bool(span) and min(span) <= prices[slot] <= max(span)

        back = [slot for slot in sorted(removed) if within(slot, live)]
        off = [slot for slot in live if within(slot, live)] if len(live) > 1 else []
        if back and (not off or rnd.random() < 0.5):
            kind, after = "sku_added", removed - {rnd.choice(back)}
        elif off:
            kind, after = "sku_removed", removed | {rnd.choice(off)}
        else:
            return self.price(shop, data, index, rnd)
        stocks = self._stocks(shop, data, index)
        before = sum(stocks[s] for s in live)
        data.skus_removed[index] = after
        now_stock = sum(stocks[s] for s in range(len(prices)) if s not in after)
        extra = stock_kind(before, now_stock)
        return [kind] + ([extra] if extra else [])
