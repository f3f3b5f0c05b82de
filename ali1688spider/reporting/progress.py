"""Logs how far a crawl is every ``ALI1688_PROGRESS_INTERVAL`` seconds (default 10; 0 = off).

Shop and search crawls know the platform's total from their first answer, so the line says
``Progress: 12,345/102,400 products (12.1%), 48.0 calls/s, ETA 0:03:20``. With ``details=1``
the listing and the detail calls are two phases, each counted on its own work: once products
are listed faster than their details arrive the line says
``Progress: listed 640/640 products (100.0%), details 570/640 (89.1%), …`` and the ETA is the
time the remaining details take at the rate they arrive. Crawls without a known total (e.g.
``product``) log the products scraped and the call rate.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from ali1688spider.api.catalogue import DETAIL_API
from ali1688spider.config import get_float
from ali1688spider.reporting.ledger import ledger_for

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy.crawler import Crawler
    from typing_extensions import Self

logger = logging.getLogger(__name__)

#: The rates (and so the ETA) are measured over this many of the last ticks.
WINDOW = 6


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    return str(dt.timedelta(seconds=round(seconds)))


def progress_line(
    done: int, total: int | None, calls_per_second: float, products_per_second: float,
    cache_hits: int = 0, *, delivered: int | None = None, delivered_per_second: float = 0.0,
) -> str:
    """The text of one progress line (pure, for the log and for tests). *done* products were
    listed; *delivered* of them reached the feed (None: as many as were listed). Answers from
    the HTTP cache are counted apart from calls."""
    calls = f"{calls_per_second:.1f} calls/s"
    if cache_hits:
        calls += f", {cache_hits:,} cache hits"
    if total is None:
        return f"Progress: {done:,} products, {calls}"
    if delivered is not None and delivered < done:
        # The detail phase: the listing's 100 % says nothing about what is left to fetch.
        return (
            f"Progress: listed {done:,}/{total:,} products ({_share(done, total)}), "
            f"details {delivered:,}/{total:,} ({_share(delivered, total)}), "
            f"{calls}, ETA {format_eta(_eta(total - delivered, delivered_per_second))}"
        )
    return (
        f"Progress: {done:,}/{total:,} products ({_share(done, total)}), "
        f"{calls}, ETA {format_eta(_eta(total - done, products_per_second))}"
    )


def _share(part: int, total: int) -> str:
    return f"{part / total * 100 if total else 100.0:.1f}%"


def _eta(remaining: int, per_second: float) -> float | None:
    if remaining <= 0:
        return 0.0
    return remaining / per_second if per_second > 0 else None


def progress_interval(settings: Mapping[str, Any]) -> float:
    """``ALI1688_PROGRESS_INTERVAL`` in seconds (0: no progress lines); ConfigError when it is
    not a finite number >= 0."""
    return get_float(settings, "ALI1688_PROGRESS_INTERVAL")


class Progress:
    def __init__(self, crawler: Crawler, interval: float):
        self.crawler = crawler
        self.interval = interval
        self.ledger = ledger_for(crawler)
        #: (time, calls, listed, delivered) at each of the last ticks.
        self.samples: deque[tuple[float, int, int, int]] = deque(maxlen=WINDOW + 1)
        self.task: task.LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        interval = progress_interval(crawler.settings)
        if interval <= 0:
            raise NotConfigured
        return cls(crawler, interval)

    def spider_opened(self) -> None:
        self.samples.append(self._measure())
        self.task = task.LoopingCall(self.log)
        self.task.start(self.interval, now=False)

    def spider_closed(self) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()

    def _measure(self) -> tuple[float, int, int, int]:
        stats = self.crawler.stats
        if self.ledger.targets:
            listed, delivered = self.ledger.fetched(), self.ledger.delivered()
        else:
            listed = delivered = stats.get_value("item_scraped_count", 0)
        return time.monotonic(), stats.get_value("ali1688/calls", 0), listed, delivered

    def log(self) -> None:
        now, calls, listed, delivered = self._measure()
        then, calls_then, listed_then, delivered_then = self.samples[0]
        self.samples.append((now, calls, listed, delivered))
        elapsed = max(now - then, 1e-9)
        total = self.ledger.expected_total() if self.ledger.targets else None
        # A detail phase only where details are fetched: in a listing-only crawl the items
        # still in the pipelines are no phase of their own.
        details = bool(self.crawler.stats.get_value(f"ali1688/calls/{DETAIL_API}"))
        logger.info(
            "%s",
            progress_line(
                listed, total, (calls - calls_then) / elapsed, (listed - listed_then) / elapsed,
                self.crawler.stats.get_value("ali1688/cache/hit", 0),
                delivered=delivered if details else None,
                delivered_per_second=(delivered - delivered_then) / elapsed,
            ),
        )
