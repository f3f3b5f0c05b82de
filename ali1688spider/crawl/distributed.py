"""Distributed mode: what every worker of one shared crawl agrees on in Redis.

``ALI1688_REDIS_URL`` switches it on. Key names all start with ``ALI1688_REDIS_PREFIX``
(default ``ali1688``) so that several projects can share one Redis server:

- ``{prefix}:{spider}:seeds``      list of JSON seeds (``ali1688 enqueue``), taken FIFO
- ``{prefix}:{spider}:requests``   scrapy-redis request queue (shared by the workers)
- ``{prefix}:{spider}:dupefilter`` scrapy-redis fingerprints
- ``{prefix}:rate:{app_key}``      the next free call slot of an app key (rate limiter)
- ``{prefix}:quota:{app_key}:{day}`` calls of an app key on one China day (daily quota)

A seed is one job: the raw ``key=value`` arguments of the spider, exactly what ``-a`` takes.
It never holds a secret.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ali1688spider.crawl.config import ConfigError, get_str
from ali1688spider.spiders.arguments import IGNORED_ARGUMENTS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy.settings import BaseSettings

SEED_FORMAT = "ali1688-seed/1"


def redis_url(settings: BaseSettings | Mapping[str, Any]) -> str | None:
    """``ALI1688_REDIS_URL`` (setting or environment), or None when not distributed."""
    url = get_str(settings, "ALI1688_REDIS_URL")  # type: ignore[arg-type]
    if url is not None and urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"ALI1688_REDIS_URL must be a redis://, rediss:// or unix:// URL, got {url!r}")
    return url


def is_distributed(settings: BaseSettings | Mapping[str, Any]) -> bool:
    return redis_url(settings) is not None


def key_prefix(settings: BaseSettings | Mapping[str, Any]) -> str:
    return get_str(settings, "ALI1688_REDIS_PREFIX") or "ali1688"  # type: ignore[arg-type]


def seeds_key(prefix: str, spider_name: str) -> str:
    return f"{prefix}:{spider_name}:seeds"


def requests_key(prefix: str, spider_name: str) -> str:
    return f"{prefix}:{spider_name}:requests"


def dupefilter_key(prefix: str, spider_name: str) -> str:
    return f"{prefix}:{spider_name}:dupefilter"


def has_job_arguments(raw: Mapping[str, Any]) -> bool:
    """Whether ``-a`` arguments describe a job (tools like scrapyd add ``_job`` to every run)."""
    return bool(set(raw) - IGNORED_ARGUMENTS)


def encode_seed(args: Mapping[str, str]) -> str:
    return json.dumps({"format": SEED_FORMAT, "args": dict(args)}, ensure_ascii=False, sort_keys=True)


def decode_seed(raw: bytes | str) -> dict[str, str]:
    """The raw arguments of a seed; ValueError for anything that is not one."""
    data = json.loads(raw)
    if not isinstance(data, dict) or data.get("format") != SEED_FORMAT or not isinstance(data.get("args"), dict):
        raise ValueError("not an ali1688 seed")
    return {str(k): str(v) for k, v in data["args"].items()}


def describe_url(url: str) -> str:
    """*url* with any password masked, for log lines and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
