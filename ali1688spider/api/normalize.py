"""Every product and category source of the API -> one Product / Category dict.

Product dicts carry the ``Product`` item fields in declaration order (``crawled_at`` excepted:
the spider sets it). Ids are strings (offer ids exceed JavaScript's integers), prices decimal
strings ("10", "1.23"), dates ISO 8601 in China time (+08:00), images absolute URLs.
Normalizers never raise on odd input: what is missing or unreadable becomes ``None`` and its
field name is reported as an "anomaly" for the crawl statistics.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable
from urllib.parse import urlsplit

from ali1688spider.api.catalogue import get_api
from ali1688spider.api.china_time import CHINA_TIME
from ali1688spider.api.errors import unwrap_result

IMAGE_BASE = "https://cbu01.alicdn.com/"
DETAIL_URL = "https://detail.1688.com/offer/{}.html"

_COMPACT_TIME = re.compile(r"(\d{14})(\d{3})?([+-]\d{4})")
_RELATIVE_IMAGE = re.compile(r"[A-Za-z0-9_][\w\-./!%~+=]*/[\w\-./!%~+=]+")
# quoteType values whose price lives on the SKUs (classic 1 SKU_PRICE, 3 SKU_PRICE_RANGE;
# cross-border 1 "priced per SKU"); 0 and 2 are priced by quantity tiers.
_SKU_PRICED = {1, 3}
_KNOWN_QUOTE_TYPES = {0, 1, 2, 3}


def parse_1688_timestamp(value: Any) -> datetime | None:
    """An aware datetime from any 1688 date form (reference §2.7), or None.

    ``2024-04-20 08:00:00`` (China time), ``20181213201638000+0800``, ``20121222222222+0800``,
    ISO 8601 with an offset, and milliseconds since the epoch.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, CHINA_TIME)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    compact = _COMPACT_TIME.fullmatch(text)
    try:
        if compact:
            digits, millis, offset = compact.groups()
            moment = datetime.strptime(digits + offset, "%Y%m%d%H%M%S%z")
            return moment + timedelta(milliseconds=int(millis or 0))
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TIME)


def parse_1688_datetime(value: Any) -> str | None:
    """ISO 8601 text in China time (``2024-04-20T08:00:00+08:00``) for a 1688 date, or None."""
    moment = parse_1688_timestamp(value)
    if moment is None:
        return None
    moment = moment.astimezone(CHINA_TIME)
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")


class _Reader:
    """Reads odd values leniently and remembers which fields were odd or missing."""

    def __init__(self) -> None:
        self.anomalies: list[str] = []

    def flag(self, field: str) -> None:
        if field not in self.anomalies:
            self.anomalies.append(field)

    def ident(self, value: Any, field: str) -> str | None:
        if isinstance(value, bool) or value in (None, ""):
            return None
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, str):
            return value.strip() or None
        self.flag(field)
        return None

    def text(self, value: Any) -> str | None:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value).strip() or None
        return None

    def _non_negative(self, value: Any, field: str) -> Decimal | None:
        """*value* as a finite, non-negative Decimal; anything else unreadable is flagged."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            if isinstance(value, bool):
                raise InvalidOperation
            number = Decimal(str(value).strip())
        except InvalidOperation:
            # e.g. the documentation's placeholder "价格"
            self.flag(field)
            return None
        if not number.is_finite() or number < 0:
            self.flag(field)
            return None
        return number

    def price(self, value: Any, field: str) -> str | None:
        number = self._non_negative(value, field)
        if number is None:
            return None
        return "0" if number == 0 else format(number.normalize(), "f")

    def count(self, value: Any, field: str) -> int | None:
        number = self._non_negative(value, field)
        if number is None:
            return None
        if number != number.to_integral_value():
            self.flag(field)
            return None
        return int(number)

    def date(self, *values: Any, field: str) -> str | None:
        """The first present value as ISO text; an unreadable one is flagged."""
        for value in values:
            if value in (None, ""):
                continue
            text = parse_1688_datetime(value)
            if text is None:
                self.flag(field)
            return text
        return None

    def image(self, value: Any) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return None
        url = value.strip()
        if url.startswith("//"):
            url = "https:" + url
        if url.startswith(("http://", "https://")):
            if urlsplit(url).netloc:
                return url
        elif _RELATIVE_IMAGE.fullmatch(url.lstrip("/")):
            return IMAGE_BASE + url.lstrip("/")
        # Placeholders like "图片" or a bare "https://" are not images.
        self.flag("images")
        return None

    def images(self, values: list[Any]) -> list[str]:
        found = (self.image(value) for value in values)
        return list(dict.fromkeys(url for url in found if url))

    def quote_type(self, value: Any) -> int | None:
        if value in (None, ""):
            return None
        number = self.count(value, "quote_type")
        if number not in _KNOWN_QUOTE_TYPES:
            self.flag("quote_type")
            return None
        return number

    def tiers(self, ranges: Any) -> list[dict[str, Any]]:
        tiers = []
        for entry in _list(ranges):
            entry = _dict(entry)
            quantity = self.count(entry.get("startQuantity"), "price_tiers")
            price = self.price(entry.get("price"), "price_tiers")
            if quantity is None or price is None:
                self.flag("price_tiers")
                continue
            tiers.append({"min_quantity": quantity, "price": price})
        return sorted(tiers, key=lambda tier: tier["min_quantity"])

    def attributes(self, entries: Any, names: tuple[str, ...], values: tuple[str, ...]) -> dict[str, str]:
        attributes = {}
        for entry in _list(entries):
            entry = _dict(entry)
            attribute_id = entry.get("attributeID", entry.get("attributeId"))
            name = _first(entry, names) or self.ident(attribute_id, "skus.attributes")
            value = _first(entry, values)
            if not name or value is None:
                self.flag("skus.attributes")
                continue
            attributes[name] = value
        return attributes


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _first(data: dict, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def _sku(reader: _Reader, entry: Any, attributes: dict[str, str]) -> dict[str, Any]:
    entry = _dict(entry)
    return {
        "sku_id": reader.ident(entry.get("skuId"), "skus.sku_id"),
        "spec_id": reader.ident(entry.get("specId"), "skus.spec_id"),
        "attributes": attributes,
        "price": reader.price(entry.get("price"), "skus.price"),
        "stock": reader.count(entry.get("amountOnSale"), "skus.stock"),
        "sku_code": _first(entry, ("skuCode", "cargoNumber")),
    }


def _price_span(
    quote_type: int | None, skus: list[dict] | None, tiers: list[dict] | None, fallback: str | None
) -> tuple[str | None, str | None]:
    sku_prices = [sku["price"] for sku in skus or [] if sku["price"] is not None]
    tier_prices = [tier["price"] for tier in tiers or []]
    if quote_type is None or quote_type in _SKU_PRICED:
        candidates = (sku_prices, tier_prices)
    else:
        candidates = (tier_prices, sku_prices)
    prices = next((found for found in candidates if found), [fallback] if fallback else [])
    if not prices:
        return None, None
    return min(prices, key=Decimal), max(prices, key=Decimal)


def _stock(reader: _Reader, skus: list[dict], sale_amount: Any) -> int | None:
    known = [sku["stock"] for sku in skus if sku["stock"] is not None]
    if known:
        return sum(known)
    return reader.count(sale_amount, "stock")


def _product(
    reader: _Reader,
    source_api: str,
    *,
    product_id: Any,
    title: Any,
    quote_type: int | None,
    skus: list[dict] | None,
    tiers: list[dict] | None,
    fallback_price: str | None,
    **fields: Any,
) -> dict[str, Any]:
    """Assembles the dict in field order and applies the rules shared by every source."""
    pid = reader.ident(product_id, "product_id")
    price_min, price_max = _price_span(quote_type, skus, tiers, fallback_price)
    moq = fields["moq"]
    if moq is None and tiers:
        # The first quantity tier is the least one can order.
        moq = tiers[0]["min_quantity"]
    product = {
        "product_id": pid,
        "seller_open_id": fields["seller_open_id"],
        "member_id": fields["member_id"],
        "title": reader.text(title),
        "category_id": fields["category_id"],
        "status": fields["status"],
        "price_min": price_min,
        "price_max": price_max,
        "price_tiers": tiers,
        "moq": moq,
        "unit": fields["unit"],
        "stock": fields["stock"],
        "sales": fields["sales"],
        "skus": skus,
        "images": fields["images"],
        "detail_url": DETAIL_URL.format(pid) if pid else None,
        "created_at": fields["created_at"],
        "modified_at": fields["modified_at"],
        "source_api": source_api,
    }
    for required in ("product_id", "title", "price_min"):
        if product[required] is None:
            reader.flag(required)
    return product


def _cross_border_detail(reader: _Reader, api: str, data: dict) -> dict[str, Any]:
    """``product.search.queryProductDetail`` (reference §6.4)."""
    sale = _dict(data.get("productSaleInfo"))
    skus = []
    for entry in _list(data.get("productSkuInfos")):
        attributes = reader.attributes(
            _dict(entry).get("skuAttributes"), ("attributeName",), ("value",)
        )
        skus.append(_sku(reader, entry, attributes))
    image = _dict(data.get("productImage"))
    return _product(
        reader,
        api,
        product_id=data.get("offerId"),
        title=data.get("subject") or data.get("subjectTrans"),
        quote_type=reader.quote_type(sale.get("quoteType")),
        skus=skus,
        tiers=reader.tiers(sale.get("priceRangeList")),
        fallback_price=None,
        seller_open_id=reader.text(data.get("sellerOpenId")),
        member_id=None,
        category_id=reader.ident(data.get("categoryId"), "category_id"),
        status=reader.text(data.get("status")),
        moq=reader.count(data.get("minOrderQuantity"), "moq"),
        unit=reader.text(_dict(sale.get("unitInfo")).get("unit")),
        stock=_stock(reader, skus, sale.get("amountOnSale")),
        sales=reader.count(data.get("soldOut"), "sales"),
        images=reader.images([*_list(image.get("images")), image.get("whiteImage")]),
        created_at=reader.date(data.get("createDate"), field="created_at"),
        modified_at=reader.date(data.get("modifyDate"), field="modified_at"),
    )


def _classic_product(reader: _Reader, api: str, data: dict) -> dict[str, Any]:
    """``alibaba.product.get``/``simple.get`` answers and ``getList`` entries (reference §6.5)."""
    info = _dict(data.get("productInfo")) if "productInfo" in data else data
    sale = _dict(info.get("saleInfo"))
    skus = []
    for entry in _list(info.get("skuInfos")):
        attributes = reader.attributes(
            _dict(entry).get("attributes"),
            ("attributeDisplayName", "attributeName"),
            ("attributeValue", "customValueName"),
        )
        skus.append(_sku(reader, entry, attributes))
    return _product(
        reader,
        api,
        product_id=info.get("productID"),
        title=info.get("subject"),
        quote_type=reader.quote_type(sale.get("quoteType")),
        skus=skus,
        tiers=reader.tiers(sale.get("priceRanges")),
        fallback_price=reader.price(info.get("referencePrice"), "price_min"),
        seller_open_id=None,
        member_id=None,
        category_id=reader.ident(info.get("categoryID"), "category_id"),
        status=reader.text(info.get("status")),
        moq=reader.count(sale.get("minOrderQuantity"), "moq"),
        unit=reader.text(sale.get("unit")),
        stock=_stock(reader, skus, sale.get("amountOnSale")),
        sales=reader.count(info.get("bookedCount"), "sales"),
        images=reader.images(_list(_dict(info.get("image")).get("images"))),
        created_at=reader.date(info.get("createTime"), data.get("createTime"), field="created_at"),
        modified_at=reader.date(
            info.get("lastUpdateTime"),
            info.get("modifyTime"),
            data.get("lastUpdateTime"),
            field="modified_at",
        ),
    )


def _search_entry(reader: _Reader, api: str, data: dict) -> dict[str, Any]:
    """One ``data[]`` entry of keywordQuery/querySellerOfferList: a partial product.

    What a list entry cannot tell (SKUs, tiers, stock) stays None rather than empty.
    """
    category = next(
        (data.get(key) for key in ("thirdCategoryId", "secondCategoryId", "topCategoryId") if data.get(key)),
        None,
    )
    return _product(
        reader,
        api,
        product_id=data.get("offerId"),
        title=data.get("subject") or data.get("subjectTrans"),
        quote_type=None,
        skus=None,
        tiers=None,
        fallback_price=reader.price(_dict(data.get("priceInfo")).get("price"), "price_min"),
        seller_open_id=reader.text(data.get("sellerOpenId")),
        member_id=None,
        category_id=reader.ident(category, "category_id"),
        status=None,
        moq=reader.count(data.get("minOrderQuantity"), "moq"),
        unit=None,
        stock=None,
        # The only sales figure a list entry has is the last month's.
        sales=reader.count(data.get("monthSold"), "sales"),
        images=reader.images([data.get("imageUrl"), data.get("whiteImage")]),
        created_at=reader.date(data.get("createDate"), field="created_at"),
        modified_at=reader.date(data.get("modifyDate"), field="modified_at"),
    )


PRODUCT_SOURCES: dict[str, Callable[[_Reader, str, dict], dict[str, Any]]] = {
    "product.search.queryProductDetail": _cross_border_detail,
    "alibaba.product.get": _classic_product,
    "alibaba.product.simple.get": _classic_product,
    "alibaba.product.getList": _classic_product,
    "product.search.keywordQuery": _search_entry,
    "product.search.querySellerOfferList": _search_entry,
}
#: APIs whose products are list entries: one price (the lowest, also given as ``price_max``),
#: no SKUs, tiers or stock.
LIST_ENTRY_SOURCES = frozenset(api for api, source in PRODUCT_SOURCES.items() if source is _search_entry)


def normalize_product(api_name: str, payload: Any) -> tuple[dict[str, Any], list[str]]:
    """(product dict, anomalies) for a detail answer or one list entry of *api_name*.

    *payload* may be the whole answer or its unwrapped business payload. ValueError only for
    an API that describes no product (a programming error, not odd data).
    """
    try:
        source = PRODUCT_SOURCES[api_name]
    except KeyError:
        raise ValueError(f"no product normalizer for API {api_name!r}") from None
    reader = _Reader()
    data = unwrap_result(payload)
    if not isinstance(data, dict):
        reader.flag("payload")
        data = {}
    return source(reader, api_name, data), reader.anomalies


def fill_missing(product: dict[str, Any], other: dict[str, Any] | None) -> dict[str, Any]:
    """*product* with its None fields taken from *other*, another source's view of the offer.

    A detail answer wins; a list entry of the same offer completes it (queryProductDetail
    has no modification date, keywordQuery/querySellerOfferList entries do). ``source_api``
    stays the detail's.
    """
    if not other or other.get("product_id") != product.get("product_id"):
        return product
    return {
        key: other.get(key) if value is None and key != "source_api" else value
        for key, value in product.items()
    }


def list_entries(api_name: str, payload: Any) -> list[dict]:
    """The product entries of a list answer (search ``data[]``, getList ``productInfos[]``)."""
    key = get_api(api_name).entries_field
    if key is None:
        raise ValueError(f"API {api_name!r} answers no list")
    entries = _dict(unwrap_result(payload)).get(key)
    return [entry for entry in _list(entries) if isinstance(entry, dict)]


def list_total(api_name: str, payload: Any) -> int | None:
    """The platform's own total count of a list answer, or None when absent/unreadable."""
    key = get_api(api_name).total_field
    if key is None:
        raise ValueError(f"API {api_name!r} answers no list")
    return _Reader().count(_dict(unwrap_result(payload)).get(key), key)


def _category(
    reader: _Reader, api: str, data: dict, parent_id: str | None, level: int | None
) -> dict[str, Any]:
    if api == "category.translation.getById":
        category_id = reader.ident(data.get("categoryId"), "category_id")
        parent = reader.ident(data.get("parentCateId"), "parent_id")
        name = _first(data, ("chineseName", "translatedName"))
        is_leaf = data.get("leaf")
    else:
        category_id = reader.ident(data.get("categoryID", data.get("id")), "category_id")
        parent = next((reader.ident(p, "parent_id") for p in _list(data.get("parentIDs"))), None)
        name = _first(data, ("name",))
        is_leaf = data.get("isLeaf")
    given_level = reader.count(data.get("level"), "level")
    if category_id == "0":
        # 0 is the root of the tree the APIs accept as "all level-1 categories".
        given_level = 0
    if isinstance(is_leaf, str) and is_leaf.lower() in ("true", "false"):
        is_leaf = is_leaf.lower() == "true"
    category = {
        "category_id": category_id,
        "parent_id": parent if parent is not None else parent_id,
        "name": name,
        "level": given_level if given_level is not None else level,
        "is_leaf": is_leaf if isinstance(is_leaf, bool) else None,
    }
    for required in ("category_id", "name"):
        if category[required] is None:
            reader.flag(required)
    return category


def normalize_category(
    api_name: str, entry: Any, *, parent_id: str | None = None, level: int | None = None
) -> tuple[dict[str, Any], list[str]]:
    """(category dict, anomalies) for one ``categoryInfo[]``/``childCategorys[]`` entry of
    ``alibaba.category.get`` or one ``category.translation.getById`` result.

    *parent_id*/*level* fill in what the entry does not say (children lists carry neither).
    """
    reader = _Reader()
    return _category(reader, api_name, _dict(entry), parent_id, level), reader.anomalies


def normalize_categories(api_name: str, payload: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Every category of one answer: each described node, then its direct children."""
    reader = _Reader()
    data = unwrap_result(payload)
    if api_name == "category.translation.getById":
        nodes, children_key = [_dict(data)], "children"
    else:
        nodes, children_key = _list(_dict(data).get("categoryInfo")), "childCategorys"
    categories = []
    for node in nodes:
        parent = _category(reader, api_name, _dict(node), None, None)
        categories.append(parent)
        child_level = parent["level"] + 1 if parent["level"] is not None else None
        for child in _list(_dict(node).get(children_key)):
            categories.append(_category(reader, api_name, _dict(child), parent["category_id"], child_level))
    return categories, reader.anomalies
