"""Each app key's learned pace shared by every worker process through Redis.

The gateway counts calls per app key in a sliding one-second window, whichever process or
machine sends them. The rule is ``gateway.pacing.RateState``'s (grant when due, one interval
apart; a refusal lowers the rate to what the gateway accepted in the last window and holds the
key until that window drains; slow raises after a quiet spell), carried out by three Lua
scripts on one Redis hash per app key (``{prefix}:rate:{app_key}``: rate, last grant, hold,
last lowering, proven level) and sorted sets of the last window's accepted and refused calls
(``…:accepted``, ``…:refused``). Each
script runs atomically on the Redis clock, so the workers' own clocks never matter (tests
may pass one). Every Redis call is made with ``redis.asyncio`` on the reactor's event loop:
nothing blocks the reactor thread. While Redis is unreachable a call waits and asks again,
with back-off; it is never let go unpaced.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest

from ali1688spider.distributed.keys import DEFAULT_PREFIX, rate_keys
from ali1688spider.gateway.pacing import (
    EMPTY_DECREASE,
    FULL_WINDOW,
    MIN_DECREASE,
    MIN_RATE,
    PERSISTENT_SHARE,
    PROVEN_SHARE,
    PROVEN_SPAN,
    RAISE,
    SETTLE,
    WINDOW,
    GrantWaits,
    RateReport,
)
from ali1688spider.redact import url_without_password

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

#: Pace this much below the rate (the local pacer: 2 %). Between a grant and the call's
#: arrival at the gateway each worker's event loop adds its own delay; with several workers
#: on a busy machine these delays differ more than in one process (bench/distributed.py).
DISTRIBUTED_HEADROOM = 0.02
#: A grant at most this late (the poll's sleep, Redis round trips and other workers' turns)
#: is booked at its due time: without it, these delays would add up to a lower rate.
DISTRIBUTED_SLACK = 0.005
#: Idle app keys disappear from Redis this long after their last call.
KEY_TTL_MS = 120_000
#: While Redis cannot be reached, ask again after this long, doubling up to the maximum.
RECONNECT_DELAY, RECONNECT_MAX = 0.25, 5.0
US = 1_000_000

# Shared head of the scripts: the clock (ARGV[1], µs, or Redis TIME when empty), the hash
# (KEYS[1]) and the ceiling (ARGV[2]).
_HEAD = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local ceiling = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'rate', 'last', 'hold', 'lowered', 'proven', 'proven_at')
local rate = math.min(tonumber(state[1]) or ceiling, ceiling)
local last = tonumber(state[2]) or -1e18
local hold = tonumber(state[3]) or -1e18
local lowered = tonumber(state[4]) or -1e18
local proven = tonumber(state[5]) or 0
local proven_at = tonumber(state[6]) or -1e18
"""

#: ARGV[3] headroom, ARGV[4] slack µs, ARGV[5] TTL ms. Returns {granted, wait or grant µs, rate}.
GRANT_SCRIPT = _HEAD + """
local due = math.max(last + (1 + tonumber(ARGV[3])) / rate * 1000000, hold)
if now < due then
  return {0, tostring(due - now), tostring(rate)}
end
if now - due > tonumber(ARGV[4]) then last = now else last = due end
redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'last', tostring(last))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {1, tostring(last), tostring(rate)}
"""

#: KEYS[2] the accepted set. ARGV[3] settle µs, ARGV[4] raise, ARGV[5] window µs, ARGV[6]
#: TTL ms, ARGV[7] proven span µs. Returns {raised, rate}.
ACCEPTED_SCRIPT = _HEAD + """
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('ZADD', KEYS[2], now, tostring(now) .. ':' .. seq)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[5]))
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
local count = redis.call('ZCARD', KEYS[2])
if count >= proven or now - proven_at > tonumber(ARGV[7]) then
  redis.call('HSET', KEYS[1], 'proven', count, 'proven_at', tostring(now))
end
if rate >= ceiling or now - lowered < tonumber(ARGV[3]) then
  return {0, tostring(rate)}
end
rate = math.min(ceiling, rate * (1 + tonumber(ARGV[4])))
redis.call('HSET', KEYS[1], 'rate', tostring(rate))
return {1, tostring(rate)}
"""

#: KEYS[2] the accepted set, KEYS[3] the refused set. ARGV[3] granted µs, ARGV[4] ban µs,
#: ARGV[5] window µs, ARGV[6] minimum decrease, ARGV[7] decrease when nothing was accepted,
#: ARGV[8] minimum rate, ARGV[9] TTL ms, ARGV[10] proven share, ARGV[11] full-window share,
#: ARGV[12] persistent share. Returns {lowered, rate}.
REFUSED_SCRIPT = _HEAD + """
local ban = tonumber(ARGV[4])
if ban > 0 then
  hold = math.max(hold, now + ban)
  redis.call('HSET', KEYS[1], 'hold', tostring(hold))
end
if tonumber(ARGV[3]) < lowered then
  return {0, tostring(rate)}
end
local window = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('ZADD', KEYS[3], now, tostring(now) .. ':' .. seq)
redis.call('PEXPIRE', KEYS[3], ARGV[9])
local count = redis.call('ZCARD', KEYS[2])
local refused = redis.call('ZCARD', KEYS[3])
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local persistent = refused >= math.max(2, tonumber(ARGV[12]) * (count + refused))
local full = oldest[2] ~= nil and now - tonumber(oldest[2]) >= tonumber(ARGV[11]) * window
if not persistent and not (full and count >= tonumber(ARGV[10]) * proven) then
  return {0, tostring(rate)}
end
redis.call('DEL', KEYS[3])
local seen = count * 1000000 / window
local target = rate * tonumber(ARGV[7])
if seen > 0 then target = seen end
rate = math.max(tonumber(ARGV[8]), math.min(target, rate * tonumber(ARGV[6])))
local drained = now
if oldest[2] then drained = tonumber(oldest[2]) + window end
hold = math.max(hold, drained)
redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'hold', tostring(hold), 'lowered', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[9])
return {1, tostring(rate)}
"""


class RedisPacer:
    """Paces the calls of each app key across every process that shares this Redis."""

    def __init__(
        self,
        url: str,
        ceiling: float,
        *,
        prefix: str = DEFAULT_PREFIX,
        report: RateReport | None = None,
        client: Any = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        headroom: float = DISTRIBUTED_HEADROOM,
        give_up: Callable[[], bool] = lambda: False,
    ):
        import redis.asyncio

        #: True once waiting for Redis is pointless (the crawl is closing): calls stop waiting.
        self.give_up = give_up
        self.ceiling = ceiling
        self.headroom = headroom
        self.report = report or RateReport(None)
        self._where = url_without_password(url)
        self._prefix = prefix
        self._redis = client if client is not None else redis.asyncio.Redis.from_url(url)
        self._grant = self._redis.register_script(GRANT_SCRIPT)
        self._accepted = self._redis.register_script(ACCEPTED_SCRIPT)
        self._refused = self._redis.register_script(REFUSED_SCRIPT)
        self._clock, self._sleep = clock, sleep
        self.grant_waits = GrantWaits(sleep)
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._pending: set[asyncio.Future[Any]] = set()
        self._unreachable = False

    def __repr__(self) -> str:
        return f"RedisPacer(ceiling={self.ceiling:g}, prefix={self._prefix!r})"

    def _keys(self, app_key: str) -> list[str]:
        return rate_keys(self._prefix, app_key)

    def _now(self) -> str:
        """The clock argument of the scripts: empty (Redis TIME) unless a clock was given."""
        return "" if self._clock is None else str(round(self._clock() * US))

    async def acquire(self, app_key: str) -> float:
        """Wait until Redis grants *app_key* its next call; the grant's time (Redis clock, s)."""
        import redis

        keys = self._keys(app_key)[:1]
        delay = RECONNECT_DELAY
        # One waiter per app key and process asks Redis; the others queue behind it.
        async with self._locks[app_key]:
            while True:
                try:
                    granted, value, rate = await self._grant(
                        keys=keys,
                        args=[self._now(), self.ceiling, self.headroom, round(DISTRIBUTED_SLACK * US), KEY_TTL_MS],
                    )
                except redis.RedisError as exc:
                    self._lost(exc)
                    if self.give_up():
                        # The call is not sent; its lease returns it to the shared queue.
                        raise IgnoreRequest(f"Redis at {self._where} is unreachable and the crawl closes") from None
                    await self._sleep(delay)
                    delay = min(RECONNECT_MAX, delay * 2)
                    continue
                self._reached()
                delay = RECONNECT_DELAY
                if int(granted):
                    self.report.rate(app_key, float(rate))
                    return float(value) / US
                await self.grant_waits(float(value) / US)

    def accepted(self, app_key: str) -> None:
        args = [
            self._now(), self.ceiling, round(SETTLE * US), RAISE, round(WINDOW * US), KEY_TTL_MS,
            round(PROVEN_SPAN * US),
        ]
        self._spawn(app_key, self._accepted(keys=self._keys(app_key)[:2], args=args), refusal=False)

    def refused(self, app_key: str, granted_at: float, ban: float | None) -> None:
        args = [
            self._now(), self.ceiling, round(granted_at * US), round((ban or 0) * US),
            round(WINDOW * US), MIN_DECREASE, EMPTY_DECREASE, MIN_RATE, KEY_TTL_MS, PROVEN_SHARE,
            FULL_WINDOW, PERSISTENT_SHARE,
        ]
        self._spawn(app_key, self._refused(keys=self._keys(app_key), args=args), refusal=True)

    def _spawn(self, app_key: str, call: Awaitable[Any], *, refusal: bool) -> None:
        """Run a script from synchronous middleware code; its answer updates the report."""
        task = asyncio.ensure_future(call)
        self._pending.add(task)

        def done(task: asyncio.Future[Any]) -> None:
            self._pending.discard(task)
            if task.cancelled():
                return
            if task.exception() is not None:
                # A lost lesson, not a lost call: the next grant still comes from Redis.
                logger.debug("Could not tell Redis about an answer: %s", task.exception())
                return
            changed, rate = task.result()
            if refusal:
                self.report.refused(bool(int(changed)))
            if int(changed) or refusal:
                self.report.rate(app_key, float(rate))

        task.add_done_callback(done)

    def _lost(self, exc: Exception) -> None:
        if not self._unreachable:
            self._unreachable = True
            logger.warning(
                "Redis at %s is unreachable (%s): calls wait for it, asking again with back-off",
                self._where, type(exc).__name__,
            )

    def _reached(self) -> None:
        if self._unreachable:
            self._unreachable = False
            logger.warning("Redis at %s is reachable again: calls go on", self._where)

    async def flush(self) -> None:
        """Wait until Redis has been told every answer reported so far."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def close(self) -> None:
        """Tell Redis the last answers, then close the connection pool."""
        await self.flush()
        await self._redis.aclose()
