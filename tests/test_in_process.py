"""Crawls run inside the test process: the signing handler, the error middleware, the quota
stop, the Redis seeds, the completeness and SQL pipelines and the shop spider, with a crawler
built in the test (Scrapy's own runner, on the reactor pytest-twisted runs) against a real
sandbox subprocess. Faster than a ``scrapy crawl`` subprocess each, and the crawler's stats,
signals and objects can be looked at directly.
"""

from __future__ import annotations

import json
from typing import Any

import pytest_twisted
from scrapy import signals
from scrapy.crawler import CrawlerRunner
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.project import get_project_settings
from sqlalchemy import func, select

from ali1688spider.sandbox.process import SandboxProcess
from ali1688spider.spiders.product import ProductSpider
from ali1688spider.spiders.shop.spider import ShopSpider
from ali1688spider.storage import schema
from ali1688spider.storage.store import make_engine


class InProcessCrawl:
    """One crawl of *spidercls* in this process; ``items`` is what reached the feed."""

    def __init__(self, spidercls: type, settings: dict[str, Any]):
        project = get_project_settings()
        project.setdict(settings, priority="cmdline")
        self.crawler = CrawlerRunner(project).create_crawler(spidercls)
        self.items: list[dict[str, Any]] = []
        self.crawler.signals.connect(self._scraped, signal=signals.item_scraped)

    def _scraped(self, item: Any) -> None:
        self.items.append(dict(item))

    async def run(self, **arguments: Any) -> InProcessCrawl:
        # The test is a Twisted coroutine; the crawl an asyncio one, on the same loop.
        await deferred_from_coro(self.crawler.crawl_async(**arguments))
        return self

    @property
    def stats(self) -> dict[str, Any]:
        return self.crawler.stats.get_stats()


def sandbox_settings(sandbox: SandboxProcess, tmp_path, **extra: Any) -> dict[str, Any]:
    return {
        **sandbox.env(),
        "ALI1688_REPORT_FILE": str(tmp_path / "report-%(spider)s.json"),
        "ALI1688_STATE_FILE": str(tmp_path / "state.json"),
        "ALI1688_PROGRESS_INTERVAL": 0,
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def some_ids(sandbox: SandboxProcess, count: int) -> list[str]:
    return sandbox.ids(sandbox.shop(100))[:count]


@pytest_twisted.ensureDeferred
async def test_the_handler_signs_every_call_and_the_middleware_passes_answers(sandbox, tmp_path):
    ids = some_ids(sandbox, 5)
    done = await InProcessCrawl(ProductSpider, sandbox_settings(sandbox, tmp_path)).run(ids=",".join(ids))
    assert sorted(item["product_id"] for item in done.items) == sorted(ids)
    assert done.stats["finish_reason"] == "finished"
    assert done.stats["ali1688/calls"] == len(ids) == done.stats["ali1688/responses/ok"]


@pytest_twisted.ensureDeferred
async def test_a_wrong_secret_closes_the_crawl_with_its_reason(sandbox, tmp_path):
    settings = sandbox_settings(sandbox, tmp_path, ALI1688_APP_SECRET="wrong-secret")
    done = await InProcessCrawl(ProductSpider, settings).run(ids=",".join(some_ids(sandbox, 3)))
    assert done.stats["finish_reason"] == "ali1688_bad_credentials"
    assert done.stats["ali1688/closed/ali1688_bad_credentials"] == 1
    assert done.items == []


@pytest_twisted.ensureDeferred
async def test_the_quota_stop_keeps_unsent_calls_queued(sandbox, tmp_path):
    ids = some_ids(sandbox, 8)
    settings = sandbox_settings(sandbox, tmp_path, ALI1688_DAILY_QUOTA=3)
    done = await InProcessCrawl(ProductSpider, settings).run(ids=",".join(ids))
    assert done.stats["finish_reason"] == "ali1688_quota_exhausted"
    assert len(done.items) == 3 == done.stats["ali1688/calls"]
    assert done.stats["ali1688/quota/requeued"] >= 1


@pytest_twisted.ensureDeferred
async def test_a_shop_goes_through_completeness_and_sql_pipelines(sandbox, tmp_path):
    shop = sandbox.shop(100)
    db_url = f"sqlite:///{tmp_path / 'shop.db'}"
    settings = sandbox_settings(sandbox, tmp_path, ALI1688_DB_URL=db_url)
    done = await InProcessCrawl(ShopSpider, settings).run(seller_open_id=shop["seller_open_id"])
    assert sorted(item["product_id"] for item in done.items) == sorted(sandbox.ids(shop))
    report = json.loads((tmp_path / "report-shop.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "complete" and report["unique_fetched"] == shop["products"]
    assert done.stats["ali1688/report/verdict"] == "complete"
    assert done.stats["ali1688/db/stored"] == shop["products"]
    engine = make_engine(db_url, writer=False)
    try:
        with engine.connect() as connection:
            stored = connection.execute(select(func.count()).select_from(schema.products)).scalar_one()
    finally:
        engine.dispose()
    assert stored == shop["products"]


@pytest_twisted.ensureDeferred
async def test_a_bare_worker_takes_its_jobs_from_redis_seeds(sandbox, tmp_path, redis_url):
    import redis

    from ali1688spider.distributed.keys import encode_seed, seeds_key

    ids = some_ids(sandbox, 6)
    client = redis.Redis.from_url(redis_url)
    for part in (ids[:3], ids[3:]):
        client.rpush(seeds_key("ali1688", "product"), encode_seed({"ids": ",".join(part)}))
    client.close()
    settings = sandbox_settings(
        sandbox, tmp_path, ALI1688_REDIS_URL=redis_url, ALI1688_REDIS_IDLE_TIMEOUT=1
    )
    done = await InProcessCrawl(ProductSpider, settings).run()
    assert sorted(item["product_id"] for item in done.items) == sorted(ids)
    assert done.stats["ali1688/seeds/taken"] == 2


@pytest_twisted.ensureDeferred
async def test_calls_are_not_held_back_by_a_projects_politeness_for_web_pages(sandbox, tmp_path):
    # `scrapy startproject`'s template: one request per domain, one second apart.
    polite = {"DOWNLOAD_DELAY": 1, "CONCURRENT_REQUESTS_PER_DOMAIN": 1}
    crawl = InProcessCrawl(ShopSpider, sandbox_settings(sandbox, tmp_path, **polite))
    slots = []

    def reached(request: Any) -> None:
        slot = crawl.crawler.engine.downloader.slots[request.meta["download_slot"]]
        slots.append((slot.delay, slot.concurrency))

    crawl.crawler.signals.connect(reached, signal=signals.request_reached_downloader)
    shop = sandbox.shop(100)
    await crawl.run(seller_open_id=shop["seller_open_id"])
    assert len(crawl.items) == shop["products"]
    assert slots and set(slots) == {(0, 32)}
