"""The change feed of the SQL pipeline: committed changes become ``ProductChange`` items and
stats, and a crawl's complete shop listings are what stored products are judged against.

Changes reach their listeners through the ``change_recorded`` signal, never ``item_scraped``:
they count in no product figure and stay out of a plain ``-O products.jsonl`` (feeds take them
when ``item_classes`` names ``ProductChange``). A listing proves something about the products
it did not return only when it lists a whole shop and its verdict is complete on evidence (the
platform's counts present and agreeing, every product delivered; in distributed mode, by all
workers of this run together, once the shared crawl is done). Even then an absent product is
only a suspect: ``removed`` needs its detail's word or a second complete listing (see
``SqlPipeline``). A partial, unknown, budget-cut or ``since=`` listing proves nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

from pydispatch import dispatcher

from ali1688spider.monitoring.changes import change_recorded, offer_gone
from ali1688spider.items import ProductChange
from ali1688spider.reporting.ledger import COMPLETE, ledger_for
from ali1688spider.reporting.shared import SharedLedger
from ali1688spider.storage.records import price_text

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping

    from scrapy.crawler import Crawler

    from ali1688spider.reporting.ledger import TargetLedger
    from ali1688spider.storage.store import ListingScope

logger = logging.getLogger(__name__)
STATS_PREFIX = "ali1688/changes/"


def change_item(row: Mapping[str, Any]) -> ProductChange:
    """The feed item of a committed ``product_changes`` row."""
    values = {name: row.get(name) for name in ProductChange.fields}
    values["detected_at"] = row["detected_at"].astimezone().isoformat()
    values["change_pct"] = price_text(row.get("change_pct"))
    return ProductChange(values)


class ChangeFeed:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.ledger = ledger_for(crawler)
        self.shared = SharedLedger.for_crawler(crawler, crawler.spidercls.name)
        #: What the shared ledger raises while Redis is away (nothing without one).
        self.outage: type[Exception] | tuple[()] = self.shared.outage if self.shared is not None else ()
        self.counts: Counter[str] = Counter()
        #: Products whose detail answered that they do not exist.
        self.gone: set[str] = set()
        #: Suspects whose detail was asked for, and the target whose listing lacked them.
        self.proof_targets: dict[str, str] = {}
        self._listings: list[tuple[str, ListingScope]] | None = None
        crawler.signals.connect(self.offer_gone, signal=offer_gone)

    def offer_gone(self, product_id: str) -> None:
        self.gone.add(product_id)

    def publish(self, rows: Iterable[Mapping[str, Any]], *, target: str | None = None) -> None:
        """Count and send the changes of a committed transaction; *target* names the crawl
        target that found them when the products' own targets do not (removals). Items are
        made only while something listens (a feed or alerts that take changes)."""
        rows = list(rows)
        kinds = Counter(row["kind"] for row in rows)
        self.counts.update(kinds)
        for kind, count in kinds.items():
            self.crawler.stats.inc_value(STATS_PREFIX + kind, count)
        if not any(dispatcher.getAllReceivers(self.crawler.signals.sender, change_recorded)):
            return
        for row in rows:
            item = change_item(row)
            targets = self.ledger.targets_of(item["product_id"])
            found_by = target or self.proof_targets.get(item["product_id"])
            if found_by is not None and found_by not in targets:
                targets = (found_by, *targets)
            self.crawler.signals.send_catch_log(
                change_recorded, change=item, target=targets[0] if targets else None, targets=targets
            )

    def complete_listings(self) -> list[tuple[str, ListingScope]] | None:
        """``(target key, scope)`` of each whole-shop listing that is complete, with a line for
        each that is not; None while that cannot be known yet (other workers still crawl).
        Judged once: the answer is kept for the rest of the crawl."""
        if self._listings is not None:
            return self._listings
        # Imported here: a crawl without a database never loads SQLAlchemy.
        from ali1688spider.storage.store import ListingScope

        listings = []
        for target in self.ledger.targets.values():
            if target.scope is None:
                if "since" in target.extra:
                    logger.info("No removals recorded for %s: only products modified since %s were listed",
                                target.target, target.extra["since"])
                continue
            try:
                if self.shared is not None and not self.shared.crawl_done():
                    return None
                listed = self._complete_listing(target)
            except self.outage as exc:
                logger.warning("No removals judged for %s: the shared ledger in Redis (ALI1688_REDIS_URL) "
                               "did not answer (%s: %s)", target.target, type(exc).__name__, exc)
                continue
            if listed is not None:
                column, value = target.scope
                began = dt.datetime.fromisoformat(target.started_at)
                listings.append((target.key, ListingScope(column, value, listed, self.ledger.seen, began)))
        self._listings = listings
        return listings

    def _complete_listing(self, target: TargetLedger) -> Collection[str] | None:
        """Every product id the complete listing of *target* held; None (and a line saying
        why) when the listing is not complete."""
        if self.shared is None:
            verdict = target.verdict(1.0)
        else:
            lost = self.shared.lost()
            if lost is not None:
                logger.warning("No removals judged for %s: %s", target.target, lost)
                return None
            verdict = self.shared.figures(target).verdict(1.0)
        if verdict != COMPLETE:
            logger.info("No removals recorded for %s: its listing is %s, which proves nothing "
                        "about the products it did not return", target.target, verdict)
            return None
        return target.listed if self.shared is None else self.shared.listed_ids(target)

    def close(self) -> None:
        if self.counts:
            logger.info("Changes recorded: %s", ", ".join(f"{kind} {n}" for kind, n in sorted(self.counts.items())))
