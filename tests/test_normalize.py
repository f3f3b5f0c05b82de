"""Normalization: every sample answer checked by hand, and odd input never raising."""

from __future__ import annotations

import pytest
from reference_data import sample_json

from ali1688spider.api.normalize import (
    fill_missing,
    list_entries,
    list_total,
    normalize_categories,
    normalize_category,
    normalize_product,
    parse_1688_datetime,
)

PRODUCT_FIELDS = [
    "product_id", "seller_open_id", "member_id", "title", "category_id", "status", "price_min",
    "price_max", "price_tiers", "moq", "unit", "stock", "sales", "skus", "images", "detail_url",
    "created_at", "modified_at", "source_api",
]


def _sample(name: str) -> dict:
    return sample_json(name)


def test_query_product_detail_sample():
    product, anomalies = normalize_product(
        "product.search.queryProductDetail", _sample("product.search.queryProductDetail.response.json")
    )
    assert product == {
        "product_id": "34513534353434",
        "seller_open_id": "23tsdvcdsjngp3oj4j3i5",
        "member_id": None,
        "title": "猫砂盆超大号防外溅猫厕所加高巨无霸开放式宠物用品厂家直销批发",
        "category_id": "32",
        "status": "published",
        # quoteType 1 prices per SKU, but the SKU price is the placeholder "价格": the tier is used.
        "price_min": "10",
        "price_max": "10",
        "price_tiers": [{"min_quantity": 10, "price": "10"}],
        "moq": 1,
        "unit": "盒",
        "stock": 123,
        "sales": 12342,
        "skus": [
            {
                "sku_id": "123",
                "spec_id": "specid",
                "attributes": {"1": "1"},
                "price": None,
                "stock": 123,
                "sku_code": "1",
            }
        ],
        # "图片" is a placeholder; the white-background image is a real URL.
        "images": ["https://cbu01.alicdn.com/img/ibank/O1CN01pEsVS41Bs2uny9oka_!!0-0-cib.jpg"],
        "detail_url": "https://detail.1688.com/offer/34513534353434.html",
        "created_at": "2024-05-24T00:00:00+08:00",
        "modified_at": None,
        "source_api": "product.search.queryProductDetail",
    }
    assert list(product) == PRODUCT_FIELDS
    assert anomalies == ["skus.price", "images"]


def test_query_product_detail_accepts_the_unwrapped_payload():
    answer = _sample("product.search.queryProductDetail.response.json")
    whole = normalize_product("product.search.queryProductDetail", answer)
    unwrapped = normalize_product("product.search.queryProductDetail", answer["result"]["result"])
    assert whole == unwrapped


def test_alibaba_product_get_sample():
    product, anomalies = normalize_product("alibaba.product.get", _sample("alibaba.product.get.response.json"))
    assert product == {
        "product_id": "584051070147",
        "seller_open_id": None,
        "member_id": None,
        "title": "高端气质OL韩版雪纺女装套头半高领长袖修身型蕾丝衫",
        "category_id": "1048182",
        "status": "published",
        "price_min": "10",
        "price_max": "10",
        "price_tiers": [{"min_quantity": 123, "price": "1.23"}],
        "moq": 123,
        "unit": None,
        "stock": 1000,
        "sales": None,
        "skus": [
            {
                "sku_id": "4469920756190",
                "spec_id": "774c48b20f3ef1ecdb1505e3d27c77f7",
                # Its only attribute has an id but an empty value: dropped and flagged.
                "attributes": {},
                "price": "10",
                "stock": 1000,
                "sku_code": "774c",
            }
        ],
        "images": ["https://cbu01.alicdn.com/img/ibank/2014/766/624/1652426667_642119312.jpg"],
        "detail_url": "https://detail.1688.com/offer/584051070147.html",
        "created_at": None,
        "modified_at": None,
        "source_api": "alibaba.product.get",
    }
    # quoteType 123 is not a documented value; createTime/lastUpdateTime are "...".
    assert anomalies == ["skus.attributes", "quote_type", "created_at", "modified_at"]


def test_alibaba_product_simple_get_sample():
    product, anomalies = normalize_product(
        "alibaba.product.simple.get", _sample("alibaba.product.simple.get.response.json")
    )
    skus = [
        ("3810851782509", "e59a659a891496dc81829ef0e5b34d12", "200mL", 6000),
        ("3810851782510", "a7776ca120e0ccf6cc14b191b6d68f2e", "1000mL", 500),
        ("3810851782511", "2a8cfead182437b1723d9622e18a98f3", "500ml", 36),
    ]
    assert product == {
        "product_id": "568791940008",
        "seller_open_id": None,
        "member_id": None,
        "title": "天天特价pzy测试请不要拍-奶疗素-1对2",
        "category_id": "122204003",
        "status": "published",
        # No SKU prices and no tiers: referencePrice "66.0" is all there is.
        "price_min": "66",
        "price_max": "66",
        "price_tiers": [],
        "moq": None,
        "unit": None,
        "stock": 6536,
        "sales": None,
        "skus": [
            {
                "sku_id": sku_id,
                "spec_id": spec_id,
                "attributes": {"1654": value},
                "price": None,
                "stock": stock,
                "sku_code": sku_id,
            }
            for sku_id, spec_id, value, stock in skus
        ],
        "images": ["https://cbu01.alicdn.com/img/ibank/2015/027/083/2685380720_409073960.jpg"],
        "detail_url": "https://detail.1688.com/offer/568791940008.html",
        "created_at": None,
        "modified_at": None,
        "source_api": "alibaba.product.simple.get",
    }
    assert anomalies == []


def _partial(source_api: str, **fields: object) -> dict:
    base = dict.fromkeys(PRODUCT_FIELDS)
    base.update(fields, source_api=source_api)
    return base


def test_keyword_query_sample_entry():
    answer = _sample("product.search.keywordQuery.response.json")
    entries = list_entries("product.search.keywordQuery", answer)
    assert len(entries) == 1 and list_total("product.search.keywordQuery", answer) == 123
    product, anomalies = normalize_product("product.search.keywordQuery", entries[0])
    assert product == _partial(
        "product.search.keywordQuery",
        product_id="2",
        title="中文标题",
        category_id="3",
        price_min="10",
        price_max="10",
        moq=1,
        sales=1213,
        images=[],
        detail_url="https://detail.1688.com/offer/2.html",
        created_at="2024-04-20T08:00:00+08:00",
        modified_at="2024-04-20T08:00:00+08:00",
    )
    assert list(product) == PRODUCT_FIELDS
    # imageUrl "图片地址" and whiteImage "商品白底图" are placeholders.
    assert anomalies == ["images"]


def test_query_seller_offer_list_sample_entry():
    answer = _sample("product.search.querySellerOfferList.response.json")
    (entry,) = list_entries("product.search.querySellerOfferList", answer)
    product, anomalies = normalize_product("product.search.querySellerOfferList", entry)
    assert product == _partial(
        "product.search.querySellerOfferList",
        product_id="2",
        title="中文标题",
        price_min="10",
        price_max="10",
        sales=1213,
        images=[],
        detail_url="https://detail.1688.com/offer/2.html",
        created_at="2021-04-08T08:00:00+08:00",
        modified_at="2021-04-08T08:00:00+08:00",
    )
    assert anomalies == ["images"]


def test_get_list_entry_in_the_classic_shape():
    answer = {
        "productInfos": [
            {
                "productID": "601234567890",
                "subject": "  饼干礼盒  ",
                "categoryID": 1031910,
                "status": "published",
                "image": {"images": ["/img/ibank/a.jpg", "//cbu01.alicdn.com/img/ibank/b.jpg", "图片"]},
                "skuInfos": [
                    {
                        "skuId": 1, "specId": "s1", "price": "12.50", "amountOnSale": "7", "cargoNumber": "C-1",
                        "attributes": [
                            {"attributeID": 3216, "attributeName": "颜色", "attributeValue": "红色"},
                            {"attributeID": 450, "attributeDisplayName": "尺码", "attributeName": "size",
                             "attributeValue": "", "customValueName": "XL"},
                        ],
                    },
                    {"skuId": 2, "specId": "s2", "price": 9.9, "amountOnSale": 3, "attributes": []},
                ],
                "saleInfo": {
                    "quoteType": 1,
                    "priceRanges": [{"startQuantity": 10, "price": 9}, {"startQuantity": 2, "price": "11.0"}],
                    "unit": "件",
                    "amountOnSale": 999,
                },
                "bookedCount": 40,
                "createTime": "20181213201638000+0800",
                "lastUpdateTime": "20190101080000123+0800",
            }
        ],
        "count": "1",
    }
    (entry,) = list_entries("alibaba.product.getList", answer)
    assert list_total("alibaba.product.getList", answer) == 1
    product, anomalies = normalize_product("alibaba.product.getList", entry)
    assert product == {
        "product_id": "601234567890",
        "seller_open_id": None,
        "member_id": None,
        "title": "饼干礼盒",
        "category_id": "1031910",
        "status": "published",
        "price_min": "9.9",
        "price_max": "12.5",
        "price_tiers": [{"min_quantity": 2, "price": "11"}, {"min_quantity": 10, "price": "9"}],
        "moq": 2,
        "unit": "件",
        "stock": 10,
        "sales": 40,
        "skus": [
            {"sku_id": "1", "spec_id": "s1", "attributes": {"颜色": "红色", "尺码": "XL"}, "price": "12.5",
             "stock": 7, "sku_code": "C-1"},
            {"sku_id": "2", "spec_id": "s2", "attributes": {}, "price": "9.9", "stock": 3, "sku_code": None},
        ],
        "images": ["https://cbu01.alicdn.com/img/ibank/a.jpg", "https://cbu01.alicdn.com/img/ibank/b.jpg"],
        "detail_url": "https://detail.1688.com/offer/601234567890.html",
        "created_at": "2018-12-13T20:16:38+08:00",
        "modified_at": "2019-01-01T08:00:00.123+08:00",
        "source_api": "alibaba.product.getList",
    }
    assert anomalies == ["images"]


def _detail(**overrides: object) -> dict:
    base = {
        "offerId": 777000111222,
        "subject": "连衣裙",
        "categoryId": 1031910,
        "productImage": {"images": ["https://cbu01.alicdn.com/img/ibank/x.jpg"]},
        "productSkuInfos": [],
        "productSaleInfo": {},
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("quote_type", "expected"),
    [
        # 0: no SKU prices, quantity tiers are the price.
        (0, ("8", "10")),
        # 1: priced per SKU.
        (1, ("20", "30")),
        # 2: SKUs, but priced by the offer's quantity tiers.
        (2, ("8", "10")),
    ],
)
def test_quote_type_decides_where_the_price_is(quote_type, expected):
    payload = _detail(
        productSkuInfos=[{"skuId": 1, "price": "30.00"}, {"skuId": 2, "price": "20"}],
        productSaleInfo={
            "quoteType": quote_type,
            "priceRangeList": [{"startQuantity": 100, "price": "8"}, {"startQuantity": 1, "price": "10"}],
        },
    )
    product, _ = normalize_product("product.search.queryProductDetail", payload)
    assert (product["price_min"], product["price_max"]) == expected
    assert product["price_tiers"] == [{"min_quantity": 1, "price": "10"}, {"min_quantity": 100, "price": "8"}]


def test_price_ranges_only_and_empty_skus():
    payload = _detail(
        productSaleInfo={"priceRangeList": [{"startQuantity": "3", "price": 5.5}], "amountOnSale": "250"}
    )
    product, anomalies = normalize_product("product.search.queryProductDetail", payload)
    assert (product["price_min"], product["price_max"], product["moq"]) == ("5.5", "5.5", 3)
    assert product["skus"] == [] and product["stock"] == 250
    assert anomalies == []


def test_odd_values_become_none_and_anomalies():
    payload = _detail(
        offerId="777000111222",
        minOrderQuantity="两件",
        soldOut="1万+",
        createDate="yesterday",
        productSkuInfos=[
            {"skuId": "5", "price": "NaN", "amountOnSale": -1, "skuAttributes": [{"attributeId": 9, "value": "蓝"}]},
            {"skuId": 6, "price": True, "amountOnSale": 2.5, "skuAttributes": "oops"},
        ],
        productSaleInfo={"quoteType": "x", "priceRangeList": [{"startQuantity": 1, "price": "价格"}, "junk"]},
    )
    product, anomalies = normalize_product("product.search.queryProductDetail", payload)
    assert product["product_id"] == "777000111222"
    assert (product["price_min"], product["price_tiers"], product["moq"], product["sales"]) == (None, [], None, None)
    assert product["skus"][0]["attributes"] == {"9": "蓝"}
    assert [sku["stock"] for sku in product["skus"]] == [None, None]
    assert product["created_at"] is None
    assert set(anomalies) == {
        "moq", "sales", "created_at", "skus.price", "skus.stock", "quote_type", "price_tiers", "price_min",
    }


@pytest.mark.parametrize(
    "payload",
    [None, [], "text", 42, {}, {"result": None}, {"productInfo": "x"}, {"offerId": {"a": 1}, "subject": ["t"]},
     {"productSkuInfos": [None, 1, "x"], "productSaleInfo": [], "productImage": {"images": [None, 3]}}],
)
@pytest.mark.parametrize(
    "api",
    ["product.search.queryProductDetail", "alibaba.product.get", "product.search.keywordQuery",
     "alibaba.product.getList"],
)
def test_garbage_never_raises(api, payload):
    product, anomalies = normalize_product(api, payload)
    assert list(product) == PRODUCT_FIELDS
    assert product["product_id"] is None and "product_id" in anomalies


def test_unknown_api_is_a_programming_error():
    with pytest.raises(ValueError, match="alibaba.category.get"):
        normalize_product("alibaba.category.get", {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-04-20 08:00:00", "2024-04-20T08:00:00+08:00"),
        ("20181213201638000+0800", "2018-12-13T20:16:38+08:00"),
        ("20121222222222+0800", "2012-12-22T22:22:22+08:00"),
        ("20170126094556000+0000", "2017-01-26T17:45:56+08:00"),
        ("2024-04-20T00:00:00Z", "2024-04-20T08:00:00+08:00"),
        ("2024-04-20 08:00:00.250", "2024-04-20T08:00:00.250+08:00"),
        (1700000000000, "2023-11-15T06:13:20+08:00"),
        ("...", None),
        ("2024-13-01 00:00:00", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_parse_1688_datetime(text, expected):
    assert parse_1688_datetime(text) == expected


def test_translation_category_sample():
    categories, anomalies = normalize_categories(
        "category.translation.getById", _sample("category.translation.getById.response.json")
    )
    assert categories == [
        {"category_id": "1031910", "parent_id": "10166", "name": "连衣裙", "level": 2, "is_leaf": False}
    ]
    assert anomalies == []


def test_translation_category_children():
    payload = {
        "categoryId": 10166, "chineseName": "女装", "level": "1", "leaf": "false", "parentCateId": 0,
        "children": [{"categoryId": 1031910, "chineseName": "连衣裙", "leaf": True}],
    }
    categories, _ = normalize_categories("category.translation.getById", payload)
    assert categories == [
        {"category_id": "10166", "parent_id": "0", "name": "女装", "level": 1, "is_leaf": False},
        {"category_id": "1031910", "parent_id": "10166", "name": "连衣裙", "level": 2, "is_leaf": True},
    ]


def test_category_get_entries_and_children():
    answer = {
        "categoryInfo": [
            {
                "categoryID": 0,
                "name": "全部",
                "isLeaf": False,
                "childCategorys": [
                    {"id": 10166, "name": "女装", "isLeaf": False, "categoryType": "1"},
                    {"id": 97, "name": "美容护肤", "isLeaf": "false"},
                ],
            }
        ],
        "succes": True,
    }
    categories, anomalies = normalize_categories("alibaba.category.get", answer)
    assert categories == [
        {"category_id": "0", "parent_id": None, "name": "全部", "level": 0, "is_leaf": False},
        {"category_id": "10166", "parent_id": "0", "name": "女装", "level": 1, "is_leaf": False},
        {"category_id": "97", "parent_id": "0", "name": "美容护肤", "level": 1, "is_leaf": False},
    ]
    assert anomalies == []
    leaf, _ = normalize_category(
        "alibaba.category.get",
        {"categoryID": 1031910, "name": "连衣裙", "isLeaf": True, "parentIDs": [10166]},
    )
    assert leaf == {"category_id": "1031910", "parent_id": "10166", "name": "连衣裙", "level": None, "is_leaf": True}
    child, _ = normalize_category("alibaba.category.get", {"id": 5, "name": "x"}, parent_id="10166", level=2)
    assert child == {"category_id": "5", "parent_id": "10166", "name": "x", "level": 2, "is_leaf": None}


def test_odd_category_entries_never_raise():
    category, anomalies = normalize_category("alibaba.category.get", "junk")
    assert category == dict.fromkeys(["category_id", "parent_id", "name", "level", "is_leaf"])
    assert anomalies == ["category_id", "name"]
    categories, _ = normalize_categories("alibaba.category.get", {"categoryInfo": [None, {"childCategorys": 7}]})
    assert len(categories) == 2


def test_a_detail_is_completed_by_the_list_entry_of_the_same_offer():
    detail, _ = normalize_product(
        "product.search.queryProductDetail", _sample("product.search.queryProductDetail.response.json")
    )
    listing = _partial(
        "product.search.keywordQuery", product_id=detail["product_id"], title="列表标题",
        modified_at="2024-04-20T08:00:00+08:00", sales=5,
    )
    merged = fill_missing(detail, listing)
    assert list(merged) == list(detail)
    assert merged["modified_at"] == "2024-04-20T08:00:00+08:00"  # the detail has none
    assert merged["title"] == detail["title"] and merged["sales"] == detail["sales"]
    assert merged["source_api"] == "product.search.queryProductDetail"
    assert fill_missing(detail, {**listing, "product_id": "1"}) == detail
    assert fill_missing(detail, None) == detail
