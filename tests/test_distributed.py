"""Distributed crawling: worker processes sharing one Redis queue, rate limit and daily quota.

Each test starts a sandbox gateway with a QPS limit and a real redis-server, runs real
``scrapy crawl`` worker processes side by side and checks what came out against the
sandbox's ground truth and its own measurements (peak calls per sliding second, per app key).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO, CrawlResult
from helpers import child_environment, sandbox_apps


QPS = 20
QPS_LIMIT_CODE = "gw.QosAppFrequencyLimit"


@dataclass
class Worker:
    """A ``scrapy crawl`` worker process; ``finish()`` waits for it and returns its CrawlResult."""

    process: subprocess.Popen
    output: Path
    stats: Path
    log: Path

    def finish(self, timeout: float = 180) -> CrawlResult:
        self.process.wait(timeout=timeout)
        return CrawlResult(self.process.returncode, self.log.read_text(errors="replace"), self.output, self.stats)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def start_worker(
    tmp_path: Path, name: str, spider: str, args: dict[str, str], env: dict[str, str],
    settings: dict[str, str] | None = None,
) -> Worker:
    """A ``scrapy crawl`` worker in a subprocess, logging to ``{name}.log``."""
    output, stats, log = tmp_path / f"{name}.jsonl", tmp_path / f"{name}-stats.json", tmp_path / f"{name}.log"
    command = [sys.executable, "-m", "scrapy", "crawl", spider, "-O", str(output),
               "-s", f"ALI1688_STATS_FILE={stats}", "-s", "LOG_LEVEL=INFO",
               "-s", f"ALI1688_REPORT_FILE={tmp_path / 'reports' / (name + '-%(target)s.json')}"]
    for key, value in (settings or {}).items():
        command += ["-s", f"{key}={value}"]
    for key, value in args.items():
        command += ["-a", f"{key}={value}"]
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, cwd=REPO, env=child_environment(env), stdout=log_file,
                                   stderr=subprocess.STDOUT)
    return Worker(process, output, stats, log)


def run_workers(tmp_path, count, spider, args, env, prefix="w", settings=None) -> list[CrawlResult]:
    workers = [start_worker(tmp_path, f"{prefix}{n}", spider, args, env, settings) for n in range(count)]
    return [worker.finish() for worker in workers]


def enqueue(env: dict[str, str], *words: str) -> subprocess.CompletedProcess:
    child_env = child_environment(env)
    return subprocess.run(
        [sys.executable, "-m", "ali1688spider.cli", "enqueue", *words],
        cwd=REPO, env=child_env, capture_output=True, text=True, timeout=60,
    )


def product_ids(results: list[CrawlResult]) -> list[str]:
    return [item["product_id"] for result in results for item in result.items]


@pytest.fixture
def limited_sandbox(sandbox_factory):
    return sandbox_factory("--qps", str(QPS), "--apps", "3")


@pytest.fixture
def worker_env(limited_sandbox, redis_url):
    return limited_sandbox.env(
        ALI1688_REDIS_URL=redis_url, ALI1688_QPS=str(QPS), ALI1688_REDIS_IDLE_TIMEOUT="2"
    )


def shop_ids(sandbox, max_products: int) -> list[str]:
    shop = sandbox.shop(max_products)
    return sandbox.get(f"/sandbox/shops/{shop['seller_open_id']}/ids")


def assert_refusals_accounted(sandbox, results: list[CrawlResult]) -> dict:
    """Whatever the machine's load did to the timing: every call the gateway refused for rate
    was counted by the worker that sent it (and retried: the callers check nothing is missing).

    Whether the shared pace stays under the limit is bench/distributed.py's to measure; the
    rule itself is tests/test_pacing.py's, on a fake clock.
    """
    stats = sandbox.stats()
    assert stats["total_calls"], "the sandbox saw no call"
    refused = stats["errors"].get(QPS_LIMIT_CODE, 0)
    assert sum(r.stats.get("ali1688/rate/refused", 0) for r in results) == refused
    return stats


def test_two_workers_split_one_crawl_without_duplicates_or_overshoot(
    tmp_path, limited_sandbox, worker_env, redis_server
):
    ids = shop_ids(limited_sandbox, 100)
    # The same crawl started on two machines: the shared dupefilter hands each call to one.
    results = run_workers(tmp_path, 2, "product", {"ids": ",".join(ids)}, worker_env)
    for result in results:
        assert result.returncode == 0, result.log[-3000:]
        assert result.stats["finish_reason"] == "finished"
        assert "ScrapyDeprecationWarning" not in result.log
    crawled = product_ids(results)
    assert sorted(crawled) == sorted(ids)  # none missing, none twice
    assert all(result.items for result in results), "one worker did all the work"
    stats = assert_refusals_accounted(limited_sandbox, results)
    refused = stats["errors"].get(QPS_LIMIT_CODE, 0)
    assert stats["calls"]["product.search.queryProductDetail"] == len(ids) + refused
    # Nothing is left queued, and the seen requests are kept for a later run.
    client = redis_server.client()
    assert not client.exists("ali1688:product:requests")
    assert client.scard("ali1688:product:dupefilter") == len(ids)


def test_bare_workers_take_enqueued_seeds(tmp_path, limited_sandbox, worker_env):
    ids = shop_ids(limited_sandbox, 60)
    chunks = [ids[n:n + 10] for n in range(0, len(ids), 10)]
    for chunk in chunks:
        done = enqueue(worker_env, "product", f"ids={','.join(chunk)}")
        assert done.returncode == 0, done.stderr
    results = run_workers(tmp_path, 2, "product", {}, worker_env)
    for result in results:
        assert result.returncode == 0, result.log[-3000:]
    assert sorted(product_ids(results)) == sorted(ids)
    assert sum(r.stats.get("ali1688/seeds/taken", 0) for r in results) == len(chunks)
    assert_refusals_accounted(limited_sandbox, results)


def test_seeds_are_taken_after_the_workers_own_job(tmp_path, limited_sandbox, worker_env, redis_server):
    ids = shop_ids(limited_sandbox, 60)
    first, rest = ids[:5], ids[5:]
    done = enqueue(worker_env, "product", f"ids={','.join(rest[:30])}")
    assert done.returncode == 0, done.stderr
    assert "1 waiting" in done.stdout
    assert enqueue(worker_env, "product", f"ids={','.join(rest[30:])}").returncode == 0
    bad = enqueue(worker_env, "product", "idz=1")
    assert bad.returncode == 1 and "does not take argument(s) idz" in bad.stderr
    # A seed that went bad on its way (say, pushed by hand) is skipped with one error line.
    redis_server.client().rpush("ali1688:product:seeds", b"not json")
    results = run_workers(tmp_path, 2, "product", {"ids": ",".join(first)}, worker_env)
    for result in results:
        assert result.returncode == 0, result.log[-3000:]
    assert sorted(product_ids(results)) == sorted(ids)
    taken = sum(r.stats.get("ali1688/seeds/taken", 0) for r in results)
    invalid = sum(r.stats.get("ali1688/seeds/invalid", 0) for r in results)
    assert (taken, invalid) == (2, 1)
    assert_refusals_accounted(limited_sandbox, results)


def test_daily_quota_stops_every_worker_and_the_next_run_continues(
    tmp_path, limited_sandbox, worker_env, redis_server
):
    ids = shop_ids(limited_sandbox, 60)
    quota = 30
    assert len(ids) - quota < quota  # one more day finishes the crawl
    env = {**worker_env, "ALI1688_DAILY_QUOTA": str(quota)}
    results = run_workers(tmp_path, 2, "product", {"ids": ",".join(ids)}, env)
    for result in results:
        assert result.stats["finish_reason"] == "ali1688_quota_exhausted", result.log[-3000:]
        assert result.returncode == 1
        assert result.log.count(f"the daily quota ALI1688_DAILY_QUOTA={quota} is spent") == 1
    stats = limited_sandbox.stats()
    # Every attempt counts against the quota, a refused one too (and goes back in the queue).
    assert stats["total_calls"] == quota
    first_day = product_ids(results)
    assert len(first_day) == len(set(first_day)) == quota - stats["errors"].get(QPS_LIMIT_CODE, 0)
    client = redis_server.client()
    assert client.zcard("ali1688:product:requests") == len(ids) - len(first_day)
    # The next China day: a new count (simulated by dropping today's counter).
    for key in client.scan_iter("ali1688:quota:*"):
        client.delete(key)
    next_day = run_workers(tmp_path, 1, "product", {"ids": ",".join(ids)}, env, prefix="next")
    assert next_day[0].returncode == 0, next_day[0].log[-3000:]
    assert sorted(first_day + product_ids(next_day)) == sorted(ids)
    stats = limited_sandbox.stats()
    assert stats["total_calls"] == len(ids) + stats["errors"].get(QPS_LIMIT_CODE, 0)


def test_calls_rotate_over_credentials_within_each_keys_limit(tmp_path, limited_sandbox, worker_env):
    ids = shop_ids(limited_sandbox, 100)
    apps = sandbox_apps(2, 3)
    env = {**worker_env, "ALI1688_CREDENTIALS": json.dumps(apps)}
    results = run_workers(tmp_path, 2, "product", {"ids": ",".join(ids)}, env)
    for result in results:
        assert result.returncode == 0, result.log[-3000:]
        for app in apps:
            assert app["app_secret"] not in result.log and app["access_token"] not in result.log
    assert sorted(product_ids(results)) == sorted(ids)
    stats = assert_refusals_accounted(limited_sandbox, results)
    used = Counter(stats["quota_used"])
    assert set(used) == {"8688001", "8688002", "8688003"}
    # Round robin in each worker: every key carries about a third of the calls.
    assert max(used.values()) - min(used.values()) <= 4, used


def test_a_shared_crawl_refuses_an_embedded_sandbox(crawl, redis_url):
    result = crawl("product", args={"ids": "1"}, env={"ALI1688_REDIS_URL": redis_url})
    assert result.returncode == 2
    assert "ALI1688_REDIS_URL is set" in result.log and "Traceback" not in result.log


def test_two_workers_crawl_one_shop_completely(tmp_path, limited_sandbox, worker_env):
    shop = limited_sandbox.shop(700)
    ids = limited_sandbox.get(f"/sandbox/shops/{shop['seller_open_id']}/ids")
    results = run_workers(tmp_path, 2, "shop", {"seller_open_id": shop["seller_open_id"]}, worker_env)
    for result in results:
        assert result.returncode == 0, result.log[-3000:]
    crawled = [item["product_id"] for result in results for item in result.items if "product_id" in item]
    assert sorted(crawled) == sorted(ids)
    assert_refusals_accounted(limited_sandbox, results)
