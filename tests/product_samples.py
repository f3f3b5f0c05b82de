"""Fixture ``make_product``: a valid, normalized Product item shaped like the sandbox's, to
change one field at a time in pipeline and storage tests."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ali1688spider.items import Product

SAMPLE: dict[str, Any] = {
    "product_id": "646942518819",
    "seller_open_id": "axp04rtorhprgw7odf48w",
    "member_id": None,
    "title": "现货加厚四件套一件代发",
    "category_id": "122260001",
    "status": "published",
    "price_min": "72.92",
    "price_max": "104.3",
    "price_tiers": [{"min_quantity": 2, "price": "80"}, {"min_quantity": 50, "price": "72.92"}],
    "moq": 2,
    "unit": "条",
    "stock": 3746,
    "sales": 190,
    "skus": [
        {"sku_id": "4142928772436", "spec_id": "7d0bdeedccf0118a", "attributes": {"颜色": "白色", "规格": "套装"},
         "price": "104.3", "stock": 302, "sku_code": "18819-1"},
        {"sku_id": "4910490746659", "spec_id": "b93c5e98aa0bf647", "attributes": {"颜色": "白色", "规格": "大号"},
         "price": "81.75", "stock": 3444, "sku_code": None},
    ],
    "images": ["https://cbu01.alicdn.com/img/ibank/O1CN01XgKUHQoHr1KRbh244BUgTl_!!2978292239-0-cib.jpg"],
    "detail_url": "https://detail.1688.com/offer/646942518819.html",
    "created_at": "2024-11-20T12:59:43+08:00",
    "modified_at": "2025-03-01T08:00:00+08:00",
    "source_api": "product.search.queryProductDetail",
    "crawled_at": "2026-01-05T10:00:00+00:00",
}


@pytest.fixture
def make_product():
    """``make_product(**fields)``: the sample product with *fields* replaced."""

    def make(**fields: Any) -> Product:
        data = copy.deepcopy(SAMPLE)
        data.update(fields)
        if "product_id" in fields and "detail_url" not in fields and fields["product_id"]:
            data["detail_url"] = f"https://detail.1688.com/offer/{fields['product_id']}.html"
        return Product(data)

    return make
