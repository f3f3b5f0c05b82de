"""The distributed-mode add-on: ``ALI1688_REDIS_URL`` alone turns a crawl into a worker.

Registered in ``ADDONS`` (settings.py); it does nothing unless ``ALI1688_REDIS_URL`` is set
(Scrapy setting or environment). Then the crawl uses the scrapy-redis scheduler (our
subclass) and its dupefilter (or the project's ``DUPEFILTER_CLASS``, asked through its
``request_seen``; ``SCHEDULER_QUEUE_CLASS`` sets the queue's order) on keys under
``ALI1688_REDIS_PREFIX``, keeps them
when it closes (so a crawl stopped by the daily quota continues on the next run), and takes
its jobs from Redis seeds (``ali1688spider.distributed.seeds``). The pacer and the daily
quota switch to Redis by the same setting (``ali1688spider.gateway.session``), and so does
the HTTP cache's storage when ``HTTPCACHE_ENABLED`` is on (``gateway.redis_cache``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.misc import load_object

from ali1688spider.config import ConfigError, get_float
from ali1688spider.redact import url_without_password

from ali1688spider.distributed.keys import (
    dupefilter_key,
    key_prefix,
    redis_url,
    requests_key,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

SEEDS_MIDDLEWARE = "ali1688spider.distributed.seeds.RedisSeeds"
LOCAL_SCHEDULER = "ali1688spider.jobdir.GuardedScheduler"
REDIS_SCHEDULER = "ali1688spider.distributed.scheduler.RedisScheduler"
#: With HTTPCACHE_ENABLED the workers share one cache (unless HTTPCACHE_STORAGE says otherwise).
CACHE_STORAGE = "ali1688spider.gateway.redis_cache.RedisCacheStorage"
#: Closer to the spider than StartSpiderMiddleware (25), which marks seed requests as start
#: requests like the spider's own.
SEEDS_MIDDLEWARE_ORDER = 30
QUEUE_CLASS_SETTING = "SCHEDULER_QUEUE_CLASS"
DUPEFILTER_SETTING = "DUPEFILTER_CLASS"
REDIS_DUPEFILTER = "scrapy_redis.dupefilter.RFPDupeFilter"


#: scrapy-redis's queue classes (and their old aliases), by the order their pops follow.
ORDERS = {
    "scrapy_redis.queue.PriorityQueue": "priority",
    "scrapy_redis.queue.SpiderPriorityQueue": "priority",
    "scrapy_redis.queue.FifoQueue": "fifo",
    "scrapy_redis.queue.SpiderQueue": "fifo",
    "scrapy_redis.queue.LifoQueue": "lifo",
    "scrapy_redis.queue.SpiderStack": "lifo",
}


def queue_order(queue_class: Any) -> str | None:
    """The order of scrapy-redis queue class *queue_class* (a path or the class), or None
    for a class the leased queue cannot stand in for."""
    if not isinstance(queue_class, str):
        queue_class = f"{queue_class.__module__}.{queue_class.__qualname__}"
    return ORDERS.get(queue_class)


def check_queue_class(settings: Mapping[str, Any]) -> str:
    """The order of the queue class the settings name (scrapy-redis's by default); ConfigError
    (one line naming the setting) for a class the leased queue cannot stand in for."""
    name = settings.get(QUEUE_CLASS_SETTING) or "scrapy_redis.queue.PriorityQueue"
    order = queue_order(name)
    if order is None:
        raise ConfigError(
            f"{QUEUE_CLASS_SETTING}={name!r}: distributed mode keeps its queue in Redis with leases "
            "(ali1688spider.distributed.leases), in the order of scrapy_redis.queue.PriorityQueue, "
            "FifoQueue or LifoQueue; name one of those, or remove the setting"
        )
    return order


def check_dupefilter_class(settings: BaseSettings) -> None:
    """ConfigError (one line naming the setting) for a ``DUPEFILTER_CLASS`` of the project's
    that scrapy-redis cannot build for a spider (Scrapy's own keep their fingerprints in one
    process, not in Redis for every worker)."""
    # Below the add-on's priority the add-on's choice, scrapy-redis's own, is what will run.
    if settings.getpriority(DUPEFILTER_SETTING) <= SETTINGS_PRIORITIES["addon"]:
        return
    name = settings.get(DUPEFILTER_SETTING)
    try:
        dupefilter = load_object(name)
    except (ImportError, NameError, ValueError) as exc:
        raise ConfigError(f"{DUPEFILTER_SETTING}={name!r} cannot be imported ({exc}): fix the path") from None
    if not hasattr(dupefilter, "from_spider"):
        raise ConfigError(
            f"{DUPEFILTER_SETTING}={name!r}: distributed mode shares one dupefilter in Redis between "
            f"the workers, built by scrapy-redis for each spider: name {REDIS_DUPEFILTER} or a "
            "subclass of it (its request_seen is used), or remove the setting"
        )


class DistributedAddon:
    """Switches the scheduler, dupefilter and seed source to Redis when ALI1688_REDIS_URL is set."""

    def update_settings(self, settings: BaseSettings) -> None:
        url = redis_url(settings)
        if url is None:
            return
        prefix = key_prefix(settings)
        # The project's own scheduler (settings.py) gives way; one a user chose does not.
        if settings.get("SCHEDULER") == LOCAL_SCHEDULER:
            settings.set("SCHEDULER", REDIS_SCHEDULER, priority=settings.getpriority("SCHEDULER"))
        values = {
            DUPEFILTER_SETTING: REDIS_DUPEFILTER,
            "SCHEDULER_PERSIST": True,
            # A positive value makes scrapy-redis pop with a blocking BRPOP on the reactor thread.
            "SCHEDULER_IDLE_BEFORE_CLOSE": 0,
            "SCHEDULER_QUEUE_KEY": requests_key(prefix, "%(spider)s"),
            "SCHEDULER_DUPEFILTER_KEY": dupefilter_key(prefix, "%(spider)s"),
            "REDIS_URL": url,
            "HTTPCACHE_STORAGE": CACHE_STORAGE,
        }
        for name, value in values.items():
            settings.set(name, value, priority="addon")
        settings.set_in_component_priority_dict(
            "SPIDER_MIDDLEWARES", load_object(SEEDS_MIDDLEWARE), SEEDS_MIDDLEWARE_ORDER
        )


def check_redis(settings: BaseSettings) -> None:
    """A distributed worker starts with a queue and a dupefilter class it can share, once its Redis
    answers: it waits (one warning, then back-off) up to ``ALI1688_REDIS_OUTAGE_SECONDS``,
    then ConfigError in one line."""
    url = redis_url(settings)
    if url is None:
        return
    check_queue_class(settings)
    check_dupefilter_class(settings)
    import redis

    limit = get_float(settings, "ALI1688_REDIS_OUTAGE_SECONDS", minimum=1)
    started, delay = time.monotonic(), 0.5
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        while True:
            try:
                client.ping()
                return
            except redis.RedisError as exc:
                waited = time.monotonic() - started
                if waited >= limit:
                    raise ConfigError(
                        f"cannot reach Redis at {url_without_password(url)} ({exc}) for {waited:.0f} s "
                        "(ALI1688_REDIS_OUTAGE_SECONDS): start it, or fix ALI1688_REDIS_URL"
                    ) from None
                if delay == 0.5:
                    logger.warning("Redis at %s is unreachable (%s): waiting for it",
                                   url_without_password(url), exc)
                time.sleep(min(delay, limit - waited))
                delay = min(delay * 2, 10.0)
    finally:
        client.close()
