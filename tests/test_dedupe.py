"""The dedupe pipeline: one product per id within a crawl."""

from __future__ import annotations

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from ali1688spider.items import Category
from ali1688spider.pipelines.dedupe import DedupePipeline


@pytest.fixture
def dedupe() -> DedupePipeline:
    crawler = get_crawler()
    crawler.stats.open_spider()
    return DedupePipeline.from_crawler(crawler)


def test_the_first_copy_of_a_product_wins(dedupe, make_product):
    first = make_product(title="first")
    assert dedupe.process_item(first) is first
    assert dedupe.process_item(make_product(product_id="610947572360")) is not None
    with pytest.raises(DropItem, match="duplicate product 646942518819"):
        dedupe.process_item(make_product(title="second"))
    with pytest.raises(DropItem):
        dedupe.process_item(make_product(title="third"))
    assert dedupe.crawler.stats.get_value("ali1688/dedupe/dropped") == 2


def test_a_detail_passes_after_a_list_entry_of_the_same_product_but_not_the_reverse(dedupe, make_product):
    entry = make_product(skus=None, price_tiers=None, stock=None, source_api="product.search.keywordQuery")
    assert dedupe.process_item(entry) is entry
    detail = make_product()
    assert dedupe.process_item(detail) is detail
    for again in (make_product(skus=None), make_product()):
        with pytest.raises(DropItem):
            dedupe.process_item(again)
    assert dedupe.crawler.stats.get_value("ali1688/dedupe/dropped") == 2


def test_each_crawl_starts_afresh(make_product):
    for _ in range(2):
        pipeline = DedupePipeline.from_crawler(get_crawler())
        assert pipeline.process_item(make_product()) is not None


def test_categories_and_products_without_id_pass(dedupe, make_product):
    category = Category(category_id="646942518819", name="家纺")
    assert dedupe.process_item(category) is category
    assert dedupe.process_item(category) is category
    nameless = make_product(product_id=None)
    assert dedupe.process_item(nameless) is nameless
    assert dedupe.process_item(nameless) is nameless
    assert dedupe.crawler.stats.get_value("ali1688/dedupe/dropped") is None
