"""Distributed mode: what every worker of one shared crawl agrees on in Redis.

``ALI1688_REDIS_URL`` switches it on. Key names all start with ``ALI1688_REDIS_PREFIX``
(default ``ali1688``) so that several projects can share one Redis server:

- ``{prefix}:{spider}:seeds``      list of JSON seeds (``ali1688 enqueue``), taken FIFO
- ``{prefix}:{spider}:requests``   scrapy-redis request queue (shared by the workers)
- ``{prefix}:{spider}:requests:leases``, ``…:leased``, ``…:lease_id`` requests lent to
                                   workers: deadlines, the requests, the id counter
- ``{prefix}:{spider}:dupefilter`` scrapy-redis fingerprints of every request queued
- ``{prefix}:rate:{app_key}``      an app key's learned pace: rate, last grant, hold (pacer),
                                   with ``…:accepted`` and ``…:refused`` of the last second
- ``{prefix}:quota:{app_key}:{day}`` calls of an app key on one China day (daily quota)
- ``{prefix}:tokens:{app_key}``    the OAuth tokens of an app key (token store)
- ``{prefix}:httpcache:{spider}:{fingerprint}`` a cached answer (Redis cache storage), kept
                                   for its kind's ``ALI1688_CACHE_EXPIRY``

A seed is one job: the raw ``key=value`` arguments of the spider, exactly what ``-a`` takes.
It never holds a secret.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ali1688spider.config import ConfigError, get_str

if TYPE_CHECKING:
    from collections.abc import Mapping

SEED_FORMAT = "ali1688-seed/1"
REDIS_SCHEMES = ("redis", "rediss", "unix")
DEFAULT_PREFIX = "ali1688"


def is_redis_url(url: str) -> bool:
    return urlsplit(url).scheme in REDIS_SCHEMES


def redis_url(settings: Mapping[str, Any]) -> str | None:
    """``ALI1688_REDIS_URL`` (setting or environment), or None when not distributed."""
    url = get_str(settings, "ALI1688_REDIS_URL")
    if url is not None and not is_redis_url(url):
        raise ConfigError(f"ALI1688_REDIS_URL must be a redis://, rediss:// or unix:// URL, got {url!r}")
    return url


def is_distributed(settings: Mapping[str, Any]) -> bool:
    return redis_url(settings) is not None


def key_prefix(settings: Mapping[str, Any]) -> str:
    return get_str(settings, "ALI1688_REDIS_PREFIX") or DEFAULT_PREFIX


def seeds_key(prefix: str, spider_name: str) -> str:
    return f"{prefix}:{spider_name}:seeds"


def requests_key(prefix: str, spider_name: str) -> str:
    return f"{prefix}:{spider_name}:requests"


def lease_keys(queue_key: str) -> tuple[str, str, str]:
    """The leases of a request queue: deadlines by lease id, the requests lent, the id counter."""
    return f"{queue_key}:leases", f"{queue_key}:leased", f"{queue_key}:lease_id"


def dupefilter_key(prefix: str, spider_name: str) -> str:
    return f"{prefix}:{spider_name}:dupefilter"


def rate_keys(prefix: str, app_key: str) -> list[str]:
    """The pacer's keys of an app key: its state, and its accepted and refused calls."""
    key = f"{prefix}:rate:{app_key}"
    return [key, f"{key}:accepted", f"{key}:refused"]


def quota_key(prefix: str, app_key: str) -> str:
    """The counter prefix of an app key; the China day number is appended by the script."""
    return f"{prefix}:quota:{app_key}"


def tokens_key(prefix: str, app_key: str) -> str:
    return f"{prefix}:tokens:{app_key}"


def encode_seed(args: Mapping[str, str]) -> str:
    return json.dumps({"format": SEED_FORMAT, "args": dict(args)}, ensure_ascii=False, sort_keys=True)


def decode_seed(raw: bytes | str) -> dict[str, str]:
    """The raw arguments of a seed; ValueError for anything that is not one."""
    data = json.loads(raw)
    if not isinstance(data, dict) or data.get("format") != SEED_FORMAT or not isinstance(data.get("args"), dict):
        raise ValueError("not an ali1688 seed")
    return {str(k): str(v) for k, v in data["args"].items()}



def cache_key(prefix: str, spider_name: str, fingerprint: str) -> str:
    return f"{prefix}:httpcache:{spider_name}:{fingerprint}"
