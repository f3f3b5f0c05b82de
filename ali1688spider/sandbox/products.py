"""Products of the synthetic catalogue: what a listing shows (Brief) and everything else (Offer).

A product's fields beyond its shop's arrays (title, images, SKUs, tiers, MOQ …) are derived
from a hash of (seed, offer id), so they cost nothing until asked for and only change with
the product's lowest price (``/sandbox/reprice``), from which every price is derived, and
with the stock and SKU edits of ``/sandbox/restock`` and the drift (``edited``).
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, replace
from itertools import chain
from typing import TYPE_CHECKING, NamedTuple

from ali1688spider.sandbox.words import (
    ATTRIBUTE_BRAND,
    ATTRIBUTE_MATERIAL,
    ATTRIBUTE_ORIGIN,
    BRANDS,
    MATERIALS,
    TITLE_CLOSERS,
    TITLE_OPENERS,
    TOP_CATEGORIES,
    SkuDimension,
    Word,
)

if TYPE_CHECKING:
    from ali1688spider.sandbox.catalog import Shop
    from ali1688spider.sandbox.categories import Category

SKU_BASE, SKU_RANGE = 4_000_000_000_000, 1_000_000_000_000   # 13-digit sku ids
SKUS_PER_OFFER = 8
MOQS = (1, 1, 1, 2, 2, 3, 5, 10, 10, 20, 50, 100)
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class Scramble:
    """A seeded bijection of ``range(modulus)``: ``(a*k + b) mod modulus``."""

    def __init__(self, rnd: random.Random, modulus: int):
        a = rnd.randrange(modulus // 3, modulus) | 1
        while math.gcd(a, modulus) != 1:
            a += 2
        self.a, self.b, self.modulus = a, rnd.randrange(modulus), modulus
        self.a_inverse = pow(a, -1, modulus)

    def forward(self, k: int) -> int:
        return (self.a * k + self.b) % self.modulus

    def backward(self, x: int) -> int:
        return ((x - self.b) * self.a_inverse) % self.modulus


class Brief(NamedTuple):
    """What a listing shows of a product (cheap: no SKUs)."""

    shop: Shop
    index: int
    key: int               # running product number (catalog.py)
    offer_id: int
    leaf: Category
    title: Word
    image: str             # relative path under https://cbu01.alicdn.com/
    moq: int
    unit: Word
    price: int             # lowest price, cents
    created: int
    modified: int
    month_sold: int
    repurchase: int


@dataclass(frozen=True)
class Sku:
    sku_id: int
    spec_id: str
    attributes: tuple[tuple[SkuDimension, Word], ...]
    price: int
    stock: int
    sku_code: str
    cargo_number: str


@dataclass(frozen=True)
class Offer:
    """Everything about one product, in neutral form; views render it per API."""

    brief: Brief
    images: tuple[str, ...]
    quote_type: int                       # 0 tiered, no SKUs; 1 per-SKU price; 2 SKUs, tiered
    tiers: tuple[tuple[int, int], ...]    # (start quantity, cents), prices decreasing
    skus: tuple[Sku, ...]
    stock: int
    total_sold: int
    attributes: tuple[tuple[int, Word, Word], ...]
    weight_kg: float
    size_cm: tuple[float, float, float]
    batch_number: int
    cargo_number: str

    @property
    def price_max(self) -> int:
        return max(chain((p for _, p in self.tiers), (s.price for s in self.skus)))


def offer_hash(seed: int, offer_id: int) -> int:
    return int.from_bytes(
        hashlib.blake2b(b"%d:%d" % (seed, offer_id), digest_size=32).digest(), "little"
    )


def token(bits: int, length: int) -> str:
    chars = []
    for _ in range(length):
        bits, digit = divmod(bits, 62)
        chars.append(ALPHABET[digit])
    return "".join(chars)


def title_of(bits: int, leaf: Category) -> Word:
    opener = TITLE_OPENERS[bits % len(TITLE_OPENERS)]
    closer = TITLE_CLOSERS[(bits >> 8) % len(TITLE_CLOSERS)]
    return Word(opener.zh + leaf.name.zh + closer.zh, f"{opener.en} {leaf.name.en} {closer.en}")


def image_path(bits: int, user_id: str) -> str:
    """A relative image path in 1688's current form (the seller's user id after ``!!``)."""
    return f"img/ibank/O1CN01{token(bits, 22)}_!!{user_id}-0-cib.jpg"


def edited(offer: Offer, stocks: tuple[int, ...] | None, removed: frozenset[int]) -> Offer:
    """*offer* with the stock of each SKU slot (of the product, for one without SKUs) set from
    *stocks* (None: as built) and the SKU slots *removed* taken off. The product's stock is the
    sum of its SKUs' (as the crawler's normalizer computes it)."""
    if not offer.skus:
        return offer if stocks is None else replace(offer, stock=stocks[0])
    skus = tuple(
        sku if stocks is None else replace(sku, stock=stocks[slot])
        for slot, sku in enumerate(offer.skus) if slot not in removed
    )
    return replace(offer, skus=skus, stock=sum(sku.stock for sku in skus))


class ProductFactory:
    """Builds the full Offer of a product from its Brief."""

    def __init__(self, seed: int, sku_ids: Scramble):
        self.seed, self.sku_ids = seed, sku_ids

    def build(self, brief: Brief) -> Offer:
        """The full product behind *brief*; everything else is derived from its hash."""
        rnd = random.Random(offer_hash(self.seed, brief.offer_id) >> 176)
        top = TOP_CATEGORIES[brief.leaf.top]
        images = (brief.image,) + tuple(
            image_path(rnd.getrandbits(140), brief.shop.user_id) for _ in range(rnd.randrange(0, 5))
        )
        tiers = self._tiers(rnd, brief)
        skus = self._skus(rnd, brief, top.dimensions)
        quote_type = 0 if not skus else rnd.choice((1, 1, 2))
        lowest = brief.price
        if quote_type == 1:
            tiers = ((brief.moq, lowest),)
            cheapest = rnd.randrange(len(skus))
            skus = tuple(
                replace(s, price=lowest if j == cheapest else lowest + rnd.randrange(0, lowest // 2 + 2))
                for j, s in enumerate(skus)
            )
        else:
            skus = tuple(replace(s, price=tiers[0][1]) for s in skus)
        stock = sum(s.stock for s in skus) if skus else rnd.randrange(0, 100_000)
        attributes = (
            (2176, ATTRIBUTE_BRAND, rnd.choice(BRANDS)),
            (1398001, ATTRIBUTE_ORIGIN, Word(brief.shop.name[:2], "China")),
            (287, ATTRIBUTE_MATERIAL, rnd.choice(MATERIALS)),
        )
        size = (float(rnd.randrange(5, 60)), float(rnd.randrange(5, 40)), float(rnd.randrange(1, 30)))
        return Offer(
            brief=brief,
            images=images,
            quote_type=quote_type,
            tiers=tiers,
            skus=skus,
            stock=stock,
            total_sold=brief.month_sold * rnd.randrange(3, 30) + rnd.randrange(0, 50),
            attributes=attributes,
            weight_kg=round(rnd.uniform(0.05, 5.0), 3),
            size_cm=size,
            batch_number=rnd.choice((1, 1, 2, 5, 10)),
            cargo_number=f"{token(rnd.getrandbits(30), 3).upper()}-{rnd.randrange(100, 9999)}",
        )

    @staticmethod
    def _tiers(rnd: random.Random, brief: Brief) -> tuple[tuple[int, int], ...]:
        """1-3 quantity tiers from the MOQ up; prices fall with quantity down to the lowest."""
        count = rnd.choice((1, 2, 2, 3))
        quantities = [brief.moq]
        for _ in range(count - 1):
            quantities.append(quantities[-1] * rnd.choice((5, 10, 20)))
        prices = [brief.price]
        for _ in range(count - 1):
            prices.append(math.ceil(prices[-1] * rnd.uniform(1.03, 1.25)) + 1)
        return tuple(zip(quantities, reversed(prices)))

    def _skus(self, rnd: random.Random, brief: Brief,
              dimensions: tuple[SkuDimension, ...]) -> tuple[Sku, ...]:
        if rnd.random() < 0.2:
            return ()
        first = rnd.sample(dimensions[0].values, rnd.randrange(1, 4))
        combos: list[tuple[tuple[SkuDimension, Word], ...]] = [((dimensions[0], v),) for v in first]
        if len(dimensions) > 1 and rnd.random() < 0.6:
            second = rnd.sample(dimensions[1].values, rnd.randrange(1, 3))
            combos = [c + ((dimensions[1], v),) for c in combos for v in second]
        key = brief.key
        skus = []
        for j, attributes in enumerate(combos[:6]):
            sku_id = SKU_BASE + self.sku_ids.forward(key * SKUS_PER_OFFER + j)
            spec_id = hashlib.md5(b"%d:%d" % (self.seed, sku_id)).hexdigest()
            skus.append(Sku(
                sku_id=sku_id,
                spec_id=spec_id,
                attributes=attributes,
                price=0,
                stock=rnd.randrange(0, 5000),
                sku_code=str(sku_id),
                cargo_number=f"{brief.offer_id % 100000}-{j + 1}",
            ))
        return tuple(skus)
