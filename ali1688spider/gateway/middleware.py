"""Downloader middleware for API calls: error classification, retries, token refresh, budget.

- Every answer is classified (``api.errors``) and reported to the call's admission, which
  learns its app key's pace from it (``gateway.pacing``).
- QPS-limit answers: retried with their own budget (``ALI1688_QPS_RETRY_TIMES``); the pacer,
  which has just lowered the app key's rate and holds it, decides when the retry goes.
- Server errors, broken answers and network failures: retried after an exponential,
  jittered back-off (``ALI1688_RETRY_TIMES``).
- An expired/invalid token: refresh it once, then retry the call.
- Signature, ACL and credential errors: close the crawl with ``ali1688_bad_credentials`` and
  one log line that names the setting to fix. A used-up quota: ``ali1688_quota_exhausted``.
- ``ALI1688_MAX_REQUESTS``: close with ``ali1688_budget_spent`` when the budget is spent
  (answers from the HTTP cache, ``gateway.cache``, spend none).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import replace
from typing import TYPE_CHECKING, NoReturn

from scrapy.exceptions import IgnoreRequest

from ali1688spider.api.catalogue import get_api, permission_advice
from ali1688spider.api.errors import (
    ApiError,
    ErrorKind,
    classify_decoded,
    classify_response,
    redirect_error,
)
from ali1688spider.closing import (
    BAD_CREDENTIALS,
    BUDGET_SPENT,
    QUOTA_EXHAUSTED,
    close_crawl,
    closing_reason,
    keep_queued,
)
from ali1688spider.config import get_float, get_int
from ali1688spider.gateway.request import (
    API_META_KEY,
    APP_KEY_META_KEY,
    NOT_BEFORE_META_KEY,
    PARAMS_META_KEY,
    QPS_RETRIES_META_KEY,
    RETRIES_META_KEY,
    TOKEN_GENERATION_META_KEY,
    TOKEN_RETRIED_META_KEY,
    is_cache_hit,
)
from ali1688spider.gateway.session import GatewaySession
from ali1688spider.redact import redact

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from typing_extensions import Self

logger = logging.getLogger(__name__)

_FIX_HINTS = {
    ErrorKind.SIGNATURE_INVALID: "check ALI1688_APP_SECRET (and ALI1688_APP_KEY): the gateway "
    "could not verify the signature",
    ErrorKind.TOKEN_INVALID: "the access token was rejected and could not be refreshed: set "
    "ALI1688_ACCESS_TOKEN / ALI1688_REFRESH_TOKEN (run `ali1688 auth refresh`)",
    ErrorKind.QUOTA_EXHAUSTED: "the app's call quota is used up: wait for the next day or "
    "raise the quota (ALI1688_DAILY_QUOTA)",
}


class ApiRequestError(IgnoreRequest):
    """An API call that failed for good; ``error`` says why (errbacks may inspect it)."""

    def __init__(self, error: ApiError, api_name: str, *, closes_crawl: bool = False):
        super().__init__(f"{api_name}: {error.describe()}")
        self.error = error
        self.api_name = api_name
        #: The crawl is closing because of it, and the log has already said why.
        self.closes_crawl = closes_crawl


def backoff_delay(attempt: int, *, base: float, maximum: float) -> float:
    """Exponential back-off with jitter for the *attempt*-th retry (1-based)."""
    return min(maximum, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


class ApiErrorMiddleware:
    """Turns gateway and business errors of API calls into retries, refreshes or a clean close."""

    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.retry_times = get_int(settings, "ALI1688_RETRY_TIMES")
        self.qps_retry_times = get_int(settings, "ALI1688_QPS_RETRY_TIMES")
        self.backoff_base = get_float(settings, "ALI1688_BACKOFF_BASE")
        self.backoff_max = get_float(settings, "ALI1688_BACKOFF_MAX")
        self.max_requests = get_int(settings, "ALI1688_MAX_REQUESTS")
        self.session = GatewaySession.of(crawler)
        self._attempts = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if API_META_KEY not in request.meta:
            return None
        reason = closing_reason(self.crawler)
        if reason is not None:
            raise keep_queued(self.crawler, request, f"the crawl is closing: {reason}")
        if self.max_requests and self._attempts >= self.max_requests:
            close_crawl(
                self.crawler,
                BUDGET_SPENT,
                "The call budget ALI1688_MAX_REQUESTS=%d is spent",
                self.max_requests,
            )
            raise keep_queued(self.crawler, request, "the call budget is spent")
        self._attempts += 1
        return None

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        api_name = request.meta.get(API_META_KEY)
        if api_name is None:
            return response
        error = classify(response)
        if error is not None:
            # An answer that quotes a secret back, even one no pattern names, shows it nowhere.
            error = replace(error, message=redact(error.message, self.session.tokens.secrets()))
        if is_cache_hit(response):
            # No call reached the gateway: no budget spent, nothing for the pacer to learn.
            self._attempts -= 1
        else:
            self.session.admission.answered(request, error)
        if error is None:
            self.stats.inc_value("ali1688/responses/ok")
            return response
        self.stats.inc_value(f"ali1688/errors/{error.kind.value}")
        self.stats.inc_value(f"ali1688/errors/code/{error.code}")
        if error.kind is ErrorKind.QPS_LIMIT:
            return self._retry(
                request, error, QPS_RETRIES_META_KEY, self.qps_retry_times, "qps", back_off=False
            )
        if error.retryable:
            return self._retry(request, error, RETRIES_META_KEY, self.retry_times, "transient")
        if error.kind is ErrorKind.TOKEN_INVALID:
            return await self._refresh_and_retry(request, error)
        if error.fatal_credentials:
            return self._refused_credentials(request, error)
        if error.kind is ErrorKind.QUOTA_EXHAUSTED:
            self._fatal(QUOTA_EXHAUSTED, error, api_name)
        # Something that does not exist is the spider's to report (one summary line, or why
        # a shop is missing); other refusals deserve a warning of their own.
        level = logging.INFO if error.kind is ErrorKind.NOT_FOUND else logging.WARNING
        logger.log(level, "%s %s failed: %s", api_name, _describe_params(request), error.describe())
        raise ApiRequestError(error, api_name)

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if API_META_KEY not in request.meta or isinstance(exception, IgnoreRequest):
            return None
        self.stats.inc_value("ali1688/errors/network")
        error = ApiError(
            kind=ErrorKind.SERVER_ERROR,
            code=type(exception).__name__,
            message=str(exception) or type(exception).__name__,
            http_status=0,
            request_id=None,
        )
        return self._retry(request, error, RETRIES_META_KEY, self.retry_times, "transient")

    def _retry(
        self, request: Request, error: ApiError, counter: str, budget: int, label: str,
        *, back_off: bool = True,
    ) -> Request:
        attempt = request.meta.get(counter, 0) + 1
        api_name = request.meta[API_META_KEY]
        if attempt > budget:
            self.stats.inc_value(f"ali1688/gave_up/{label}")
            logger.error(
                "Gave up on %s %s after %d %s retries: %s",
                api_name, _describe_params(request), budget, label, error.describe(),
            )
            raise ApiRequestError(error, api_name)
        delay = backoff_delay(attempt, base=self.backoff_base, maximum=self.backoff_max) if back_off else 0.0
        self.stats.inc_value(f"ali1688/retries/{label}")
        logger.debug(
            "Retrying %s %s in %.2fs (%s retry %d/%d): %s",
            api_name, _describe_params(request), delay, label, attempt, budget, error.describe(),
        )
        retry = request.replace(dont_filter=True)
        retry.meta[counter] = attempt
        if delay:
            retry.meta[NOT_BEFORE_META_KEY] = time.time() + delay
        return retry

    async def _refresh_and_retry(self, request: Request, error: ApiError) -> Request:
        tokens = self.session.tokens
        app_key = request.meta.get(APP_KEY_META_KEY, "")
        if not request.meta.get(TOKEN_RETRIED_META_KEY) and app_key:
            seen = request.meta.get(TOKEN_GENERATION_META_KEY, 0)
            if await tokens.refresh(app_key, seen):
                self.stats.inc_value("ali1688/retries/token")
                retry = request.replace(dont_filter=True)
                retry.meta[TOKEN_RETRIED_META_KEY] = True
                return retry
        return self._refused_credentials(request, error)

    def _refused_credentials(self, request: Request, error: ApiError) -> Request:
        """The gateway refused this call's credential set for good: with other sets left, that
        one is named and left out and the call goes again on another; else the crawl closes."""
        api_name = request.meta[API_META_KEY]
        admission = self.session.admission
        app_key = request.meta.get(APP_KEY_META_KEY, "")
        # Calls in flight with a set that an earlier answer retired just go again.
        if admission.in_rotation(app_key):
            retired = admission.retire(app_key)
            if retired is None:
                self._fatal(BAD_CREDENTIALS, error, api_name)
            self.stats.inc_value("ali1688/credentials/retired")
            logger.error(
                "App key %s (%s) is left out of this crawl, the others go on: %s answered %s — %s",
                retired.app_key, retired.origin, api_name, error.describe(), self._hint(error, api_name),
            )
        retry = request.replace(dont_filter=True)
        retry.meta.pop(TOKEN_RETRIED_META_KEY, None)
        return retry

    def _fatal(self, reason: str, error: ApiError, api_name: str) -> NoReturn:
        close_crawl(
            self.crawler, reason, "%s answered %s — %s", api_name, error.describe(),
            self._hint(error, api_name),
        )
        raise ApiRequestError(error, api_name, closes_crawl=True)

    @staticmethod
    def _hint(error: ApiError, api_name: str) -> str:
        if error.kind is ErrorKind.ACL_DENIED:
            return "the app key (ALI1688_APP_KEY) may not call this API. " + permission_advice(
                get_api(api_name)
            )
        return _FIX_HINTS.get(error.kind, "")


def classify(response: Response) -> ApiError | None:
    """The error an API answer carries, if any.

    The body is decoded with ``response.json()``, which caches it: the spider's callback
    reads the same decoded answer instead of parsing the body a second time.
    """
    if 300 <= response.status < 400:
        location = response.headers.get(b"Location")
        return redirect_error(response.status, location.decode("latin-1") if location else None)
    decode = getattr(response, "json", None)
    if decode is not None:
        try:
            return classify_decoded(response.status, decode(), response.body)
        except ValueError:
            pass
    return classify_response(response.status, response.body)


def _describe_params(request: Request) -> str:
    """The business parameters of a call, for log lines (they never contain secrets)."""
    params = request.meta.get(PARAMS_META_KEY, {})
    text = " ".join(f"{k}={v}" for k, v in sorted(params.items()))
    return text if len(text) <= 200 else text[:197] + "..."
