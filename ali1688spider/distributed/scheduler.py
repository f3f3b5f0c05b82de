"""The shared request queue of distributed mode: scrapy-redis's scheduler, with leases.

Requests live in scrapy-redis's priority queue and fingerprints in its dupefilter key, but a
request taken is leased (``distributed.leases``): this worker acknowledges it only once the
engine is done with it (answer, callback output, items through the pipelines: the request has
left the engine's in-progress set), renews what it holds, and gives back what it still holds
when it closes. A worker killed mid-crawl loses nothing: its leases return to the queue when
they expire (``ALI1688_REDIS_LEASE_SECONDS``), for any worker, a re-run included.

While Redis is unreachable nothing is dropped: new requests wait here and are queued when it is
back, acknowledgements wait too, the engine is told there is work pending, and one warning is
logged; after ``ALI1688_REDIS_OUTAGE_SECONDS`` the crawl closes with
``ali1688_redis_unavailable`` (what it held returns to the queue by lease expiry).

Upstream settings keep their meaning: ``SCHEDULER_QUEUE_CLASS`` (scrapy-redis's priority,
FIFO or LIFO queue) sets the order leases are taken in, and a queue class of another kind is
refused at start (``check_queue_class``); ``DUPEFILTER_CLASS`` is asked through its
``request_seen`` unless it is scrapy-redis's own ``RFPDupeFilter``, whose one ``SADD`` the
lease script makes in the same step as the queue entry.

Also: scrapy-redis 0.9 passes ``spider=`` to the stats collector and logs with ``Spider.log()``,
both deprecated by Scrapy 2.16+; this subclass does neither. Its pop never blocks: idle workers
wait in the seed reader (``ali1688spider.distributed.seeds``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import redis
from scrapy.utils.misc import load_object
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from ali1688spider.closing import REDIS_KEY_CONFLICT, REDIS_UNAVAILABLE, close_crawl
from ali1688spider.config import get_float
from ali1688spider.distributed.addon import check_queue_class
from ali1688spider.distributed.leases import LeasedQueue
from ali1688spider.distributed.signals import leases_acknowledging

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from typing_extensions import Self

logger = logging.getLogger(__name__)

#: Seconds between two rounds of acknowledging, renewing and reclaiming leases.
TEND_INTERVAL = 1.0


def uses_lease_script(dupefilter: Any) -> bool:
    """True when *dupefilter* is scrapy-redis's set of fingerprints as it comes (its
    ``request_seen`` is one SADD, which the lease script makes itself); a subclass that
    overrides ``request_seen`` is asked through it."""
    return isinstance(dupefilter, RFPDupeFilter) and type(dupefilter).request_seen is RFPDupeFilter.request_seen


class RedisScheduler(Scheduler):
    """scrapy-redis's Redis queue and dupefilter, where a request taken is leased."""

    crawler: Crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        scheduler = cls.from_settings(crawler.settings)
        scheduler.crawler, scheduler.stats = crawler, crawler.stats
        scheduler.lease_seconds = get_float(crawler.settings, "ALI1688_REDIS_LEASE_SECONDS", minimum=1)
        scheduler.outage_seconds = get_float(crawler.settings, "ALI1688_REDIS_OUTAGE_SECONDS", minimum=1)
        scheduler.order = check_queue_class(crawler.settings)
        return scheduler

    def open(self, spider: Spider) -> None:
        self.spider = spider
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)
        self.queue = LeasedQueue(
            self.server, spider, self.queue_key, self.serializer,
            dupefilter_key=getattr(self.df, "key", ""), lease_seconds=self.lease_seconds, order=self.order,
        )
        self.atomic = uses_lease_script(self.df)
        if self.flush_on_start:
            self.flush()
        #: Requests taken and not yet acknowledged, with their lease ids.
        self.held: dict[Request, str] = {}
        #: Requests to queue once Redis answers again, each with whether the dupefilter is
        #: still to be asked; acknowledgements wait for them.
        self.unsent: list[tuple[Request, bool]] = []
        self.down_since: float | None = None
        self.last_renewal = time.monotonic()
        returned = self._give_back_expired()
        queued = self._redis(lambda: len(self.queue)) or 0
        if queued:
            logger.info("Resuming the shared crawl: %d requests queued in Redis (%d of them given "
                        "back by workers that stopped)", queued, returned)
        self.tending = task.LoopingCall(self.tend)
        self.tending.start(TEND_INTERVAL, now=False)

    def close(self, reason: str) -> None:
        if self.tending.running:
            self.tending.stop()
        self.tend()
        # Whatever is still held (a crawl that stopped early) goes back for the next run.
        if self.held and self._redis(lambda: self.queue.give_back(list(self.held.values()))) is not None:
            self.held.clear()
        if self.unsent:
            logger.error("%d new requests could not be queued in Redis before the close; the "
                         "requests that made them will be answered again", len(self.unsent))
        super().close(reason)

    def enqueue_request(self, request: Request) -> bool:
        if self.unsent:
            # Behind what already waits for Redis, in order.
            self.unsent.append((request, not request.dont_filter))
            return True
        added, check = self._push(request, check=not request.dont_filter)
        if added is None:
            self.unsent.append((request, check))
        return added is not False

    def _push(self, request: Request, *, check: bool) -> tuple[bool | None, bool]:
        """Queue *request*, asking the dupefilter first when *check*: True (queued), False (a
        duplicate, logged by the dupefilter) or None (Redis is unreachable), and whether the
        dupefilter is still to be asked."""
        fingerprint = None
        if check and self.atomic:
            fingerprint = self.df.request_fingerprint(request)
        elif check:
            seen = self._redis(lambda: self.df.request_seen(request))
            if seen is None:
                return None, True
            if seen:
                self.df.log(request, self.spider)
                return False, False
        added = self._redis(lambda: self.queue.push_new(request, fingerprint))
        if added is None:
            return None, fingerprint is not None
        if not added:
            self.df.log(request, self.spider)
            return False, False
        self.stats.inc_value("scheduler/enqueued/redis")
        return True, False

    def next_request(self) -> Request | None:
        taken = self._redis(self.queue.take) if not self.unsent else None
        if not taken:
            return None
        lease, request = taken
        self.held[request] = lease
        self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def has_pending_requests(self) -> bool:
        # While Redis is away the engine must not take the crawl for done.
        if self.down_since is not None or self.unsent:
            return True
        queued = self._redis(lambda: len(self.queue))
        return queued is None or queued > 0

    def tend(self) -> None:
        """Queue what waited, acknowledge what the engine is done with, renew the rest, and
        give back the expired leases of workers that died."""
        if self.unsent:
            self._flush_unsent()
            if self.unsent:
                return
        try:
            engine = self.crawler.engine
        except RuntimeError:
            # Scrapy 2.19 before the crawl starts (a scheduler used on its own, as
            # scrapy-redis's tests do): nothing taken has been processed.
            engine = None
        # The engine's slot holds a request from its dequeue until its answer, callback
        # output and items have been processed (scrapy.core.engine, not a public API).
        if engine is None:
            done = []
        else:
            in_progress = engine._slot.inprogress if engine._slot else set()
            done = [request for request in self.held if request not in in_progress]
        # Acknowledged only once what they delivered is on record (every receiver said so).
        recorded = done and all(
            result is True for _, result in self.crawler.signals.send_catch_log(leases_acknowledging)
        )
        if recorded and self._redis(lambda: self.queue.ack([self.held[r] for r in done])) is not None:
            for request in done:
                del self.held[request]
            self.stats.inc_value("ali1688/leases/acked", len(done))
        if self.held and time.monotonic() - self.last_renewal >= self.lease_seconds / 4:
            if self._redis(lambda: self.queue.renew(list(self.held.values()))) is not None:
                self.last_renewal = time.monotonic()
        self._give_back_expired()

    def _give_back_expired(self) -> int:
        returned = self._redis(self.queue.give_back) or 0
        if returned:
            self.stats.inc_value("ali1688/leases/returned", returned)
            logger.warning("%d requests leased to a worker that stopped went back to the queue", returned)
        return returned

    def _flush_unsent(self) -> None:
        while self.unsent:
            request, check = self.unsent[0]
            added, check = self._push(request, check=check)
            if added is None:
                self.unsent[0] = (request, check)
                return
            self.unsent.pop(0)

    def _redis(self, call: Any) -> Any:
        """*call*'s result, or None while Redis is unreachable (one warning per outage; the
        crawl closes when the outage outlasts ALI1688_REDIS_OUTAGE_SECONDS)."""
        try:
            result = call()
        except redis.ResponseError as exc:
            if not str(exc).startswith("WRONGTYPE"):
                return self._unreachable(exc)
            # Redis answered: a key of another kind is no outage to wait out.
            close_crawl(self.crawler, REDIS_KEY_CONFLICT,
                        "Redis refused a command on the crawl's keys (%s): a key holds data of "
                        "another kind, e.g. the dupefilter key %s holds what another dupefilter "
                        "wrote (a Bloom filter) while DUPEFILTER_CLASS is scrapy-redis's set-based "
                        "RFPDupeFilter: set DUPEFILTER_CLASS to the dupefilter that wrote it, or "
                        "ALI1688_REDIS_PREFIX to a prefix of its own", exc, getattr(self.df, "key", "?"))
            return None
        except redis.RedisError as exc:
            return self._unreachable(exc)
        if self.down_since is not None:
            logger.info("Redis is back after %.1f s", time.monotonic() - self.down_since)
            self.down_since = None
        return result

    def _unreachable(self, exc: Exception) -> None:
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
            self.stats.inc_value("ali1688/redis/outages")
            logger.warning("Redis is unreachable (%s): requests wait here until it is back", exc)
        elif now - self.down_since >= self.outage_seconds:
            close_crawl(self.crawler, REDIS_UNAVAILABLE,
                        "Redis has been unreachable for %.0f s (ALI1688_REDIS_OUTAGE_SECONDS)",
                        now - self.down_since)
