"""Keeps the interpreter's full garbage collections short while crawls run.

A full collection scans every tracked object: with Scrapy, Twisted and SQLAlchemy loaded, a
few times a crawl, for 40 to 70 ms each (measured on a watchlist crawl). Nothing else runs
meanwhile, so a call granted just before goes out that much late, close behind the next one,
and a gateway that counts a sliding window refuses it. When a crawl opens, everything alive
(the modules, the settings, the components) is moved out of the collector's sight
(``gc.freeze``): the full collections scan only what crawls made since. When the last crawl
of the process closes, the frozen objects are handed back, so a process that runs crawls one
after another still frees the earlier ones.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from scrapy import signals

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from typing_extensions import Self

#: The crawls of this process that are open.
_open_crawls = 0


class FrozenStartupHeap:
    def __init__(self, crawler: Crawler):
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def spider_opened(self) -> None:
        global _open_crawls
        _open_crawls += 1
        gc.freeze()

    def spider_closed(self) -> None:
        global _open_crawls
        _open_crawls -= 1
        if _open_crawls == 0:
            gc.unfreeze()
