"""Distributed crawls under disruption: a worker SIGKILLed mid-crawl, Redis SIGKILLed and
restarted, and nothing lost.

Real processes all the way: a sandbox, a redis-server writing an append-only file (fsync on
every write, as a production Redis with persistence would at worst lose a second), and
``scrapy crawl`` workers. Leases are short (3 s) so that a dead worker's requests come back
within the test.
"""

from __future__ import annotations

import json
import time

import pytest
from redis_server import start_redis_server
from test_distributed import enqueue, start_worker

LEASE_SECONDS = "3"


def feed_ids(path) -> set[str]:
    """Product ids of a feed; a killed worker's last line may be cut short."""
    ids = set()
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                ids.add(json.loads(line)["product_id"])
            except (ValueError, KeyError):
                continue
    return ids


def wait_for_calls(sandbox, calls: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while sandbox.stats()["total_calls"] < calls:
        if time.monotonic() > deadline:
            pytest.fail(f"the crawl did not reach {calls} calls")
        time.sleep(0.05)


@pytest.fixture
def persistent_redis(tmp_path):
    root = tmp_path / "redis"
    root.mkdir()
    servers = [start_redis_server(root, persistent=True)]
    yield servers
    servers[-1].stop()


def test_a_killed_worker_and_a_restarted_redis_lose_nothing(tmp_path, sandbox_factory, persistent_redis):
    sandbox = sandbox_factory("--qps", "0", "--page-cap", "3")
    shop = sandbox.shop(700)
    expected = set(sandbox.ids(shop))
    server = persistent_redis[0]
    env = sandbox.env(ALI1688_REDIS_URL=server.url, ALI1688_REDIS_IDLE_TIMEOUT="4",
                      ALI1688_REDIS_LEASE_SECONDS=LEASE_SECONDS, ALI1688_QPS="40")
    assert enqueue(env, "shop", f"seller_open_id={shop['seller_open_id']}", "details=1").returncode == 0
    calls = len(expected) + 20

    # Alone at first, so that when it is killed while it works it surely holds leases.
    first = start_worker(tmp_path, "a", "shop", {}, env)
    wait_for_calls(sandbox, calls // 3)
    first.kill()
    second, replacement = (start_worker(tmp_path, name, "shop", {}, env) for name in ("b", "c"))
    wait_for_calls(sandbox, 2 * calls // 3)
    server.kill()
    time.sleep(2)
    persistent_redis.append(server.restart())
    results = [second.finish(), replacement.finish()]
    for result in results:
        assert result.returncode == 0 and "Traceback" not in result.log, result.log[-3000:]
    # The worker that ran through the outage waited for Redis and went on (the replacement
    # may have started during it, and waited before its start).
    assert "Redis is unreachable" in results[0].log and "Redis is back" in results[0].log
    crawled = feed_ids(first.output) | feed_ids(second.output) | feed_ids(replacement.output)

    # The same worker command again completes whatever is missing (nothing, if the workers
    # above already took back every lease).
    again = start_worker(tmp_path, "d", "shop", {}, env).finish()
    assert again.returncode == 0, again.log[-3000:]
    crawled |= feed_ids(again.output)
    assert crawled == expected, f"{len(expected - crawled)} of {len(expected)} missing"
    # The killed worker's requests came back through their leases.
    assert sum(r.stats.get("ali1688/leases/returned", 0) for r in [*results, again]) > 0


def test_a_shared_crawl_that_lost_products_does_not_end_as_a_success(tmp_path, sandbox_factory, redis_url):
    # Listing pages fail and are not retried: products are lost for good.
    sandbox = sandbox_factory("--qps", "0", "--page-cap", "3", "--fail-5xx", "0.2")
    shop = sandbox.shop(700)
    env = sandbox.env(ALI1688_REDIS_URL=redis_url, ALI1688_REDIS_IDLE_TIMEOUT="3",
                      ALI1688_RETRY_TIMES="0", ALI1688_QPS="100")
    assert enqueue(env, "shop", f"seller_open_id={shop['seller_open_id']}").returncode == 0
    workers = [start_worker(tmp_path, name, "shop", {}, env) for name in ("a", "b")]
    results = [worker.finish() for worker in workers]
    crawled = feed_ids(workers[0].output) | feed_ids(workers[1].output)
    assert len(crawled) < len(sandbox.ids(shop))
    judged = [r for r in results if r.stats.get("finish_reason") == "ali1688_incomplete"]
    assert judged, [r.log[-1500:] for r in results]
    assert all(r.returncode == 1 for r in judged)


def test_a_redis_that_never_comes_back_closes_the_worker(tmp_path, sandbox_factory, persistent_redis):
    sandbox = sandbox_factory("--qps", "0", "--page-cap", "3")
    shop = sandbox.shop(700)
    server = persistent_redis[0]
    env = sandbox.env(ALI1688_REDIS_URL=server.url, ALI1688_REDIS_IDLE_TIMEOUT="4",
                      ALI1688_REDIS_OUTAGE_SECONDS="3", ALI1688_QPS="40")
    assert enqueue(env, "shop", f"seller_open_id={shop['seller_open_id']}", "details=1").returncode == 0
    worker = start_worker(tmp_path, "a", "shop", {}, env)
    wait_for_calls(sandbox, 100)
    server.kill()
    result = worker.finish(timeout=90)
    persistent_redis.append(server.restart())
    assert result.returncode == 1, result.log[-3000:]
    assert result.stats["finish_reason"] == "ali1688_redis_unavailable"
    assert "Redis has been unreachable for" in result.log and "Traceback" not in result.log
    # What it held went back to the queue by lease expiry: the next run goes on from there.
    client = persistent_redis[-1].client()
    assert client.zcard("ali1688:shop:requests") + client.zcard("ali1688:shop:requests:leases") > 0
