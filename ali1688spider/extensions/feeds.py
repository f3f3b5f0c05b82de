"""Scrapy's feed exporter, with a failed write ending the crawl as a failure.

Scrapy logs a failed feed write (a full disk) once per item and still closes ``finished``,
exit status 0, with a feed that ends where the disk filled up. Here the first failure closes
the crawl with ``ali1688_feed_failed`` (exit status 1) in one line, and no more items are
written to that crawl's feeds; a feed that cannot be stored at the end (``feedexport/
failed_count/…``) makes ``scrapy crawl`` exit 1 too.

It also exports the change feed: ``ProductChange`` items (sent by the SQL pipeline through
``change_recorded``) go only to feeds whose ``item_classes`` name them, so a plain
``-O products.jsonl`` holds products alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.extensions.feedexport import FeedExporter, ItemFilter

from ali1688spider.monitoring.changes import change_recorded
from ali1688spider.closing import FEED_FAILED, close_crawl
from ali1688spider.items import ProductChange

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector
    from typing_extensions import Self

#: Scrapy's count of feeds that could not be stored at the close, per storage.
STORE_FAILED_PREFIX = "feedexport/failed_count/"


class ChangeAwareItemFilter(ItemFilter):
    """Scrapy's item filter, except that ``ProductChange`` items go only where asked for."""

    def accepts(self, item: Any) -> bool:
        if isinstance(item, ProductChange):
            return self.takes_changes
        return super().accepts(item)

    @property
    def takes_changes(self) -> bool:
        return any(issubclass(ProductChange, cls) for cls in self.item_classes)


class CheckedFeedExporter(FeedExporter):
    """Stops writing and closes the crawl at the first failed feed write; exports changes."""

    failed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        exporter = super().from_crawler(crawler)
        for uri, options in exporter.feeds.items():
            if "item_filter" not in options:
                exporter.filters[uri] = ChangeAwareItemFilter(options)
        # A feed of its own filter may take anything; without such a feed, no change is offered.
        if any(not isinstance(f, ChangeAwareItemFilter) or f.takes_changes for f in exporter.filters.values()):
            crawler.signals.connect(exporter.change_recorded, signal=change_recorded)
        return exporter

    def change_recorded(self, change: ProductChange) -> None:
        self.item_scraped(change, self.crawler.spider)

    def item_scraped(self, item: Any, spider: Spider) -> None:
        if self.failed:
            self.crawler.stats.inc_value("ali1688/feed/items_not_written")
            return
        try:
            written = {id(slot): slot.itemcount for slot in self.slots}
            super().item_scraped(item, spider)
            # Into the operating system at once: a killed worker loses no line of an item it
            # acknowledged (distributed/scheduler.py), an OS crash aside. Only the feeds that
            # took the item (a change goes to few).
            for slot in self.slots:
                if slot.file is not None and written.get(id(slot)) != slot.itemcount:
                    slot.file.flush()
        except Exception as exc:  # noqa: BLE001 - any failure means a feed short of items
            self.failed = True
            self.crawler.stats.inc_value("ali1688/feed/items_not_written")
            close_crawl(
                self.crawler, FEED_FAILED,
                "Writing the feed failed (%s: %s): it lacks this item and every later one; free "
                "space or fix FEEDS, then run the crawl again", type(exc).__name__, exc,
            )


def feed_not_stored(stats: StatsCollector) -> bool:
    """A feed of the crawl could not be stored when it closed."""
    return any(key.startswith(STORE_FAILED_PREFIX) and value for key, value in stats.get_stats().items())
