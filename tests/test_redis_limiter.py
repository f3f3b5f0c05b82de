"""The shared rate limiter and daily quota in Redis, and the credential list, on a real redis-server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

import pytest
from scrapy.settings import Settings

from ali1688spider.config import ConfigError
from ali1688spider.gateway.credentials import credential_sets_from_settings
from ali1688spider.api.china_time import china_day
from ali1688spider.distributed.quota import RedisDailyQuota
from ali1688spider.gateway.quota import LocalDailyQuota
from ali1688spider.distributed.pacer import DISTRIBUTED_HEADROOM, RedisRateLimiter

from conftest import REPO

WORKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from ali1688spider.distributed.pacer import RedisRateLimiter

    async def main(url, qps, calls):
        limiter = RedisRateLimiter(url, qps)
        released = []
        for _ in range(calls):
            await limiter.acquire("8688001")
            released.append(time.time())
        await limiter.close()
        print(json.dumps(released))

    asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3])))
    """
)


def run_workers(redis_url: str, qps: float, calls: int, workers: int) -> list[float]:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, redis_url, str(qps), str(calls)],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )
        for _ in range(workers)
    ]
    times: list[float] = []
    for process in processes:
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        times.extend(json.loads(out))
    return sorted(times)


def test_processes_share_one_even_pace(redis_url):
    qps, calls, workers = 20.0, 12, 3
    times = run_workers(redis_url, qps, calls, workers)
    interval = (1 + DISTRIBUTED_HEADROOM) / qps
    gaps = [b - a for a, b in zip(times, times[1:])]
    # Grants are one interval apart in Redis (a late one is booked at most GRANT_SLACK late),
    # so the whole run spans at least the schedule, whatever process got which grant.
    assert times[-1] - times[0] >= (len(times) - 1) * interval - 0.01
    # Evenly spaced: no burst of two releases together (a token bucket would allow them).
    assert sorted(gaps)[len(gaps) // 2] >= interval * 0.9
    assert len(times) == calls * workers


def test_penalize_holds_every_caller_back(redis_url):
    async def scenario() -> float:
        first, second = RedisRateLimiter(redis_url, 50.0), RedisRateLimiter(redis_url, 50.0)
        await first.acquire("k")
        first.penalize("k", 1.0)
        await asyncio.sleep(0.05)  # let the hold-back task reach Redis
        loop = asyncio.get_running_loop()
        started = loop.time()
        await second.acquire("k")
        waited = loop.time() - started
        await first.close()
        await second.close()
        return waited

    assert asyncio.run(scenario()) >= 0.85


def test_app_keys_are_paced_separately(redis_url):
    async def scenario() -> tuple[float, float]:
        limiter = RedisRateLimiter(redis_url, 2.0)
        loop = asyncio.get_running_loop()
        await limiter.acquire("a")
        started = loop.time()
        await limiter.acquire("b")  # another app key: no wait for "a"'s slot
        waited = loop.time() - started
        await limiter.acquire("a")  # "a" again: half a second (+ headroom) after its last
        waited_a = loop.time() - started
        await limiter.close()
        return waited, waited_a

    waited, waited_a = asyncio.run(scenario())
    assert waited < 0.4 < waited_a


def test_redis_quota_is_shared_and_counted_per_china_day(redis_server, redis_url):
    async def scenario() -> list[bool]:
        one, two = RedisDailyQuota(redis_url, 3), RedisDailyQuota(redis_url, 3)
        results = [await one.take("k"), await two.take("k"), await one.take("k"),
                   await two.take("k"), await one.take("k"), await one.take("other")]
        await one.close()
        await two.close()
        return results

    assert asyncio.run(scenario()) == [True, True, True, False, False, True]
    client = redis_server.client()
    seconds, _ = client.time()
    # The counter is keyed by the China day of the Redis clock, and says what was spent.
    assert int(client.get(f"ali1688:quota:k:{china_day(seconds)}")) == 3
    assert 0 < client.ttl(f"ali1688:quota:k:{china_day(seconds)}") <= 2 * 86400


def test_china_day_turns_at_16_utc():
    midnight_china = 1767196800  # 2026-01-01T00:00+08:00 = 2025-12-31T16:00Z
    assert china_day(midnight_china) == china_day(midnight_china - 1) + 1


def test_local_quota():
    quota = LocalDailyQuota(2)
    results = asyncio.run(_takes(quota, ["a", "a", "a", "b"]))
    assert results == [True, True, False, True]


async def _takes(quota, keys):
    return [await quota.take(key) for key in keys]


CREDENTIALS = [
    {"app_key": "8688002", "app_secret": "sandbox-app-secret-0002",
     "access_token": "sandbox-access-token-0002", "refresh_token": "sandbox-refresh-token-0002"},
    {"app_key": "8688003", "app_secret": "sandbox-app-secret-0003"},
]


def test_credentials_list_from_json_and_file(tmp_path):
    settings = Settings({"ALI1688_APP_KEY": "8688001", "ALI1688_APP_SECRET": "s1",
                         "ALI1688_CREDENTIALS": json.dumps(CREDENTIALS)})
    sets = credential_sets_from_settings(settings)
    assert [c.app_key for c in sets] == ["8688001", "8688002", "8688003"]
    assert sets[1].access_token == "sandbox-access-token-0002" and sets[2].access_token is None
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(CREDENTIALS), encoding="utf-8")
    from_file = credential_sets_from_settings(Settings({"ALI1688_CREDENTIALS": str(path)}))
    assert [c.app_key for c in from_file] == ["8688002", "8688003"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('[{"app_key": "1", "app_secret": "topsecret"', "not valid JSON"),
        ('[{"app_key": "1"}]', "entry 1 needs both app_key and app_secret"),
        ('[{"app_key": "1", "app_secret": "topsecret", "token": "x"}]', "unknown field(s) token"),
        ('[{"app_key": "1", "app_secret": "topsecret"}, {"app_key": "1", "app_secret": "topsecret"}]',
         "configured twice"),
        ("/nonexistent/credentials.json", "cannot read"),
        ("[]", "non-empty JSON list"),
    ],
)
def test_bad_credentials_list_names_the_problem_not_the_secret(value, message):
    with pytest.raises(ConfigError) as info:
        credential_sets_from_settings(Settings({"ALI1688_CREDENTIALS": value}))
    assert message in str(info.value)
    assert "topsecret" not in str(info.value)
