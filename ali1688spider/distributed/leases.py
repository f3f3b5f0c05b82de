"""The shared request queue with leases: a request taken is lent, not gone.

scrapy-redis's priority queue (a sorted set) and its dupefilter (a set of fingerprints), made
safe for workers that die and a Redis that restarts:

- a new request's fingerprint and its queue entry are written by one script, so a Redis that
  stops between the two never keeps a fingerprint without its request (with scrapy-redis's
  own dupefilter; any other is asked through its ``request_seen``, see ``distributed.scheduler``);
- the order is scrapy-redis's queue class's (``SCHEDULER_QUEUE_CLASS``): by priority
  (``PriorityQueue``, the default), first in first out (``FifoQueue``) or last in first out
  (``LifoQueue``), as scores of the one sorted set, so a lease given back keeps its place;
- taking a request moves it, in one script, from the queue to the leases: a sorted set of
  lease ids by deadline (``…:leases``) and a hash of the requests lent (``…:leased``);
- the worker acknowledges a lease once the request's answer and everything its callback gave
  (requests queued, items through the pipelines) have been processed, and renews the leases
  it holds meanwhile;
- a lease whose deadline passed (its worker died) goes back to the queue, with its priority,
  the next time any worker looks.

Every script reads the time from Redis, so the workers' clocks do not matter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy_redis.queue import PriorityQueue

from ali1688spider.distributed.keys import lease_keys

if TYPE_CHECKING:
    from scrapy import Request

#: KEYS: queue, dupefilter, counter. ARGV: priority score, encoded request, fingerprint ("" =
#: do not filter), order ("priority", or "fifo"/"lifo": scored by the counter, first or last out).
PUSH = """
if ARGV[3] ~= '' and redis.call('SADD', KEYS[2], ARGV[3]) == 0 then return 0 end
local score, member = ARGV[1], ARGV[2]
if ARGV[4] ~= 'priority' then
  local seq = redis.call('INCR', KEYS[3])
  score = seq
  if ARGV[4] == 'lifo' then score = -seq end
  -- Each entry its own member: a list-based queue keeps equal requests apart.
  member = seq .. '|' .. member
end
redis.call('ZADD', KEYS[1], score, member)
return 1
"""
#: KEYS: queue, leases, leased, lease counter. ARGV: lease milliseconds.
TAKE = """
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #first == 0 then return false end
redis.call('ZREM', KEYS[1], first[1])
local id = redis.call('INCR', KEYS[4])
local now = redis.call('TIME')
local deadline = now[1] * 1000 + math.floor(now[2] / 1000) + tonumber(ARGV[1])
redis.call('ZADD', KEYS[2], deadline, id)
redis.call('HSET', KEYS[3], id, first[2] .. '|' .. first[1])
return {id, first[1]}
"""
#: KEYS: leases, leased. ARGV: lease ids.
ACK = """
for _, id in ipairs(ARGV) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return #ARGV
"""
#: KEYS: leases. ARGV: lease milliseconds, lease ids.
RENEW = """
local now = redis.call('TIME')
local deadline = now[1] * 1000 + math.floor(now[2] / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', deadline, ARGV[i]) end
return #ARGV - 1
"""
#: KEYS: queue, leases, leased. ARGV: lease ids to give back, or none: every expired lease.
GIVE_BACK = """
local ids = ARGV
if #ids == 0 then
  local now = redis.call('TIME')
  ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now[1] * 1000 + math.floor(now[2] / 1000))
end
local returned = 0
for _, id in ipairs(ids) do
  local entry = redis.call('HGET', KEYS[3], id)
  if entry then
    local bar = string.find(entry, '|', 1, true)
    redis.call('ZADD', KEYS[1], string.sub(entry, 1, bar - 1), string.sub(entry, bar + 1))
    redis.call('HDEL', KEYS[3], id)
    returned = returned + 1
  end
  redis.call('ZREM', KEYS[2], id)
end
return returned
"""


class LeasedQueue(PriorityQueue):
    """scrapy-redis's queue whose pops are leases (see the module docstring)."""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None, *,
                 dupefilter_key: str, lease_seconds: float, order: str = "priority"):
        super().__init__(server, spider, key, serializer)
        self.dupefilter_key = dupefilter_key
        self.order = order
        self.leases_key, self.leased_key, self.counter_key = lease_keys(self.key)
        self.lease_ms = max(1, round(lease_seconds * 1000))
        self._push = server.register_script(PUSH)
        self._take = server.register_script(TAKE)
        self._ack = server.register_script(ACK)
        self._renew = server.register_script(RENEW)
        self._give_back = server.register_script(GIVE_BACK)

    def push_new(self, request: Request, fingerprint: str | None) -> bool:
        """Queue *request* unless its fingerprint is known (None: queue it anyway)."""
        score = -request.priority
        added = self._push(keys=[self.key, self.dupefilter_key, self.counter_key],
                           args=[score, self._encode_request(request), fingerprint or "", self.order])
        return bool(added)

    def take(self) -> tuple[str, Request] | None:
        """The next request and its lease id, or None when the queue is empty."""
        taken = self._take(keys=[self.key, self.leases_key, self.leased_key, self.counter_key],
                           args=[self.lease_ms])
        if not taken:
            return None
        lease, data = taken
        if self.order != "priority":
            data = data.split(b"|", 1)[1]
        return lease.decode() if isinstance(lease, bytes) else str(lease), self._decode_request(data)

    def ack(self, leases: list[str]) -> int:
        """Forget *leases*: their requests are done; how many."""
        return int(self._ack(keys=[self.leases_key, self.leased_key], args=leases)) if leases else 0

    def renew(self, leases: list[str]) -> int:
        """Push the deadlines of *leases* out by a lease period; how many."""
        return int(self._renew(keys=[self.leases_key], args=[self.lease_ms, *leases])) if leases else 0

    def give_back(self, leases: list[str] | None = None) -> int:
        """Return *leases* to the queue (None: every lease past its deadline); how many."""
        if leases == []:
            return 0
        return int(self._give_back(keys=[self.key, self.leases_key, self.leased_key], args=leases or []))

    def leased(self) -> int:
        """Requests lent to workers right now."""
        return int(self.server.zcard(self.leases_key))

    def clear(self) -> None:
        self.server.delete(self.key, self.leases_key, self.leased_key, self.counter_key)
