"""Starts the embedded sandbox (when no credentials are set) as the crawl opens, and says so.

The runtime starts the sandbox on first use; this extension makes that happen before the
spider's first request and repeats the notice when the crawl closes, so nobody mistakes
sandbox output for 1688 data.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import signals

from ali1688spider.crawl.runtime import SANDBOX_BANNER, runtime_for

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from typing_extensions import Self

logger = logging.getLogger(__name__)


class SandboxNotice:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def spider_opened(self) -> None:
        runtime_for(self.crawler)

    def spider_closed(self) -> None:
        runtime = runtime_for(self.crawler)
        if runtime.is_sandbox:
            logger.warning(SANDBOX_BANNER, runtime.gateway_url)
