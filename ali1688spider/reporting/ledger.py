"""Completeness accounting of listing crawls: what the platform says exists, what we got.

A spider opens one *target* per job (a shop, a search) and tells the ledger the platform's
total, every product id its listings returned, the slices and listing calls it spent. The
completeness pipeline tells it which products were emitted and how complete each one is. At
the end each target becomes a ``CrawlReport`` (see ``TargetLedger.report``). One ledger per
crawler, kept on it (``ledger_for``), shared by the spider, the pipeline and the progress
extension.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ali1688spider.idset import ProductIdSet

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from scrapy.crawler import Crawler

COMPLETE, PARTIAL, INCOMPLETE = "complete", "partial", "incomplete"
#: The platform's counts are missing or disagree: nothing can be said about completeness.
UNKNOWN = "unknown"
UNRESOLVED = "unresolved"
_VERDICT_RANK = {COMPLETE: 0, PARTIAL: 1, INCOMPLETE: 2, UNKNOWN: 3, UNRESOLVED: 4}


def now_iso() -> str:
    """Now in this machine's time zone, ISO 8601 with the offset (report and item times)."""
    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def judge(total: int | None, listed: int, delivered: int, minimum: float, doubts: int = 0) -> str:
    """Complete when every product of the platform's *total* was listed and delivered;
    partial down to *minimum* of the total delivered; incomplete below. Unknown without a
    total, with *doubts* (the platform's counts disagreed somewhere), or when more distinct
    products were listed than the total says exist: a count that is wrong once proves nothing."""
    if total is None or doubts or listed > total:
        return UNKNOWN
    if listed >= total and delivered >= listed:
        return COMPLETE
    rate = min(1.0, delivered / total) if total else 1.0
    return PARTIAL if rate >= minimum else INCOMPLETE


@dataclass
class TargetLedger:
    """The figures of one target (one shop of one crawl)."""

    key: str
    spider: str
    target: str
    started_at: str = field(default_factory=now_iso)
    finished_at: str | None = None
    official_total: int | None = None
    listed: ProductIdSet = field(default_factory=ProductIdSet, repr=False)
    emitted: ProductIdSet = field(default_factory=ProductIdSet, repr=False)
    #: Listed products that need no emitting: unchanged since ``since``, or stored by an
    #: earlier run of the same job.
    skipped: ProductIdSet = field(default_factory=ProductIdSet, repr=False)
    #: How many listed products were emitted or skipped, counted as they come (``delivered``
    #: is read on every progress line: no set algebra over a million ids each time).
    delivered_count: int = 0
    sku_complete: int = 0
    price_complete: int = 0
    calls: int = 0
    cache_hits: int = 0
    listing_calls: int = 0
    slices_used: int = 0
    page_size: int | None = None
    max_pages: int | None = None
    leaked: int = 0
    truncated: int = 0
    unresolved: str | None = None
    high_water: dt.datetime | None = None
    #: (column, value) naming the shop when the target lists the whole of it (no ``since``):
    #: then a complete listing proves which stored products are gone.
    scope: tuple[str, str] | None = None
    #: Where the platform's own counts disagreed or were missing (one line each): the
    #: verdict is then unknown, never complete.
    doubts: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A ledger an earlier version saved in ``JOBDIR`` holds plain sets and no delivered
        count: the sets are made compact and the count worked out."""
        self.__dict__.update(state)
        for name in ("listed", "emitted", "skipped"):
            ids = getattr(self, name)
            if not isinstance(ids, ProductIdSet):
                setattr(self, name, ProductIdSet(ids))
        if "delivered_count" not in state:
            self.delivered_count = sum(1 for pid in self.listed if pid in self.emitted or pid in self.skipped)

    def doubt(self, reason: str) -> bool:
        """Record that the counts cannot be trusted, and why; False when already known."""
        if reason in self.doubts:
            return False
        self.doubts.append(reason)
        return True

    def note_listed(self, product_id: str, modified: dt.datetime | None) -> bool:
        """Count a listed id; False when this target had already seen it (a duplicate)."""
        if not self.listed.add(product_id):
            return False
        if product_id in self.emitted or product_id in self.skipped:
            self.delivered_count += 1
        if modified is not None and (self.high_water is None or modified > self.high_water):
            self.high_water = modified
        return True

    def note_skipped(self, product_id: str) -> None:
        if self.skipped.add(product_id) and product_id not in self.emitted and product_id in self.listed:
            self.delivered_count += 1

    def delivered(self) -> int:
        """Listed products that reached the feed (and the database), or needed not."""
        return self.delivered_count

    def note_emitted(self, item: Mapping[str, Any]) -> None:
        product_id = item.get("product_id")
        if product_id is None or not self.emitted.add(product_id):
            return
        if product_id not in self.skipped and product_id in self.listed:
            self.delivered_count += 1
        # A product's SKUs are known when the field is a list (empty: it has none).
        if isinstance(item.get("skus"), list):
            self.sku_complete += 1
        if item.get("price_min") is not None and item.get("price_max") is not None:
            self.price_complete += 1

    @property
    def minimum_listing_calls(self) -> int | None:
        if self.official_total is None or not self.page_size:
            return None
        return max(1, -(-self.official_total // self.page_size))

    def completeness(self) -> float | None:
        """The share of the platform's total that was delivered."""
        if self.official_total is None:
            return None
        if self.official_total == 0:
            return 1.0
        return min(1.0, self.delivered() / self.official_total)

    def verdict(self, minimum: float) -> str:
        if self.unresolved is not None:
            return UNRESOLVED
        return judge(self.official_total, len(self.listed), self.delivered(), minimum, len(self.doubts))

    def report(
        self, minimum: float, *, calls_spent: int | None = None, cache_hits: int | None = None
    ) -> dict[str, Any]:
        """The ``CrawlReport`` fields, then the figures behind them; *calls_spent* and
        *cache_hits* of the whole crawl replace this target's own counts when given."""
        emitted = len(self.emitted)
        total = self.official_total
        rate = self.completeness()
        return {
            "spider": self.spider,
            "target": self.target,
            "official_total": total,
            "unique_fetched": len(self.listed),
            "missing_count": None if total is None else max(0, total - self.delivered()),
            "completeness": None if rate is None else round(rate, 6),
            "sku_completeness": round(self.sku_complete / emitted, 6) if emitted else None,
            "price_completeness": round(self.price_complete / emitted, 6) if emitted else None,
            "calls_spent": self.calls if calls_spent is None else calls_spent,
            "cache_hits": self.cache_hits if cache_hits is None else cache_hits,
            "slices_used": self.slices_used,
            "verdict": self.verdict(minimum),
            "started_at": self.started_at,
            "finished_at": self.finished_at or now_iso(),
            "emitted": emitted,
            "delivered": self.delivered(),
            "listing_calls": self.listing_calls,
            "minimum_listing_calls": self.minimum_listing_calls,
            "page_size": self.page_size,
            "max_pages": self.max_pages,
            "leaked": self.leaked,
            "truncated": self.truncated,
            "high_water": self.high_water.isoformat() if self.high_water else None,
            "unresolved_reason": self.unresolved,
            "doubts": list(self.doubts),
            **self.extra,
        }


class CompletenessLedger:
    """Every target of one crawl, and which target each listed product belongs to."""

    def __init__(self) -> None:
        self.targets: dict[str, TargetLedger] = {}
        #: Target key -> the products it owns: the first target to list (or claim) a product
        #: owns it. Kept beside the targets (not saved with them: ``adopt`` rebuilds it).
        self._owned: dict[str, ProductIdSet] = {}
        #: The target that owned the last product looked up: items come target by target.
        self._last_owner: TargetLedger | None = None
        #: Products of targets without a ledger (a watchlist's searches and id lists).
        self._tags: dict[str, list[str]] = {}
        #: Keyword -> the products its search returned, in the platform's order (stored with
        #: the run for ``ali1688 report keyword``).
        self.search_results: dict[str, dict[str, None]] = {}

    def open(self, key: str, *, spider: str, target: str) -> TargetLedger:
        ledger = self.targets.get(key)
        if ledger is None:
            ledger = self.targets[key] = TargetLedger(key=key, spider=spider, target=target)
        return ledger

    def adopt(self, ledger: TargetLedger) -> None:
        """Carry on with a target saved by an earlier run of the same crawl (JOBDIR)."""
        self.targets[ledger.key] = ledger
        self._last_owner = None
        for product_id in ledger.listed:
            self.claim(ledger, product_id)

    def note_listed(
        self, ledger: TargetLedger, product_id: str, modified: dt.datetime | None = None
    ) -> bool:
        fresh = ledger.note_listed(product_id, modified)
        if fresh:
            self.claim(ledger, product_id)
        return fresh

    def claim(self, ledger: TargetLedger, product_id: str) -> None:
        """*product_id* belongs to *ledger*'s target unless another target owns it already,
        even where another process listed it (distributed mode: a detail answered here, its
        listing elsewhere)."""
        if self._owner(product_id) is None:
            self._owned.setdefault(ledger.key, ProductIdSet()).add(product_id)

    def _owner(self, product_id: Any) -> TargetLedger | None:
        last = self._last_owner
        if last is not None and product_id in self._owned[last.key]:
            return last
        for key, owned in self._owned.items():
            if product_id in owned:
                self._last_owner = self.targets[key]
                return self._last_owner
        return None

    def note_emitted(self, item: Mapping[str, Any]) -> TargetLedger | None:
        """Account an emitted product to the target that listed it (None: no target did)."""
        ledger = self._owner(item.get("product_id"))
        if ledger is not None:
            ledger.note_emitted(item)
        return ledger

    def tag(self, product_id: str, key: str) -> None:
        """*product_id* was asked for by the target *key*, which keeps no ledger."""
        keys = self._tags.setdefault(product_id, [])
        if key not in keys:
            keys.append(key)

    def tagged(self) -> Iterator[tuple[str, list[str]]]:
        """Each product that targets without a ledger asked for, with those targets' keys."""
        return iter(self._tags.items())

    def note_search_result(self, keyword: str, product_id: str) -> None:
        """The search for *keyword* returned *product_id* (after those it returned before)."""
        self.search_results.setdefault(keyword, {}).setdefault(product_id, None)

    def targets_of(self, product_id: str) -> tuple[str, ...]:
        """The keys of the targets that listed or asked for *product_id* (a watchlist's
        entries may share products), the listing one first."""
        ledger = self._owner(product_id)
        tags = self._tags.get(product_id, ())
        return (ledger.key, *(key for key in tags if key != ledger.key)) if ledger else tuple(tags)

    def seen(self, product_id: str) -> bool:
        """Whether any target of this crawl listed or asked for *product_id*."""
        return self._owner(product_id) is not None or product_id in self._tags

    def expected_total(self) -> int | None:
        totals = [t.official_total for t in self.targets.values() if t.official_total is not None]
        return sum(totals) if totals else None

    def fetched(self) -> int:
        return sum(len(t.listed) for t in self.targets.values())

    def delivered(self) -> int:
        """Listed products that reached the feed, over every target."""
        return sum(t.delivered() for t in self.targets.values())


def worst_verdict(verdicts: list[str]) -> str:
    return max(verdicts, key=_VERDICT_RANK.__getitem__) if verdicts else COMPLETE


def ledger_for(crawler: Crawler) -> CompletenessLedger:
    """The crawl's ledger, made on first use and kept on the crawler."""
    ledger = getattr(crawler, "ali1688_ledger", None)
    if ledger is None:
        ledger = CompletenessLedger()
        crawler.ali1688_ledger = ledger  # type: ignore[attr-defined]
    return ledger
