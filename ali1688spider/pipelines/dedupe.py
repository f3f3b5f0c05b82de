"""Drops a ``Product`` whose ``product_id`` was already passed on in this crawl.

The same offer turns up more than once when price-band slices overlap or a product moves
between pages while a shop is paged through; the first copy wins, except that a full copy (a
detail, with its SKUs) passes after a list entry of the same product: a watchlist's search may
list a product that its shop entry fetches in detail. Memory is one short string per product
(a few MB for a 100,000-product shop). Other item types pass through untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem

from ali1688spider.items import Product

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from typing_extensions import Self


class DedupePipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        #: Product id -> whether the copy passed on was a full one.
        self.seen: dict[str, bool] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Product):
            return item
        product_id = item.get("product_id")
        if not product_id:
            # Only a flagged invalid product has no id; there is nothing to compare it by.
            return item
        full = item.get("skus") is not None
        if product_id in self.seen and (self.seen[product_id] or not full):
            self.crawler.stats.inc_value("ali1688/dedupe/dropped")
            # Duplicates are expected (overlapping slices): not worth a warning each.
            raise DropItem(f"duplicate product {product_id}", log_level="DEBUG")
        self.seen[product_id] = full
        return item
