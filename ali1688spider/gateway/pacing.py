"""When an API call may go: the daily quota, the retry time, and each app key's learned pace.

``ALI1688_QPS`` is the ceiling. Below it each app key's rate is learned from the gateway's
answers, which the error middleware reports (``Admission.answered``):

- A QPS refusal of a call granted at the current rate lowers the rate at once to what the
  gateway accepted in the last window (one second), or halves it when it accepted nothing,
  and holds the app key until that window has drained, or for the ban the answer states.
  A refusal is taken for the limit when the gateway refuses persistently (at least two and
  ``PERSISTENT_SHARE`` of the last window's answers), or when a full window of calls has gone
  by and it accepts about as many as it accepted lately without refusing
  (``PROVEN_SHARE``). Other refusals (a stray refusal of a gateway in trouble, or one while
  the pace is still ramping up) are retried but do not lower the pace.
- After ``SETTLE`` seconds without a refusal, each accepted call raises the rate by ``RAISE``
  of itself, up to the ceiling: a rare, cheap probe that finds a limit that went up.

Grants are made when due, one interval apart (the rate plus a small headroom for the jitter
between a grant and the call's arrival), never reserved ahead: an event loop that wakes late
sends one call late, never a burst of overdue ones. ``RateState`` is the rule, pure and
clock-driven; ``LocalPacer`` applies it in this process, ``gateway.redis_pacer.RedisPacer``
in Redis for every worker of a distributed crawl. ``Admission`` is the one place that decides
when a call goes; the handler awaits it, the middleware tells it the outcome. Once the crawl
begins to close, or the gateway refused the last credential set, it lets no call go: the calls
waiting for their turn go back to the queue unsent.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ali1688spider.api.errors import ErrorKind
from ali1688spider.gateway.request import (
    APP_KEY_META_KEY,
    GRANTED_AT_META_KEY,
    NOT_BEFORE_META_KEY,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from scrapy import Request
    from scrapy.statscollectors import StatsCollector

    from ali1688spider.api.errors import ApiError
    from ali1688spider.gateway.credentials import Credentials
    from ali1688spider.gateway.quota import QuotaStop

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

#: The gateway counts calls per app key in a sliding window of this many seconds.
WINDOW = 1.0
#: Pacing this much below the rate absorbs the jitter between a grant and the call's arrival
#: at the gateway (bench/rate_utilization.py measures it, under CPU load too).
LOCAL_HEADROOM = 0.02
#: A grant that comes at most this late (the sleep's overshoot) is booked at its due time, so
#: that these small delays do not add up to a lower rate.
GRANT_SLACK = 0.002
#: No raise for this long after a lowering; then each accepted call raises the rate by RAISE.
SETTLE = 20.0
RAISE = 0.002
#: A refusal lowers the rate at least this much, and to half when the gateway accepted nothing.
MIN_DECREASE = 0.97
EMPTY_DECREASE = 0.5
#: The slowest pace a refusal can bring an app key to (calls per second).
MIN_RATE = 0.05
#: The most calls the gateway accepted in one window is remembered this long; a lone refusal
#: while it accepts fewer than PROVEN_SHARE of them does not lower the pace.
PROVEN_SPAN, PROVEN_SHARE = 60.0, 0.9
#: A window is full when its oldest accepted call is this share of a window old.
FULL_WINDOW = 0.9
#: Refusals this share of a window's answers (and two at least) are the limit, however early.
PERSISTENT_SHARE = 0.2
#: A rate change this large (relative) is logged at INFO.
LOGGED_CHANGE = 0.1
#: Downloader slots kept for calls in flight: rate x round trip x this, plus a few spare.
IN_FLIGHT_MARGIN, SPARE_SLOTS = 1.5, 4
#: Weight of the newest round trip in the running average.
LATENCY_WEIGHT = 0.1


@dataclass
class RateState:
    """The pace of one app key: its learned rate, last grant, hold and recent acceptances.

    Every method takes the time (any monotonic clock, in seconds): the rule is the same for
    the local pacer, the Redis script and the tests' fake clock.
    """

    ceiling: float
    headroom: float = LOCAL_HEADROOM
    rate: float = 0.0
    last_grant: float = -math.inf
    hold_until: float = -math.inf
    lowered_at: float = -math.inf
    accepted: deque[float] = field(default_factory=deque)
    #: Refusals of calls sent since the last lowering, within the last window.
    refused: deque[float] = field(default_factory=deque)
    #: The most calls accepted within one window lately, and when that was last seen.
    proven: int = 0
    proven_at: float = -math.inf

    def __post_init__(self) -> None:
        self.rate = self.rate or self.ceiling

    @property
    def interval(self) -> float:
        return (1.0 + self.headroom) / self.rate

    def due(self) -> float:
        """When the next grant may be made."""
        return max(self.last_grant + self.interval, self.hold_until)

    def grant(self, now: float) -> float:
        """Seconds to wait before asking again; 0.0: granted, booked at about *now*."""
        due = self.due()
        if now < due:
            return due - now
        # Booked at its due time when it comes just late; a late loop's grant at its own time.
        self.last_grant = due if now - due <= GRANT_SLACK else now
        return 0.0

    def _forget(self, now: float) -> None:
        for times in (self.accepted, self.refused):
            while times and times[0] <= now - WINDOW:
                times.popleft()

    def note_accepted(self, now: float) -> bool:
        """Count an accepted call; True when it raised the rate."""
        self.accepted.append(now)
        self._forget(now)
        if len(self.accepted) >= self.proven or now - self.proven_at > PROVEN_SPAN:
            self.proven, self.proven_at = len(self.accepted), now
        if self.rate >= self.ceiling or now - self.lowered_at < SETTLE:
            return False
        self.rate = min(self.ceiling, self.rate * (1.0 + RAISE))
        return True

    def note_refused(self, now: float, granted_at: float, ban: float | None = None) -> bool:
        """A QPS refusal of the call granted at *granted_at*; True when it lowered the rate.

        Calls granted before the last lowering were sent at the old rate: they only hold.
        """
        if ban:
            self.hold_until = max(self.hold_until, now + ban)
        if granted_at < self.lowered_at:
            return False
        self._forget(now)
        self.refused.append(now)
        accepted, refused = len(self.accepted), len(self.refused)
        persistent = refused >= max(2, PERSISTENT_SHARE * (accepted + refused))
        full = accepted > 0 and now - self.accepted[0] >= FULL_WINDOW * WINDOW
        if not persistent and not (full and accepted >= PROVEN_SHARE * self.proven):
            return False
        self.refused.clear()
        seen = accepted / WINDOW
        target = seen if seen else self.rate * EMPTY_DECREASE
        self.rate = max(MIN_RATE, min(target, self.rate * MIN_DECREASE))
        self.lowered_at = now
        # The gateway's window holds the calls it accepted lately: wait until it drains.
        drained = self.accepted[0] + WINDOW if self.accepted else now
        self.hold_until = max(self.hold_until, drained)
        return True


class RateReport:
    """Logs large rate changes and keeps the ``ali1688/rate/*`` stats of every app key."""

    def __init__(self, stats: StatsCollector | None):
        self.stats = stats
        self._rates: dict[str, float] = {}
        self._logged: dict[str, float] = {}

    def rate(self, app_key: str, rate: float) -> None:
        self._rates[app_key] = rate
        if self.stats is not None:
            self.stats.set_value("ali1688/rate/current", round(sum(self._rates.values()), 3))
        logged = self._logged.get(app_key)
        if logged is None or abs(rate - logged) >= LOGGED_CHANGE * logged:
            if logged is not None:
                logger.info(
                    "App key %s now paced at %.2f calls/s (was %.2f): %s",
                    app_key, rate, logged,
                    "the gateway refused calls for rate" if rate < logged else "no refusal lately",
                )
            self._logged[app_key] = rate

    @property
    def total(self) -> float:
        """Calls per second the crawl may make now, every app key together."""
        return sum(self._rates.values())

    def refused(self, lowered: bool) -> None:
        if self.stats is not None:
            self.stats.inc_value("ali1688/rate/refused")
            if lowered:
                self.stats.inc_value("ali1688/rate/lowered")


class GrantWaits:
    """A pacer's sleep until a grant is due, counting the calls asleep in it: while one is,
    the crawl is paced, and event-loop work goes in steps (``gateway.stepping``)."""

    def __init__(self, sleep: Callable[[float], Awaitable[Any]]):
        self._sleep = sleep
        self.count = 0

    async def __call__(self, seconds: float) -> None:
        self.count += 1
        try:
            await self._sleep(seconds)
        finally:
            self.count -= 1


class LocalPacer:
    """Paces the calls of each app key of this process (``RateState`` per key)."""

    def __init__(
        self,
        ceiling: float,
        *,
        report: RateReport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ):
        self.ceiling = ceiling
        self.report = report or RateReport(None)
        self._clock = clock
        self.grant_waits = GrantWaits(sleep)
        self._states: dict[str, RateState] = {}
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def state(self, app_key: str) -> RateState:
        state = self._states.get(app_key)
        if state is None:
            state = self._states[app_key] = RateState(self.ceiling)
            self.report.rate(app_key, state.rate)
        return state

    async def acquire(self, app_key: str) -> float:
        """Wait until *app_key* may make its next call; the grant's time on this clock."""
        state = self.state(app_key)
        # One waiter per app key asks; the others queue behind it in arrival order.
        async with self._locks[app_key]:
            while (wait := state.grant(self._clock())) > 0:
                await self.grant_waits(wait)
            return state.last_grant

    def accepted(self, app_key: str) -> None:
        state = self.state(app_key)
        if state.note_accepted(self._clock()):
            self.report.rate(app_key, state.rate)

    def refused(self, app_key: str, granted_at: float, ban: float | None) -> None:
        state = self.state(app_key)
        lowered = state.note_refused(self._clock(), granted_at, ban)
        self.report.refused(lowered)
        if lowered:
            self.report.rate(app_key, state.rate)

    async def flush(self) -> None:
        """Nothing is told asynchronously here (the Redis pacer's answers are)."""

    async def close(self) -> None:
        """Nothing to release locally; the Redis pacer closes its connection."""


class InFlight:
    """Keeps enough downloader slots for a slow gateway: rate x round trip calls in flight.

    ``CONCURRENT_REQUESTS`` is a floor; a crawl whose calls take long gets more slots, so
    its pace, not the slot count, stays what limits it.
    """

    def __init__(self, downloader: Callable[[], Any]):
        self._downloader = downloader
        self.latency: float | None = None

    def observe(self, latency: float, rate: float) -> int | None:
        """Count one round trip; the new slot count when it had to grow."""
        self.latency = latency if self.latency is None else (
            LATENCY_WEIGHT * latency + (1 - LATENCY_WEIGHT) * self.latency
        )
        downloader = self._downloader()
        if downloader is None:
            return None
        needed = math.ceil(rate * self.latency * IN_FLIGHT_MARGIN) + SPARE_SLOTS
        if needed <= downloader.total_concurrency:
            return None
        downloader.total_concurrency = needed
        downloader.domain_concurrency = max(downloader.domain_concurrency, needed)
        for slot in downloader.slots.values():
            slot.concurrency = max(slot.concurrency, needed)
        logger.info("Round trips take %.2f s at %.1f calls/s: %d calls may be in flight now",
                    self.latency, rate, needed)
        return needed


class Admission:
    """Decides when each call may go: after its retry time, within the daily quota of one of
    the credential sets (round robin), at its app key's pace; and, once stopped (the crawl
    closes, or the gateway refused the last credential set), that no call goes any more."""

    def __init__(
        self,
        credentials: tuple[Credentials, ...],
        pacer: Any,
        *,
        requeue: Callable[[Request, str], Exception],
        quota: Any = None,
        quota_stop: QuotaStop | None = None,
        in_flight: InFlight | None = None,
    ):
        #: The sets in rotation: a set the gateway refused for good is left out.
        self.active = list(credentials)
        self.pacer = pacer
        self.requeue = requeue
        self.quota = quota
        self.quota_stop = quota_stop
        self.in_flight = in_flight
        #: Why no call may go any more, once stopped.
        self.stopped: str | None = None
        self._waiting: set[asyncio.Future[Any]] = set()
        self._next = 0

    async def admit(self, request: Request) -> Credentials:
        """The credential set *request* goes with, once it may go (it records which, and
        when it was granted, in the request's meta); raises the quota stop when every
        set's daily quota is spent, and *requeue*'s exception once stopped, waiting or not."""
        if self.stopped is not None:
            raise self.requeue(request, self.stopped)
        not_before = request.meta.get(NOT_BEFORE_META_KEY)
        if not_before and not_before > time.time():
            await self._unless_stopped(asyncio.sleep(not_before - time.time()), request)
        for _ in range(len(self.active)):
            credentials = self.active[self._next % len(self.active)]
            self._next += 1
            granted = await self._unless_stopped(self.pacer.acquire(credentials.app_key), request)
            # Counted once the call goes (nothing stops it after this): a call that waited for
            # its turn and was stopped spends no quota.
            if self.quota is None or await self.quota.take(credentials.app_key):
                request.meta[GRANTED_AT_META_KEY] = granted
                request.meta[APP_KEY_META_KEY] = credentials.app_key
                return credentials
        assert self.quota_stop is not None and self.quota is not None
        raise self.quota_stop(request, self.quota.per_day)

    async def _unless_stopped(self, waiting: Awaitable[_T], request: Request) -> _T:
        """What *waiting* gives, unless a stop comes first: then *requeue*'s exception."""
        task = asyncio.ensure_future(waiting)
        self._waiting.add(task)
        if self.stopped is not None:
            task.cancel()
        try:
            return await task
        except asyncio.CancelledError:
            if self.stopped is None or not task.cancelled():
                raise
            raise self.requeue(request, self.stopped) from None
        finally:
            self._waiting.discard(task)

    def stop(self, why: str) -> None:
        """From now on no call goes: the calls waiting for their turn stop waiting, unsent."""
        if self.stopped is None:
            self.stopped = why
        for waiting in self._waiting:
            waiting.cancel()

    def in_rotation(self, app_key: str) -> bool:
        return any(c.app_key == app_key for c in self.active)

    def retire(self, app_key: str) -> Credentials | None:
        """Leave *app_key*'s set (in rotation) out, unless it is the last one; the set
        retired, or None: then no call goes any more, since every one would be refused."""
        remaining = [c for c in self.active if c.app_key != app_key]
        if not remaining:
            self.stop("the gateway refused the last credential set")
            return None
        retired = next(c for c in self.active if c.app_key == app_key)
        self.active = remaining
        return retired

    def answered(self, request: Request, error: ApiError | None) -> None:
        """What the gateway said to a call this admission let go: teaches its app key's pace."""
        app_key = request.meta.get(APP_KEY_META_KEY)
        if app_key is None:
            return
        latency = request.meta.get("download_latency")
        if self.in_flight is not None and latency is not None:
            self.in_flight.observe(latency, self.pacer.report.total)
        if error is None:
            self.pacer.accepted(app_key)
        elif error.kind is ErrorKind.QPS_LIMIT:
            self.pacer.refused(app_key, request.meta.get(GRANTED_AT_META_KEY, 0.0), error.retry_after)

    async def close(self) -> None:
        await self.pacer.close()
        if self.quota is not None:
            await self.quota.close()
