"""Per-app-key call pacing shared by every worker process through Redis.

The gateway counts calls per app key in a sliding one-second window, whichever process or
machine sends them. Like the local limiter, calls are spaced evenly (no bursts) with the same
jitter headroom; here the spacing is reserved atomically in Redis by one Lua script: each
caller takes the next free slot of its app key (``max(now, next)``), moves ``next`` one
interval on and sleeps until its slot. Redis ``TIME`` is the only clock, so the workers' own
clocks never matter. Every Redis call is made with ``redis.asyncio`` on the reactor's event
loop: nothing blocks the reactor thread.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ali1688spider.crawl.ratelimit import JITTER_HEADROOM

logger = logging.getLogger(__name__)

#: Idle keys disappear from Redis this long after their last reserved slot.
KEY_TTL_MS = 60_000

#: KEYS[1]: the app key's "next free slot" (microseconds of the Redis clock).
#: ARGV[1]: the interval between two calls (µs). ARGV[2]: hold (µs): when > 0, no slot is
#: handed out before now + hold (a QPS-limit answer) and nothing is reserved.
#: Returns the microseconds the caller must wait before sending its call.
PACE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local hold = tonumber(ARGV[2])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, next_free)
if hold > 0 then
  slot = math.max(next_free, now + hold)
  redis.call('SET', KEYS[1], string.format('%d', slot), 'PX', math.floor((slot - now) / 1000) + ARGV[3])
  return 0
end
redis.call('SET', KEYS[1], string.format('%d', slot + interval),
           'PX', math.floor((slot + interval - now) / 1000) + ARGV[3])
return slot - now
"""


class RedisRateLimiter:
    """Spaces the calls of each app key evenly at no more than ``qps`` per second, across processes."""

    def __init__(self, url: str, qps: float, *, prefix: str = "ali1688", client: Any = None):
        import redis.asyncio

        self.qps = qps
        self._interval_us = round((1.0 + JITTER_HEADROOM) / qps * 1_000_000) if qps > 0 else 0
        self._prefix = prefix
        self._redis = client if client is not None else redis.asyncio.Redis.from_url(url)
        self._script = self._redis.register_script(PACE_SCRIPT)
        self._pending: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"RedisRateLimiter(qps={self.qps:g}, prefix={self._prefix!r})"

    def _key(self, app_key: str) -> str:
        return f"{self._prefix}:rate:{app_key}"

    async def _run(self, app_key: str, hold_us: int) -> int:
        return int(await self._script(keys=[self._key(app_key)], args=[self._interval_us, hold_us, KEY_TTL_MS]))

    async def acquire(self, app_key: str) -> None:
        """Wait until *app_key* may make its next call (its slot is reserved in Redis)."""
        if not self._interval_us:
            return
        wait_us = await self._run(app_key, 0)
        if wait_us > 0:
            await asyncio.sleep(wait_us / 1_000_000)

    def penalize(self, app_key: str, seconds: float) -> None:
        """Hold every worker's calls of *app_key* back for *seconds* (the gateway said: too fast)."""
        hold_us = round(seconds * 1_000_000)
        if not self._interval_us or hold_us <= 0:
            # Holding back by zero seconds cannot move a slot that is handed out from "now" on.
            return
        # Called from synchronous middleware code: the Redis round trip runs as a task.
        task = asyncio.ensure_future(self._run(app_key, hold_us))
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("Could not hold back the rate limit in Redis: %s", task.exception())

    async def close(self) -> None:
        """Wait for pending hold-backs, then close the connection pool."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self._redis.aclose()
