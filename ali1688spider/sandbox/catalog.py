"""The deterministic synthetic catalogue: shops, their products, listing filters, and the
changes tests make (reprice, delist, restock) or the drift brings (``drift.py``).

Per shop only compact arrays are kept (leaf category, lowest price, dates, sales), built on
the shop's first use; everything else about a product is computed on demand (``products``),
so a 100,000-product shop costs a few megabytes and nothing at start. The changes add to that
only what they touch: a set of delisted positions and dicts of restocked, retitled and trimmed
ones. Offer ids are a seeded affine permutation of a running product number: they look random,
are unique across shops and map back in O(1). Products published after the start take the
running numbers past the last shop's, in the order they appear, and the positions past the
shop's initial size.
"""

from __future__ import annotations

import logging
import math
import random
from array import array
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import TYPE_CHECKING

from ali1688spider.sandbox.categories import CategoryTree
from ali1688spider.sandbox.options import OWNER_SHOP_SIZE
from ali1688spider.sandbox.products import (
    ALPHABET,
    MOQS,
    SKU_RANGE,
    Brief,
    Offer,
    ProductFactory,
    Scramble,
    image_path,
    offer_hash,
    edited,
    title_of,
)
from ali1688spider.sandbox.timefmt import CHINA
from ali1688spider.sandbox.words import (
    LOGIN_SYLLABLES,
    SHOP_CITIES,
    SHOP_KINDS,
    SHOP_WORDS,
    TOP_CATEGORIES,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from ali1688spider.sandbox.words import Word

logger = logging.getLogger(__name__)

# Catalogue time is fixed (not the wall clock) so that two sandboxes with one seed agree.
ANCHOR = int(datetime(2026, 1, 1, tzinfo=CHINA).timestamp())
SPAN = 3 * 365 * 86400

OFFER_BASE, OFFER_RANGE = 600_000_000_000, 100_000_000_000   # 12-digit offer ids
MIN_PRICE, MAX_PRICE = 10, 9_999_999                         # cents
FILTER_CACHE_SIZE = 256
OFFER_CACHE_SIZE = 4096


@dataclass
class ShopData:
    """The arrays of one shop, indexed by the product's position in the default order."""

    leaf: array            # global leaf index
    price: array           # lowest price, cents (mutable: reprice)
    created: array         # epoch seconds
    modified: array        # epoch seconds (mutable: reprice)
    month_sold: array
    repurchase: array      # percent
    by_leaf: dict[int, array]
    titles: list[str] | None = None   # lower-cased, built on the first keyword filter
    delisted: set[int] = field(default_factory=set)      # positions taken off the shop (delist)
    # position -> stock of each SKU slot, or of the product without SKUs (restock, sales)
    stock: dict[int, tuple[int, ...]] = field(default_factory=dict)
    retitled: dict[int, int] = field(default_factory=dict)           # position -> title variant
    skus_removed: dict[int, frozenset[int]] = field(default_factory=dict)  # position -> SKU slots
    born: list[int] = field(default_factory=list)  # running numbers of products published later


@dataclass
class Shop:
    index: int
    size: int
    key_base: int          # first running product number of this shop
    seller_open_id: str
    user_id: str
    member_id: str
    login_id: str
    domain: str
    name: str
    company_name: str
    tops: tuple[int, ...]
    leaf_ids: tuple[int, ...] = field(repr=False)       # global leaf indices it sells in
    cum_weights: tuple[float, ...] = field(repr=False)  # skewed (Zipf) weights over leaf_ids
    created: int = 0
    data: ShopData | None = field(default=None, repr=False)

    @property
    def shop_url(self) -> str:
        return f"https://{self.domain}"


@dataclass(frozen=True)
class ListFilter:
    """A listing query; equal filters share one cached result list."""

    category_ids: tuple[int, ...] | None = None   # any level; matches descendants
    price_min: int | None = None                  # cents, inclusive, on the lowest price
    price_max: int | None = None
    keyword: str | None = None
    modified_from: int | None = None              # epoch seconds, inclusive
    modified_until: int | None = None             # epoch seconds, exclusive
    sort: tuple[str, bool] | None = None          # (price|monthSold|rePurchaseRate, descending)


class Catalog:
    def __init__(self, seed: int, sizes: Sequence[int]):
        self.seed = seed
        self.tree = CategoryTree()
        rnd = random.Random(f"{seed}:catalog")
        self.offer_ids = Scramble(rnd, OFFER_RANGE)
        self.products = ProductFactory(seed, Scramble(rnd, SKU_RANGE))
        self.leaf_log_price = [
            math.log(TOP_CATEGORIES[leaf.top].price_yuan * 100 * math.exp(rnd.uniform(-0.7, 0.7)))
            for leaf in self.tree.leaves
        ]
        self.shops: list[Shop] = []
        key_base = 0
        for index, size in enumerate(sizes):
            self.shops.append(self._make_shop(index, size, key_base))
            key_base += size
        self.key_bases = [shop.key_base for shop in self.shops]
        self.total = key_base
        self.by_open_id = {s.seller_open_id: s for s in self.shops}
        self.owner = min(self.shops, key=lambda s: (abs(s.size - OWNER_SHOP_SIZE), s.index))
        self.born: dict[int, tuple[Shop, int]] = {}   # running number -> shop, position
        self._filters: OrderedDict[tuple, array] = OrderedDict()
        self._offers: OrderedDict[int, Offer] = OrderedDict()

    # -- shops ---------------------------------------------------------------------------

    def _make_shop(self, index: int, size: int, key_base: int) -> Shop:
        rnd = random.Random(f"{self.seed}:shop:{index}")
        open_id = "".join(rnd.choice(ALPHABET[:36]) for _ in range(21))
        user_id = str(rnd.randrange(1_000_000_000, 2_999_999_999))
        city, word, kind = rnd.choice(SHOP_CITIES), rnd.choice(SHOP_WORDS), rnd.choice(SHOP_KINDS)
        login = "".join(rnd.choice(LOGIN_SYLLABLES) for _ in range(2)) + str(rnd.randrange(10, 9999))
        domain = login if index % 2 else f"shop{rnd.randrange(10**12, 10**13)}"
        top_count = 1 if size < 200 else 2 if size < 10_000 else 3
        tops = tuple(rnd.sample(range(len(TOP_CATEGORIES)), top_count))
        leaves = [leaf for top in tops for leaf in self.tree.leaves_under(top)]
        rnd.shuffle(leaves)
        leaves = leaves[: max(3, min(len(leaves), size // 8))]
        weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(leaves))]
        cum = tuple(sum(weights[: i + 1]) for i in range(len(weights)))
        return Shop(
            index=index,
            size=size,
            key_base=key_base,
            seller_open_id=open_id,
            user_id=user_id,
            member_id=f"b2b-{user_id}",
            login_id=login if index % 3 else f"{city}{word}{rnd.randrange(1, 99)}",
            domain=f"{domain}.1688.com",
            name=f"{city}{word}{TOP_CATEGORIES[tops[0]].name.zh}厂",
            company_name=f"{city}市{word}{kind}",
            tops=tops,
            leaf_ids=tuple(leaves),
            cum_weights=cum,
            created=ANCHOR - SPAN - rnd.randrange(5 * 365 * 86400),
        )

    def shop_data(self, shop: Shop) -> ShopData:
        if shop.data is None:
            shop.data = self._generate(shop)
        return shop.data

    def _generate(self, shop: Shop) -> ShopData:
        rnd = random.Random(f"{self.seed}:products:{shop.index}")
        n = shop.size
        local = rnd.choices(range(len(shop.leaf_ids)), cum_weights=shop.cum_weights, k=n)
        leaf = array("H", (shop.leaf_ids[j] for j in local))
        log_price = self.leaf_log_price
        gauss, rand = rnd.gauss, rnd.random
        price = array("q", (
            min(MAX_PRICE, max(MIN_PRICE, round(math.exp(log_price[g] + gauss(0.0, 0.9)))))
            for g in leaf
        ))
        created = array("q", (ANCHOR - SPAN + int(rand() * SPAN) for _ in range(n)))
        modified = array("q", (c + int(rand() * (ANCHOR - c)) for c in created))
        month_sold = array("q", (min(200_000, int(rnd.paretovariate(1.2) * 3) - 3) for _ in range(n)))
        repurchase = array("B", (int(rand() * rand() * 80) for _ in range(n)))
        by_leaf: dict[int, array] = {}
        for i, g in enumerate(leaf):
            by_leaf.setdefault(g, array("l")).append(i)
        logger.debug("Generated %d products of shop %s", n, shop.seller_open_id)
        return ShopData(leaf, price, created, modified, month_sold, repurchase, by_leaf)

    def listed(self, shop: Shop, positions: Sequence[int] | None = None) -> Sequence[int]:
        """*positions* (default: all of *shop*'s, in the default order) without the delisted ones.

        A shop that never had a product delisted is not even generated for this.
        """
        if positions is None:
            positions = range(self.size(shop))
        delisted = shop.data.delisted if shop.data is not None else None
        if not delisted:
            return positions
        return [i for i in positions if i not in delisted]

    def size(self, shop: Shop) -> int:
        """How many products *shop* ever had (listed or not), published ones included."""
        return shop.size + (len(shop.data.born) if shop.data is not None else 0)

    def shop_ids(self, shop: Shop) -> list[str]:
        return [str(self.offer_id(shop, i)) for i in self.listed(shop)]

    def shop_categories(self, shop: Shop) -> list[int]:
        """The leaf categories *shop* has listed products in."""
        data = self.shop_data(shop)
        leaves: Iterable[int] = data.by_leaf
        if data.delisted:
            leaves = [g for g, positions in data.by_leaf.items() if self.listed(shop, positions)]
        return sorted(self.tree.leaves[g].category_id for g in leaves)

    # -- products --------------------------------------------------------------------------

    def key(self, shop: Shop, index: int) -> int:
        """The running product number of *shop*'s product at *index*."""
        if index < shop.size:
            return shop.key_base + index
        return self.shop_data(shop).born[index - shop.size]

    def offer_id(self, shop: Shop, index: int) -> int:
        return OFFER_BASE + self.offer_ids.forward(self.key(shop, index))

    def locate(self, offer_id: int) -> tuple[Shop, int] | None:
        """The shop and position of *offer_id*, or None when no such product exists (never
        did, or was delisted: the APIs answer both alike)."""
        if not OFFER_BASE <= offer_id < OFFER_BASE + OFFER_RANGE:
            return None
        key = self.offer_ids.backward(offer_id - OFFER_BASE)
        if key >= self.total + len(self.born):
            return None
        shop, index = self.locate_key(key)
        if shop.data is not None and index in shop.data.delisted:
            return None
        return shop, index

    def locate_key(self, key: int) -> tuple[Shop, int]:
        if key >= self.total:
            return self.born[key]
        shop = self.shops[bisect_right(self.key_bases, key) - 1]
        return shop, key - shop.key_base

    def brief(self, shop: Shop, index: int) -> Brief:
        data = self.shop_data(shop)
        offer_id = self.offer_id(shop, index)
        bits = offer_hash(self.seed, offer_id)
        leaf = self.tree.leaves[data.leaf[index]]
        units = TOP_CATEGORIES[leaf.top].units
        return Brief(
            shop=shop,
            index=index,
            key=self.key(shop, index),
            offer_id=offer_id,
            leaf=leaf,
            title=self.title(shop, index),
            image=image_path(bits >> 16, shop.user_id),
            moq=MOQS[(bits >> 160) % len(MOQS)],
            unit=units[(bits >> 168) % len(units)],
            price=data.price[index],
            created=data.created[index],
            modified=data.modified[index],
            month_sold=data.month_sold[index],
            repurchase=data.repurchase[index],
        )

    def title(self, shop: Shop, index: int) -> Word:
        """The product's title; a retitled one's words move on by its variant number."""
        data = self.shop_data(shop)
        bits = offer_hash(self.seed, self.offer_id(shop, index)) + data.retitled.get(index, 0)
        return title_of(bits, self.tree.leaves[data.leaf[index]])

    def offer(self, shop: Shop, index: int) -> Offer:
        """The full product (cached; the cache is cleared when products change)."""
        key = self.key(shop, index)
        cached = self._offers.get(key)
        if cached is not None:
            self._offers.move_to_end(key)
            return cached
        data = self.shop_data(shop)
        offer = self.base_offer(shop, index)
        if index in data.stock or index in data.skus_removed:
            offer = edited(offer, data.stock.get(index), data.skus_removed.get(index, frozenset()))
        self._offers[key] = offer
        if len(self._offers) > OFFER_CACHE_SIZE:
            self._offers.popitem(last=False)
        return offer

    def base_offer(self, shop: Shop, index: int) -> Offer:
        """The product as its hash makes it, before any stock or SKU edit."""
        return self.products.build(self.brief(shop, index))

    # -- listing ---------------------------------------------------------------------------

    def shop_list(self, shop: Shop, flt: ListFilter) -> array:
        """Positions of *shop*'s products matching *flt*, in the requested order."""
        return self._cached((shop.index, flt), lambda: self._match(shop, flt))

    def search(self, flt: ListFilter) -> array:
        """Running product numbers over every shop matching *flt* (keyword search)."""
        return self._cached(("all", flt), lambda: self._search(flt))

    def _cached(self, key: tuple, compute) -> array:
        result = self._filters.get(key)
        if result is None:
            result = compute()
            self._filters[key] = result
            if len(self._filters) > FILTER_CACHE_SIZE:
                self._filters.popitem(last=False)
        else:
            self._filters.move_to_end(key)
        return result

    def _match(self, shop: Shop, flt: ListFilter) -> array:
        data = self.shop_data(shop)
        indices: Sequence[int]
        if flt.category_ids is not None:
            leaves = {g for cid in flt.category_ids for g in self._leaves_of(cid)}
            indices = self.listed(shop, sorted(
                chain.from_iterable(data.by_leaf[g] for g in leaves if g in data.by_leaf)))
        else:
            indices = self.listed(shop)
        if flt.price_min is not None or flt.price_max is not None:
            low = MIN_PRICE if flt.price_min is None else flt.price_min
            high = MAX_PRICE if flt.price_max is None else flt.price_max
            price = data.price
            indices = [i for i in indices if low <= price[i] <= high]
        if flt.modified_from is not None or flt.modified_until is not None:
            start = flt.modified_from if flt.modified_from is not None else -(2**62)
            end = flt.modified_until if flt.modified_until is not None else 2**62
            modified = data.modified
            indices = [i for i in indices if start <= modified[i] < end]
        if flt.keyword:
            titles = self._titles(shop)
            word = flt.keyword.lower()
            indices = [i for i in indices if word in titles[i]]
        if flt.sort is not None:
            values = self._sort_values(data, flt.sort[0])
            indices = sorted(indices, key=values.__getitem__, reverse=flt.sort[1])
        return array("l", indices)

    def _search(self, flt: ListFilter) -> array:
        unsorted = ListFilter(flt.category_ids, flt.price_min, flt.price_max, flt.keyword)
        keys: list[int] = []
        values: list[int] = []
        for shop in self.shops:
            matched = self.shop_list(shop, unsorted)
            keys.extend(self.key(shop, i) for i in matched)
            if flt.sort is not None:
                column = self._sort_values(self.shop_data(shop), flt.sort[0])
                values.extend(column[i] for i in matched)
        if flt.sort is not None:
            order = sorted(range(len(keys)), key=values.__getitem__, reverse=flt.sort[1])
            keys = [keys[j] for j in order]
        return array("q", keys)

    def _leaves_of(self, category_id: int) -> tuple[int, ...]:
        category = self.tree.get(category_id)
        return category.leaves if category is not None else ()

    @staticmethod
    def _sort_values(data: ShopData, name: str) -> array:
        return {"price": data.price, "monthSold": data.month_sold,
                "rePurchaseRate": data.repurchase}[name]

    def _titles(self, shop: Shop) -> list[str]:
        data = self.shop_data(shop)
        if data.titles is None:
            data.titles = [self.title(shop, i).zh.lower() for i in range(len(data.leaf))]
        return data.titles

    # -- changes ---------------------------------------------------------------------------

    def reprice(self, fraction: float, seed: int, shop: Shop | None, now: int) -> list[str]:
        """Change the lowest price of *fraction* of the products and bump their modify time."""
        def reprice(_: Shop, data: ShopData, i: int, rnd: random.Random) -> None:
            set_new_price(data, i, rnd)
            touch(data, i, now)

        return self._change("reprice", fraction, seed, shop, reprice)

    def delist(self, fraction: float, seed: int, shop: Shop | None) -> list[str]:
        """Take *fraction* of the products off their shop: gone from every listing and count,
        and their details answer as a missing product's do."""
        return self._change("delist", fraction, seed, shop, lambda _, data, i, __: data.delisted.add(i))

    def restock(self, fraction: float, seed: int, shop: Shop | None, now: int, stock: int) -> list[str]:
        """Set the stock of every SKU of *fraction* of the products to *stock* (a product
        without SKUs: its own stock) and bump their modify time."""
        def restock(shop: Shop, data: ShopData, i: int, _: random.Random) -> None:
            data.stock[i] = (stock,) * max(1, len(self.base_offer(shop, i).skus))
            touch(data, i, now)

        return self._change("restock", fraction, seed, shop, restock)

    def _change(self, kind: str, fraction: float, seed: int, shop: Shop | None,
                change: Callable[[Shop, ShopData, int, random.Random], None]) -> list[str]:
        """Apply *change* to *fraction* of the listed products of *shop* (else of every shop),
        drawn by *seed* (the same seed on the same catalogue draws the same products); returns
        their ids, shop by shop, in position order."""
        rnd = random.Random(f"{kind}:{seed}")
        changed: list[str] = []
        for target in [shop] if shop is not None else self.shops:
            data = self.shop_data(target)
            listed = self.listed(target)
            for i in sorted(rnd.sample(listed, round(len(listed) * fraction))):
                change(target, data, i, rnd)
                changed.append(str(self.offer_id(target, i)))
        self.changed()
        return changed

    def changed(self) -> None:
        """Forget every listing and product computed so far: products changed."""
        self._filters.clear()
        self._offers.clear()

    def publish(self, shop: Shop, rnd: random.Random, now: int) -> int:
        """A new product of *shop*, published *now*: its position. It takes the next running
        number, and its category and price are drawn as the shop's first products' were."""
        data = self.shop_data(shop)
        index = self.size(shop)
        key = self.total + len(self.born)
        self.born[key] = (shop, index)
        data.born.append(key)
        g = rnd.choices(shop.leaf_ids, cum_weights=shop.cum_weights)[0]
        data.leaf.append(g)
        data.by_leaf.setdefault(g, array("l")).append(index)
        data.price.append(min(MAX_PRICE, max(MIN_PRICE, round(
            math.exp(self.leaf_log_price[g] + rnd.gauss(0.0, 0.9))))))
        data.created.append(now)
        data.modified.append(now)
        data.month_sold.append(0)
        data.repurchase.append(0)
        if data.titles is not None:
            data.titles.append(self.title(shop, index).zh.lower())
        return index


def set_new_price(data: ShopData, index: int, rnd: random.Random) -> None:
    """Move the lowest price of the product at *index* by -20 … +25 %, never to the same."""
    old = data.price[index]
    new = min(MAX_PRICE, max(MIN_PRICE, round(old * rnd.uniform(0.8, 1.25))))
    data.price[index] = new if new != old else (old + 1 if old < MAX_PRICE else old - 1)


def touch(data: ShopData, index: int, now: int) -> None:
    """A changed product's modification time moves forward, even within one second."""
    data.modified[index] = max(now, data.modified[index] + 1)
