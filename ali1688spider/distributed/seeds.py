"""Seeds from Redis: the jobs a distributed worker takes, one after the other.

scrapy-redis's own spiders feed seeds from the ``spider_idle`` signal and never call
``start()``, which Scrapy 2.16+ spiders rely on. This spider middleware does it through the
start iterator instead: after the spider's own ``-a`` job (if it was given one), it keeps
taking seeds (``ali1688 enqueue``) off the spider's Redis list and yields the first requests
of each, parsed with the spider's ``check_arguments`` like ``-a`` arguments. While the start
iterator runs the engine never closes the spider as idle, so a worker waits for work instead
of racing an idle signal; it ends once there has been no seed, no queued request in Redis and
no call in flight here for ``ALI1688_REDIS_IDLE_TIMEOUT`` seconds (0: wait for ever).
Redis is read with ``redis.asyncio`` on the reactor's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio
from scrapy import signals
from scrapy.exceptions import NotConfigured

from ali1688spider.config import get_float
from ali1688spider.distributed.keys import decode_seed, key_prefix, lease_keys, redis_url, seeds_key

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from typing_extensions import Self

logger = logging.getLogger(__name__)

#: The longest wait between two tries while Redis is unreachable.
MAX_RETRY_DELAY = 10.0
#: How often an idle worker looks for new seeds and queued requests.
POLL_INTERVAL = 0.5


class RedisSeeds:
    """Spider middleware: after the spider's own start requests, the requests of Redis seeds."""

    def __init__(self, crawler: Crawler):
        url = redis_url(crawler.settings)
        if url is None:
            raise NotConfigured
        self.crawler = crawler
        self.url = url
        self.prefix = key_prefix(crawler.settings)
        self.idle_timeout = get_float(crawler.settings, "ALI1688_REDIS_IDLE_TIMEOUT")
        self._client: Any = None
        self._closed = False
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for item_or_request in start:
            yield item_or_request
        spider = self.crawler.spider
        assert spider is not None
        if not getattr(spider, "takes_jobs", lambda: False)():
            logger.info("Spider %r takes no seeds from Redis", spider.name)
            return
        self._client = redis.asyncio.Redis.from_url(self.url)
        async for request in self._seeded(spider):
            yield request

    async def _seeded(self, spider: Spider) -> AsyncIterator[Any]:
        key = seeds_key(self.prefix, spider.name)
        queue_key = self.crawler.settings["SCHEDULER_QUEUE_KEY"] % {"spider": spider.name}
        loop = asyncio.get_running_loop()
        logger.info("Taking seeds from Redis list %s", key)
        idle_since: float | None = None
        # Requests lent to workers are work too: one that dies gives them back.
        leases_key = lease_keys(queue_key)[0]
        outage = 0
        while not self._closed:
            try:
                raw = await self._client.lpop(key)
                busy = raw is not None or await self._client.exists(queue_key, leases_key)
            except redis.RedisError as exc:
                if self._closed:  # the connection was closed under us at spider close
                    return
                # The scheduler says so and closes the crawl if it lasts; seeds just wait.
                outage += 1
                logger.debug("Seeds: Redis unreachable (%s), trying again", exc)
                await asyncio.sleep(min(POLL_INTERVAL * 2 ** outage, MAX_RETRY_DELAY))
                idle_since = None
                continue
            outage = 0
            if raw is not None:
                idle_since = None
                args = self._parse(spider, raw)
                if args is not None:
                    for request in spider.requests_for(args):
                        yield request
                continue
            if busy or self.crawler.engine.downloader.active:
                idle_since = None
            else:
                idle_since = idle_since if idle_since is not None else loop.time()
                if self.idle_timeout and loop.time() - idle_since >= self.idle_timeout:
                    logger.info(
                        "No seed in %s and no queued request for %gs "
                        "(ALI1688_REDIS_IDLE_TIMEOUT): this worker is done",
                        key, self.idle_timeout,
                    )
                    return
            await asyncio.sleep(POLL_INTERVAL)

    def _parse(self, spider: Any, raw: bytes) -> dict[str, Any] | None:
        """The parsed arguments of one seed; None (and one error line) for a bad seed."""
        stats = self.crawler.stats
        try:
            raw_args = decode_seed(raw)
            args = spider.check_arguments(raw_args)
        except ValueError as exc:  # not a seed, or arguments the spider refuses
            stats.inc_value("ali1688/seeds/invalid")
            logger.error("Skipping a seed of spider %r: %s", spider.name, exc)
            return None
        stats.inc_value("ali1688/seeds/taken")
        logger.info("Took seed %s", " ".join(f"{k}={v}" for k, v in sorted(raw_args.items()))[:300])
        return args

    async def _spider_closed(self) -> None:
        self._closed = True
        if self._client is not None:
            await self._client.aclose()
            self._client = None
