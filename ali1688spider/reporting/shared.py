"""The completeness ledger of a distributed crawl, shared in Redis.

Each worker sees only the products it handled; whether the crawl as a whole is complete is
known only to all of them together. Every worker adds, per target, the platform's total and
the ids it listed and delivered to three Redis keys
(``{prefix}:{spider}:ledger:{target}:total|listed|delivered``). The worker that finds the
shared queue empty and no request lent to any worker judges the crawl from them: short of
``ALI1688_COMPLETENESS_MIN``, it closes ``ali1688_incomplete`` and exits 1, so a lossy
distributed run never ends as a success. Keys expire a week after the last write.

``redis`` is imported only when ``ALI1688_REDIS_URL`` is set: a crawl of one machine needs no
redis extra.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from ali1688spider.distributed.keys import key_prefix, lease_keys, redis_url, requests_key

if TYPE_CHECKING:
    import redis
    from scrapy.crawler import Crawler

    from ali1688spider.reporting.ledger import TargetLedger

#: Seconds the shared figures of a crawl outlive its last write.
KEEP_SECONDS = 7 * 86400


class SharedFigures(NamedTuple):
    """What all workers together know of one target."""

    official_total: int | None
    listed: int
    delivered: int


@dataclass
class SharedLedger:
    """This worker's view of the shared ledger: what it has written, and the crawl's state."""

    client: redis.Redis
    prefix: str
    spider: str
    #: What a Redis outage raises (``redis.RedisError``).
    outage: type[Exception]
    _written: dict[str, tuple[set[str], set[str]]] = field(default_factory=dict)

    @classmethod
    def for_crawler(cls, crawler: Crawler, spider_name: str) -> SharedLedger | None:
        url = redis_url(crawler.settings)
        if url is None:
            return None
        import redis

        return cls(redis.Redis.from_url(url), key_prefix(crawler.settings), spider_name, redis.RedisError)

    def _keys(self, target: TargetLedger) -> tuple[str, str, str]:
        base = f"{self.prefix}:{self.spider}:ledger:{target.key}"
        return f"{base}:total", f"{base}:listed", f"{base}:delivered"

    def write(self, targets: list[TargetLedger]) -> bool:
        """Add what this worker learnt since the last write; False when Redis did not take it
        (it is sent again next time)."""
        sent = []
        with self.client.pipeline(transaction=False) as pipe:
            for target in targets:
                total_key, listed_key, delivered_key = self._keys(target)
                listed, delivered = self._written.setdefault(target.key, (set(), set()))
                new_listed = target.listed - listed
                # Not only what this worker listed: another may have listed what it delivered.
                new_delivered = (target.emitted | target.skipped) - delivered
                if target.official_total is not None:
                    pipe.set(total_key, target.official_total, ex=KEEP_SECONDS)
                if new_listed:
                    pipe.sadd(listed_key, *new_listed)
                if new_delivered:
                    pipe.sadd(delivered_key, *new_delivered)
                for key in (listed_key, delivered_key):
                    pipe.expire(key, KEEP_SECONDS)
                sent.append((listed, new_listed, delivered, new_delivered))
            try:
                pipe.execute()
            except self.outage:
                return False
        for listed, new_listed, delivered, new_delivered in sent:
            listed |= new_listed
            delivered |= new_delivered
        return True

    def crawl_done(self) -> bool:
        """No request queued and none lent to a worker: nothing more will be delivered."""
        queue = requests_key(self.prefix, self.spider)
        return not self.client.exists(queue, lease_keys(queue)[0])

    def figures(self, target: TargetLedger) -> SharedFigures:
        total_key, listed_key, delivered_key = self._keys(target)
        total = self.client.get(total_key)
        return SharedFigures(
            int(total) if total is not None else None,
            int(self.client.scard(listed_key)),
            int(self.client.scard(delivered_key)),
        )

    def listed_ids(self, target: TargetLedger) -> set[str]:
        """Every product id any worker listed for *target*."""
        return {member.decode() for member in self.client.smembers(self._keys(target)[1])}

    def close(self) -> None:
        self.client.close()
