"""The daily call quota (``ALI1688_DAILY_QUOTA``): calls per app key per China day.

1688 counts an app's calls per calendar day in China time (UTC+8, no daylight saving), so the
quota is counted the same way: in Redis (atomically, shared by every worker) in distributed
mode, else in this process. Every attempt counts, retries included, because the gateway counts
them too. When the quota of every app key is spent the crawl closes with
``ali1688_quota_exhausted``; the request that found it spent goes back into the scheduler, so
a crawl whose queue persists (Redis, or ``JOBDIR``) continues where it stopped on the next day.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest

from ali1688spider.api.china_time import china_day
from ali1688spider.closing import QUOTA_EXHAUSTED, close_crawl
from ali1688spider.config import get_int

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy import Request
    from scrapy.crawler import Crawler


class LocalDailyQuota:
    """The quota counted inside this process (one crawl on one machine)."""

    def __init__(self, per_day: int):
        self.per_day = per_day
        self._day: int | None = None
        self._used: dict[str, int] = {}

    async def take(self, app_key: str) -> bool:
        """Count one call of *app_key*; False (nothing counted) when today's quota is spent."""
        day = china_day(time.time())
        if day != self._day:
            self._day, self._used = day, {}
        if self._used.get(app_key, 0) >= self.per_day:
            return False
        self._used[app_key] = self._used.get(app_key, 0) + 1
        return True

    async def close(self) -> None:
        """Nothing to release."""


def make_quota(settings: Mapping[str, Any], redis_url: str | None, prefix: str) -> Any:
    """The crawl's quota counter, or None when ``ALI1688_DAILY_QUOTA`` is 0 (no quota)."""
    per_day = get_int(settings, "ALI1688_DAILY_QUOTA")
    if not per_day:
        return None
    if redis_url:
        from ali1688spider.distributed.quota import RedisDailyQuota

        return RedisDailyQuota(redis_url, per_day, prefix=prefix)
    return LocalDailyQuota(per_day)


class QuotaStop:
    """Stops the crawl once when the quota is spent and keeps the unsent calls queued."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    def __call__(self, request: Request, per_day: int) -> IgnoreRequest:
        """Requeue *request*, close the crawl (first time only); the exception to raise."""
        engine = self.crawler.engine
        assert engine is not None
        # Close first: the slot then stops handing out queued requests, including this one.
        close_crawl(
            self.crawler,
            QUOTA_EXHAUSTED,
            "the daily quota ALI1688_DAILY_QUOTA=%d is spent for every app key today (China "
            "time); unsent calls stay queued, run the crawl again after midnight China time "
            "(16:00 UTC) to continue",
            per_day,
        )
        engine.crawl(request.replace(dont_filter=True))
        self.crawler.stats.inc_value("ali1688/quota/requeued")
        return IgnoreRequest("daily quota spent")
