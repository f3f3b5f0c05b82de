"""What one crawl shares between its components: gateway, credentials, limiter, tokens.

Built once per crawler by whichever component asks first (``runtime_for``). With no app key
set and ``ALI1688_SANDBOX=auto`` (or with ``on``) it starts the embedded sandbox gateway and
points the crawl at it.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy import signals

from ali1688spider.api.oauth import oauth_root
from ali1688spider.crawl.config import (
    ConfigError,
    Credentials,
    get_choice,
    get_float,
    get_int,
    get_str,
)
from ali1688spider.crawl.credentials import credential_sets_from_settings
from ali1688spider.crawl.distributed import key_prefix, redis_url
from ali1688spider.crawl.quota import make_quota
from ali1688spider.crawl.ratelimit import LocalRateLimiter
from ali1688spider.crawl.tokens import TokenManager

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

SANDBOX_BANNER = (
    "ALI1688 SANDBOX: no ALI1688_APP_KEY is set, so this crawl runs against the embedded "
    "sandbox gateway at %s and yields SYNTHETIC data, not 1688.com. "
    "Set ALI1688_APP_KEY and ALI1688_APP_SECRET (and ALI1688_ACCESS_TOKEN) to crawl the real "
    "gateway; set ALI1688_SANDBOX=off to forbid the sandbox."
)


@dataclass
class Runtime:
    """The resolved connection of a crawl to a gateway."""

    gateway_url: str
    protocol: str
    top_sign_method: str
    credentials: list[Credentials]
    limiter: Any
    tokens: TokenManager
    sandbox: Any = None
    #: The daily quota counter (``ALI1688_DAILY_QUOTA``), None when there is no quota.
    quota: Any = None
    _next_credential: int = field(default=0, repr=False)

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox is not None

    def pick_credentials(self) -> Credentials:
        """The credential set for the next call (round robin over every set)."""
        credentials = self.credentials[self._next_credential % len(self.credentials)]
        self._next_credential += 1
        return credentials

    async def take_call(self) -> Credentials | None:
        """The credential set for the next call, counted against its daily quota.

        Round robin over the sets whose quota is not spent today; None when every one is spent.
        """
        for _ in range(len(self.credentials)):
            credentials = self.pick_credentials()
            if self.quota is None or await self.quota.take(credentials.app_key):
                return credentials
        return None

    async def close_connections(self) -> None:
        """Release what the limiter and the quota counter hold (Redis connections)."""
        await self.limiter.close()
        if self.quota is not None:
            await self.quota.close()

    def secrets(self) -> tuple[str, ...]:
        values = [s for c in self.credentials for s in c.secrets]
        for c in self.credentials:
            state = self.tokens.current(c.app_key)
            values.extend(v for v in (state.access_token, state.refresh_token) if v)
        return tuple(values)

    def stop(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None


_runtimes: weakref.WeakKeyDictionary[Crawler, Runtime] = weakref.WeakKeyDictionary()


def runtime_for(crawler: Crawler) -> Runtime:
    """The crawl's runtime, built on first use."""
    runtime = _runtimes.get(crawler)
    if runtime is None:
        runtime = build_runtime(crawler)
        _runtimes[crawler] = runtime
        crawler.signals.connect(_stop_runtime(runtime), signal=signals.engine_stopped, weak=False)
    return runtime


def _stop_runtime(runtime: Runtime):
    def stop() -> None:
        runtime.stop()

    return stop


def check_settings(settings: BaseSettings) -> None:
    """Raise ConfigError (one line naming the setting) for any unusable ``ALI1688_*`` value."""
    _read_settings(settings)


def _read_settings(settings: BaseSettings) -> dict[str, Any]:
    values = {
        "mode": get_choice(settings, "ALI1688_SANDBOX", ("auto", "on", "off")),
        "protocol": get_choice(settings, "ALI1688_PROTOCOL", ("aop", "top")),
        "top_sign_method": get_choice(
            settings, "ALI1688_TOP_SIGN_METHOD", ("md5", "hmac", "hmac-sha256")
        ),
        "qps": get_float(settings, "ALI1688_QPS"),
        "credentials": credential_sets_from_settings(settings),
        "redis_url": redis_url(settings),
    }
    if values["qps"] <= 0:
        raise ConfigError("ALI1688_QPS must be > 0 (calls per second per app key)")
    if values["mode"] == "off" and not values["credentials"]:
        raise ConfigError(
            "ALI1688_SANDBOX=off but neither ALI1688_APP_KEY nor ALI1688_CREDENTIALS is set: "
            "set the credentials"
        )
    if values["redis_url"] and (values["mode"] == "on" or not values["credentials"]):
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
    return values


def build_runtime(crawler: Crawler) -> Runtime:
    settings = crawler.settings
    values = _read_settings(settings)
    mode, protocol, qps = values["mode"], values["protocol"], values["qps"]
    top_sign_method = values["top_sign_method"]
    credential_sets = values["credentials"]
    gateway_url = get_str(settings, "ALI1688_GATEWAY_URL")
    sandbox = None
    if mode == "on" or (mode == "auto" and not credential_sets):
        sandbox = _start_embedded_sandbox(qps)
        credential_sets = [Credentials(**{k: sandbox.credentials[k] for k in (
            "app_key", "app_secret", "access_token", "refresh_token")})]
        gateway_url = sandbox.url if protocol == "aop" else f"{sandbox.base_url}/router/rest"
        logger.warning(SANDBOX_BANNER, gateway_url)
        crawler.stats.set_value("ali1688/sandbox", 1)
    assert gateway_url is not None and credential_sets
    return Runtime(
        gateway_url=gateway_url,
        protocol=protocol,
        top_sign_method=top_sign_method,
        credentials=credential_sets,
        limiter=make_limiter(crawler, qps),
        tokens=TokenManager(
            sandbox.url if sandbox is not None else oauth_root(gateway_url, protocol),
            credential_sets,
            stats=crawler.stats,
        ),
        sandbox=sandbox,
        quota=make_quota(settings, values["redis_url"], key_prefix(settings)),
    )


def make_limiter(crawler: Crawler, qps: float) -> Any:
    """The rate limiter of every call: in Redis (shared by all workers) with ALI1688_REDIS_URL."""
    url = redis_url(crawler.settings)
    if url is None:
        return LocalRateLimiter(qps)
    from ali1688spider.crawl.redis_limiter import RedisRateLimiter

    return RedisRateLimiter(url, qps, prefix=key_prefix(crawler.settings))


def _start_embedded_sandbox(qps: float):
    from ali1688spider.sandbox import SandboxOptions, start_sandbox

    return start_sandbox(SandboxOptions(port=0, qps=qps, quiet=True))
