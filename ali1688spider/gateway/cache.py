"""A call-safe HTTP cache: Scrapy's own ``HTTPCACHE_*`` cache, storing only successful answers.

With ``HTTPCACHE_ENABLED`` on, the project's settings put ``ApiCacheMiddleware`` (Scrapy's
``HttpCacheMiddleware`` with stats of its own) between the error middleware and the
decompression middleware, and ``ApiCachePolicy`` in ``HTTPCACHE_POLICY``:

- only API calls are cached (token calls never reach Scrapy's downloader), and only answers
  the error middleware accepts as a success: never a 5xx, QPS or quota refusal, token or
  signature error, truncated or non-JSON body, nor a business error;
- each kind of call keeps its answers for its own time (``ALI1688_CACHE_EXPIRY``): the
  category tree for days, listings and details for an hour, calls whose answer depends on
  the authorizing account (own catalogue) not at all unless asked for, since the cache key
  (the request fingerprint) names no credential;
- a cache hit is no call: it spends no budget and teaches the pacer nothing;
- the policy is asked on read too: a stored entry it would refuse (an edited or older cache)
  is never served, but dropped and fetched again.

Any Scrapy cache storage works (filesystem, DBM) and ``gateway.redis_cache`` shares one
between the workers of a distributed crawl.
"""

from __future__ import annotations

import logging
import shutil
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.httpcache import HttpCacheMiddleware
from scrapy.extensions.httpcache import DummyPolicy, FilesystemCacheStorage

from ali1688spider.api.catalogue import (
    ACCOUNT_API,
    CATEGORY_API,
    CROSS_ACCOUNT_API,
    DETAIL_API,
    OWN_LIST_API,
    SEARCH_API,
    SHOP_LIST_API,
)
from ali1688spider.config import ConfigError, get_setting, parse_duration
from ali1688spider.distributed.addon import CACHE_STORAGE
from ali1688spider.distributed.keys import redis_url
from ali1688spider.gateway.middleware import classify
from ali1688spider.gateway.request import API_META_KEY

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy import Request
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

EXPIRY_SETTING = "ALI1688_CACHE_EXPIRY"
#: What each API's answers are, for their time in the cache; the token API (``getToken``)
#: has no kind: it is never cached.
CACHE_KINDS = {
    CATEGORY_API: "categories",
    "category.translation.getById": "categories",
    DETAIL_API: "details",
    SEARCH_API: "listings",
    SHOP_LIST_API: "listings",
    CROSS_ACCOUNT_API: "listings",
    # The authorizing seller's own products and account: answers that depend on the token.
    OWN_LIST_API: "own",
    "alibaba.product.get": "own",
    "alibaba.product.simple.get": "own",
    ACCOUNT_API: "own",
}
DEFAULT_EXPIRY = {"categories": "3d", "details": "1h", "listings": "1h", "own": "0"}
def cache_expiry(settings: Mapping[str, Any]) -> dict[str, float]:
    """Seconds an answer of each kind stays fresh (0: not cached), from
    ``ALI1688_CACHE_EXPIRY`` (``kind=duration,…`` or a dict) over the defaults."""
    raw = get_setting(settings, EXPIRY_SETTING)
    given: dict[str, Any]
    if isinstance(raw, dict):
        given = dict(raw)
    else:
        given = {}
        for part in filter(None, (p.strip() for p in str(raw or "").split(","))):
            kind, sep, value = part.partition("=")
            if not sep:
                raise ConfigError(f"{EXPIRY_SETTING}: {part!r} is not kind=duration (e.g. details=1h)")
            given[kind.strip()] = value.strip()
    unknown = sorted(set(given) - set(DEFAULT_EXPIRY))
    if unknown:
        raise ConfigError(
            f"{EXPIRY_SETTING}: unknown kind {unknown[0]!r}; the kinds are {', '.join(DEFAULT_EXPIRY)}"
        )
    expiry = {}
    for kind, value in {**DEFAULT_EXPIRY, **given}.items():
        try:
            expiry[kind] = parse_duration(value)
        except ValueError:
            raise ConfigError(
                f"{EXPIRY_SETTING}: {kind}={value!r} is not a duration (seconds, or 30m, 1h, 3d; 0 = not cached)"
            ) from None
    return expiry


def check_cache_settings(settings: BaseSettings) -> None:
    """ConfigError (one line naming the setting) for an unusable cache configuration."""
    if not settings.getbool("HTTPCACHE_ENABLED"):
        return
    cache_expiry(settings)
    if settings.get("HTTPCACHE_STORAGE") == CACHE_STORAGE and redis_url(settings) is None:
        raise ConfigError(
            "HTTPCACHE_STORAGE is the Redis cache storage but ALI1688_REDIS_URL is not set: set it "
            "(e.g. redis://localhost:6379/0) or use Scrapy's filesystem storage"
        )


def expiry_for(expiry: Mapping[str, float], request: Request) -> float:
    """Seconds *request*'s answer stays fresh; 0 (not cached) for anything but an API call
    with a kind."""
    kind = CACHE_KINDS.get(request.meta.get(API_META_KEY, ""))
    return 0.0 if kind is None else expiry[kind]


def refusal(response: Response) -> str | None:
    """Why an answer must not be cached (an error kind), or None for a success."""
    error = classify(response)
    return None if error is None else error.kind.value


class ApiCachePolicy(DummyPolicy):
    """Caches the successful answers of API calls, each kind for its own time."""

    def __init__(self, settings: Any):
        super().__init__(settings)
        self.expiry = cache_expiry(settings)

    def should_cache_request(self, request: Request) -> bool:
        return expiry_for(self.expiry, request) > 0 and super().should_cache_request(request)

    def should_cache_response(self, response: Response, request: Request) -> bool:
        return refusal(response) is None and super().should_cache_response(response, request)

    def is_cached_response_fresh(self, cachedresponse: Response, request: Request) -> bool:
        stored = cachedresponse.headers.get(b"Date")
        if stored is None:
            return False
        try:
            stored_at = parsedate_to_datetime(stored.decode("latin-1")).timestamp()
        except (TypeError, ValueError):
            return False
        return time.time() - stored_at < expiry_for(self.expiry, request)

    def is_cached_response_valid(
        self, cachedresponse: Response, response: Response, request: Request
    ) -> bool:
        # A stale answer is replaced by the new one, whatever it says.
        return False


class ApiCacheMiddleware(HttpCacheMiddleware):
    """Scrapy's cache middleware, where the policy is asked on read too: an entry it would
    not store (edited, written by an older version or another policy) is never served, but
    dropped and fetched again. API answers are never stored nor served when they are errors,
    whatever ``HTTPCACHE_POLICY`` says. Counts ``ali1688/cache/hit``, ``…/stored``,
    ``…/refused/<kind>`` (answers not stored) and ``…/dropped/<kind>`` (entries not served)."""

    #: One warning per crawl says that entries were dropped; the stats count them.
    _dropped = False

    def process_request(self, request: Request) -> Request | Response | None:
        response = super().process_request(request)
        cached = response if response is not None else request.meta.get("cached_response")
        why = None if cached is None else self._refusal(cached, request)
        if why is not None:
            if response is not None:
                # Scrapy counted it as a hit before the check: it is not one.
                self.stats.inc_value("httpcache/hit", -1)
            self._drop(request, why)
            return None
        if response is not None and API_META_KEY in request.meta:
            self.stats.inc_value("ali1688/cache/hit")
        return response

    def _cache_response(self, response: Response, request: Request) -> None:
        why = self._refusal(response, request)
        if why is None:
            self.stats.inc_value("httpcache/store")
            self.storage.store_response(self.crawler.spider, request, response)
        else:
            self.stats.inc_value("httpcache/uncacheable")
        if API_META_KEY in request.meta:
            self.stats.inc_value("ali1688/cache/stored" if why is None else f"ali1688/cache/refused/{why}")

    def _refusal(self, response: Response, request: Request) -> str | None:
        """Why *response* must not be stored or served (an error kind, or "policy"), or None."""
        why = refusal(response) if API_META_KEY in request.meta else None
        if why is None and not self.policy.should_cache_response(response, request):
            why = "policy"
        return why

    def _drop(self, request: Request, why: str) -> None:
        request.meta.pop("cached_response", None)
        self.stats.inc_value(f"ali1688/cache/dropped/{why}")
        if not self._dropped:
            logger.warning(
                "The HTTP cache held an answer its policy refuses (%s) for %s: it is not served but "
                "dropped and fetched again (ali1688/cache/dropped/* counts them)", why, request.url,
            )
        self._dropped = True
        drop = getattr(self.storage, "drop_response", None)
        if drop is not None:
            drop(self.crawler.spider, request)
        elif isinstance(self.storage, FilesystemCacheStorage):
            # Scrapy's storages have no delete; this one keeps each entry in one directory.
            shutil.rmtree(self.storage._get_request_path(self.crawler.spider, request), ignore_errors=True)
        # Any other storage keeps the entry until an answer replaces it; it is checked on
        # every read, so it is never served.
