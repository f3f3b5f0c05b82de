"""The shared request queue of distributed mode: scrapy-redis's scheduler, fit for Scrapy 2.16+.

scrapy-redis 0.9 passes ``spider=`` to the stats collector on every request it queues and
takes, and logs a resumed crawl with ``Spider.log()``, both deprecated by Scrapy 2.16+: warnings
in every worker's log. This subclass does the same without them. Its pop never blocks (``SCHEDULER_IDLE_BEFORE_CLOSE``
stays 0: a blocking ``BRPOP`` would stall the reactor); idle workers wait in the seed reader
(``ali1688spider.distributed.seeds``) instead.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.utils.misc import load_object
from scrapy_redis.scheduler import Scheduler

if TYPE_CHECKING:
    from scrapy import Request, Spider

logger = logging.getLogger(__name__)


class RedisScheduler(Scheduler):
    """scrapy-redis's Redis queue and dupefilter, counted in stats without deprecated calls."""

    def open(self, spider: Spider) -> None:
        self.spider = spider
        self.queue = load_object(self.queue_cls)(
            server=self.server,
            spider=spider,
            key=self.queue_key % {"spider": spider.name},
            serializer=self.serializer,
        )
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)
        if self.flush_on_start:
            self.flush()
        waiting = len(self.queue)
        if waiting:
            logger.info("Resuming the shared crawl: %d requests queued in Redis", waiting)

    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        self.queue.push(request)
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        request = self.queue.pop(0)
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request
