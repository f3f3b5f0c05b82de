"""The ``ALI1688_*`` settings: defaults, environment fallback and typed, validated getters.

Every setting may come from the Scrapy settings (``-s``, ``settings.py``, ``custom_settings``)
or, when not set there, from the environment variable of the same name.
"""

from __future__ import annotations

import difflib
import math
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

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
    "ALI1688_STATS_FILE": None,
    "ALI1688_REDIRECT_URI": None,
    # kind=duration,… over gateway.cache.DEFAULT_EXPIRY (HTTPCACHE_ENABLED only).
    "ALI1688_CACHE_EXPIRY": None,
}
PREFIX = "ALI1688_"
#: The database of the SQL pipeline; also read by the crash guard, which must not import
#: SQLAlchemy for crawls that store nothing.
DB_URL_SETTING = "ALI1688_DB_URL"


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the setting."""


def get_setting(settings: Mapping[str, Any], name: str) -> Any:
    """Value of *name*: Scrapy settings first, then the environment, then the default."""
    value = settings.get(name)
    if value is None or value == "":
        value = os.environ.get(name) or None
    if value is None:
        value = DEFAULTS.get(name)
    return value


def get_str(settings: Mapping[str, Any], name: str) -> str | None:
    value = get_setting(settings, name)
    return None if value is None else str(value).strip() or None


def get_float(settings: Mapping[str, Any], name: str, *, minimum: float = 0.0) -> float:
    raw = get_setting(settings, name)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum:g}, got {raw!r}")
    return value


def get_int(settings: Mapping[str, Any], name: str, *, minimum: int = 0) -> int:
    raw = get_setting(settings, name)
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {raw!r}")
    return value


def get_choice(settings: Mapping[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = (get_str(settings, name) or "").lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def misspelt_settings(names: Iterable[str]) -> list[tuple[str, str | None]]:
    """Each ``ALI1688_*`` name among *names* that no component reads, with the known setting
    it most looks like (or None)."""
    found = []
    for name in sorted(set(names)):
        if name.startswith(PREFIX) and name not in DEFAULTS:
            close = difflib.get_close_matches(name, DEFAULTS, n=1, cutoff=0.6)
            found.append((name, close[0] if close else None))
    return found
