"""The completeness ledger of a distributed crawl, shared in Redis.

Each worker sees only the products it handled; whether the crawl as a whole is complete is
known only to all of them together. Every worker adds, per target, the platform's total, its
doubts about the counts and the ids it listed and delivered to keys of the current *run*
(``{prefix}:{spider}:ledger:{run}:{target}:total|doubts|listed|delivered``, see
``distributed/runs.py``), so no run counts what an earlier one listed. The worker that finds
the shared queue empty and no request lent to any worker judges the crawl from them: short of
``ALI1688_COMPLETENESS_MIN``, it closes ``ali1688_incomplete`` and exits 1, so a lossy
distributed run never ends as a success; a run whose keys are gone (Redis restarted empty) or
belong to another run is never judged complete. Keys expire a week after the last write.

``redis`` is imported only when ``ALI1688_REDIS_URL`` is set: a crawl of one machine needs no
redis extra.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from scrapy import signals

from ali1688spider.distributed.keys import key_prefix, lease_keys, redis_url, requests_key
from ali1688spider.distributed.runs import current_run, finish_run, join_or_start, lost_run, run_key
from ali1688spider.reporting.ledger import judge

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
    doubts: int = 0

    def verdict(self, minimum: float) -> str:
        return judge(self.official_total, self.listed, self.delivered, minimum, self.doubts)


@dataclass
class SharedLedger:
    """This worker's view of the shared ledger: what it has written, and the crawl's state."""

    client: redis.Redis
    prefix: str
    spider: str
    #: What a Redis outage raises (``redis.RedisError``).
    outage: type[Exception]
    #: The run this worker writes under: joined (or started) at its first write.
    run_id: str | None = None
    _written: dict[str, tuple[set[str], set[str]]] = field(default_factory=dict)

    @classmethod
    def for_crawler(cls, crawler: Crawler, spider_name: str) -> SharedLedger | None:
        """The crawl's one shared ledger (every user must agree on the run), kept on the
        crawler; None when the crawl is not distributed."""
        url = redis_url(crawler.settings)
        if url is None:
            return None
        shared = getattr(crawler, "ali1688_shared_ledger", None)
        if shared is None:
            import redis

            shared = cls(redis.Redis.from_url(url), key_prefix(crawler.settings), spider_name, redis.RedisError)
            try:
                # At the start: workers started together agree on one run, and one that only
                # judges (its share done by others) judges the run it started in.
                shared.run_id = join_or_start(shared.client, shared._run_key)[0]
            except redis.RedisError:
                pass  # joined at the first write
            crawler.ali1688_shared_ledger = shared  # type: ignore[attr-defined]
            crawler.signals.connect(shared.close, signal=signals.spider_closed, weak=False)
        return shared

    @property
    def _run_key(self) -> str:
        return run_key(self.prefix, self.spider)

    def _base(self, target: TargetLedger, *, joining: bool = False) -> str:
        """Where *target*'s keys live in this worker's run: the running one, joined (or started)
        when *joining* (a write); when only reading, the current one, even finished."""
        if self.run_id is None:
            if joining:
                self.run_id = join_or_start(self.client, self._run_key)[0]
            else:
                current = current_run(self.client, self._run_key)
                self.run_id = current[0] if current is not None else "none"
        return f"{self.prefix}:{self.spider}:ledger:{self.run_id}:{target.key}"

    def _keys(self, target: TargetLedger, *, joining: bool = False) -> tuple[str, str, str, str]:
        base = self._base(target, joining=joining)
        return f"{base}:total", f"{base}:listed", f"{base}:delivered", f"{base}:doubts"

    def write(self, targets: list[TargetLedger]) -> bool:
        """Add what this worker learnt since the last write; False when Redis did not take it
        (it is sent again next time)."""
        sent = []
        try:
            keys = [self._keys(target, joining=True) for target in targets]
        except self.outage:
            return False
        with self.client.pipeline(transaction=False) as pipe:
            for target, (total_key, listed_key, delivered_key, doubts_key) in zip(targets, keys):
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
                if target.doubts:
                    pipe.sadd(doubts_key, *target.doubts)
                for key in (listed_key, delivered_key, doubts_key):
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

    def lost(self) -> str | None:
        """Why this run's shared state cannot be trusted (None: it can)."""
        if self.run_id is None:
            return None
        return lost_run(current_run(self.client, self._run_key), self.run_id)

    def finish(self) -> None:
        """The shared crawl is done: the next ``ali1688 enqueue`` starts a new run."""
        if self.run_id is not None:
            finish_run(self.client, self._run_key, self.run_id)

    def claim(self, target: TargetLedger, task: str) -> bool:
        """True for the one worker of this run that first claims *task* for *target* (the
        others leave it: one set of proof calls per run, not one per worker)."""
        key = f"{self._base(target)}:claimed:{task}"
        return bool(self.client.set(key, 1, nx=True, ex=KEEP_SECONDS))

    def figures(self, target: TargetLedger) -> SharedFigures:
        total_key, listed_key, delivered_key, doubts_key = self._keys(target)
        total = self.client.get(total_key)
        return SharedFigures(
            int(total) if total is not None else None,
            int(self.client.scard(listed_key)),
            int(self.client.scard(delivered_key)),
            int(self.client.scard(doubts_key)),
        )

    def listed_ids(self, target: TargetLedger) -> set[str]:
        """Every product id any worker listed for *target* in this run."""
        return {member.decode() for member in self.client.smembers(self._keys(target)[1])}

    def close(self) -> None:
        self.client.close()
