"""The HTTP cache keeps Scrapy's contract: the Redis storage behaves as Scrapy's filesystem
storage (the reference, run beside it), and the cache middleware asks the policy on read too.

What is checked is Scrapy 2.19's documented behaviour of ``HTTPCACHE_*``: an entry older than
``HTTPCACHE_EXPIRATION_SECS`` is downloaded again and 0 never expires; a storage stores what
the middleware gives it, whatever ``HTTPCACHE_POLICY`` chose; a response comes back as the
class it was stored as, and one without a ``Content-Type`` as the class its body shows.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from scrapy import Request, Spider
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.test import get_crawler

from ali1688spider.api.catalogue import DETAIL_API
from ali1688spider.gateway.cache import ApiCacheMiddleware
from ali1688spider.gateway.request import build_api_request

FILESYSTEM = "scrapy.extensions.httpcache.FilesystemCacheStorage"
REDIS = "ali1688spider.gateway.redis_cache.RedisCacheStorage"
SUCCESS = json.dumps({"result": {"success": True, "result": {"offerId": 1}}}).encode()
QPS_REFUSAL = json.dumps({"error_code": "gw.QosAppFrequencyLimit", "error_message": "limited frequency"}).encode()


@pytest.fixture(params=[FILESYSTEM, REDIS], ids=["filesystem", "redis"])
def cache(request, tmp_path, redis_url):
    """``cache(**settings)``: a cache middleware with that storage, opened for a spider."""
    opened = []

    def make(**settings) -> ApiCacheMiddleware:
        crawler = get_crawler(Spider, {
            "HTTPCACHE_ENABLED": True, "HTTPCACHE_DIR": str(tmp_path / "cache"),
            "HTTPCACHE_STORAGE": request.param, "ALI1688_REDIS_URL": redis_url,
            "HTTPCACHE_POLICY": "ali1688spider.gateway.cache.ApiCachePolicy", **settings,
        })
        crawler.spider = crawler._create_spider("shop")
        middleware = ApiCacheMiddleware.from_crawler(crawler)
        middleware.spider_opened(crawler.spider)
        opened.append(middleware)
        return middleware

    yield make
    for middleware in opened:
        middleware.spider_closed(middleware.crawler.spider)


def store(middleware: ApiCacheMiddleware, request: Request, response: Response) -> None:
    middleware.storage.store_response(middleware.crawler.spider, request, response)


def retrieve(middleware: ApiCacheMiddleware, request: Request) -> Response | None:
    return middleware.storage.retrieve_response(middleware.crawler.spider, request)


def page(url: str = "http://example.test/page", body: bytes = b"<html>hi</html>") -> HtmlResponse:
    return HtmlResponse(url, body=body, headers={"Content-Type": "text/html"})


def test_an_entry_older_than_the_expiration_is_downloaded_again(cache):
    middleware = cache(HTTPCACHE_EXPIRATION_SECS=1)
    request = Request("http://example.test/page")
    store(middleware, request, page())
    assert retrieve(middleware, request) is not None
    # Not a timed assertion: it must go, however long this machine takes to see it go.
    deadline = time.monotonic() + 30
    while retrieve(middleware, request) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert retrieve(middleware, request) is None


def test_zero_expiration_never_expires(cache, redis_server):
    middleware = cache(HTTPCACHE_EXPIRATION_SECS=0)
    request = Request("http://example.test/page")
    store(middleware, request, page())
    storage = middleware.storage
    if hasattr(storage, "cachedir"):
        # Ten years old on disk, still served.
        old = time.time() - 10 * 365 * 86400
        for path in (storage._get_request_path(middleware.crawler.spider, request),):
            for name in os.listdir(path):
                os.utime(os.path.join(path, name), (old, old))
    else:
        client = redis_server.client()
        keys = client.keys("ali1688:httpcache:shop:*")
        assert len(keys) == 1 and client.ttl(keys[0]) == -1  # Redis never expires it
        client.close()
    assert retrieve(middleware, request) is not None


def test_the_storage_stores_what_another_policy_chose(cache):
    # Scrapy's DummyPolicy caches every request: non-API pages too.
    middleware = cache(HTTPCACHE_POLICY="scrapy.extensions.httpcache.DummyPolicy")
    request = Request("http://example.test/page")
    assert middleware.process_request(request) is None
    middleware.process_response(request, page())
    again = Request("http://example.test/page")
    cached = middleware.process_request(again)
    assert isinstance(cached, HtmlResponse) and cached.body == b"<html>hi</html>"
    assert "cached" in cached.flags


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b'{"result": {"offerId": 1}}', TextResponse), (b"<!DOCTYPE html>\n<title>.</title>", HtmlResponse)],
)
def test_without_a_content_type_the_body_decides_the_class(cache, body, expected):
    middleware = cache()
    request = Request("http://example.test/openapi/param2/1/x/y/1")
    store(middleware, request, Response(request.url, body=body, status=202))
    cached = retrieve(middleware, request)
    assert type(cached) is expected
    assert (cached.status, cached.body) == (202, body)


def test_a_response_comes_back_as_its_class(cache):
    middleware = cache()
    request = Request("http://example.test/data")
    # A text answer whose URL and headers alone would make a plain Response.
    stored = TextResponse(request.url, body=b"\x00binary-looking but text", encoding="utf-8",
                          headers={"X-Kind": "text"}, protocol="HTTP/1.1")
    store(middleware, request, stored)
    cached = retrieve(middleware, request)
    assert type(cached) is TextResponse
    assert (cached.text, cached.protocol, cached.headers.get("X-Kind")) == (stored.text, "HTTP/1.1", b"text")


def test_an_entry_the_policy_refuses_is_never_served_but_dropped(cache):
    middleware = cache()
    request = build_api_request("http://gateway.test/openapi", DETAIL_API, {"offerId": "1"})
    # An entry that holds an error (edited, or written by another policy).
    store(middleware, request, TextResponse(request.url, body=QPS_REFUSAL, headers={"Content-Type": "application/json"}))
    assert retrieve(middleware, request) is not None
    assert middleware.process_request(request) is None
    stats = middleware.crawler.stats
    assert stats.get_value("ali1688/cache/dropped/qps_limit") == 1
    assert stats.get_value("ali1688/cache/hit") is None and not stats.get_value("httpcache/hit")
    assert "cached_response" not in request.meta
    assert retrieve(middleware, request) is None
    # The answer fetched again is stored in its place.
    middleware.process_response(request, TextResponse(
        request.url, body=SUCCESS, headers={"Content-Type": "application/json"}, request=request))
    again = build_api_request("http://gateway.test/openapi", DETAIL_API, {"offerId": "1"})
    assert middleware.process_request(again).body == SUCCESS
