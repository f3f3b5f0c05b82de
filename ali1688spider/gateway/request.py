"""Unsigned API requests (what the scheduler, dupefilter, JOBDIR and Redis hold) and the
``ali1688_*`` meta keys every component of a call's journey reads.

An API request carries only the API name and the business parameters. Its URL is the
gateway's origin (``Endpoint.origin``) and the API path without the app key
(``{origin}/param2/1/{namespace}/{name}``) and its body the sorted, form-encoded business
parameters, so the default request fingerprint is stable across runs and processes, and no
secret is ever queued: the download handler signs each attempt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from scrapy import Request

from ali1688spider.api.catalogue import get_api
from ali1688spider.api.signing import encode_params

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from scrapy.http import Response

#: The API's name and its encoded business parameters: set by the request factory.
API_META_KEY = "ali1688_api"
PARAMS_META_KEY = "ali1688_params"
#: Set as an attempt is let go, for the middleware: which app key and token generation it
#: used, and when its app key's pacer granted it (on the pacer's clock).
APP_KEY_META_KEY = "ali1688_app_key"
TOKEN_GENERATION_META_KEY = "ali1688_token_generation"
GRANTED_AT_META_KEY = "ali1688_granted_at"
#: Set by the middleware on a retry after a server error: not before this wall-clock time.
NOT_BEFORE_META_KEY = "ali1688_not_before"
#: The middleware's retry counters, and whether the token was already refreshed once.
QPS_RETRIES_META_KEY = "ali1688_qps_retries"
RETRIES_META_KEY = "ali1688_retries"
TOKEN_RETRIED_META_KEY = "ali1688_token_retried"
#: The download slot every API call goes through: the add-on gives it no delay and room for
#: ``CONCURRENT_REQUESTS`` calls, so that a project's politeness for web pages
#: (``DOWNLOAD_DELAY = 1`` and one request per domain in ``scrapy startproject``'s template)
#: does not hold calls to one a second. The pacer (``ALI1688_QPS``) sets their rate.
API_DOWNLOAD_SLOT = "ali1688-api"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded;charset=UTF-8"


def canonical_api_url(origin: str, api_name: str) -> str:
    """The queue-side URL of *api_name*: the AOP path without the app key."""
    spec = get_api(api_name)
    return f"{origin.rstrip('/')}/param2/{spec.version}/{spec.namespace}/{spec.name}"


def build_api_request(
    origin: str,
    api_name: str,
    params: Mapping[str, Any],
    *,
    callback: Callable[..., Any] | None = None,
    errback: Callable[..., Any] | None = None,
    cb_kwargs: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    priority: int = 0,
    dont_filter: bool = False,
) -> Request:
    """A request for one call of *api_name* with business *params* (None values are dropped)."""
    encoded = encode_params(params)
    body = urlencode(sorted(encoded.items()))
    request_meta = {
        **(meta or {}),
        API_META_KEY: api_name,
        PARAMS_META_KEY: encoded,
        # Our middleware retries API calls with its own budgets and back-off, and refuses
        # redirects: a signed call must not go elsewhere.
        "dont_retry": True,
        "dont_redirect": True,
        # An API call is no page: a project's ROBOTSTXT_OBEY (on in `scrapy startproject`'s
        # template) must not fetch the gateway's robots.txt or hold calls back for it.
        "dont_obey_robotstxt": True,
        "download_slot": API_DOWNLOAD_SLOT,
        "autothrottle_dont_adjust_delay": True,
    }
    return Request(
        canonical_api_url(origin, api_name),
        method="POST",
        body=body,
        headers={"Content-Type": FORM_CONTENT_TYPE, "Accept": "application/json"},
        callback=callback,
        errback=errback,
        cb_kwargs=cb_kwargs,
        meta=request_meta,
        priority=priority,
        dont_filter=dont_filter,
    )



def is_cache_hit(response: Response) -> bool:
    """The answer came from Scrapy's HTTP cache (``gateway.cache``), not from the gateway."""
    return "cached" in response.flags
