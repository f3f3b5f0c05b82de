"""Writes the crawl's final stats as JSON to ``ALI1688_STATS_FILE`` (for monitors and tests).

The file is written when the engine stops, once every ``spider_closed`` handler has finished:
handlers run side by side, and some go on after the signal (the alerts' webhook deliveries
count ``ali1688/alerts/…`` when they are done).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured

from ali1688spider.config import get_str
from ali1688spider.files import write_json_atomically

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from typing_extensions import Self


class StatsFile:
    def __init__(self, crawler: Crawler, path: Path):
        self.crawler = crawler
        self.path = path
        self.reason: str | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        path = get_str(crawler.settings, "ALI1688_STATS_FILE")
        if not path:
            raise NotConfigured
        return cls(crawler, Path(path))

    def spider_closed(self, reason: str) -> None:
        self.reason = reason

    def engine_stopped(self) -> None:
        if self.reason is None:
            # The spider never opened: there is no crawl to report.
            return
        stats = dict(self.crawler.stats.get_stats())
        stats.setdefault("finish_reason", self.reason)
        write_json_atomically(self.path, stats)
