"""Items of ali1688spider. Fields are declared in the order exporters write them."""

from __future__ import annotations

import scrapy

#: The largest count (stock, MOQ, sales, tier quantity) a product may carry: a signed 64-bit
#: integer, what the database's BIGINT columns hold.
MAX_COUNT = 2**63 - 1
#: Prices have at most this many digits before and after the decimal point (the database
#: stores them exactly; nothing sold on 1688 comes near).
MAX_PRICE_INTEGER_DIGITS = 12
MAX_PRICE_FRACTION_DIGITS = 6


class Product(scrapy.Item):
    """A 1688 offer, normalized across every API that describes it.

    Prices are decimal strings, dates ISO 8601 with offset, ids strings. ``price_tiers`` holds
    ``{"min_quantity", "price"}`` dicts (from ``min_quantity`` pieces on, ``price`` each) and
    ``skus`` one ``{"sku_id", "spec_id", "attributes", "price", "stock", "sku_code"}`` dict per
    variant (colour, size…) with its own price and stock.
    """

    product_id = scrapy.Field()
    seller_open_id = scrapy.Field()
    member_id = scrapy.Field()
    title = scrapy.Field()
    category_id = scrapy.Field()
    status = scrapy.Field()
    price_min = scrapy.Field()
    price_max = scrapy.Field()
    price_tiers = scrapy.Field()
    moq = scrapy.Field()
    unit = scrapy.Field()
    stock = scrapy.Field()
    sales = scrapy.Field()
    skus = scrapy.Field()
    images = scrapy.Field()
    detail_url = scrapy.Field()
    created_at = scrapy.Field()
    modified_at = scrapy.Field()
    source_api = scrapy.Field()
    crawled_at = scrapy.Field()


class Category(scrapy.Item):
    """A node of the 1688 category tree."""

    category_id = scrapy.Field()
    parent_id = scrapy.Field()
    name = scrapy.Field()
    level = scrapy.Field()
    is_leaf = scrapy.Field()


class CrawlReport(scrapy.Item):
    """How complete a shop or search crawl is, compared with the platform's own counts."""

    spider = scrapy.Field()
    target = scrapy.Field()
    official_total = scrapy.Field()
    unique_fetched = scrapy.Field()
    missing_count = scrapy.Field()
    completeness = scrapy.Field()
    sku_completeness = scrapy.Field()
    price_completeness = scrapy.Field()
    calls_spent = scrapy.Field()
    slices_used = scrapy.Field()
    verdict = scrapy.Field()
    started_at = scrapy.Field()
    finished_at = scrapy.Field()


class ProductChange(scrapy.Item):
    """One change of a product between the database's last sighting and this crawl.

    ``kind`` is one of ``changes.KINDS``. ``old``/``new`` are the values before and after (for
    ``price``: ``{"price_min", "price_max"}``; for stock kinds: the stock; for ``sku_added`` /
    ``sku_removed``: the SKU's attributes, price and stock). ``change_pct`` is the relative
    change of the lowest price in percent, a decimal string (``price`` only); ``sku_id`` is set
    for SKU-level changes. Recorded in the same transaction as the product it is about.
    """

    product_id = scrapy.Field()
    kind = scrapy.Field()
    old = scrapy.Field()
    new = scrapy.Field()
    change_pct = scrapy.Field()
    sku_id = scrapy.Field()
    run_id = scrapy.Field()
    detected_at = scrapy.Field()
    seller_open_id = scrapy.Field()
    title = scrapy.Field()
