"""The baseline of ``bench/overhead.py``: a bare Scrapy spider POSTing pre-signed calls.

Run with ``scrapy runspider`` outside the project (so none of the project's settings, download
handler, middlewares or pipelines load): stock Scrapy, the same concurrency as the project,
one item per call: the raw fields of the decoded answer that a ``Product`` is made of (not
normalized), so both feeds write items of about the same size. ``-a calls=FILE`` is a JSON
list of ``{"url", "body"}`` signed calls; ``-a stats=FILE`` receives the crawl's start/finish
times.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import scrapy

#: The queryProductDetail fields the project's Product is built from.
PRODUCT_FIELDS = (
    "offerId", "sellerOpenId", "subject", "categoryId", "status", "productSaleInfo",
    "productSkuInfos", "minOrderQuantity", "productImage", "createDate",
)


class BareSpider(scrapy.Spider):
    name = "bare"
    custom_settings = {
        "CONCURRENT_REQUESTS": 32,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
        "ROBOTSTXT_OBEY": False,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "RETRY_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "FEED_EXPORT_ENCODING": "utf-8",
    }

    def __init__(self, calls: str, stats: str, **kwargs):
        super().__init__(**kwargs)
        self.calls_path, self.stats_path = Path(calls), Path(stats)

    async def start(self):
        for call in json.loads(self.calls_path.read_text(encoding="utf-8")):
            yield scrapy.Request(
                call["url"], method="POST", body=call["body"], callback=self.parse,
                headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
            )

    def parse(self, response):
        detail = response.json()["result"]["result"]
        yield {name: detail.get(name) for name in PRODUCT_FIELDS}

    def closed(self, reason: str) -> None:
        stats = self.crawler.stats
        self.stats_path.write_text(json.dumps({
            "start_time": stats.get_value("start_time").isoformat(),
            "finish_time": dt.datetime.now(dt.timezone.utc).isoformat(),
            "item_scraped_count": stats.get_value("item_scraped_count", 0),
            "finish_reason": reason,
        }), encoding="utf-8")
