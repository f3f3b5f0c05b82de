"""The gateway session of one crawl: endpoint, embedded sandbox, pacer, quota and tokens.

Built once per crawler from its final settings and kept on the crawler
(``GatewaySession.of(crawler)``); the download handler, which the engine builds before any
call, is the first to ask. With the embedded sandbox (no credentials set, see
``gateway.endpoint``) the session starts it, says so loudly, says so again when the crawl
closes, and stops it when the engine stops.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from scrapy import signals

from ali1688spider.api.oauth import oauth_root
from ali1688spider.closing import closing_reason, crawl_closing, keep_queued
from ali1688spider.config import ConfigError, get_choice, get_float, get_int
from ali1688spider.distributed.keys import key_prefix, redis_url
from ali1688spider.gateway.endpoint import resolve_endpoint, sandbox_credentials
from ali1688spider.gateway.pacing import Admission, InFlight, LocalPacer, RateReport
from ali1688spider.gateway.quota import QuotaStop, make_quota
from ali1688spider.gateway.tokens import TokenManager
from ali1688spider.gateway.tokenstore import token_store_from_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from scrapy.crawler import Crawler

    from ali1688spider.gateway.endpoint import Endpoint

logger = logging.getLogger(__name__)

SANDBOX_BANNER = (
    "ALI1688 SANDBOX: no ALI1688_APP_KEY is set, so this crawl runs against the embedded "
    "sandbox gateway at %s and yields SYNTHETIC data, not 1688.com. "
    "Set ALI1688_APP_KEY and ALI1688_APP_SECRET (and ALI1688_ACCESS_TOKEN) to crawl the real "
    "gateway; set ALI1688_SANDBOX=off to forbid the sandbox."
)
SANDBOX_CREDENTIALS_BANNER = (
    "ALI1688 SANDBOX: the app key is the sandbox's public one, so the gateway at %s is a "
    "sandbox and this crawl yields SYNTHETIC data, not 1688.com."
)
_ATTRIBUTE = "ali1688_session"


def check_settings(settings: Mapping[str, Any]) -> Endpoint:
    """The crawl's endpoint; ConfigError (one line naming the setting) for any unusable value."""
    endpoint = resolve_endpoint(settings)
    if get_float(settings, "ALI1688_QPS") <= 0:
        raise ConfigError("ALI1688_QPS must be > 0 (calls per second per app key)")
    if redis_url(settings) and endpoint.sandbox == "embedded":
        raise ConfigError(
            "ALI1688_REDIS_URL is set, so the workers of one crawl need one shared gateway, not an "
            "embedded sandbox each: set ALI1688_APP_KEY and ALI1688_APP_SECRET (or "
            "ALI1688_CREDENTIALS), and ALI1688_GATEWAY_URL for a sandbox started with `ali1688 sandbox`"
        )
    for name in (
        "ALI1688_MAX_REQUESTS", "ALI1688_RETRY_TIMES", "ALI1688_QPS_RETRY_TIMES", "ALI1688_DAILY_QUOTA"
    ):
        get_int(settings, name)
    get_float(settings, "ALI1688_REDIS_IDLE_TIMEOUT")
    get_choice(settings, "ALI1688_VALIDATION", ("drop", "flag"))
    get_int(settings, "ALI1688_DB_BATCH_SIZE", minimum=1)
    get_float(settings, "ALI1688_DB_FLUSH_SECONDS", minimum=0.01)
    return endpoint


class GatewaySession:
    """Everything a call of this crawl touches besides the request itself."""

    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        endpoint = check_settings(settings)
        qps = get_float(settings, "ALI1688_QPS")
        self.sandbox: Any = None
        if endpoint.sandbox == "embedded":
            self.sandbox = _start_embedded_sandbox(qps)
            url = self.sandbox.url if endpoint.protocol == "aop" else self.sandbox.router_url
            endpoint = replace(endpoint, url=url)
            logger.warning(SANDBOX_BANNER, url)
            crawler.stats.set_value("ali1688/sandbox", 1)
            crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)
        elif any(c.app_key == sandbox_credentials().app_key for c in endpoint.credentials):
            logger.warning(SANDBOX_CREDENTIALS_BANNER, endpoint.url)
            crawler.stats.set_value("ali1688/sandbox", 1)
        assert endpoint.url is not None
        self.endpoint = endpoint
        self.admission = Admission(
            endpoint.credentials,
            make_pacer(settings, qps, RateReport(crawler.stats),
                       give_up=lambda: closing_reason(crawler) is not None),
            requeue=lambda request, why: keep_queued(crawler, request, why),
            quota=make_quota(settings, redis_url(settings), key_prefix(settings)),
            quota_stop=QuotaStop(crawler),
            in_flight=InFlight(lambda: crawler.engine.downloader if crawler.engine else None),
        )
        self.tokens = TokenManager(
            oauth_root(endpoint.url, endpoint.protocol),
            list(endpoint.credentials),
            # The embedded sandbox's tokens are born and die with the crawl.
            store=None if self.sandbox is not None else token_store_from_settings(settings),
            refresh_margin=get_float(settings, "ALI1688_TOKEN_REFRESH_MARGIN"),
            stats=crawler.stats,
        )
        crawler.signals.connect(self._engine_stopped, signal=signals.engine_stopped)
        # Calls not sent when a close begins are never sent (a wrong secret sent again and
        # again is what gets an app key blocked): they go back to the queue.
        crawler.signals.connect(self._closing, signal=crawl_closing)

    @classmethod
    def of(cls, crawler: Crawler) -> GatewaySession:
        """The crawl's session, built on the first call."""
        session = getattr(crawler, _ATTRIBUTE, None)
        if session is None:
            session = cls(crawler)
            setattr(crawler, _ATTRIBUTE, session)
        return session

    def _closing(self, reason: str) -> None:
        self.admission.stop(f"the crawl is closing: {reason}")

    def _spider_closed(self) -> None:
        logger.warning(SANDBOX_BANNER, self.endpoint.url)

    def _engine_stopped(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None


def waiting_for_grant(crawler: Crawler) -> bool:
    """Whether a call of *crawler* is asleep until the pacer's grant: the crawl is paced (no
    call made yet: no session, not paced)."""
    session = getattr(crawler, _ATTRIBUTE, None)
    return session is not None and session.admission.pacer.grant_waits.count > 0


def make_pacer(
    settings: Mapping[str, Any], qps: float, report: RateReport, *, give_up: Callable[[], bool]
) -> Any:
    """The pacer of every call: in Redis (shared by all workers) with ALI1688_REDIS_URL, where
    calls waiting for an unreachable Redis stop waiting once *give_up* says so."""
    url = redis_url(settings)
    if url is None:
        return LocalPacer(qps, report=report)
    from ali1688spider.gateway.redis_pacer import RedisPacer

    return RedisPacer(url, qps, prefix=key_prefix(settings), report=report, give_up=give_up)


def _start_embedded_sandbox(qps: float) -> Any:
    from ali1688spider.sandbox import SandboxOptions, start_sandbox

    return start_sandbox(SandboxOptions(port=0, qps=qps, quiet=True))
