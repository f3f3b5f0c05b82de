"""Adaptive slicing, as pure code: bands and windows partition, plans follow the order, and a
whole listing read through the sandbox's own catalogue comes out complete near the minimum."""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

import pytest

from ali1688spider.sandbox.catalog import Catalog, ListFilter
from ali1688spider.spiders.shop.slicing import (
    CATEGORY,
    CENT,
    PRICE,
    TIME,
    CategoryNode,
    Sample,
    Slice,
    SliceBook,
    minimum_calls,
    plan_split,
    split_day_window,
    split_price_band,
)

D = Decimal


def assert_partition(bands, low, high, step):
    """Bands are contiguous, non-overlapping and cover [low, high] exactly."""
    assert bands[0][0] == low
    assert bands[-1][1] == high
    for (lo, hi), (next_lo, _) in zip(bands, bands[1:]):
        assert lo <= hi
        assert next_lo == hi + step


@pytest.mark.parametrize("seed", range(40))
def test_price_bands_partition_the_band_in_cents(seed):
    rnd = random.Random(seed)
    low = D(rnd.randrange(0, 5000)) / 100
    high = None if seed % 4 == 0 else low + D(rnd.randrange(1, 100000)) / 100
    top = high if high is not None else low + 1000
    sample = [low + (top - low) * D(rnd.random()).quantize(D("0.0001")) for _ in range(rnd.randrange(0, 60))]
    bands = split_price_band(low, high, sample, rnd.randrange(2, 12))
    assert len(bands) >= 2
    assert_partition(bands, low.quantize(CENT), high, CENT)
    assert all(b[0] == b[0].quantize(CENT) for b in bands)


def test_price_cuts_follow_the_sample_so_children_are_balanced():
    rnd = random.Random(7)
    # A skewed (log-normal) price distribution: halving the value range would be lopsided.
    prices = [D(str(round(math.exp(rnd.gauss(3, 1)), 2))) for _ in range(20000)]
    sample = prices[:50]
    bands = split_price_band(None, None, sample, 4)
    counts = [sum(lo <= p and (hi is None or p <= hi) for p in prices) for lo, hi in bands]
    assert sum(counts) == len(prices)
    assert len(bands) == 4
    assert max(counts) < 0.45 * len(prices)


def test_price_band_without_sample_is_halved():
    assert split_price_band(D("10"), D("19.99"), [], 2) == [
        (D("10.00"), D("14.99")),
        (D("15.00"), D("19.99")),
    ]
    # Open band: cut at twice its lowest price.
    assert split_price_band(D("10"), None, [], 2) == [(D("10.00"), D("15.00")), (D("15.01"), None)]


def test_one_cent_band_cannot_be_split():
    assert split_price_band(D("5"), D("5"), [D("5")] * 10, 4) == [(D("5.00"), D("5.00"))]


@pytest.mark.parametrize("seed", range(30))
def test_day_windows_partition_the_window(seed):
    rnd = random.Random(seed)
    first = dt.date(2023, 1, 1) + dt.timedelta(days=rnd.randrange(0, 300))
    last = None if seed % 3 == 0 else first + dt.timedelta(days=rnd.randrange(1, 900))
    span = ((last or first + dt.timedelta(days=500)) - first).days
    sample = [first + dt.timedelta(days=rnd.randrange(0, span + 1)) for _ in range(rnd.randrange(0, 50))]
    windows = split_day_window(first, last, sample, rnd.randrange(2, 9))
    assert len(windows) >= 2
    assert_partition(windows, first, last, dt.timedelta(days=1))


def test_unbounded_day_window_splits_on_sampled_days():
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(0, 100, 10)]
    windows = split_day_window(None, None, days, 2)
    assert windows == [(None, dt.date(2024, 2, 19)), (dt.date(2024, 2, 20), None)]


def test_plan_follows_the_order_and_asks_for_categories_first():
    plan = plan_split(Slice(), total=1000, room=100, order=(CATEGORY, PRICE))
    assert plan.needs_categories == "0"
    tree = {"0": [CategoryNode("1", False), CategoryNode("2", True)]}
    plan = plan_split(Slice(), total=1000, room=100, order=(CATEGORY, PRICE), children_of=lambda c: tree.get(c or "0"))
    assert plan.dimension == CATEGORY
    assert [c.category_id for c in plan.children] == ["1", "2"]
    assert plan.children[1].category_leaf
    plan = plan_split(plan.children[1], total=1000, room=100, order=(CATEGORY, PRICE))
    assert plan.dimension == PRICE and len(plan.children) >= 2
    assert all(c.category_id == "2" for c in plan.children)


def test_price_first_order_never_asks_for_the_tree():
    plan = plan_split(Slice(), total=10_000, room=2500, order=(PRICE, CATEGORY),
                      sample=Sample(prices=tuple(D(i) for i in range(1, 51))))
    assert plan.dimension == PRICE
    # Cut to about 70% of the room each: 10,000 / 1,750 -> 6 parts.
    assert len(plan.children) == 6


def test_exhausted_slice_falls_back_to_the_next_dimension_then_gives_up():
    one_cent = Slice(price_low=D("5.00"), price_high=D("5.00"))
    plan = plan_split(one_cent, total=500, room=100, order=(PRICE, CATEGORY),
                      children_of=lambda c: [CategoryNode("7", True), CategoryNode("8", True)])
    assert plan.dimension == CATEGORY
    leaf = Slice(category_id="7", category_leaf=True, price_low=D("5.00"), price_high=D("5.00"))
    assert plan_split(leaf, total=500, room=100, order=(PRICE, CATEGORY)).unsplittable
    one_day = Slice(day_from=dt.date(2024, 1, 1), day_until=dt.date(2024, 1, 1), category_leaf=True)
    assert plan_split(one_day, total=500, room=100, order=(TIME, CATEGORY)).unsplittable


def test_book_pages_probes_splits_and_detects_the_cap():
    book = SliceBook(max_pages=5, order=(PRICE,))
    root = Slice()
    book.open(root)
    decision = book.first_page(root, total=180, page_size=50)
    # The last page is asked for first: it proves the platform serves that deep.
    assert decision.probe and list(decision.pages) == [4]
    assert list(book.probed(4)) == [2, 3]
    band = Slice(price_low=D("1"), price_high=D("2"))
    book.open(band)
    assert list(book.first_page(band, total=120, page_size=50).pages) == [2, 3]
    big = Slice(price_low=D("3"), price_high=D("4"))
    book.open(big)
    decision = book.first_page(big, total=400, page_size=50, sample=Sample(prices=(D("3.5"),) * 3))
    assert decision.plan is not None and decision.plan.dimension == PRICE
    # A page the total promised comes back empty: the cap is lower than thought.
    assert book.empty_page(band, 3) is True
    assert book.max_pages == 2
    book.split(band, book.plan(band).children)
    assert book.empty_page(band, 3) is False


def test_book_counts_what_a_split_leaks():
    book = SliceBook(max_pages=1, order=(PRICE,))
    root = Slice()
    book.open(root)
    plan = book.first_page(root, total=100, page_size=10).plan
    children = book.split(root, plan.children)
    for child in children:
        book.first_page(child, total=40, page_size=10)
    assert book.leaked == max(0, 100 - 40 * len(children))
    assert book.slices_used == 1 + len(children)


def read_listing(catalog: Catalog, shop, *, max_pages: int, page_size: int, order) -> tuple[set, int, SliceBook]:
    """Page a sandbox shop through the slicer, as the spider does (without HTTP)."""
    data = catalog.shop_data(shop)
    tree = catalog.tree

    def children_of(category_id):
        ids = tree.roots if category_id is None else tree.get(int(category_id)).children
        return [CategoryNode(str(i), tree.get(i).is_leaf) for i in ids]

    book = SliceBook(max_pages=max_pages, order=order)
    seen: set[int] = set()
    calls = 0
    queue = [Slice()]
    book.open(Slice())
    while queue:
        piece = queue.pop()
        listing = catalog.shop_list(shop, ListFilter(
            category_ids=(int(piece.category_id),) if piece.category_id else None,
            price_min=None if piece.price_low is None else int(piece.price_low * 100),
            price_max=None if piece.price_high is None else int(piece.price_high * 100),
        ))
        first = listing[:page_size]
        calls += 1
        seen.update(first)
        sample = Sample(prices=tuple(D(data.price[i]) / 100 for i in first))
        decision = book.first_page(piece, total=len(listing), page_size=page_size, sample=sample,
                                   children_of=children_of)
        if decision.plan is not None:
            queue.extend(book.split(piece, decision.plan.children))
            continue
        for page in range(2, minimum_calls(len(listing), page_size) + 1):
            calls += 1
            seen.update(listing[(page - 1) * page_size: page * page_size])
    return seen, calls, book


@pytest.mark.parametrize("order", [(PRICE, CATEGORY), (CATEGORY, PRICE)])
def test_a_shop_far_past_the_cap_is_read_completely_near_the_minimum(order):
    catalog = Catalog(1688, (20_000,))
    shop = catalog.shops[0]
    seen, calls, book = read_listing(catalog, shop, max_pages=25, page_size=20, order=order)
    assert len(seen) == shop.size
    minimum = minimum_calls(shop.size, 20)
    # Each slice costs at most one call above the minimum: its partly filled last page, or
    # the first page of a slice that had to be split.
    assert calls <= minimum + book.slices_used
    assert book.leaked == 0 and book.truncated == 0
    if order[0] == PRICE:
        assert calls <= minimum * 1.10
