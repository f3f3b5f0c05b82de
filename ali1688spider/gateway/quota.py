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

from ali1688spider.api.china_time import CHINA_UTC_OFFSET, DAY_SECONDS, china_day
from ali1688spider.closing import QUOTA_EXHAUSTED, close_crawl, keep_queued
from ali1688spider.config import get_int
from ali1688spider.distributed.keys import DEFAULT_PREFIX, quota_key

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.exceptions import IgnoreRequest


#: KEYS[1]: the app key's counter prefix; the China day number is appended from Redis TIME.
#: ARGV[1]: the quota; ARGV[2]: China's UTC offset and ARGV[3] a day, in seconds.
#: Returns 1 (call counted, go ahead) or 0 (spent today, nothing counted).
TAKE_SCRIPT = """
local t = redis.call('TIME')
local day = math.floor((tonumber(t[1]) + tonumber(ARGV[2])) / tonumber(ARGV[3]))
local key = KEYS[1] .. ':' .. day
local used = tonumber(redis.call('GET', key) or '0')
if used >= tonumber(ARGV[1]) then
  return 0
end
redis.call('INCR', key)
redis.call('EXPIRE', key, 172800)
return 1
"""


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


class RedisDailyQuota:
    """The quota counted in Redis, shared by every worker of a distributed crawl."""

    def __init__(self, url: str, per_day: int, *, prefix: str = DEFAULT_PREFIX, client: Any = None):
        import redis.asyncio

        self.per_day = per_day
        self._prefix = prefix
        self._redis = client if client is not None else redis.asyncio.Redis.from_url(url)
        self._script = self._redis.register_script(TAKE_SCRIPT)

    def __repr__(self) -> str:
        return f"RedisDailyQuota(per_day={self.per_day}, prefix={self._prefix!r})"

    async def take(self, app_key: str) -> bool:
        """Count one call of *app_key*; False (nothing counted) when today's quota is spent."""
        keys = [quota_key(self._prefix, app_key)]
        return bool(await self._script(keys=keys, args=[self.per_day, CHINA_UTC_OFFSET, DAY_SECONDS]))

    async def close(self) -> None:
        await self._redis.aclose()


def make_quota(settings: Mapping[str, Any], redis_url: str | None, prefix: str) -> Any:
    """The crawl's quota counter, or None when ``ALI1688_DAILY_QUOTA`` is 0 (no quota)."""
    per_day = get_int(settings, "ALI1688_DAILY_QUOTA")
    if not per_day:
        return None
    if redis_url:
        return RedisDailyQuota(redis_url, per_day, prefix=prefix)
    return LocalDailyQuota(per_day)


class QuotaStop:
    """Stops the crawl once when the quota is spent and keeps the unsent calls queued."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    def __call__(self, request: Request, per_day: int) -> IgnoreRequest:
        """Requeue *request*, close the crawl (first time only); the exception to raise."""
        # Close first: the slot then stops handing out queued requests, including this one.
        close_crawl(
            self.crawler,
            QUOTA_EXHAUSTED,
            "the daily quota ALI1688_DAILY_QUOTA=%d is spent for every app key today (China "
            "time); unsent calls stay queued, run the crawl again after midnight China time "
            "(16:00 UTC) to continue",
            per_day,
        )
        self.crawler.stats.inc_value("ali1688/quota/requeued")
        return keep_queued(self.crawler, request, "daily quota spent")
