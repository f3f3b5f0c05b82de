"""Per-app-key call pacing shared by every worker process through Redis.

The gateway counts calls per app key in a sliding one-second window, whichever process or
machine sends them. Like the local limiter, calls are spaced evenly (no bursts) with a jitter
headroom, each at least one interval after the previous *actual* release of its app
key, by any worker. One Lua script grants a call atomically when that interval has passed
(``now >= last + interval``, then ``last = now``) and otherwise returns how long to wait;
Redis ``TIME`` is the only clock, so the workers' own clocks never matter.

Slots are granted when they are due, not reserved ahead: a worker whose event loop stalls
(a long parse, GC) would otherwise fire all its overdue reservations at once, a burst the
gateway's sliding window counts. Inside a process the callers of one app key queue on a lock,
so only one of them per process polls Redis. Every Redis call is made with ``redis.asyncio`` on
the reactor's event loop: nothing blocks the reactor thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from ali1688spider.distributed.keys import DEFAULT_PREFIX, rate_key

logger = logging.getLogger(__name__)

#: Pace 5 % below the limit (the local limiter: 2 %). Between a grant and the call's arrival
#: at the gateway each worker's event loop adds its own delay; with several workers on a busy
#: machine these delays differ by tens of milliseconds, and a sliding one-second window
#: tolerates about ``headroom`` seconds of them (measured: bench/distributed.py).
DISTRIBUTED_HEADROOM = 0.05

#: Idle keys disappear from Redis this long after their last grant.
KEY_TTL_MS = 60_000
#: A grant that comes at most this late (the poll's sleep and round trip) is booked at its due
#: time, so that these small delays do not add up to a lower rate. It can bring two calls at
#: most this much closer than the interval, once: far less than the headroom.
GRANT_SLACK_US = 2_000

#: KEYS[1]: the time of the app key's last granted call (microseconds of the Redis clock).
#: ARGV[1]: the interval between two calls (µs); ARGV[2]: hold (µs); ARGV[3]: key TTL (ms);
#: ARGV[4]: grant slack (µs). With hold = 0: grants the call (returns 0) when the interval
#: since the last grant has passed, else returns the microseconds to wait. With hold > 0 (a
#: QPS-limit answer): grants nothing and makes the next grant wait until now + hold.
PACE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local hold = tonumber(ARGV[2])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if hold > 0 then
  last = math.max(last, now + hold - interval)
elseif now < last + interval then
  return last + interval - now
else
  last = math.max(last + interval, now - tonumber(ARGV[4]))
end
redis.call('SET', KEYS[1], string.format('%d', last),
           'PX', math.floor((last + interval - now) / 1000) + tonumber(ARGV[3]))
return 0
"""


class RedisRateLimiter:
    """Spaces the calls of each app key evenly at no more than ``qps`` per second, across processes."""

    def __init__(self, url: str, qps: float, *, prefix: str = DEFAULT_PREFIX, client: Any = None):
        import redis.asyncio

        self.qps = qps
        self._interval_us = round((1.0 + DISTRIBUTED_HEADROOM) / qps * 1_000_000) if qps > 0 else 0
        self._prefix = prefix
        self._redis = client if client is not None else redis.asyncio.Redis.from_url(url)
        self._script = self._redis.register_script(PACE_SCRIPT)
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._pending: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"RedisRateLimiter(qps={self.qps:g}, prefix={self._prefix!r})"

    async def _run(self, app_key: str, hold_us: int) -> int:
        return int(await self._script(keys=[rate_key(self._prefix, app_key)], args=[self._interval_us, hold_us, KEY_TTL_MS, GRANT_SLACK_US]))

    async def acquire(self, app_key: str) -> None:
        """Wait until Redis grants *app_key* its next call."""
        if not self._interval_us:
            return
        async with self._locks[app_key]:
            while (wait_us := await self._run(app_key, 0)) > 0:
                await asyncio.sleep(wait_us / 1_000_000)

    def penalize(self, app_key: str, seconds: float) -> None:
        """Hold every worker's calls of *app_key* back for *seconds* (the gateway said: too fast)."""
        hold_us = round(seconds * 1_000_000)
        if not self._interval_us or hold_us <= 0:
            # A zero hold-back changes nothing: no call is ever granted before "now".
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
