"""Runs of a distributed crawl on one Redis and one prefix: each run judges only its own shared
listing (a rerun finds the delistings since the last one, a lost page is never "complete"), and a
Redis restarted empty under a running worker is said in one line with the command that re-seeds."""

from __future__ import annotations

import time

from redis_server import start_redis_server
from test_distributed import enqueue, run_workers, start_worker

FAST = {"ALI1688_QPS": "500", "ALI1688_REDIS_IDLE_TIMEOUT": "2", "ALI1688_RETRY_TIMES": "1"}


def test_each_run_judges_its_own_listing_on_the_same_prefix(proxied, redis_url, tmp_path):
    sandbox, proxy = proxied
    shop = sandbox.shop(100)
    env = proxy.env(sandbox, ALI1688_REDIS_URL=redis_url, ALI1688_DB_URL=f"sqlite:///{tmp_path / 'd.db'}", **FAST)

    def run(name: str):
        queued = enqueue(env, "shop", f"seller_open_id={shop['seller_open_id']}")
        assert queued.returncode == 0, queued.stderr
        assert "new run" in queued.stdout  # the last run finished: this is another one
        [result] = run_workers(tmp_path, 1, "shop", {}, env, prefix=name)
        return result

    first = run("first")
    assert first.returncode == 0, first.log[-3000:]
    gone = sandbox.post("/sandbox/delist", {"seller_open_id": shop["seller_open_id"], "fraction": 0.05, "seed": 2})
    second = run("second")
    assert second.returncode == 0, second.log[-3000:]
    assert second.stats["ali1688/changes/removed"] == len(gone["changed"]) > 0
    proxy.mode, proxy.page = "lose_page", 2
    third = run("third")
    assert third.returncode == 1
    assert "ali1688/changes/removed" not in third.stats
    assert third.stats["finish_reason"] == "ali1688_incomplete"


def test_a_redis_restarted_empty_is_said_with_the_command_that_reseeds(sandbox_factory, tmp_path):
    sandbox = sandbox_factory("--qps", "0", "--latency-ms", "50")
    server = start_redis_server(tmp_path)
    # 640 detail calls at 50 a second: Redis restarts a few seconds in, ten before the end.
    env = sandbox.env(ALI1688_REDIS_URL=server.url, ALI1688_QPS="50", ALI1688_REDIS_IDLE_TIMEOUT="2")
    shop = sandbox.shop(700)
    worker = start_worker(tmp_path, "w", "shop", {"seller_open_id": shop["seller_open_id"], "details": "1"}, env)
    try:
        for _ in range(300):
            if "Crawled" in worker.log.read_text(errors="replace") or worker.output.exists():
                break
            time.sleep(0.1)
        time.sleep(2)
        server.kill()
        server = server.restart()  # no persistence: an empty Redis on the same port
        result = worker.finish(timeout=240)
    finally:
        worker.kill()
        server.stop()
    assert result.returncode == 1, result.log[-3000:]
    assert result.stats["finish_reason"] == "ali1688_redis_data_lost"
    assert "Redis holds no run any more: it restarted without persistence" in result.log
    assert "ali1688 enqueue --fresh shop KEY=VALUE" in result.log
