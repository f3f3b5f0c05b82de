"""The daily quota (in Redis on a real redis-server, and local) and the credential list.

The pacers are tests/test_pacing.py's."""

from __future__ import annotations

import json

import pytest
from helpers import run_async, sandbox_apps
from scrapy.settings import Settings

from ali1688spider.api.china_time import china_day
from ali1688spider.config import ConfigError
from ali1688spider.gateway.credentials import credential_sets_from_settings
from ali1688spider.gateway.quota import LocalDailyQuota, RedisDailyQuota


def test_redis_quota_is_shared_and_counted_per_china_day(redis_server, redis_url):
    async def scenario() -> list[bool]:
        one, two = RedisDailyQuota(redis_url, 3), RedisDailyQuota(redis_url, 3)
        results = [await one.take("k"), await two.take("k"), await one.take("k"),
                   await two.take("k"), await one.take("k"), await one.take("other")]
        await one.close()
        await two.close()
        return results

    assert run_async(scenario()) == [True, True, True, False, False, True]
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
    results = run_async(_takes(quota, ["a", "a", "a", "b"]))
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
        ('{"app_key": "1", "app_secret": "topsecret"}', "put the object in [ ]"),
    ],
)
def test_bad_credentials_list_names_the_problem_not_the_secret(value, message):
    with pytest.raises(ConfigError) as info:
        credential_sets_from_settings(Settings({"ALI1688_CREDENTIALS": value}))
    assert message in str(info.value)
    assert "topsecret" not in str(info.value)


@pytest.fixture
def three_app_sandbox(sandbox_factory):
    return sandbox_factory("--qps", "0", "--apps", "3")


def test_a_credential_set_with_a_wrong_secret_is_named_and_the_crawl_goes_on(three_app_sandbox, crawl):
    apps = sandbox_apps(1, 2, 3)
    apps[1]["app_secret"] = "a-wrong-secret-for-app-2"
    ids = three_app_sandbox.ids(three_app_sandbox.shop(60))[:12]
    result = crawl("product", args={"ids": ",".join(ids)},
                   env={"ALI1688_GATEWAY_URL": three_app_sandbox.url, "ALI1688_CREDENTIALS": json.dumps(apps)})
    assert result.returncode == 0, result.log[-3000:]
    assert sorted(item["product_id"] for item in result.items) == sorted(ids)
    lines = [line for line in result.log.splitlines() if "is left out of this crawl" in line]
    assert len(lines) == 1, result.log[-3000:]
    assert f"App key {apps[1]['app_key']} (ALI1688_CREDENTIALS entry 2)" in lines[0]
    assert "gw.SignatureInvalid" in lines[0]
    assert result.stats["ali1688/credentials/retired"] == 1
    assert "a-wrong-secret-for-app-2" not in result.log


def test_when_every_credential_set_is_refused_the_crawl_closes(three_app_sandbox, crawl):
    apps = sandbox_apps(1, 2)
    for app in apps:
        app["app_secret"] = "wrong"
    ids = three_app_sandbox.ids(three_app_sandbox.shop(60))[:4]
    result = crawl("product", args={"ids": ",".join(ids)},
                   env={"ALI1688_GATEWAY_URL": three_app_sandbox.url, "ALI1688_CREDENTIALS": json.dumps(apps)})
    assert result.returncode == 1
    assert result.stats["finish_reason"] == "ali1688_bad_credentials"
    assert result.stats["ali1688/credentials/retired"] == 1
