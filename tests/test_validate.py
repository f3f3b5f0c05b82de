"""The validation pipeline: what a valid product is, and dropping or flagging the rest."""

from __future__ import annotations

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from ali1688spider.config import ConfigError
from ali1688spider.items import Category, CrawlReport
from ali1688spider.pipelines.validate import ValidationPipeline, is_valid, validate_product


def pipeline(mode: str | None = None) -> ValidationPipeline:
    crawler = get_crawler(settings_dict={"ALI1688_VALIDATION": mode} if mode else {})
    crawler.stats.open_spider()
    return ValidationPipeline.from_crawler(crawler)


def test_the_sample_product_is_valid(make_product):
    assert validate_product(make_product()) == []


def test_a_partial_product_from_a_search_list_is_valid(make_product):
    partial = make_product(price_tiers=None, skus=None, stock=None, status=None, unit=None, images=None)
    assert validate_product(partial) == []


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        ({"product_id": None}, ["product_id"]),
        ({"product_id": 646942518819}, ["product_id"]),
        ({"product_id": "64694x"}, ["product_id"]),
        ({"title": ""}, ["title"]),
        ({"title": None, "product_id": ""}, ["product_id", "title"]),
        ({"category_id": 122260001}, ["category_id"]),
        ({"moq": -1}, ["moq"]),
        ({"stock": "12"}, ["stock"]),
        ({"sales": True}, ["sales"]),
        ({"price_min": "-1"}, ["price_min"]),
        ({"price_min": 72.92}, ["price_min"]),
        ({"price_max": "1e3"}, ["price_max"]),
        ({"price_max": "NaN"}, ["price_max"]),
        ({"price_min": "200"}, ["price_range"]),
        ({"price_max": None}, ["price_max"]),
        ({"price_tiers": [{"min_quantity": 2, "price": "-5"}]}, ["price_tiers.price"]),
        ({"price_tiers": [{"min_quantity": 50, "price": "70"}, {"min_quantity": 2, "price": "80"}]},
         ["price_tiers.order"]),
        ({"price_tiers": [{"min_quantity": 2, "price": "80"}, {"min_quantity": 2, "price": "70"}]},
         ["price_tiers.order"]),
        ({"price_tiers": [{"min_quantity": "2", "price": "80"}]}, ["price_tiers.min_quantity"]),
        ({"price_tiers": {"2": "80"}}, ["price_tiers"]),
        ({"skus": [{"sku_id": "1", "price": "1"}, {"sku_id": "1", "price": "2"}]}, ["skus.sku_id_unique"]),
        ({"skus": [{"sku_id": None, "price": "1"}]}, ["skus.sku_id"]),
        ({"skus": [{"sku_id": "1", "price": "0.1.2"}]}, ["skus.price"]),
        ({"skus": [{"sku_id": "1", "stock": -3}]}, ["skus.stock"]),
        ({"skus": [{"sku_id": "1", "attributes": {"颜色": 3}}]}, ["skus.attributes"]),
        ({"images": ["img/ibank/x.jpg"]}, ["images"]),
        ({"modified_at": "2025-03-01 08:00:00"}, ["modified_at"]),
        ({"created_at": "yesterday"}, ["created_at"]),
    ],
)
def test_each_broken_rule_names_its_field(make_product, fields, problems):
    assert validate_product(make_product(**fields)) == problems


def test_drop_mode_drops_and_counts_each_field(make_product):
    validator = pipeline()
    assert validator.process_item(make_product()) is not None
    with pytest.raises(DropItem, match=r"product 646942518819: invalid price_min, skus.sku_id_unique"):
        validator.process_item(
            make_product(price_min="-2", skus=[{"sku_id": "1"}, {"sku_id": "1"}])
        )
    with pytest.raises(DropItem):
        validator.process_item(make_product(price_min="abc"))
    stats = validator.crawler.stats.get_stats()
    assert stats["ali1688/validation/invalid"] == 2
    assert stats["ali1688/validation/dropped"] == 2
    assert stats["ali1688/validation/invalid/price_min"] == 2
    assert stats["ali1688/validation/invalid/skus.sku_id_unique"] == 1
    assert "ali1688/validation/flagged" not in stats


def test_flag_mode_keeps_the_item_and_counts_it(make_product, caplog):
    validator = pipeline("flag")
    item = make_product(moq=-1)
    assert validator.process_item(item) is item
    stats = validator.crawler.stats.get_stats()
    assert stats["ali1688/validation/flagged"] == 1
    assert stats["ali1688/validation/invalid/moq"] == 1
    assert "product 646942518819: invalid moq" in caplog.text


def test_a_later_pipeline_knows_what_the_validation_passed_and_checks_the_rest(make_product):
    validator = pipeline("flag")
    passed, flagged, unseen = make_product(), make_product(moq=-1), make_product(moq=-1)
    validator.process_item(passed)
    validator.process_item(flagged)
    assert [is_valid(passed), is_valid(flagged), is_valid(unseen), is_valid(make_product())] == [True, False, False, True]


def test_other_items_pass_untouched():
    validator = pipeline()
    category = Category(category_id=None, name=None)
    report = CrawlReport(spider="shop", verdict="complete")
    assert validator.process_item(category) is category
    assert validator.process_item(report) is report
    assert validator.crawler.stats.get_stats() == {}


def test_an_unknown_mode_is_refused():
    with pytest.raises(ConfigError, match="ALI1688_VALIDATION must be one of drop, flag"):
        pipeline("warn")
