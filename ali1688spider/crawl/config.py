"""The ``ALI1688_*`` settings: defaults, environment fallback and typed, validated getters.

Every setting may come from the Scrapy settings (``-s``, ``settings.py``, ``custom_settings``)
or, when not set there, from the environment variable of the same name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

DEFAULT_GATEWAY_URL = "https://gw.open.1688.com/openapi"

DEFAULTS: dict[str, Any] = {
    "ALI1688_APP_KEY": None,
    "ALI1688_APP_SECRET": None,
    "ALI1688_ACCESS_TOKEN": None,
    "ALI1688_REFRESH_TOKEN": None,
    "ALI1688_GATEWAY_URL": DEFAULT_GATEWAY_URL,
    "ALI1688_PROTOCOL": "aop",
    "ALI1688_TOP_SIGN_METHOD": "hmac-sha256",
    "ALI1688_SANDBOX": "auto",
    "ALI1688_QPS": 10.0,
    "ALI1688_MAX_REQUESTS": 0,
    "ALI1688_RETRY_TIMES": 8,
    "ALI1688_QPS_RETRY_TIMES": 20,
    "ALI1688_BACKOFF_BASE": 0.5,
    "ALI1688_BACKOFF_MAX": 30.0,
    "ALI1688_COUNTRY": "en",
    "ALI1688_PAGE_SIZE": 0,
    "ALI1688_MAX_PAGES": 50,
    "ALI1688_CREDENTIALS": None,
    "ALI1688_DAILY_QUOTA": 0,
    "ALI1688_REDIS_URL": None,
    "ALI1688_REDIS_PREFIX": "ali1688",
    "ALI1688_REDIS_IDLE_TIMEOUT": 30.0,
    "ALI1688_TOKEN_STORE": None,
    "ALI1688_TOKEN_STORE_MODE": "0600",
    "ALI1688_TOKEN_REFRESH_MARGIN": 300.0,
    "ALI1688_VALIDATION": "drop",
    "ALI1688_DB_URL": None,
    "ALI1688_DB_BATCH_SIZE": 500,
    "ALI1688_DB_FLUSH_SECONDS": 1.0,
    "ALI1688_COMPLETENESS_MIN": 0.97,
    "ALI1688_REPORT_FILE": "reports/%(spider)s-%(time)s.json",
    "ALI1688_PROGRESS_INTERVAL": 10.0,
    "ALI1688_STATE_FILE": "state/ali1688-sync.json",
    "ALI1688_SPLIT_ORDER": None,
}


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the setting."""


def get_setting(settings: BaseSettings, name: str) -> Any:
    """Value of *name*: Scrapy settings first, then the environment, then the default."""
    value = settings.get(name)
    if value is None or value == "":
        value = os.environ.get(name) or None
    if value is None:
        value = DEFAULTS.get(name)
    return value


def get_str(settings: BaseSettings, name: str) -> str | None:
    value = get_setting(settings, name)
    return None if value is None else str(value).strip() or None


def get_float(settings: BaseSettings, name: str, *, minimum: float = 0.0) -> float:
    raw = get_setting(settings, name)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum:g}, got {raw!r}")
    return value


def get_int(settings: BaseSettings, name: str, *, minimum: int = 0) -> int:
    raw = get_setting(settings, name)
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {raw!r}")
    return value


def get_choice(settings: BaseSettings, name: str, choices: tuple[str, ...]) -> str:
    value = (get_str(settings, name) or "").lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Credentials:
    """One app key with its secret and user tokens; the repr never shows a secret."""

    app_key: str
    app_secret: str
    access_token: str | None = None
    refresh_token: str | None = None

    def __repr__(self) -> str:
        return f"Credentials(app_key={self.app_key!r}, app_secret=***, tokens=***)"

    __str__ = __repr__

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for redaction."""
        return tuple(v for v in (self.app_secret, self.access_token, self.refresh_token) if v)


def credentials_from_settings(settings: BaseSettings) -> Credentials | None:
    """The single credential set of ``ALI1688_APP_KEY``…, or None when no app key is set."""
    app_key = get_str(settings, "ALI1688_APP_KEY")
    if app_key is None:
        return None
    app_secret = get_str(settings, "ALI1688_APP_SECRET")
    if app_secret is None:
        raise ConfigError("ALI1688_APP_KEY is set but ALI1688_APP_SECRET is not: set both")
    return Credentials(
        app_key=app_key,
        app_secret=app_secret,
        access_token=get_str(settings, "ALI1688_ACCESS_TOKEN"),
        refresh_token=get_str(settings, "ALI1688_REFRESH_TOKEN"),
    )
