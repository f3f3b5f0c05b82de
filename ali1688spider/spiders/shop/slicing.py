"""Adaptive slicing of a listing that is longer than the paging cap lets a client read.

A listing answers at most ``cap`` pages of ``page_size`` entries, however large its total.
A slice (a set of listing filters) whose total exceeds that capacity is split into child
slices that partition it, along the first dimension of an order that can still cut it:
category (level 1 -> 2 -> 3), price band (whole cents), modification-day window. Splitting
repeats until every slice fits. Pure code: no Scrapy, no I/O.

Calls stay near the minimum because a slice's first page is fetched at full page size and its
entries kept: the "count" of a slice that fits is its first page. Only the first page of an
oversized slice and the last, partly filled page of each slice are overhead, so splits aim
for few, well-filled children: cut points come from the prices or days seen on the oversized
slice's first page (a sample of it), and halving is the fallback when the sample says nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from ali1688spider.api.catalogue import CATEGORY, PRICE, TIME

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

CENT = Decimal("0.01")
DIMENSIONS = (CATEGORY, PRICE, TIME)
#: Children are cut to hold about this share of the capacity: room for sampling error,
#: without so many slices that their partly filled last pages add up.
TARGET_FILL = 0.7


@dataclass(frozen=True)
class CategoryNode:
    """A child category as ``alibaba.category.get`` describes it."""

    category_id: str
    is_leaf: bool


@dataclass(frozen=True)
class Slice:
    """The filters of one listing query; every bound is inclusive, None is unbounded."""

    category_id: str | None = None
    category_leaf: bool = False
    price_low: Decimal | None = None
    price_high: Decimal | None = None
    day_from: dt.date | None = None
    day_until: dt.date | None = None

    def describe(self) -> str:
        """Short text for logs: ``cat=122200000 price=10.00..19.99 days=2024-01-01..``."""
        parts = []
        if self.category_id is not None:
            parts.append(f"cat={self.category_id}")
        if self.price_low is not None or self.price_high is not None:
            parts.append(f"price={_text(self.price_low)}..{_text(self.price_high)}")
        if self.day_from is not None or self.day_until is not None:
            parts.append(f"days={_text(self.day_from)}..{_text(self.day_until)}")
        return " ".join(parts) or "all"

    def can_split(self, dimension: str) -> bool:
        if dimension == CATEGORY:
            return not self.category_leaf
        if dimension == PRICE:
            return self.price_high is None or self.price_high > (self.price_low or 0)
        return (
            self.day_from is None
            or self.day_until is None
            or self.day_until > self.day_from
        )


def _text(value: object) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Sample:
    """What the first page of an oversized slice showed: its entries' prices and days."""

    prices: tuple[Decimal, ...] = ()
    days: tuple[dt.date, ...] = ()


@dataclass(frozen=True)
class SplitPlan:
    """How to split a slice: ``children`` along ``dimension``; or the category tree node
    whose children must be fetched first (``needs_categories``); or nothing left to split."""

    dimension: str | None = None
    children: tuple[Slice, ...] = ()
    needs_categories: str | None = None

    @property
    def unsplittable(self) -> bool:
        return not self.children and self.needs_categories is None


def capacity(max_pages: int, page_size: int) -> int:
    """How many entries one slice can show: the cap's pages of the real page size."""
    return max_pages * page_size


def minimum_calls(total: int, page_size: int) -> int:
    """Listing calls a client without a cap would need for *total* entries."""
    return math.ceil(total / page_size) if total > 0 else 1


def wanted_parts(total: int, room: int) -> int:
    """Into how many children an oversized slice of *total* is cut (at least 2)."""
    return max(2, math.ceil(total / (room * TARGET_FILL)))


def plan_split(
    piece: Slice,
    *,
    total: int,
    room: int,
    order: Sequence[str],
    sample: Sample = Sample(),
    children_of: Callable[[str | None], list[CategoryNode] | None] = lambda _: None,
) -> SplitPlan:
    """The split of *piece*, whose *total* exceeds *room*, along the first dimension of
    *order* that can still split it.

    *children_of(category_id)* gives the child categories (None = not fetched yet; the root is
    ``None``). A category without children is treated as a leaf.
    """
    parts = wanted_parts(total, room)
    for dimension in order:
        if dimension not in DIMENSIONS:
            raise ValueError(f"unknown split dimension {dimension!r}")
        if not piece.can_split(dimension):
            continue
        if dimension == CATEGORY:
            nodes = children_of(piece.category_id)
            if nodes is None:
                return SplitPlan(needs_categories=piece.category_id or "0")
            if not nodes:
                piece = replace(piece, category_leaf=True)
                continue
            children = tuple(
                replace(piece, category_id=n.category_id, category_leaf=n.is_leaf) for n in nodes
            )
        elif dimension == PRICE:
            bands = split_price_band(piece.price_low, piece.price_high, sample.prices, parts)
            children = tuple(replace(piece, price_low=lo, price_high=hi) for lo, hi in bands)
        else:
            windows = split_day_window(piece.day_from, piece.day_until, sample.days, parts)
            children = tuple(replace(piece, day_from=lo, day_until=hi) for lo, hi in windows)
        if len(children) > 1:
            return SplitPlan(dimension=dimension, children=children)
    return SplitPlan()


def to_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_FLOOR)


def split_price_band(
    low: Decimal | None, high: Decimal | None, sample: Iterable[Decimal], parts: int
) -> list[tuple[Decimal, Decimal | None]]:
    """Non-overlapping bands ``[low, c1-0.01], [c1, c2-0.01] … [ck, high]`` covering
    ``[low, high]`` in cents (``high`` None = no upper bound).

    Cut points are quantiles of the *sample* prices inside the band; with no usable sample the
    band is halved (an open band at twice its lowest sampled price, else at twice ``low``).
    """
    floor = to_cents(low) if low is not None else Decimal("0.00")
    ceiling = to_cents(high) if high is not None else None
    inside = sorted(
        to_cents(p) for p in sample if p >= floor and (ceiling is None or p <= ceiling)
    )
    cuts = _quantile_cuts(inside, parts, lambda c: floor < c and (ceiling is None or c <= ceiling))
    if not cuts:
        top = ceiling if ceiling is not None else max([*inside, floor, Decimal("0.50")]) * 2
        middle = to_cents((floor + top) / 2) + CENT
        if floor < middle and (ceiling is None or middle <= ceiling):
            cuts = [middle]
    return _bands(floor, ceiling, cuts, CENT)


def split_day_window(
    first: dt.date | None, last: dt.date | None, sample: Iterable[dt.date], parts: int
) -> list[tuple[dt.date | None, dt.date | None]]:
    """Non-overlapping day windows covering ``[first, last]`` (None = unbounded), cut at
    quantiles of the *sample* days, else halved between the bounds (or the sampled days)."""
    inside = sorted(
        d for d in sample if (first is None or d >= first) and (last is None or d <= last)
    )

    def valid(day: dt.date) -> bool:
        return (first is None or first < day) and (last is None or day <= last)

    cuts = _quantile_cuts(inside, parts, valid)
    if not cuts:
        known = [d for d in (first, last, *inside) if d is not None]
        if known:
            lo, hi = min(known), max(known)
            middle = lo + dt.timedelta(days=(hi - lo).days // 2 + 1)
            if valid(middle):
                cuts = [middle]
    return _bands(first, last, cuts, dt.timedelta(days=1))


def _quantile_cuts(values: list, parts: int, valid: Callable[[object], bool]) -> list:
    """Up to ``parts - 1`` strictly increasing cut points at quantiles of sorted *values*."""
    cuts: list = []
    for j in range(1, parts):
        index = round(j * len(values) / parts)
        if index >= len(values):
            break
        cut = values[index]
        if valid(cut) and (not cuts or cut > cuts[-1]):
            cuts.append(cut)
    return cuts


def _bands(low, high, cuts: list, step) -> list[tuple]:
    bands = []
    start = low
    for cut in cuts:
        bands.append((start, cut - step))
        start = cut
    bands.append((start, high))
    return bands


@dataclass
class SliceState:
    """What the crawl knows of one slice."""

    parent: Slice | None
    total: int | None = None
    split: bool = False
    # Children whose totals are still unknown (for the leak check of a split).
    waiting: int = 0
    children_total: int = 0


@dataclass(frozen=True)
class Decision:
    """What to do after a slice's first page: fetch ``pages`` more (when ``probe``, only the
    last page, which tells whether the cap is lower than thought, before the others), or
    split it by ``plan`` (or fetch the category tree node the plan names first)."""

    pages: range = range(0)
    plan: SplitPlan | None = None
    probe: bool = False


class SliceBook:
    """The slices of one listing: their totals, splits and what to fetch next.

    Call ``first_page`` with each slice's first answer, ``split`` once a plan with children is
    carried out, and ``empty_page`` when a page the total promised comes back empty (the cap,
    detected). ``leaked`` counts entries the children of a split did not account for,
    ``excess`` entries they counted beyond their parent's total (the counts disagree).
    """

    def __init__(self, *, max_pages: int, order: Sequence[str]):
        self.max_pages = max_pages
        self.order = tuple(order)
        self.states: dict[Slice, SliceState] = {}
        self.page_size: int | None = None
        self.leaked = 0
        self.excess = 0
        self.truncated = 0
        # The deepest page known to be served: deeper slices check their last page first.
        self.proven_pages = 1

    @property
    def slices_used(self) -> int:
        return len(self.states)

    def open(self, piece: Slice, parent: Slice | None = None) -> bool:
        """Register *piece* before its first page is asked for; False when already known."""
        if piece in self.states:
            return False
        self.states[piece] = SliceState(parent)
        return True

    def first_page(
        self,
        piece: Slice,
        *,
        total: int,
        page_size: int,
        sample: Sample = Sample(),
        children_of: Callable[[str | None], list[CategoryNode] | None] = lambda _: None,
    ) -> Decision:
        state = self.states.setdefault(piece, SliceState(None))
        state.total = total
        self.page_size = page_size
        self._account_child(state)
        room = capacity(self.max_pages, page_size)
        if total <= room:
            last = minimum_calls(total, page_size)
            if last > self.proven_pages:
                return Decision(pages=range(last, last + 1), probe=True)
            return Decision(pages=range(2, last + 1))
        return Decision(plan=self.plan(piece, sample=sample, children_of=children_of))

    def probed(self, page: int) -> range:
        """The last page of a slice was served: the pages between to fetch now."""
        self.proven_pages = max(self.proven_pages, page)
        return range(2, page)

    def plan(
        self,
        piece: Slice,
        *,
        sample: Sample = Sample(),
        children_of: Callable[[str | None], list[CategoryNode] | None] = lambda _: None,
    ) -> SplitPlan:
        state = self.states[piece]
        assert state.total is not None and self.page_size is not None
        plan = plan_split(
            piece,
            total=state.total,
            room=capacity(self.max_pages, self.page_size),
            order=self.order,
            sample=sample,
            children_of=children_of,
        )
        if plan.unsplittable:
            # Nothing left to cut by: read what the cap allows and count the rest as lost.
            self.truncated += state.total - capacity(self.max_pages, self.page_size)
        return plan

    def split(self, piece: Slice, children: Iterable[Slice]) -> list[Slice]:
        """Record the split of *piece*; the children not seen before (to be fetched)."""
        state = self.states[piece]
        state.split = True
        fresh = [child for child in children if self.open(child, piece)]
        state.waiting = len(fresh)
        return fresh

    def pages_allowed(self, total: int) -> int:
        """How many pages of a slice of *total* entries the cap lets one read."""
        assert self.page_size is not None
        return min(self.max_pages, minimum_calls(total, self.page_size))

    def empty_page(self, piece: Slice, page: int, *, total: int | None = None,
                   page_size: int | None = None) -> bool:
        """A page before the end came back empty: the cap is at most ``page - 1``.

        True when *piece* must now be split (the first time this is seen for it). A slice this
        book has not seen (its first page was read by another worker, or before a pause) is
        taken in with the *total* and *page_size* of the empty page's answer.
        """
        self.max_pages = min(self.max_pages, max(1, page - 1))
        state = self.states.get(piece)
        if state is None and total is not None:
            state = self.states[piece] = SliceState(None)
            state.total = total
        self.page_size = self.page_size or page_size
        if state is None or state.split or state.total is None:
            return False
        return state.total > capacity(self.max_pages, self.page_size or 1)

    def _account_child(self, state: SliceState) -> None:
        if state.parent is None:
            return
        parent = self.states[state.parent]
        parent.children_total += state.total or 0
        parent.waiting -= 1
        if parent.waiting == 0 and parent.total is not None:
            self.leaked += max(0, parent.total - parent.children_total)
            self.excess += max(0, parent.children_total - parent.total)
