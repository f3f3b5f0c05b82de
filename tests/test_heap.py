"""The heap a crawl is built on is frozen while crawls run and handed back after the last."""

from __future__ import annotations

import gc

import pytest
from scrapy import Spider, signals
from scrapy.utils.test import get_crawler

from ali1688spider.extensions.heap import FrozenStartupHeap


@pytest.fixture(autouse=True)
def _unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def open_crawl() -> tuple[object, FrozenStartupHeap]:
    """A crawl opened, and its extension (kept: signal handlers are weak references)."""
    crawler = get_crawler(Spider)
    extension = FrozenStartupHeap.from_crawler(crawler)
    crawler.signals.send_catch_log(signals.spider_opened, spider=None)
    return crawler, extension


def close_crawl(crawl) -> None:
    crawler, _ = crawl
    crawler.signals.send_catch_log(signals.spider_closed, spider=None, reason="finished")


def test_the_heap_stays_frozen_until_the_last_crawl_of_the_process_closes():
    first = open_crawl()
    assert gc.get_freeze_count() > 0
    second = open_crawl()
    close_crawl(first)
    assert gc.get_freeze_count() > 0, "the second crawl still runs"
    close_crawl(second)
    assert gc.get_freeze_count() == 0
