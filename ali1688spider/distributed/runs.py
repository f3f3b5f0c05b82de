"""Runs of a distributed crawl: each has its own identity, so no verdict rests on another's state.

``{prefix}:{spider}:run`` is a hash ``{id, started_at, state}`` naming the current run. ``ali1688
enqueue`` joins it while it is ``running`` and starts a new one otherwise (``--fresh`` always
does); a worker started with its own ``-a`` job joins or starts one the same way. Everything a
run shares about its targets (the shared completeness ledger) lives under keys holding the run
id, so a rerun never counts what an earlier run listed, and old runs' keys simply expire. The
worker that finds the shared crawl done marks the run ``finished``.

The marker is also how a lost Redis is noticed: a Redis restarted without persistence has no
marker, or another run's; a worker that wrote under its run then says so and never judges.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

RUNNING, FINISHED = "running", "finished"
#: Seconds a run's marker outlives its last use (the shared ledger keeps the same).
KEEP_SECONDS = 7 * 86400


def run_key(prefix: str, spider_name: str) -> str:
    return f"{prefix}:{spider_name}:run"


def new_run_id() -> str:
    """A run id that sorts by start time: ``20261204T161500Z-3f9a1c``."""
    now = dt.datetime.now(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def start_run(client: redis.Redis, key: str) -> str:
    """Make a new run the current one; its id."""
    run_id = new_run_id()
    with client.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        pipe.hset(key, mapping={"id": run_id, "state": RUNNING,
                                "started_at": dt.datetime.now(dt.timezone.utc).isoformat()})
        pipe.expire(key, KEEP_SECONDS)
        pipe.execute()
    return run_id


#: Join the running run or start one, in one step (two workers starting together must agree).
_JOIN_OR_START = """
local id = redis.call('HGET', KEYS[1], 'id')
if id and redis.call('HGET', KEYS[1], 'state') == 'running' then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return {id, 0}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'state', 'running', 'started_at', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {ARGV[1], 1}
"""


def join_or_start(client: redis.Redis, key: str) -> tuple[str, bool]:
    """The id of the running run, or of a new one when none runs; True when it is new."""
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    run_id, started = client.eval(_JOIN_OR_START, 1, key, new_run_id(), now, KEEP_SECONDS)
    return (run_id.decode() if isinstance(run_id, bytes) else run_id), bool(started)


def current_run(client: redis.Redis, key: str) -> tuple[str, str] | None:
    """``(id, state)`` of the current run, None when Redis has no marker."""
    values = client.hgetall(key)
    if not values or b"id" not in values:
        return None
    return values[b"id"].decode(), values.get(b"state", b"").decode()


def finish_run(client: redis.Redis, key: str, run_id: str) -> None:
    """Mark *run_id* finished, unless another run has become the current one since."""
    current = current_run(client, key)
    if current is not None and current[0] == run_id:
        client.hset(key, "state", FINISHED)


def lost_run(current: tuple[str, str] | None, run_id: str) -> str | None:
    """Why *run_id*'s shared state cannot be trusted (None: it is still the current run)."""
    if current is None:
        return "Redis holds no run any more: it restarted without persistence (or was flushed), " \
               "and this run's queue, seeds, leases and shared listing are gone"
    if current[0] != run_id:
        return f"another run ({current[0]}) was started while this one ({run_id}) ran"
    return None
