"""The pacer, on a fake clock: grants, refusals, the learned rate, bans, and Redis sharing.

Each scenario runs against the local pacer and against the Redis pacer on a real
redis-server, both on the same fake clock, with the sandbox gateway's own QPS limiter and
peak meter (``ali1688spider.sandbox.ratelimit``) as the gateway. Nothing here reads the wall
clock, so no result depends on how busy the machine is.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from helpers import run_async

from ali1688spider.gateway.pacing import (
    LOCAL_HEADROOM,
    SETTLE,
    WINDOW,
    LocalPacer,
    RateReport,
    RateState,
)
from ali1688spider.gateway.redis_pacer import RedisPacer
from ali1688spider.sandbox.ratelimit import PeakMeter, QpsLimiter

KEY = "8688001"
START = 1_000_000.0


class FakeClock:
    """Time that moves only when somebody sleeps."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@dataclass
class Gateway:
    """The sandbox's limiter and peak meter, fed with the fake clock."""

    limit: float
    qps: QpsLimiter = field(init=False)
    peak: PeakMeter = field(default_factory=PeakMeter)
    accepted: int = 0
    refused: int = 0

    def __post_init__(self) -> None:
        self.qps = QpsLimiter(self.limit)

    def call(self, app_key: str, now: float) -> bool:
        self.peak.record(app_key, now)
        if self.qps.allow(app_key, now):
            self.accepted += 1
            return True
        self.refused += 1
        return False


@pytest.fixture(params=["local", "redis"])
def make_pacer(request):
    """``make_pacer(ceiling, clock)``: a local pacer, or a Redis pacer on a real redis-server.

    Make it inside the scenario's event loop: a Redis client belongs to the loop it runs on.
    """
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None

    def make(ceiling: float, clock: FakeClock, report: RateReport | None = None):
        if url is None:
            return LocalPacer(ceiling, clock=clock, sleep=clock.sleep, report=report)
        return RedisPacer(url, ceiling, clock=clock, sleep=clock.sleep, report=report)

    return make


def run(coroutine):
    return run_async(coroutine)


async def crawl(make, ceiling: float, clock: FakeClock, gateway: Gateway, calls: int, *,
                latency: float = 0.0, report: RateReport | None = None) -> None:
    """*calls* calls one after the other; each arrives *latency*/2 after its grant and its
    answer comes back *latency* after it, then the pacer is told the outcome."""
    pacer = make(ceiling, clock, report)
    for _ in range(calls):
        granted = await pacer.acquire(KEY)
        accepted = gateway.call(KEY, clock.now + latency / 2)
        clock.now += latency
        if accepted:
            pacer.accepted(KEY)
        else:
            pacer.refused(KEY, granted, None)
        await pacer.flush()
    await pacer.close()


def test_grants_are_one_interval_apart_and_a_late_wake_up_is_no_burst():
    state = RateState(10.0)
    assert state.grant(0.0) == 0.0
    wait = state.grant(0.0)
    assert wait == pytest.approx((1 + LOCAL_HEADROOM) / 10)
    # The event loop wakes 0.5 s late: one call goes, and the next is a full interval later.
    assert state.grant(0.6) == 0.0
    assert state.grant(0.6) == pytest.approx((1 + LOCAL_HEADROOM) / 10)


def test_persistent_refusals_lower_the_rate_to_what_the_gateway_accepted_and_hold_until_it_drains():
    state = RateState(20.0)
    for moment in (0.0, 0.05, 0.10, 0.15, 0.20):
        state.note_accepted(moment)
    # One refusal while the pace ramps up could be a stray one: retried, nothing learned yet.
    assert not state.note_refused(0.25, granted_at=0.25)
    # The next call refused too: that is the limit.
    assert state.note_refused(0.30, granted_at=0.30)
    assert state.rate == pytest.approx(5.0)
    # The gateway's window still holds the five calls accepted from t=0: nothing before t=1.
    assert state.due() == pytest.approx(1.0)
    # A refusal of a call granted before the lowering was sent at the old rate: no new lowering.
    assert not state.note_refused(0.35, granted_at=0.29)
    assert state.rate == pytest.approx(5.0)


def test_a_refusal_when_a_full_window_is_at_its_proven_level_is_the_limit():
    state = RateState(5.2)
    for step in range(6):
        state.note_accepted(step * 0.2)
    # A full window of five accepted calls, as many as ever: one refusal is enough.
    assert state.note_refused(1.1, granted_at=1.1)
    assert state.rate == pytest.approx(5.0)


def test_refusals_with_nothing_accepted_halve_the_rate_and_a_stated_ban_is_obeyed():
    state = RateState(8.0)
    assert not state.note_refused(10.0, granted_at=10.0, ban=30.0)
    assert state.due() == pytest.approx(40.0)
    assert state.note_refused(10.1, granted_at=10.1)
    assert state.rate == pytest.approx(4.0)


def test_the_rate_climbs_back_slowly_after_a_quiet_spell():
    state = RateState(10.0)
    for moment in (0.0, 0.1, 0.2, 0.3):
        state.note_accepted(moment)
    state.note_refused(0.4, granted_at=0.4)
    state.note_refused(0.45, granted_at=0.45)
    lowered = state.rate
    assert lowered < 10.0
    assert not state.note_accepted(0.45 + SETTLE / 2)
    assert state.note_accepted(0.45 + SETTLE)
    assert lowered < state.rate < lowered * 1.01
    for step in range(5000):
        state.note_accepted(1 + SETTLE + step)
    assert state.rate == 10.0


def test_a_ceiling_above_the_real_limit_is_learned_with_few_refusals(make_pacer):
    clock, gateway = FakeClock(), Gateway(5)
    run(crawl(make_pacer, 20.0, clock, gateway, 300, latency=0.1))
    elapsed = clock.now - START
    assert gateway.refused <= 0.05 * (gateway.accepted + gateway.refused)
    assert gateway.accepted / elapsed >= 0.9 * 5


@pytest.mark.parametrize("latency", [0.0, 0.1, 0.4])
def test_a_right_ceiling_is_never_exceeded(make_pacer, latency):
    clock, gateway = FakeClock(), Gateway(5)
    run(crawl(make_pacer, 5.0, clock, gateway, 100, latency=latency))
    assert gateway.refused == 0
    assert gateway.peak.peaks[KEY] <= 5


def test_workers_on_one_redis_share_one_pace(redis_url):
    clock, gateway = FakeClock(), Gateway(10)

    async def scenario():
        workers = [RedisPacer(redis_url, 10.0, clock=clock, sleep=clock.sleep) for _ in range(3)]
        # The workers take turns, as their event loops would: each grant comes from Redis.
        for _ in range(40):
            for pacer in workers:
                granted = await pacer.acquire(KEY)
                if gateway.call(KEY, clock.now):
                    pacer.accepted(KEY)
                else:
                    pacer.refused(KEY, granted, None)
                await pacer.flush()
        for pacer in workers:
            await pacer.close()

    run(scenario())
    assert gateway.refused == 0
    assert gateway.peak.peaks[KEY] <= 10
    assert gateway.accepted == 120
    assert gateway.accepted / (clock.now - START) >= 0.9 * 10


def test_a_refusal_seen_by_one_worker_slows_every_worker(redis_url):
    clock = FakeClock()

    async def scenario() -> float:
        first, second = (RedisPacer(redis_url, 20.0, clock=clock, sleep=clock.sleep) for _ in range(2))
        for _ in range(4):
            await first.acquire(KEY)
            first.accepted(KEY)
            await first.flush()
        granted = await first.acquire(KEY)
        first.refused(KEY, granted, 3.0)
        await first.flush()
        asked = clock.now
        await second.acquire(KEY)
        waited = clock.now - asked
        await first.close()
        await second.close()
        return waited

    assert run(scenario()) >= 3.0


def test_app_keys_are_paced_apart(make_pacer):
    clock = FakeClock()

    async def scenario() -> float:
        pacer = make_pacer(1.0, clock)
        await pacer.acquire("a")
        await pacer.acquire("b")
        await pacer.close()
        return clock.now - START

    assert run(scenario()) == 0.0


def test_rate_stats_follow_the_learned_rate(make_pacer):
    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.test import get_crawler

    stats = MemoryStatsCollector(get_crawler())
    clock, gateway = FakeClock(), Gateway(4)
    run(crawl(make_pacer, 16.0, clock, gateway, 60, report=RateReport(stats)))
    assert stats.get_value("ali1688/rate/lowered") >= 1
    assert stats.get_value("ali1688/rate/refused") >= stats.get_value("ali1688/rate/lowered")
    assert stats.get_value("ali1688/rate/current") <= 4.0 / WINDOW


def test_slow_round_trips_get_enough_calls_in_flight():
    from types import SimpleNamespace

    from ali1688spider.gateway.pacing import InFlight

    slot = SimpleNamespace(concurrency=32)
    downloader = SimpleNamespace(total_concurrency=32, domain_concurrency=32, slots={"gw": slot})
    in_flight = InFlight(lambda: downloader)
    # 20 calls/s of 0.4 s each need 8 in flight: 32 slots are plenty.
    assert in_flight.observe(0.4, 20.0) is None
    # 100 calls/s of 1 s each need 100 in flight, and some spare.
    for _ in range(60):
        in_flight.observe(1.0, 100.0)
    assert downloader.total_concurrency >= 150 and slot.concurrency == downloader.total_concurrency


def test_stray_refusals_of_a_gateway_in_trouble_do_not_spiral_the_pace_down(make_pacer):
    """Refusals at random (5 % of calls, whatever the rate): one refusal looks like a limit,
    but the pace settles where it was first lowered to instead of falling on with every one."""
    import random

    clock, report = FakeClock(), RateReport(None)
    chance = random.Random(7)

    async def scenario() -> tuple[float, float]:
        pacer = make_pacer(50.0, clock, report)
        first_lowered = None
        for _ in range(2000):
            granted = await pacer.acquire(KEY)
            if chance.random() < 0.05:
                pacer.refused(KEY, granted, None)
            else:
                pacer.accepted(KEY)
            await pacer.flush()
            if first_lowered is None and report.total < 50.0:
                first_lowered = report.total
        await pacer.close()
        return first_lowered, report.total

    first_lowered, final = run(scenario())
    assert final >= 0.8 * first_lowered
