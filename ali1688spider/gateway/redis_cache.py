"""A Scrapy HTTP cache storage in Redis, shared by the workers of a distributed crawl.

``HTTPCACHE_STORAGE = "ali1688spider.gateway.redis_cache.RedisCacheStorage"`` (the default
of a distributed crawl with ``HTTPCACHE_ENABLED``). Each answer is one hash under
``ALI1688_REDIS_PREFIX`` that Redis expires after its kind's ``ALI1688_CACHE_EXPIRY``, so the
cache holds no more than the answers of one expiry period. Entries are JSON and raw bytes,
never pickles: a shared Redis must not be able to run code in a worker.

Scrapy's storage interface is synchronous, so these are blocking calls on the reactor thread,
as scrapy-redis's own; while Redis is unreachable the cache is skipped (a miss, nothing
stored) after one warning, and the crawl goes on.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import redis
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes

from ali1688spider.config import ConfigError
from ali1688spider.distributed.keys import cache_key, key_prefix, redis_url
from ali1688spider.gateway.cache import cache_expiry, expiry_for

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.http import Response

logger = logging.getLogger(__name__)

#: Seconds a cache lookup may take before it counts as a miss.
SOCKET_TIMEOUT = 5.0


class RedisCacheStorage:
    """Cached answers in Redis, one expiring hash per request fingerprint."""

    def __init__(self, settings: Any):
        url = redis_url(settings)
        if url is None:
            raise ConfigError("the Redis cache storage needs ALI1688_REDIS_URL")
        self.prefix = key_prefix(settings)
        self.expiry = cache_expiry(settings)
        self.client = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
        )
        self._unreachable = False

    def open_spider(self, spider: Spider) -> None:
        self._fingerprinter = spider.crawler.request_fingerprinter

    def close_spider(self, spider: Spider) -> None:
        self.client.close()

    def retrieve_response(self, spider: Spider, request: Request) -> Response | None:
        try:
            entry = self.client.hgetall(self._key(spider, request))
        except redis.RedisError as exc:
            self._warn(exc)
            return None
        self._unreachable = False
        if not entry:
            return None
        meta = json.loads(entry[b"meta"])
        headers = Headers(meta["headers"], encoding="latin-1")
        respcls = responsetypes.from_args(headers=headers, url=meta["url"])
        return respcls(url=meta["url"], status=meta["status"], headers=headers, body=entry[b"body"])

    def store_response(self, spider: Spider, request: Request, response: Response) -> None:
        seconds = expiry_for(self.expiry, request)
        if seconds <= 0:
            return
        meta = {
            "url": response.url,
            "status": response.status,
            "headers": {
                name.decode("latin-1"): [v.decode("latin-1") for v in values]
                for name, values in response.headers.items()
            },
        }
        key = self._key(spider, request)
        try:
            with self.client.pipeline() as pipe:
                pipe.hset(key, mapping={"meta": json.dumps(meta), "body": response.body})
                pipe.expire(key, max(1, round(seconds)))
                pipe.execute()
        except redis.RedisError as exc:
            self._warn(exc)

    def _key(self, spider: Spider, request: Request) -> str:
        return cache_key(self.prefix, spider.name, self._fingerprinter.fingerprint(request).hex())

    def _warn(self, exc: Exception) -> None:
        if not self._unreachable:
            logger.warning("Redis cache unreachable (%s): calls go to the gateway until it is back", exc)
        self._unreachable = True
