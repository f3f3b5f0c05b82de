"""Checks every ``Product`` against the item contract; drops or flags the ones that break it.

``ALI1688_VALIDATION=drop`` (default) drops an invalid product; ``flag`` keeps it in the feed
with a warning (the SQL pipeline still never stores it). Either way each offending field is
counted under ``ali1688/validation/invalid/<field>``. Other item types pass through untouched.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem

from ali1688spider.config import get_choice
from ali1688spider.items import (
    MAX_COUNT,
    MAX_PRICE_FRACTION_DIGITS,
    MAX_PRICE_INTEGER_DIGITS,
    Product,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from typing_extensions import Self

logger = logging.getLogger(__name__)

MODES = ("drop", "flag")
REQUIRED = ("product_id", "title")
# Normalized prices: no sign, no exponent, no float artefacts ("10", "1.23"), and no more
# digits than the database keeps.
DECIMAL = re.compile(
    rf"\d{{1,{MAX_PRICE_INTEGER_DIGITS}}}(\.\d{{1,{MAX_PRICE_FRACTION_DIGITS}}})?"
)
DIGITS = re.compile(r"\d+")
TEXT_FIELDS = ("seller_open_id", "member_id", "title", "status", "unit", "detail_url", "source_api")
COUNT_FIELDS = ("moq", "stock", "sales")
DATE_FIELDS = ("created_at", "modified_at", "crawled_at")
#: The products a ValidationPipeline found valid, which a later pipeline need not check again
#: (weak: each leaves with its last reference). Keyed by identity: a ``WeakSet`` would compare
#: a found item field by field with the one asked about (an item is a ``Mapping``).
_found_valid: weakref.WeakValueDictionary[int, Product] = weakref.WeakValueDictionary()


def is_price(value: Any) -> bool:
    return isinstance(value, str) and DECIMAL.fullmatch(value) is not None


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


def is_iso_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _tier_problems(tiers: Any) -> list[str]:
    if tiers is None:
        return []
    if not isinstance(tiers, list) or not all(isinstance(t, Mapping) for t in tiers):
        return ["price_tiers"]
    problems = []
    if not all(is_price(t.get("price")) for t in tiers):
        problems.append("price_tiers.price")
    quantities = [t.get("min_quantity") for t in tiers]
    if not all(is_count(q) for q in quantities):
        problems.append("price_tiers.min_quantity")
    elif any(a >= b for a, b in zip(quantities, quantities[1:])):
        # Strictly increasing: two tiers for the same quantity would contradict each other.
        problems.append("price_tiers.order")
    return problems


def _sku_problems(skus: Any) -> list[str]:
    if skus is None:
        return []
    if not isinstance(skus, list) or not all(isinstance(s, Mapping) for s in skus):
        return ["skus"]
    problems = []
    ids = [s.get("sku_id") for s in skus]
    if not all(isinstance(i, str) and i for i in ids):
        problems.append("skus.sku_id")
    elif len(set(ids)) != len(ids):
        problems.append("skus.sku_id_unique")
    if not all(s.get("price") is None or is_price(s.get("price")) for s in skus):
        problems.append("skus.price")
    if not all(s.get("stock") is None or is_count(s.get("stock")) for s in skus):
        problems.append("skus.stock")
    for key in ("spec_id", "sku_code"):
        if not all(s.get(key) is None or isinstance(s.get(key), str) for s in skus):
            problems.append(f"skus.{key}")
    if not all(_is_attributes(s.get("attributes")) for s in skus):
        problems.append("skus.attributes")
    return problems


def _is_attributes(value: Any) -> bool:
    return value is None or (
        isinstance(value, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    )


def is_valid(item: Product) -> bool:
    """Whether *item* keeps the Product contract: checked here unless the ValidationPipeline
    found it valid (a pipeline between the two must not break an item it passes on)."""
    return _found_valid.get(id(item)) is item or not validate_product(item)


def validate_product(item: Mapping[str, Any]) -> list[str]:
    """Names of the fields of *item* that break the Product contract (empty when valid)."""
    item = dict(item)  # an Item's get() raises and catches KeyError for each missing field
    problems = [name for name in REQUIRED if item.get(name) in (None, "")]
    for name in ("product_id", "category_id"):
        value = item.get(name)
        if value not in (None, "") and not (isinstance(value, str) and DIGITS.fullmatch(value)):
            problems.append(name)
    for name in TEXT_FIELDS:
        value = item.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(name)
    for name in COUNT_FIELDS:
        value = item.get(name)
        if value is not None and not is_count(value):
            problems.append(name)
    for name in DATE_FIELDS:
        value = item.get(name)
        if value is not None and not is_iso_datetime(value):
            problems.append(name)
    problems += _price_problems(item.get("price_min"), item.get("price_max"))
    problems += _tier_problems(item.get("price_tiers"))
    problems += _sku_problems(item.get("skus"))
    images = item.get("images")
    if images is not None and not (
        isinstance(images, list)
        and all(isinstance(u, str) and u.startswith(("https://", "http://")) for u in images)
    ):
        problems.append("images")
    return list(dict.fromkeys(problems))


def _price_problems(low: Any, high: Any) -> list[str]:
    problems = [
        name
        for name, value in (("price_min", low), ("price_max", high))
        if value is not None and not is_price(value)
    ]
    if problems:
        return problems
    if (low is None) != (high is None):
        return ["price_max" if high is None else "price_min"]
    if low is not None and Decimal(low) > Decimal(high):
        return ["price_range"]
    return []


class ValidationPipeline:
    """Drops (or flags, ``ALI1688_VALIDATION=flag``) products that break the item contract."""

    def __init__(self, crawler: Crawler, mode: str):
        self.crawler = crawler
        self.mode = mode

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler, get_choice(crawler.settings, "ALI1688_VALIDATION", MODES))

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Product):
            return item
        problems = validate_product(item)
        if not problems:
            _found_valid[id(item)] = item
            return item
        stats = self.crawler.stats
        stats.inc_value("ali1688/validation/invalid")
        for name in problems:
            stats.inc_value(f"ali1688/validation/invalid/{name}")
        what = f"product {item.get('product_id') or '(no id)'}: invalid {', '.join(problems)}"
        if self.mode == "drop":
            stats.inc_value("ali1688/validation/dropped")
            raise DropItem(what)
        stats.inc_value("ali1688/validation/flagged")
        logger.warning("Kept %s (ALI1688_VALIDATION=flag)", what)
        return item
