"""Unsigned API requests: stable fingerprints, canonical bodies, nothing secret to queue."""

from __future__ import annotations

import pickle

from scrapy.utils.request import RequestFingerprinter, request_from_dict
from scrapy.utils.test import get_crawler

from ali1688spider.gateway.request import build_api_request, canonical_api_url

GATEWAY = "http://127.0.0.1:8688/openapi"
DETAIL = "product.search.queryProductDetail"


def fingerprint(request) -> bytes:
    return RequestFingerprinter(get_crawler()).fingerprint(request)


def test_url_is_the_api_path_without_app_key():
    assert canonical_api_url(GATEWAY, DETAIL) == (
        f"{GATEWAY}/param2/1/com.alibaba.fenxiao.crossborder/product.search.queryProductDetail"
    )


def test_fingerprint_is_stable_and_independent_of_parameter_order():
    a = build_api_request(GATEWAY, "alibaba.product.get", {"productID": 1, "webSite": "1688"})
    b = build_api_request(GATEWAY, "alibaba.product.get", {"webSite": "1688", "productID": 1})
    c = build_api_request(GATEWAY, "alibaba.product.get", {"productID": 2, "webSite": "1688"})
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


def test_body_holds_business_parameters_only_encoded_as_sent():
    request = build_api_request(
        GATEWAY, DETAIL, {"offerDetailParam": {"offerId": 5, "country": "en"}, "skip": None}
    )
    assert request.method == "POST"
    assert request.meta["ali1688_params"] == {"offerDetailParam": '{"offerId":5,"country":"en"}'}
    body = request.body.decode()
    for system_param in ("access_token", "_aop_signature", "_aop_timestamp", "app_key"):
        assert system_param not in body


def test_request_survives_jobdir_and_redis_serialization():
    request = build_api_request(GATEWAY, DETAIL, {"offerDetailParam": {"offerId": 5, "country": "en"}})
    restored = request_from_dict(pickle.loads(pickle.dumps(request.to_dict())))
    assert restored.meta["ali1688_api"] == DETAIL
    assert fingerprint(restored) == fingerprint(request)
