"""The change feed of the SQL pipeline: committed changes become ``ProductChange`` items and
stats, and a crawl's complete shop listings decide which stored products are gone.

Changes reach their listeners through the ``change_recorded`` signal, never ``item_scraped``:
they count in no product figure and stay out of a plain ``-O products.jsonl`` (feeds take them
when ``item_classes`` names ``ProductChange``). A product counts as ``removed`` only when a
listing of its whole shop was complete (every product the platform counts was listed and
delivered; in distributed mode, by all workers together, once the shared crawl is done), or when
its detail answered that it does not exist. A partial, budget-cut or ``since=`` listing
proves nothing about the products it did not return.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ali1688spider.changes import change_recorded, offer_gone
from ali1688spider.items import ProductChange
from ali1688spider.reporting.ledger import COMPLETE, judge, ledger_for
from ali1688spider.reporting.shared import SharedLedger
from ali1688spider.storage.records import price_text

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator, Mapping

    from scrapy.crawler import Crawler

    from ali1688spider.reporting.ledger import TargetLedger

logger = logging.getLogger(__name__)
STATS_PREFIX = "ali1688/changes/"


@dataclass(frozen=True)
class CompleteListing:
    """A shop whose whole listing this crawl holds: what the stored products are checked against."""

    target: str
    column: str
    value: str
    listed: frozenset[str]


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
        crawler.signals.connect(self.offer_gone, signal=offer_gone)

    def offer_gone(self, product_id: str) -> None:
        self.gone.add(product_id)

    def publish(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Count and send the changes of a committed transaction."""
        for row in rows:
            item = change_item(row)
            self.counts[item["kind"]] += 1
            self.crawler.stats.inc_value(STATS_PREFIX + item["kind"])
            targets = self.ledger.targets_of(item["product_id"])
            self.crawler.signals.send_catch_log(
                change_recorded, change=item, target=targets[0] if targets else None, targets=targets
            )

    def complete_listings(self) -> Iterator[CompleteListing]:
        """The whole-shop targets whose listing is complete; a line for each that is not."""
        for target in self.ledger.targets.values():
            if target.scope is None:
                if "since" in target.extra:
                    logger.info("No removals recorded for %s: only products modified since %s were listed",
                                target.target, target.extra["since"])
                continue
            try:
                listed = self._complete_listing(target)
            except self.outage as exc:
                logger.warning("No removals judged for %s: the shared ledger in Redis (ALI1688_REDIS_URL) "
                               "did not answer (%s: %s)", target.target, type(exc).__name__, exc)
                continue
            if listed is not None:
                yield CompleteListing(target.target, *target.scope, frozenset(listed))

    def _complete_listing(self, target: TargetLedger) -> Collection[str] | None:
        """Every product id the complete listing of *target* held; None (and a line saying
        why) when the listing is not complete, or other workers still crawl it."""
        if self.shared is None:
            verdict = target.verdict(1.0)
        elif not self.shared.crawl_done():
            logger.info("No removals judged for %s: other workers are still crawling it", target.target)
            return None
        else:
            verdict = judge(*self.shared.figures(target), 1.0)
        if verdict != COMPLETE:
            logger.info("No removals recorded for %s: its listing is %s, which proves nothing "
                        "about the products it did not return", target.target, verdict)
            return None
        return target.listed if self.shared is None else self.shared.listed_ids(target)

    def close(self) -> None:
        if self.counts:
            logger.info("Changes recorded: %s", ", ".join(f"{kind} {n}" for kind, n in sorted(self.counts.items())))
        if self.shared is not None:
            self.shared.close()
