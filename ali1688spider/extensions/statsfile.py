"""Writes the crawl's final stats as JSON to ``ALI1688_STATS_FILE`` (for monitors and tests)."""

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
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        path = get_str(crawler.settings, "ALI1688_STATS_FILE")
        if not path:
            raise NotConfigured
        return cls(crawler, Path(path))

    def spider_closed(self, reason: str) -> None:
        stats = dict(self.crawler.stats.get_stats())
        stats.setdefault("finish_reason", reason)
        write_json_atomically(self.path, stats)
