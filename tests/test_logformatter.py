"""The add-on's log formatter: Scrapy's lines for responses and items, none below LOG_LEVEL."""

from __future__ import annotations

import logging

import pytest
from helpers import product_ids
from scrapy import Spider
from scrapy.exceptions import DropItem
from scrapy.http import Request, Response
from scrapy.utils.test import get_crawler

from ali1688spider.logformatter import LevelLogFormatter


def formatter(level: str) -> tuple[LevelLogFormatter, Spider]:
    crawler = get_crawler(Spider, {"LOG_LEVEL": level})
    spider = Spider("s")
    spider.crawler = crawler
    return LevelLogFormatter.from_crawler(crawler), spider


def lines(level: str) -> dict[str, int | None]:
    """The level of each message the formatter asks Scrapy to log (None: not logged)."""
    logs, spider = formatter(level)
    response = Response("https://gw.open.1688.com/x", request=Request("https://gw.open.1688.com/x"))
    results = {
        "crawled": logs.crawled(response.request, response, spider),
        "scraped": logs.scraped({"product_id": "1"}, response, spider),
        "dropped quietly": logs.dropped({}, DropItem("duplicate", log_level="DEBUG"), response, spider),
        "dropped": logs.dropped({}, DropItem("invalid"), response, spider),
    }
    return {name: None if result is None else result["level"] for name, result in results.items()}


def test_lines_below_the_log_level_are_not_logged():
    assert lines("INFO") == {"crawled": None, "scraped": None, "dropped quietly": None, "dropped": logging.WARNING}
    assert lines("debug") == {"crawled": logging.DEBUG, "scraped": logging.DEBUG,
                              "dropped quietly": logging.DEBUG, "dropped": logging.WARNING}
    assert lines("ERROR")["dropped"] is None


@pytest.mark.parametrize(("level", "logged"), [("DEBUG", True), ("INFO", False)])
def test_a_crawl_logs_each_item_at_debug_only(sandbox, crawl, level, logged):
    ids = product_ids(sandbox, 2)
    done = crawl("product", args={"ids": ",".join(ids)}, env=sandbox.env(), settings={"LOG_LEVEL": level})
    assert done.returncode == 0, done.log[-2000:]
    assert (done.log.count("Scraped from") == 2) is logged
