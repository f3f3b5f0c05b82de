"""A Scrapy HTTP cache storage in Redis, shared by the workers of a distributed crawl.

``HTTPCACHE_STORAGE = "ali1688spider.gateway.redis_cache.RedisCacheStorage"`` (the default
of a distributed crawl with ``HTTPCACHE_ENABLED``). It behaves as Scrapy's filesystem storage
does, under any ``HTTPCACHE_POLICY``: it stores what the cache middleware gives it (the
policy decides what that is), an entry older than ``HTTPCACHE_EXPIRATION_SECS`` is gone
(Redis expires it; 0 keeps it until it is replaced), ``HTTPCACHE_GZIP`` compresses bodies,
and an answer comes back as the class it was stored as (``TextResponse`` for a JSON body
without a ``Content-Type``, as the filesystem storage guesses it). Each answer is one hash
under ``ALI1688_REDIS_PREFIX``. Entries are JSON and raw bytes, never pickles, and only
Scrapy's own response classes are rebuilt: a shared Redis must not be able to run code in a
worker.

Scrapy's storage interface is synchronous, so these are blocking calls on the reactor thread,
as scrapy-redis's own; while Redis is unreachable the cache is skipped (a miss, nothing
stored) after one warning, and the crawl goes on.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import redis
from scrapy.http import Headers, Response, TextResponse
from scrapy.responsetypes import responsetypes
from scrapy.utils.misc import load_object

from ali1688spider.config import ConfigError
from ali1688spider.distributed.keys import cache_key, key_prefix, redis_url

if TYPE_CHECKING:
    from scrapy import Request, Spider

logger = logging.getLogger(__name__)

#: Seconds a cache lookup may take before it counts as a miss.
SOCKET_TIMEOUT = 5.0
#: The only classes an entry may name: importing whatever a shared Redis says would run code.
TRUSTED_CLASSES = "scrapy.http."


class RedisCacheStorage:
    """Cached answers in Redis, one hash per request fingerprint."""

    def __init__(self, settings: Any):
        url = redis_url(settings)
        if url is None:
            raise ConfigError("the Redis cache storage needs ALI1688_REDIS_URL")
        self.prefix = key_prefix(settings)
        self.expiration_secs = settings.getint("HTTPCACHE_EXPIRATION_SECS")
        self.use_gzip = settings.getbool("HTTPCACHE_GZIP")
        self.client = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
        )
        self._unreachable = False

    def open_spider(self, spider: Spider) -> None:
        self._fingerprinter = spider.crawler.request_fingerprinter

    def close_spider(self, spider: Spider) -> None:
        self.client.close()

    def retrieve_response(self, spider: Spider, request: Request) -> Response | None:
        entry = self._call(lambda: self.client.hgetall(self._key(spider, request)))
        if not entry:
            return None
        meta = json.loads(entry[b"meta"])
        body = gzip.decompress(entry[b"body"]) if meta.get("gzip") else entry[b"body"]
        request.meta["cache_timestamp"] = meta["timestamp"]
        return build_response(meta, body)

    def store_response(self, spider: Spider, request: Request, response: Response) -> None:
        meta = response_meta(response)
        meta.update(timestamp=time.time(), gzip=self.use_gzip)
        body = gzip.compress(response.body) if self.use_gzip else response.body
        key = self._key(spider, request)

        def store() -> None:
            with self.client.pipeline() as pipe:
                pipe.delete(key)
                pipe.hset(key, mapping={"meta": json.dumps(meta), "body": body})
                if self.expiration_secs > 0:
                    pipe.expire(key, self.expiration_secs)
                pipe.execute()

        self._call(store)

    def drop_response(self, spider: Spider, request: Request) -> None:
        """Forget the entry of *request* (one the cache policy refuses to serve)."""
        self._call(lambda: self.client.delete(self._key(spider, request)))

    def _key(self, spider: Spider, request: Request) -> str:
        return cache_key(self.prefix, spider.name, self._fingerprinter.fingerprint(request).hex())

    def _call(self, call: Any) -> Any:
        """*call*'s result, or None (after one warning per outage) while Redis is unreachable."""
        try:
            result = call()
        except redis.RedisError as exc:
            if not self._unreachable:
                logger.warning("Redis cache unreachable (%s): calls go to the gateway until it is back", exc)
            self._unreachable = True
            return None
        self._unreachable = False
        return result


def response_meta(response: Response) -> dict[str, Any]:
    """What rebuilds *response* besides its body, as JSON-safe values."""
    meta: dict[str, Any] = {
        "url": response.url,
        "status": response.status,
        "headers": {
            name.decode("latin-1"): [v.decode("latin-1") for v in values]
            for name, values in response.headers.items()
        },
        "flags": list(response.flags),
        "protocol": response.protocol,
        "ip_address": None if response.ip_address is None else str(response.ip_address),
    }
    # A plain Response names no class: its class is guessed again on read, as Scrapy does.
    if type(response) is not Response:
        meta["class"] = f"{type(response).__module__}.{type(response).__name__}"
    if isinstance(response, TextResponse):
        meta["encoding"] = response.encoding
    return meta


def build_response(meta: dict[str, Any], body: bytes) -> Response:
    """The response *meta* and *body* describe: its stored class when that is one of Scrapy's,
    else the class Scrapy guesses from headers, URL and body."""
    headers = Headers(meta["headers"], encoding="latin-1")
    respcls = _trusted_class(meta.get("class") or "")
    if respcls is None:
        respcls = responsetypes.from_args(headers=headers, url=meta["url"], body=body)
    kwargs: dict[str, Any] = {
        "url": meta["url"], "status": meta["status"], "headers": headers, "body": body,
        "flags": meta.get("flags"), "protocol": meta.get("protocol"),
    }
    if meta.get("ip_address"):
        kwargs["ip_address"] = ipaddress.ip_address(meta["ip_address"])
    if issubclass(respcls, TextResponse) and meta.get("encoding"):
        kwargs["encoding"] = meta["encoding"]
    return respcls(**kwargs)


def _trusted_class(name: str) -> type[Response] | None:
    if not name.startswith(TRUSTED_CLASSES):
        return None
    try:
        found = load_object(name)
    except (ImportError, NameError, AttributeError, ValueError):
        return None
    return found if isinstance(found, type) and issubclass(found, Response) else None
