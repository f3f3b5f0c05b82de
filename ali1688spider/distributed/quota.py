"""The daily call quota counted in Redis, shared by every worker of a distributed crawl.

Same rules as the local counter (``gateway.quota``): calls per app key per China day, every
attempt counted, counted atomically by one Lua script on the Redis clock.
"""

from __future__ import annotations

from typing import Any

from ali1688spider.api.china_time import CHINA_UTC_OFFSET, DAY_SECONDS
from ali1688spider.distributed.keys import DEFAULT_PREFIX, quota_key

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
