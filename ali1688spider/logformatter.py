"""The log formatter the add-on sets (``LOG_FORMATTER``): Scrapy's, except that a line below
``LOG_LEVEL`` is not logged at all.

Scrapy logs every response and every item at DEBUG and lets its handler drop the records when
``LOG_LEVEL`` is higher; building them costs a few percent of a big crawl's CPU (profiled: a
20,000-product listing). Returning None tells Scrapy not to log.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy import logformatter

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from typing_extensions import Self


class LevelLogFormatter(logformatter.LogFormatter):
    """Scrapy's messages for responses and items, only those at ``LOG_LEVEL`` or above."""

    def __init__(self, level: int):
        self.level = level

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        level = crawler.settings.get("LOG_LEVEL", logging.DEBUG)
        if isinstance(level, str):
            level = logging.getLevelName(level.upper())
        return cls(level if isinstance(level, int) else logging.DEBUG)

    def _kept(self, result: Any) -> Any:
        return result if result is not None and result["level"] >= self.level else None

    def crawled(self, *args: Any, **kwargs: Any) -> Any:
        return self._kept(super().crawled(*args, **kwargs))

    def scraped(self, *args: Any, **kwargs: Any) -> Any:
        return self._kept(super().scraped(*args, **kwargs))

    def dropped(self, *args: Any, **kwargs: Any) -> Any:
        return self._kept(super().dropped(*args, **kwargs))
