"""The call-safe HTTP cache: what it stores, for how long, and crawls that spend no call twice.

A user switches on Scrapy's own ``HTTPCACHE_ENABLED``; the project's settings make it
call-safe (``gateway.cache``). The policy is checked against the reference's and the
sandbox's error bodies; crawls run against a sandbox that fails calls on purpose.
"""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from pathlib import Path

import pytest
from reference_data import SAMPLES, sample_bytes
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.settings import Settings
from test_distributed import run_workers

from ali1688spider import settings as project_settings
from ali1688spider.api.catalogue import CATALOGUE, CATEGORY_API, DETAIL_API, OWN_LIST_API, SHOP_LIST_API
from ali1688spider.config import ConfigError
from ali1688spider.gateway.cache import CACHE_KINDS, ApiCachePolicy, cache_expiry, parse_duration
from ali1688spider.gateway.request import build_api_request
from ali1688spider.sandbox import errors as sandbox_errors

ORIGIN = "http://gateway.test/openapi"
SHOP_ARGS_DETAILS = {"details": "1"}


def policy(**settings: str) -> ApiCachePolicy:
    return ApiCachePolicy(Settings({**vars_of(project_settings), **settings}))


def vars_of(module) -> dict:
    return {k: v for k, v in vars(module).items() if k.isupper()}


def api_request(api_name: str = DETAIL_API) -> Request:
    return build_api_request(ORIGIN, api_name, {"offerId": "1"})


def answer(body: bytes, status: int = 200, *, request: Request | None = None, age: float = 0) -> TextResponse:
    request = request or api_request()
    headers = {"Content-Type": "application/json", "Date": formatdate(time.time() - age, usegmt=True)}
    return TextResponse(request.url, status=status, body=body, headers=headers, request=request)


def sandbox_error_bodies() -> list[tuple[str, int, bytes]]:
    """Every gateway refusal the sandbox can give, in the AOP and the TOP shape."""
    errors = [
        sandbox_errors.app_key_not_found(), sandbox_errors.api_unsupported("x.y"),
        sandbox_errors.signature_invalid(), sandbox_errors.acl_decline(),
        sandbox_errors.token_required(), sandbox_errors.param_missing("offerId"),
        sandbox_errors.param_invalid("offerId", "not a number"),
        sandbox_errors.quota_exhausted(60), sandbox_errors.qps_limited(),
    ]
    bodies = []
    for error in errors:
        bodies.append((f"{error.code} (AOP)", error.status, json.dumps(error.aop_body("r1")).encode()))
        bodies.append((f"{error.code} (TOP)", 200, json.dumps(error.top_body("r1")).encode()))
    return bodies


def reference_error_bodies() -> list[tuple[str, int, bytes]]:
    names = [p.name for p in SAMPLES.glob("error.*")] + [p.name for p in SAMPLES.glob("top.error_response.*")]
    assert len(names) >= 6
    status = {"error.401.need-user-authorized.json": 401}
    return [(name, status.get(name, 400), sample_bytes(name)) for name in sorted(names)]


BROKEN_BODIES = [
    ("HTTP 502 page", 502, b"<html><body>Bad Gateway</body></html>"),
    ("HTTP 500 JSON", 500, b'{"error_code": "gw.InternalError", "error_message": "oops"}'),
    ("truncated JSON", 200, b'{"result": {"success": true, "result": {"offerId": 1'),
    ("not JSON", 200, b"not json at all"),
    ("a JSON list", 200, b"[1, 2, 3]"),
    ("business error in HTTP 200", 200,
     json.dumps({"result": {"success": False, "code": "500", "message": "offer does not exist"}}).encode()),
]


@pytest.mark.parametrize(
    ("name", "status", "body"), [*reference_error_bodies(), *sandbox_error_bodies(), *BROKEN_BODIES]
)
def test_no_error_answer_is_cached(name, status, body):
    assert not policy().should_cache_response(answer(body, status), api_request()), name


def test_every_documented_success_is_cached():
    responses = sorted(SAMPLES.glob("*.response.json"))
    assert len(responses) >= 9
    for path in responses:
        assert policy().should_cache_response(answer(path.read_bytes()), api_request()), path.name


def test_each_kind_of_answer_keeps_for_its_own_time():
    cache = policy()
    success = sample_bytes("product.search.queryProductDetail.response.json")
    detail, categories = api_request(DETAIL_API), api_request(CATEGORY_API)
    assert cache.is_cached_response_fresh(answer(success, age=3500), detail)
    assert not cache.is_cached_response_fresh(answer(success, age=3700), detail)
    assert cache.is_cached_response_fresh(answer(success, age=2 * 86400), categories)
    assert not cache.is_cached_response_fresh(answer(success, age=4 * 86400), categories)
    # The own catalogue depends on whose token signs the call, which no cache key names.
    assert not cache.should_cache_request(api_request(OWN_LIST_API))
    assert policy(ALI1688_CACHE_EXPIRY="own=10m").should_cache_request(api_request(OWN_LIST_API))
    assert not policy(ALI1688_CACHE_EXPIRY="details=0").should_cache_request(detail)
    shorter = policy(ALI1688_CACHE_EXPIRY="listings=30m, details=2h")
    assert not shorter.is_cached_response_fresh(answer(success, age=1900), api_request(SHOP_LIST_API))
    assert shorter.is_cached_response_fresh(answer(success, age=7000), detail)


def test_only_api_calls_are_cached():
    assert not policy().should_cache_request(Request("http://example.test/page"))
    assert set(CACHE_KINDS) == set(CATALOGUE) - {"getToken"}
    assert not policy().should_cache_request(build_api_request(ORIGIN, "getToken", {"code": "x"}))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("details=soon", "ALI1688_CACHE_EXPIRY: details='soon' is not a duration"),
        ("detail=1h", "ALI1688_CACHE_EXPIRY: unknown kind 'detail'; the kinds are"),
        ("1h", "ALI1688_CACHE_EXPIRY: '1h' is not kind=duration"),
    ],
)
def test_a_bad_expiry_names_the_setting(value, message):
    with pytest.raises(ConfigError, match=message):
        cache_expiry({"ALI1688_CACHE_EXPIRY": value})


def test_durations():
    assert [parse_duration(v) for v in ("90", "90s", "1.5m", "2h", "3d", "0")] == [90, 90, 90, 7200, 259200, 0]


def cache_settings(tmp_path: Path, **more: str) -> dict[str, str]:
    return {"HTTPCACHE_ENABLED": "1", "HTTPCACHE_DIR": str(tmp_path / "cache"), "ALI1688_QPS": "200", **more}


def test_a_crawl_through_failing_gateway_is_complete_and_the_second_spends_no_call(
    sandbox_factory, crawl, tmp_path
):
    sandbox = sandbox_factory("--qps", "0", "--page-cap", "2", "--fail-5xx", "0.1", "--fail-qps", "0.1")
    shop = sandbox.shop(120)
    args = {"seller_open_id": shop["seller_open_id"], **SHOP_ARGS_DETAILS}
    env, settings = sandbox.env(), cache_settings(tmp_path)
    first = crawl("shop", args=args, settings=settings, env=env)
    assert first.returncode == 0, first.log[-2000:]
    stats, first_items = first.stats, first.items
    assert stats["ali1688/cache/refused/server_error"] > 0
    assert stats["ali1688/cache/refused/qps_limit"] > 0
    assert stats["ali1688/cache/stored"] == stats["ali1688/responses/ok"]
    expected = set(sandbox.ids(shop))
    assert {item["product_id"] for item in first_items} == expected

    before = sandbox.stats()["total_calls"]
    second = crawl("shop", args=args, settings=settings, env=env)
    assert second.returncode == 0, second.log[-2000:]
    assert sandbox.stats()["total_calls"] == before
    assert second.stats.get("ali1688/calls", 0) == 0
    assert second.stats["ali1688/cache/hit"] == stats["ali1688/cache/stored"]
    assert "0 calls, %d cache hits" % second.stats["ali1688/cache/hit"] in second.log

    def without_time(items):
        return sorted((json.dumps({k: v for k, v in i.items() if k != "crawled_at"}, sort_keys=True)
                       for i in items))
    assert without_time(second.items) == without_time(first_items)
    # No secret is kept with the cached answers.
    cached = b"".join(p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file())
    for secret in (sandbox.info["app_secret"], sandbox.info["access_token"], "_aop_signature", "access_token="):
        assert secret.encode() not in cached


def test_cache_hits_spend_no_budget(sandbox, crawl, tmp_path):
    ids = ",".join(sandbox.ids(sandbox.shop(60))[:6])
    settings = cache_settings(tmp_path)
    first = crawl("product", args={"ids": ids}, settings=settings, env=sandbox.env())
    assert first.returncode == 0, first.log[-2000:]
    assert first.stats["ali1688/cache/stored"] == 6
    again = crawl("product", args={"ids": ids}, env=sandbox.env(),
                  settings={**settings, "ALI1688_MAX_REQUESTS": "2"})
    assert again.returncode == 0, again.log[-2000:]
    assert len(again.items) == 6
    assert "ali1688_budget_spent" not in again.log


def test_the_embedded_sandbox_answers_are_cached_across_runs(crawl, tmp_path):
    settings = cache_settings(tmp_path)
    first = crawl("categories", args={"depth": "2"}, settings=settings)
    assert first.returncode == 0, first.log[-2000:]
    first_stats, first_items = first.stats, first.items
    second = crawl("categories", args={"depth": "2"}, settings=settings)
    assert second.returncode == 0, second.log[-2000:]
    assert first_stats["ali1688/calls"] > 0
    assert second.stats.get("ali1688/calls", 0) == 0
    assert second.stats["ali1688/cache/hit"] == first_stats["ali1688/cache/stored"]
    assert len(second.items) == len(first_items) > 0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"HTTPCACHE_ENABLED": "1", "ALI1688_CACHE_EXPIRY": "details=soon"},
         "ALI1688_CACHE_EXPIRY: details='soon' is not a duration"),
        ({"HTTPCACHE_ENABLED": "1",
          "HTTPCACHE_STORAGE": "ali1688spider.gateway.redis_cache.RedisCacheStorage"},
         "HTTPCACHE_STORAGE is the Redis cache storage but ALI1688_REDIS_URL is not set"),
    ],
)
def test_bad_cache_settings_are_one_line_and_exit_2(crawl, settings, message):
    result = crawl("categories", settings=settings)
    assert result.returncode == 2
    assert message in result.log
    assert "Traceback" not in result.log


def test_workers_share_the_redis_cache(tmp_path, sandbox_factory, redis_url, redis_server):
    sandbox = sandbox_factory("--qps", "0", "--page-cap", "2")
    shop = sandbox.shop(120)
    env = sandbox.env(ALI1688_REDIS_URL=redis_url, ALI1688_REDIS_IDLE_TIMEOUT="2", ALI1688_QPS="200")
    args = {"seller_open_id": shop["seller_open_id"], **SHOP_ARGS_DETAILS}
    settings = {"HTTPCACHE_ENABLED": "1", "HTTPCACHE_EXPIRATION_SECS": "7200"}
    first = run_workers(tmp_path, 1, "shop", args, env, prefix="first", settings=settings)
    assert first[0].returncode == 0, first[0].log[-2000:]
    calls = sandbox.stats()["total_calls"]
    client = redis_server.client()
    cached = client.keys("ali1688:httpcache:shop:*")
    assert len(cached) == first[0].stats["ali1688/cache/stored"]
    assert 0 < client.ttl(cached[0]) <= 7200
    client.delete("ali1688:shop:dupefilter")
    client.close()
    # Another worker (another process, as on another machine) crawls the shop again.
    second = run_workers(tmp_path, 1, "shop", args, env, prefix="second", settings=settings)
    assert second[0].returncode == 0, second[0].log[-2000:]
    assert sandbox.stats()["total_calls"] == calls
    assert len(second[0].items) == len(first[0].items) == shop["products"]


def test_a_cached_error_is_never_served_but_fetched_again(sandbox, crawl, tmp_path):
    ids = sandbox.ids(sandbox.shop(60))[:1]
    settings = cache_settings(tmp_path)
    first = crawl("product", args={"ids": ids[0]}, settings=settings, env=sandbox.env())
    assert first.returncode == 0, first.log[-2000:]
    # The entry edited to hold a QPS refusal (as an older version or a hand could leave it).
    (body,) = (tmp_path / "cache").rglob("response_body")
    body.write_bytes(json.dumps({"error_code": "gw.QosAppFrequencyLimit",
                                 "error_message": "App call exceeds limited frequency"}).encode())
    second = crawl("product", args={"ids": ids[0]}, settings=settings, env=sandbox.env())
    assert second.returncode == 0, second.log[-2000:]
    assert second.stats["ali1688/cache/dropped/qps_limit"] == 1
    assert second.stats["ali1688/calls"] == 1 and "ali1688/cache/hit" not in second.stats
    assert [item["product_id"] for item in second.items] == ids
    # The answer fetched again took its place.
    third = crawl("product", args={"ids": ids[0]}, settings=settings, env=sandbox.env())
    assert third.stats.get("ali1688/calls", 0) == 0 and third.stats["ali1688/cache/hit"] == 1
