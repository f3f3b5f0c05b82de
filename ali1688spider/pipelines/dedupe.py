"""Drops a ``Product`` whose ``product_id`` was already passed on in this crawl.

The same offer turns up more than once when price-band slices overlap or a product moves
between pages while a shop is paged through; the first copy wins, except that a full copy (a
detail, with its SKUs) passes after a list entry of the same product: a watchlist's search may
list a product that its shop entry fetches in detail. Memory is a few bytes per product
(``ProductIdSet``). Other item types pass through untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem

from ali1688spider.idset import ProductIdSet
from ali1688spider.items import Product

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from typing_extensions import Self


class DedupePipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        #: Products passed on, and those of them passed on as a full copy.
        self.seen = ProductIdSet()
        self.full = ProductIdSet()

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
        if not self.seen.add(product_id) and (product_id in self.full or not full):
            self.crawler.stats.inc_value("ali1688/dedupe/dropped")
            # Duplicates are expected (overlapping slices): not worth a warning each.
            raise DropItem(f"duplicate product {product_id}", log_level="DEBUG")
        if full:
            self.full.add(product_id)
        return item
