"""The sandbox gateway, driven over HTTP like a real client would: signatures, tokens, OAuth,
limits, faults, the API answers and the ground truth they must agree with.

The test signs calls with its own few lines of code, pinned to the reference's vectors, so
both this helper and the sandbox's verifier are anchored to the reference, not to each other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from helpers import REPO

from ali1688spider.sandbox import start_sandbox

CHINA = timezone(timedelta(hours=8))
SMALL_SHOPS = (50, 96, 640)
NAMESPACES = {
    "product.search.queryProductDetail": "com.alibaba.fenxiao.crossborder",
    "product.search.querySellerOfferList": "com.alibaba.fenxiao.crossborder",
    "product.search.keywordQuery": "com.alibaba.fenxiao.crossborder",
    "category.translation.getById": "com.alibaba.fenxiao.crossborder",
    "alibaba.product.get": "com.alibaba.product",
    "alibaba.product.simple.get": "com.alibaba.product",
    "alibaba.product.getList": "com.alibaba.product",
    "alibaba.category.get": "com.alibaba.product",
    "alibaba.account.basic": "com.alibaba.account",
    "alibaba.account.agent.crossBasic": "com.alibaba.account",
}

# Keys of the reference samples (reference/samples/*.response.json), copied so the test runs
# wherever the repository does.
SAMPLE_KEYS = {
    "seller_offer": {"aigcImageUrl", "createDate", "imageUrl", "isJxhy", "isOnePsale",
                     "isPatentProduct", "isSelect", "modifyDate", "monthSold", "offerId",
                     "offerIdentities", "priceInfo", "promotionURL", "repurchaseRate", "subject",
                     "subjectTrans", "token", "traceInfo"},
    "search_offer": {"aigcImageUrl", "createDate", "imageUrl", "invoiceInfo", "isJxhy",
                     "isOnePsale", "isPatentProduct", "isSelect", "minOrderQuantity", "modifyDate",
                     "monthSold", "offerId", "offerIdentities", "priceInfo",
                     "productSimpleShippingInfo", "productTradeInfo", "promotionModel",
                     "promotionURL", "repurchaseRate", "sales7d", "secondCategoryId",
                     "sellerDataInfo", "sellerIdentities", "subject", "subjectTrans",
                     "thirdCategoryId", "token", "topCategoryId", "traceInfo", "tradeScore",
                     "whiteImage"},
    "detail": {"batchNumber", "categoryId", "categoryName", "certificateList", "channelPrice",
               "companyName", "createDate", "description", "descriptionTrans", "detailVideo",
               "invoiceInfo", "isJxhy", "isSelect", "mainVideo", "minOrderQuantity", "offerId",
               "offerIdentities", "productAttribute", "productCargoNumber", "productImage",
               "productImageTrans", "productSaleInfo", "productShippingInfo", "productSkuInfos",
               "promotionModel", "promotionUrl", "secondCategoryId", "sellerDataInfo",
               "sellerMixSetting", "sellerOpenId", "sellingPoint", "soldOut", "status", "subject",
               "subjectTrans", "tagInfoList", "thirdCategoryId", "topCategoryId", "traceInfo",
               "tradeScore"},
    "detail_sku": {"amountOnSale", "cargoNumber", "consignPrice", "fenxiaoPriceInfo", "jxhyPrice",
                   "pfJxhyPrice", "price", "promotionPrice", "skuAttributes", "skuId", "specId"},
    "detail_sku_attribute": {"attributeId", "attributeName", "attributeNameTrans", "skuImageUrl",
                             "skuImageUrlTrans", "value", "valueTrans"},
    "detail_sale": {"amountOnSale", "consignPrice", "fenxiaoSaleInfo", "jxhyPrice",
                    "priceRangeList", "quoteType", "unitInfo"},
    "product": {"attributes", "bizType", "categoryID", "description", "groupID", "image",
                "language", "periodOfValidity", "pictureAuth", "productID", "productType",
                "saleInfo", "shippingInfo", "skuInfos", "status", "subject"},
    "product_sku": {"amountOnSale", "attributes", "cargoNumber", "consignPrice", "price",
                    "priceRange", "retailPrice", "skuCode", "skuId", "specId", "takeSamplePrice"},
    "product_sale": {"amountOnSale", "batchNumber", "consignPrice", "deliveryLimit",
                     "invReduceType", "minOrderQuantity", "mixWholeSale", "priceAuth",
                     "priceRanges", "quoteType", "retailprice", "saleType", "sellunit",
                     "supportOnlineTrade", "unit"},
    "product_shipping": {"freightTemplateID", "handlingTime", "height", "length", "offerHeight",
                         "offerLength", "offerSuttleWeight", "offerWidth", "packageSize",
                         "sendGoodsAddressId", "sendGoodsAddressText", "suttleWeight",
                         "unitWeight", "volume", "width"},
    "simple": {"categoryID", "description", "image", "productID", "referencePrice", "skuInfos",
               "status", "subject"},
    "translation": {"categoryId", "children", "chineseName", "fromCache", "language", "leaf",
                    "level", "parentCateId", "translatedName"},
    "cross_basic": {"categoryName", "companyName", "loginId", "shopUrl"},
    "token": {"access_token", "aliId", "expires_in", "memberId", "refresh_token",
              "refresh_token_timeout", "resource_owner"},
}


# -- the test's own signing, pinned to the reference vectors ----------------------------------

def aop_sign(url_path: str, params: dict[str, str], secret: str) -> str:
    text = url_path + "".join(sorted(k + v for k, v in params.items() if k != "_aop_signature"))
    return hmac.new(secret.encode(), text.encode(), hashlib.sha1).hexdigest().upper()


def top_sign(params: dict[str, str], secret: str, method: str, *, skip_empty: bool = True) -> str:
    """TOP ``sign``; *skip_empty* as the Java SDK (vector T5a), False as the Python SDK (T5b)."""
    text = "".join(k + v for k, v in sorted(params.items())
                   if k != "sign" and (v or not skip_empty))
    if method == "md5":
        return hashlib.md5((secret + text + secret).encode()).hexdigest().upper()
    digest = {"hmac": hashlib.md5, "hmac-sha256": hashlib.sha256}[method]
    return hmac.new(secret.encode(), text.encode(), digest).hexdigest().upper()


@pytest.mark.parametrize(
    ("url_path", "params", "signature"),
    [  # reference/samples/signature-vectors.json: A1, A3, A6a
        ("param2/1/system/currentTime/1000000", {"b": "2", "a": "1"},
         "33E54F4F7B989E3E0E912D3FBD2F1A03CA7CCE88"),
        ("param2/1/com.alibaba.fenxiao.crossborder/product.search.keywordQuery/1000000",
         {"offerQueryParam": '{"keyword":"饼干","beginPage":1,"pageSize":20,"country":"en"}',
          "access_token": "f14da3b8-b0b1-4f73-a5de-9bed637e0188"},
         "AA4522490D9C92D4E31F90824EF7D48D4DB525F6"),
        ("param2/1/com.alibaba.product/alibaba.product.get/1000000", {"a": "z", "ab": "1"},
         "15EE974D80A089F853B12A61266177D7C265FF15"),
    ],
)
def test_aop_signing_helper_matches_the_reference(url_path, params, signature):
    assert aop_sign(url_path, params, "test123") == signature


TOP_BASE = {"method": "taobao.item.seller.get", "app_key": "12345678", "session": "test",
            "timestamp": "2016-01-01 12:00:00", "format": "json", "v": "2.0",
            "fields": "num_iid,title,nick,price,num", "num_iid": "11223344"}


@pytest.mark.parametrize(
    ("method", "signature"),
    [  # reference vectors T1, T3
        ("md5", "66987CB115214E59E6EC978214934FB8"),
        ("hmac-sha256", "04DB15AD0774D5CFCE2C837DE43E3FCEA9011ED74F3038FB6AB5F3C4CEA119E8"),
    ],
)
def test_top_signing_helper_matches_the_reference(method, signature):
    assert top_sign({**TOP_BASE, "sign_method": method}, "helloworld", method) == signature


@pytest.mark.parametrize(
    ("skip_empty", "signature"),
    [(True, "77881ECCD461C5AF069C05FCDE2F5585"), (False, "87AE97E035430428E9DE5C05E998801F")],
)
def test_top_signing_helper_signs_empty_values_both_ways(skip_empty, signature):
    params = {"method": "taobao.tbk.item.get", "app_key": "12345678", "format": "json",
              "timestamp": "2016-01-01 12:00:00", "v": "2.0", "sign_method": "md5", "q": "abc",
              "session": ""}  # reference vectors T5a, T5b
    assert top_sign(params, "helloworld", "md5", skip_empty=skip_empty) == signature


# -- a small client --------------------------------------------------------------------------

def wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


class Client:
    def __init__(self, info: dict[str, Any]):
        self.url, self.base_url = info["url"], info["base_url"]
        self.creds = {k: info[k] for k in ("app_key", "app_secret", "access_token", "refresh_token")}
        self.http = requests.Session()

    def aop(self, api: str, params: dict[str, Any] | None = None, *, token: str | None = "",
            secret: str | None = None, app_key: str | None = None, get: bool = False,
            signature: str | None = None, namespace: str | None = None) -> requests.Response:
        """A signed param2 call; ``token=None`` sends no access_token, "" the current one."""
        app_key = app_key or self.creds["app_key"]
        path = f"param2/1/{namespace or NAMESPACES[api]}/{api}/{app_key}"
        sent = {k: wire(v) for k, v in (params or {}).items()}
        sent["_aop_timestamp"] = str(int(time.time() * 1000))
        if token is not None:
            sent["access_token"] = token or self.creds["access_token"]
        sent["_aop_signature"] = signature or aop_sign(path, sent, secret or self.creds["app_secret"])
        if get:
            return self.http.get(f"{self.url}/{path}", params=sent, timeout=30)
        return self.http.post(f"{self.url}/{path}", data=sent, timeout=30)

    def ok(self, api: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        response = self.aop(api, params, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def top(self, api: str, params: dict[str, Any], *, sign_method: str = "md5",
            session: str | None = "", secret: str | None = None,
            timestamp: str | None = None, skip_empty: bool = True) -> dict[str, Any]:
        sent = {k: wire(v) for k, v in params.items()}
        sent.update(method=api, app_key=self.creds["app_key"], format="json", v="2.0",
                    sign_method=sign_method,
                    timestamp=timestamp or datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S"))
        if session is not None:
            sent["session"] = session or self.creds["access_token"]
        sent["sign"] = top_sign(sent, secret or self.creds["app_secret"], sign_method,
                                skip_empty=skip_empty)
        response = self.http.post(f"{self.base_url}/router/rest", data=sent, timeout=30)
        assert response.status_code == 200
        return response.json()

    def truth(self, path: str) -> Any:
        response = self.http.get(f"{self.base_url}/sandbox/{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def control(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self.http.post(f"{self.base_url}/sandbox/{path}", json=payload or {}, timeout=30)
        response.raise_for_status()
        return response.json()

    # business helpers
    def detail(self, offer_id: str | int) -> dict[str, Any]:
        body = self.ok("product.search.queryProductDetail",
                       {"offerDetailParam": {"offerId": int(offer_id), "country": "en"}})
        return body["result"]

    def seller_page(self, open_id: str, page: int = 1, size: int = 50, **filters: Any) -> dict:
        query = {"sellerOpenId": open_id, "beginPage": page, "pageSize": size, "country": "en",
                 **filters}
        body = self.ok("product.search.querySellerOfferList", {"offerQueryParam": query})
        assert body["result"]["success"] is True
        return body["result"]["result"]

    def shop(self, products: int) -> dict[str, Any]:
        return next(s for s in self.truth("shops") if s["products"] == products)


@pytest.fixture
def make_sandbox():
    """Start in-process sandboxes (small shops by default); all stop after the test."""
    handles = []

    def make(**overrides: Any) -> Client:
        options = {"port": 0, "qps": 0, "quiet": True, "shops": SMALL_SHOPS, **overrides}
        handle = start_sandbox(**options)
        handles.append(handle)
        return Client(handle.info())

    yield make
    for handle in handles:
        handle.stop()


@pytest.fixture
def client(make_sandbox) -> Client:
    return make_sandbox()


def error_of(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json().get("error_code")


# -- the command line --------------------------------------------------------------------------

def test_command_prints_its_json_line_serves_and_stops_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "ali1688spider.sandbox", "--port", "0", "--shops", "50,96",
         "--qps", "0", "--seed", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        info = json.loads(process.stdout.readline())
        assert info["url"].endswith("/openapi") and info["url"].startswith("http://127.0.0.1:")
        assert info["app_key"] == "8688001" and info["app_secret"] == "sandbox-app-secret-0001"
        assert info["access_token"] == "sandbox-access-token-0001"
        assert info["refresh_token"] == "sandbox-refresh-token-0001"
        client = Client(info)
        assert [s["products"] for s in client.truth("shops")] == [50, 96]
        assert client.ok("alibaba.category.get", {"categoryID": 0}, token=None)["succes"] is True
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "SYNTHETIC" in stderr


def test_command_rejects_bad_options():
    completed = subprocess.run(
        [sys.executable, "-m", "ali1688spider.sandbox", "--port", "0", "--fail-5xx", "1.5"],
        capture_output=True, text=True, cwd=REPO, timeout=30, check=False,
    )
    assert completed.returncode == 2
    assert "--fail-5xx" in completed.stderr


# -- signatures and gateway errors ---------------------------------------------------------------

def test_signed_calls_pass_by_post_and_get_with_empty_and_prefix_keys(client):
    shop = client.shop(50)
    params = {"productID": shop["sample_offer_id"], "webSite": "1688", "scene": "", "a": "z",
              "ab": "1"}
    for get in (False, True):
        body = client.ok("alibaba.product.get", params, get=get)
        assert str(body["productInfo"]["productID"]) == shop["sample_offer_id"]


def test_bad_missing_or_key_sorted_signatures_are_rejected(client):
    params = {"categoryID": "1031910"}
    wrong_secret = client.aop("alibaba.category.get", params, token=None, secret="nope")
    assert error_of(wrong_secret) == (400, "gw.SignatureInvalid")

    path = f"param2/1/com.alibaba.product/alibaba.category.get/{client.creds['app_key']}"
    right = aop_sign(path, {"categoryID": "1031910"}, client.creds["app_secret"])
    unsigned = client.http.post(f"{client.url}/{path}", data=params)
    tampered = client.http.post(f"{client.url}/{path}",
                                data={"categoryID": "1031911", "_aop_signature": right})
    lower = client.http.post(f"{client.url}/{path}", data={**params, "_aop_signature": right.lower()})
    assert error_of(unsigned) == (400, "gw.SignatureInvalid")
    assert error_of(tampered) == (400, "gw.SignatureInvalid")
    assert error_of(lower) == (400, "gw.SignatureInvalid")
    assert client.http.post(f"{client.url}/{path}",
                            data={**params, "_aop_signature": right}).status_code == 200

    # Sorting keys instead of key+value strings differs only for prefix keys (vector A6b).
    prefix = {"categoryID": "0", "a": "z", "ab": "1"}
    key_sorted = path + "".join(k + v for k, v in sorted(prefix.items()))
    signature = hmac.new(client.creds["app_secret"].encode(), key_sorted.encode(),
                         hashlib.sha1).hexdigest().upper()
    response = client.http.post(f"{client.url}/{path}", data={**prefix, "_aop_signature": signature})
    assert error_of(response) == (400, "gw.SignatureInvalid")
    assert client.truth("stats")["errors"]["gw.SignatureInvalid"] == 5


def test_unknown_key_api_acl_and_missing_parameters(make_sandbox):
    client = make_sandbox(deny_api=("alibaba.product.get",))
    offer = client.shop(50)["sample_offer_id"]
    unknown_key = client.aop("alibaba.category.get", {"categoryID": 0}, token=None, app_key="123")
    assert error_of(unknown_key) == (400, "gw.AppKeyNotFound")
    unknown_api = client.aop("alibaba.nothing.here", {}, namespace="com.alibaba.product")
    assert error_of(unknown_api) == (400, "gw.APIUnsupported")
    wrong_namespace = client.aop("alibaba.product.get", {}, namespace="com.alibaba.fenxiao")
    assert error_of(wrong_namespace) == (400, "gw.APIUnsupported")

    denied = client.aop("alibaba.product.get", {"productID": offer, "webSite": "1688"}, token=None)
    body = denied.json()
    assert denied.status_code == 400  # ACL is checked before the token
    assert {k: body[k] for k in ("error_code", "error_message")} == {
        "error_code": "gw.APIACLDecline", "error_message": "AppKey is not allowed(acl)"}
    badly_signed_denied = client.aop("alibaba.product.get", {"productID": offer}, secret="x")
    assert error_of(badly_signed_denied) == (400, "gw.SignatureInvalid")

    missing = client.aop("alibaba.product.simple.get", {"webSite": "1688"})
    assert error_of(missing) == (400, "gw.ParamMissing") and "productID" in missing.text
    missing_inner = client.aop("product.search.querySellerOfferList",
                               {"offerQueryParam": {"beginPage": 1, "pageSize": 10, "country": "en"}})
    assert error_of(missing_inner) == (400, "gw.ParamMissing") and "sellerOpenId" in missing_inner.text
    not_json = client.aop("product.search.queryProductDetail", {"offerDetailParam": "{offerId:"})
    assert error_of(not_json) == (400, "gw.ParamInvalid")


# -- tokens and OAuth ----------------------------------------------------------------------------

NEED_AUTH = {"error_code": "401", "error_message": "Request need user authorized"}


def test_token_is_required_checked_and_expires(make_sandbox):
    client = make_sandbox(token_ttl=0.6)
    for response in (client.aop("alibaba.account.basic", token=None),
                     client.aop("alibaba.account.basic", token="invented-token")):
        assert response.status_code == 401
        assert {k: response.json()[k] for k in NEED_AUTH} == NEED_AUTH
    assert client.ok("alibaba.account.basic")["success"] is True
    # alibaba.category.get needs no user authorization: any token is ignored.
    assert client.aop("alibaba.category.get", {"categoryID": 0}, token="invented").status_code == 200
    time.sleep(0.7)
    assert client.aop("alibaba.account.basic").status_code == 401


def test_expire_tokens_then_refresh_grant(client):
    client.control("expire-tokens")
    assert client.aop("alibaba.account.basic").status_code == 401
    response = client.http.post(
        f"{client.url}/http/1/system.oauth2/getToken/{client.creds['app_key']}",
        data={"grant_type": "refresh_token", "client_id": client.creds["app_key"],
              "client_secret": client.creds["app_secret"],
              "refresh_token": client.creds["refresh_token"]},
    )
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == SAMPLE_KEYS["token"]
    assert tokens["expires_in"] == "36000"
    assert tokens["refresh_token"] == client.creds["refresh_token"]
    assert tokens["access_token"] != client.creds["access_token"]
    account = client.ok("alibaba.account.basic", token=tokens["access_token"])["result"]
    assert account["memberId"] == tokens["memberId"] and account["loginId"] == tokens["resource_owner"]
    assert client.truth("stats")["calls"]["getToken"] == 1


def test_authorization_code_flow_with_single_use_codes(client):
    app_key, secret = client.creds["app_key"], client.creds["app_secret"]
    redirect_uri = "http://localhost:9999/callback"
    response = client.http.get(
        f"{client.base_url}/oauth/authorize",
        params={"client_id": app_key, "site": "1688", "redirect_uri": redirect_uri, "state": "s1"},
        allow_redirects=False,
    )
    assert response.status_code == 302
    location = urlparse(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri
    query = parse_qs(location.query)
    assert query["state"] == ["s1"]
    grant = {"grant_type": "authorization_code", "need_refresh_token": "true",
             "client_id": app_key, "client_secret": secret, "redirect_uri": redirect_uri,
             "code": query["code"][0]}
    token_url = f"{client.url}/http/1/system.oauth2/getToken/{app_key}"
    first = client.http.post(token_url, data=grant)
    assert first.status_code == 200 and set(first.json()) == SAMPLE_KEYS["token"]
    assert client.ok("alibaba.account.basic", token=first.json()["access_token"])["success"]
    again = client.http.post(token_url, data=grant)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    code = parse_qs(urlparse(client.http.get(
        f"{client.base_url}/oauth/authorize",
        params={"client_id": app_key, "redirect_uri": redirect_uri}, allow_redirects=False,
    ).headers["Location"]).query)["code"][0]
    no_refresh = client.http.post(  # the param2 form of the URL works too
        f"{client.url}/param2/1/system.oauth2/getToken/{app_key}",
        data={**grant, "code": code, "need_refresh_token": "false"},
    ).json()
    assert "access_token" in no_refresh and "refresh_token" not in no_refresh

    assert client.http.get(token_url, params=grant).status_code == 405
    wrong = client.http.post(token_url, data={**grant, "client_secret": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert client.truth("stats")["calls"]["getToken"] == 5


# -- limits --------------------------------------------------------------------------------------

def test_qps_limit_answers_the_qos_error_and_stats_measure_the_peak(make_sandbox):
    client = make_sandbox(qps=5)
    statuses = [client.aop("alibaba.category.get", {"categoryID": 0}, token=None)
                for _ in range(12)]
    assert [r.status_code for r in statuses].count(200) == 5
    rejected = [r.json() for r in statuses if r.status_code != 200]
    assert all(r["error_code"] == "gw.QosAppFrequencyLimit" for r in rejected)
    assert rejected[0]["error_message"] == "App call exceeds limited frequency"
    stats = client.truth("stats")
    assert stats["peak_qps"][client.creds["app_key"]] == 12
    assert stats["errors"]["gw.QosAppFrequencyLimit"] == 7
    assert stats["calls"]["alibaba.category.get"] == 12 and stats["total_calls"] == 12
    time.sleep(1.05)
    assert client.aop("alibaba.category.get", {"categoryID": 0}, token=None).status_code == 200
    assert client.control("stats/reset")["total_calls"] == 0


def test_daily_quota_is_spent_only_by_served_calls(make_sandbox):
    client = make_sandbox(daily_quota=3)
    assert client.aop("alibaba.account.basic", secret="wrong").status_code == 400
    for _ in range(3):
        assert client.aop("alibaba.account.basic").status_code == 200
    response = client.aop("alibaba.account.basic")
    body = response.json()
    assert response.status_code == 400
    assert body["error_code"] == "gw.NoUsageLeftError"
    assert body["error_message"] == body["exception"] == "SLA bill has no usage left"
    assert client.truth("stats")["quota_used"] == {client.creds["app_key"]: 3}


def test_page_cap_and_page_size_cap(make_sandbox):
    client = make_sandbox(page_cap=3, shops=(640,))
    open_id = client.shop(640)["seller_open_id"]
    third = client.seller_page(open_id, page=3, size=50)
    assert len(third["data"]) == 50
    fourth = client.seller_page(open_id, page=4, size=50)
    assert fourth["data"] == []
    assert (fourth["totalRecords"], fourth["totalPage"], fourth["currentPage"]) == (640, 13, 4)
    clamped = client.seller_page(open_id, page=1, size=500)
    assert (clamped["pageSize"], len(clamped["data"]), clamped["totalPage"]) == (50, 50, 13)
    own = client.ok("alibaba.product.getList", {"pageNo": 1, "pageSize": 50})
    assert own["pageSize"] == 30 and len(own["productInfos"]) == 30 and own["count"] == 640


# -- the TOP router ------------------------------------------------------------------------------

def test_top_router_calls_and_errors(client):
    offer = client.shop(96)["sample_offer_id"]
    params = {"offerDetailParam": {"offerId": int(offer), "country": "en"}}
    for method in ("md5", "hmac", "hmac-sha256"):
        body = client.top("product.search.queryProductDetail", params, sign_method=method)
        answer = body["product_search_queryProductDetail_response"]
        assert str(answer["result"]["result"]["offerId"]) == offer and answer["request_id"]
    bad = client.top("product.search.queryProductDetail", params, secret="nope")
    assert bad["error_response"]["code"] == 25
    missing = client.top("product.search.queryProductDetail",
                         {"offerDetailParam": {"offerId": 999999999999, "country": "en"}})
    assert missing["error_response"]["code"] == 15
    assert missing["error_response"]["sub_code"] == "isv.item-not-exist"
    assert client.top("alibaba.account.basic", {}, session=None)["error_response"]["code"] == 27
    stale = (datetime.now(CHINA) - timedelta(minutes=20)).strftime("%Y-%m-%d %H:%M:%S")
    assert client.top("alibaba.account.basic", {}, timestamp=stale)["error_response"]["code"] == 41
    millis = str(int(time.time() * 1000))  # the Python TOP SDK's timestamp form
    assert "alibaba_account_basic_response" in client.top("alibaba.account.basic", {},
                                                          timestamp=millis)


def test_top_router_accepts_empty_values_signed_or_skipped(client):
    """The Java SDK skips empty values when it signs, the Python SDKs sign them (T5a, T5b)."""
    offer = client.shop(96)["sample_offer_id"]
    params = {"offerDetailParam": {"offerId": int(offer), "country": "en"}, "scene": ""}
    for method in ("md5", "hmac", "hmac-sha256"):
        for skip_empty in (True, False):
            body = client.top("product.search.queryProductDetail", params, sign_method=method,
                              skip_empty=skip_empty)
            assert "product_search_queryProductDetail_response" in body, (method, skip_empty)
    wrong = client.top("product.search.queryProductDetail", params, secret="nope", skip_empty=False)
    assert wrong["error_response"]["code"] == 25


# -- faults --------------------------------------------------------------------------------------

def test_faults_at_rate_one(client):
    call = ("alibaba.category.get", {"categoryID": 0})
    full = client.aop(*call, token=None).content

    client.control("faults", {"fail_truncate": 1.0})
    cut = client.aop(*call, token=None)
    assert cut.status_code == 200 and cut.content == full[: len(full) // 2]
    assert int(cut.headers["Content-Length"]) == len(cut.content)
    with pytest.raises(ValueError):
        json.loads(cut.content)

    client.control("faults", {"fail_truncate": 0, "fail_5xx": 1.0})
    broken = client.aop(*call, token=None)
    assert broken.status_code in (502, 503) and "text/html" in broken.headers["Content-Type"]

    client.control("faults", {"fail_5xx": 0, "fail_qps": 1.0})
    assert error_of(client.aop(*call, token=None)) == (400, "gw.QosAppFrequencyLimit")

    client.control("faults", {"fail_qps": 0, "fail_drop": 1.0})
    with pytest.raises(requests.ConnectionError):
        client.aop(*call, token=None)

    assert client.control("faults", {"fail_drop": 0})["fail_drop"] == 0
    assert client.aop(*call, token=None).content == full
    stats = client.truth("stats")
    assert stats["faults"] == {"truncate": 1, "5xx": 1, "qps": 1, "drop": 1}
    assert stats["total_calls"] == 6


def test_faults_are_seeded(make_sandbox):
    runs = []
    for _ in range(2):
        client = make_sandbox(fail_5xx=0.5, seed=11)
        runs.append([client.aop("alibaba.category.get", {"categoryID": 0}, token=None).status_code
                     for _ in range(20)])
    assert runs[0] == runs[1] and {200, 502, 503} & set(runs[0]) != {200}


# -- answers and ground truth ------------------------------------------------------------------

def test_answers_have_the_documented_shapes(client):
    shops = client.truth("shops")
    shop = next(s for s in shops if s["products"] == 640)
    offer = next(i for i in client.truth(f"shops/{shop['seller_open_id']}/ids")
                 if client.truth(f"products/{i}")["skus"])

    listing = client.seller_page(shop["seller_open_id"], size=3)
    assert set(listing) == {"totalRecords", "totalPage", "pageSize", "currentPage", "data"}
    assert SAMPLE_KEYS["seller_offer"] <= set(listing["data"][0])
    assert isinstance(listing["data"][0]["priceInfo"]["price"], str)

    word = client.detail(offer)["result"]["categoryName"]
    found = client.ok("product.search.keywordQuery", {"offerQueryParam": {
        "keyword": word, "beginPage": 1, "pageSize": 5, "country": "en"}})["result"]["result"]
    assert found["totalRecords"] >= 1 and SAMPLE_KEYS["search_offer"] <= set(found["data"][0])

    detail = client.detail(offer)
    assert (detail["success"], detail["code"]) == (True, "200")
    result = detail["result"]
    assert SAMPLE_KEYS["detail"] <= set(result) and result["sellerOpenId"] == shop["seller_open_id"]
    assert SAMPLE_KEYS["detail_sku"] <= set(result["productSkuInfos"][0])
    assert SAMPLE_KEYS["detail_sku_attribute"] <= set(result["productSkuInfos"][0]["skuAttributes"][0])
    assert SAMPLE_KEYS["detail_sale"] <= set(result["productSaleInfo"])
    assert result["productImage"]["images"][0].startswith("https://cbu01.alicdn.com/img/ibank/")

    product = client.ok("alibaba.product.get", {"productID": offer, "webSite": "1688"})
    info = product["productInfo"]
    assert {"productInfo", "bizGroupInfos", "createTime", "lastUpdateTime"} <= set(product)
    assert SAMPLE_KEYS["product"] <= set(info)
    assert SAMPLE_KEYS["product_sku"] <= set(info["skuInfos"][0])
    assert SAMPLE_KEYS["product_sale"] <= set(info["saleInfo"])
    assert SAMPLE_KEYS["product_shipping"] <= set(info["shippingInfo"])
    assert info["image"]["images"][0].startswith("img/ibank/")
    assert len(info["lastUpdateTime"]) == 22 and info["lastUpdateTime"].endswith("+0800")

    simple = client.ok("alibaba.product.simple.get", {"productID": offer, "webSite": "1688"})
    assert SAMPLE_KEYS["simple"] <= set(simple["productInfo"])

    translation = client.ok("category.translation.getById", {"language": "ja", "categoryId": 1031910})
    assert (translation["success"], translation["code"]) == (True, "S0000")
    assert SAMPLE_KEYS["translation"] <= set(translation["result"])
    assert (translation["result"]["chineseName"], translation["result"]["level"]) == ("连衣裙", "2")
    assert translation["result"]["parentCateId"] == 10166

    cross = client.ok("alibaba.account.agent.crossBasic", {"domain": shop["domain"]})
    assert SAMPLE_KEYS["cross_basic"] <= set(cross["result"])
    assert cross["result"]["loginId"] == shop["login_id"]


def test_not_found_answers_are_business_errors(client):
    missing = 999999999999
    detail = client.aop("product.search.queryProductDetail",
                        {"offerDetailParam": {"offerId": missing, "country": "en"}})
    assert detail.status_code == 200
    assert detail.json()["result"]["success"] is False
    assert "不存在" in detail.json()["result"]["message"]
    assert client.ok("alibaba.product.get", {"productID": missing, "webSite": "1688"}) == {
        "errMsg": f"商品[{missing}]不存在"}
    category = client.ok("alibaba.category.get", {"categoryID": 42}, token=None)
    assert category["succes"] is False and category["errorCode"] == "500_1"
    assert client.truth("stats")["errors"]["business.not_found"] == 3


def test_category_tree(client):
    root = client.ok("alibaba.category.get", {"categoryID": 0}, token=None)["categoryInfo"][0]
    assert len(root["childCategorys"]) == 10
    tree = client.truth("categories")
    assert len(tree) == 10 + 50 + 250 and sum(c["is_leaf"] for c in tree) == 250
    dress = client.ok("alibaba.category.get", {"categoryID": 1031910}, token=None)["categoryInfo"][0]
    assert dress["name"] == "连衣裙" and dress["parentIDs"] == [10166] and not dress["isLeaf"]
    assert all(child["isLeaf"] for child in dress["childCategorys"])


def test_same_seed_same_answers_other_seed_other_catalogue(make_sandbox):
    first, second, other = (make_sandbox(seed=s) for s in (5, 5, 6))
    assert first.truth("shops") == second.truth("shops")
    assert first.truth("shops") != other.truth("shops")
    shop = first.shop(640)
    filters = {"categoryId": int(shop["category_ids"][0]), "sort": '{"price":"desc"}'}
    assert first.seller_page(shop["seller_open_id"], **filters) == \
        second.seller_page(shop["seller_open_id"], **filters)
    assert first.detail(shop["sample_offer_id"]) == second.detail(shop["sample_offer_id"])


def test_shop_ids_are_the_union_of_category_listings_past_the_page_cap(make_sandbox):
    client = make_sandbox(page_cap=4, shops=(50, 640))
    shop = client.shop(640)
    ids = client.truth(f"shops/{shop['seller_open_id']}/ids")
    assert len(ids) == len(set(ids)) == 640
    unfiltered = client.seller_page(shop["seller_open_id"], page=5)
    assert unfiltered["data"] == [] and unfiltered["totalRecords"] == 640

    listed: list[str] = []
    for category in shop["category_ids"]:
        page, total = 1, None
        while True:
            result = client.seller_page(shop["seller_open_id"], page=page, categoryId=int(category))
            total = result["totalRecords"]
            listed += [str(item["offerId"]) for item in result["data"]]
            if page >= result["totalPage"]:
                break
            page += 1
        assert total <= 200  # every leaf of this shop fits under the cap of 4 x 50
    assert sorted(listed) == sorted(ids)
    first_page = client.seller_page(shop["seller_open_id"])
    assert [str(i["offerId"]) for i in first_page["data"]] == ids[:50]  # stable default order


def test_category_and_price_filters_partition_the_shop(client):
    shop = client.shop(640)
    open_id = shop["seller_open_id"]
    bands = [("0", "10"), ("10.01", "30"), ("30.01", "1000000")]
    totals = []
    for low, high in bands:
        result = client.seller_page(open_id, priceStart=low, priceEnd=high, sort='{"price":"asc"}')
        prices = [float(item["priceInfo"]["price"]) for item in result["data"]]
        assert prices == sorted(prices)
        assert all(float(low) <= p <= float(high) for p in prices)
        totals.append(result["totalRecords"])
    assert sum(totals) == 640 and min(totals) > 0

    truth = client.truth("categories")
    leaf = shop["category_ids"][0]
    second = next(c for c in truth if c["category_id"] == leaf)["parent_id"]
    top = next(c for c in truth if c["category_id"] == second)["parent_id"]
    leaves_under_top = {c["category_id"] for c in truth if c["is_leaf"] and
                        next(p for p in truth if p["category_id"] == c["parent_id"])["parent_id"] == top}
    by_leaf = sum(client.seller_page(open_id, categoryId=int(c), size=1)["totalRecords"]
                  for c in shop["category_ids"] if c in leaves_under_top)
    assert client.seller_page(open_id, categoryId=int(top), size=1)["totalRecords"] == by_leaf
    bad = client.aop("product.search.querySellerOfferList", {"offerQueryParam": {
        "sellerOpenId": open_id, "beginPage": 1, "pageSize": 5, "country": "en", "priceStart": "abc"}})
    assert error_of(bad) == (400, "gw.ParamInvalid")


def test_keyword_search_and_sorting(client):
    shop = client.shop(640)
    word = client.detail(shop["sample_offer_id"])["result"]["categoryName"]
    query = {"keyword": word, "beginPage": 1, "pageSize": 50, "country": "en",
             "sort": '{"price":"asc"}'}
    result = client.ok("product.search.keywordQuery", {"offerQueryParam": query})["result"]["result"]
    assert result["totalRecords"] >= 1
    assert all(word in item["subject"] for item in result["data"])
    prices = [float(item["priceInfo"]["price"]) for item in result["data"]]
    assert prices == sorted(prices)
    assert shop["sample_offer_id"] in {str(i["offerId"]) for i in result["data"]} or \
        result["totalRecords"] > 50


def test_own_catalogue_with_day_precision_time_filter(client):
    account = client.ok("alibaba.account.basic")["result"]
    owner = next(s for s in client.truth("shops") if s["owner"])
    assert account["memberId"] == owner["member_id"]
    first = client.ok("alibaba.product.getList", {"pageNo": 1, "pageSize": 10})
    assert first["count"] == owner["products"]
    stamp = first["productInfos"][0]["lastUpdateTime"]
    day = f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]}"
    same_day = client.ok("alibaba.product.getList", {
        "pageNo": 1, "pageSize": 30, "timeStamp": f"{day} 13:00:00", "endTimeStamp": f"{day} 13:00:01"})
    assert same_day["count"] >= 1
    assert all(p["lastUpdateTime"].startswith(stamp[:8]) for p in same_day["productInfos"])


def test_reprice_changes_prices_and_modify_times_of_the_share(make_sandbox):
    client = make_sandbox(shops=(50, 96))
    small, target = client.shop(50), client.shop(96)
    before = {i: client.truth(f"products/{i}") for i in client.truth(
        f"shops/{target['seller_open_id']}/ids")}
    small_before = client.truth(f"products/{small['sample_offer_id']}")
    changed = client.control("reprice", {"fraction": 0.2, "seed": 3,
                                         "seller_open_id": target["seller_open_id"]})["changed"]
    assert len(changed) == round(96 * 0.2) and set(changed) <= set(before)
    for offer_id, old in before.items():
        new = client.truth(f"products/{offer_id}")
        if offer_id in changed:
            assert new["price_min"] != old["price_min"] and new["modified_at"] > old["modified_at"]
        else:
            assert new == old
    assert client.truth(f"products/{small['sample_offer_id']}") == small_before

    listed = {str(i["offerId"]): i for i in client.seller_page(target["seller_open_id"], size=50)["data"]
              + client.seller_page(target["seller_open_id"], page=2, size=50)["data"]}
    sample = changed[0]
    assert listed[sample]["priceInfo"]["price"] == client.truth(f"products/{sample}")["price_min"]
    detail = client.detail(sample)["result"]
    assert detail["productSaleInfo"]["priceRangeList"][-1]["price"] == \
        client.truth(f"products/{sample}")["price_min"]

    again = make_sandbox(shops=(50, 96)).control(
        "reprice", {"fraction": 0.2, "seed": 3, "seller_open_id": target["seller_open_id"]})
    assert again["changed"] == changed


# -- delist and restock, on a sandbox subprocess as outside scripts drive them ----------------

@pytest.fixture
def start_client(sandbox_factory):
    """``start_client(*cli_args)``: a Client of a new ``ali1688 sandbox`` subprocess (small shops)."""

    def start(*args: str) -> Client:
        return Client(sandbox_factory("--qps", "0", "--shops", ",".join(map(str, SMALL_SHOPS)),
                                      *args).info)

    return start


def every_page(fetch, size: int) -> list[dict[str, Any]]:
    """Every ``data[]`` entry of a paged fenxiao listing; *fetch(page, size)* answers one page."""
    entries, page = [], 1
    while True:
        result = fetch(page, size)
        entries += result["data"]
        if page >= result["totalPage"]:
            return entries
        page += 1


def keyword_page(client: Client, word: str, page: int, size: int) -> dict[str, Any]:
    query = {"keyword": word, "beginPage": page, "pageSize": size, "country": "en"}
    return client.ok("product.search.keywordQuery", {"offerQueryParam": query})["result"]["result"]


def test_delist_takes_products_off_every_listing_count_and_detail(start_client):
    client = start_client()
    shops = client.truth("shops")
    target = next(s for s in shops if s["products"] == 640)
    assert target["owner"]  # so alibaba.product.getList lists this shop too
    open_id = target["seller_open_id"]
    ids = client.truth(f"shops/{open_id}/ids")
    titles = {str(e["offerId"]): e["subject"] for s in shops for e in every_page(
        lambda page, size, s=s: client.seller_page(s["seller_open_id"], page, size), 50)}

    changed = client.control("delist", {"seller_open_id": open_id, "fraction": 0.05, "seed": 4})["changed"]
    assert len(changed) == round(640 * 0.05) == len(set(changed))
    assert changed == [i for i in ids if i in set(changed)]  # in position order
    kept = [i for i in ids if i not in set(changed)]

    entry = next(s for s in client.truth("shops") if s["seller_open_id"] == open_id)
    assert entry["products"] == len(kept) and entry["sample_offer_id"] in kept
    assert client.truth(f"shops/{open_id}/ids") == kept
    listed = every_page(lambda page, size: client.seller_page(open_id, page, size), 50)
    assert [str(e["offerId"]) for e in listed] == kept
    assert client.seller_page(open_id, size=1)["totalRecords"] == len(kept)
    assert sum(client.seller_page(open_id, categoryId=int(c), size=1)["totalRecords"]
               for c in entry["category_ids"]) == len(kept)

    own, page = [], 1
    while True:
        answer = client.ok("alibaba.product.getList", {"pageNo": page, "pageSize": 30})
        assert answer["count"] == len(kept)
        own += [str(p["productID"]) for p in answer["productInfos"]]
        if not answer["productInfos"]:
            break
        page += 1
    assert own == kept

    word = titles[changed[0]]
    found = every_page(lambda page, size: keyword_page(client, word, page, size), 50)
    expected = {i for i, title in titles.items() if word.lower() in title.lower()} - set(changed)
    assert {str(e["offerId"]) for e in found} == expected
    assert keyword_page(client, word, 1, 1)["totalRecords"] == len(expected)

    missing = 999999999999
    fenxiao_missing = client.detail(missing)
    classic_missing = client.ok("alibaba.product.get", {"productID": missing, "webSite": "1688"})
    for offer_id in changed[:3]:
        def as_missing(answer: Any, offer_id: str = offer_id) -> Any:
            return json.loads(json.dumps(answer, ensure_ascii=False).replace(str(missing), offer_id))

        assert client.detail(offer_id) == as_missing(fenxiao_missing)
        assert client.detail(offer_id)["message"] == f"商品[{offer_id}]不存在"
        for api in ("alibaba.product.get", "alibaba.product.simple.get"):
            assert client.ok(api, {"productID": offer_id, "webSite": "1688"}) == as_missing(classic_missing)
        gone = client.http.get(f"{client.base_url}/sandbox/products/{offer_id}", timeout=30)
        assert (gone.status_code, gone.json()) == (404, {"error": f"no product {offer_id}"})
    assert client.truth("stats")["errors"]["business.not_found"] == 2 + 3 * 4
    assert client.detail(kept[0])["success"] is True

    again = client.control("delist", {"seller_open_id": open_id, "fraction": 0.05, "seed": 4})["changed"]
    assert len(again) == round(len(kept) * 0.05) and set(again) <= set(kept)  # only listed ones


def test_restock_sets_the_sku_stocks_and_bumps_the_modification_time(start_client):
    client = start_client()
    target = client.shop(96)
    open_id = target["seller_open_id"]
    before = {i: client.truth(f"products/{i}") for i in client.truth(f"shops/{open_id}/ids")}

    changed = client.control("restock", {"seller_open_id": open_id, "fraction": 0.5, "seed": 2,
                                         "stock": 7})["changed"]
    assert len(changed) == 48 and changed == [i for i in before if i in set(changed)]
    assert any(before[i]["skus"] for i in changed) and any(not before[i]["skus"] for i in changed)
    listing = {str(e["offerId"]): e for e in every_page(
        lambda page, size: client.seller_page(open_id, page, size), 50)}
    for offer_id, old in before.items():
        new = client.truth(f"products/{offer_id}")
        if offer_id not in changed:
            assert new == old
            continue
        skus = len(old["skus"])
        assert [s["stock"] for s in new["skus"]] == [7] * skus
        assert new["stock"] == (7 * skus if skus else 7)
        assert new["modified_at"] > old["modified_at"]
        assert {**new, "stock": old["stock"], "skus": old["skus"], "modified_at": old["modified_at"]} == old
        modified = datetime.fromisoformat(new["modified_at"]).strftime("%Y-%m-%d %H:%M:%S")
        assert listing[offer_id]["modifyDate"] == modified

    with_skus = next(i for i in changed if before[i]["skus"])
    detail = client.detail(with_skus)["result"]
    assert [s["amountOnSale"] for s in detail["productSkuInfos"]] == [7] * len(before[with_skus]["skus"])
    assert detail["productSaleInfo"]["amountOnSale"] == 7 * len(before[with_skus]["skus"])
    product = client.ok("alibaba.product.get", {"productID": with_skus, "webSite": "1688"})["productInfo"]
    assert {s["amountOnSale"] for s in product["skuInfos"]} == {7}
    modified = datetime.fromisoformat(client.truth(f"products/{with_skus}")["modified_at"])
    assert product["lastUpdateTime"] == modified.strftime("%Y%m%d%H%M%S") + "000+0800"
    without = next(i for i in changed if not before[i]["skus"])
    assert client.detail(without)["result"]["productSaleInfo"]["amountOnSale"] == 7

    # The stock is the shop's, not the offer cache's: a reprice (which empties that cache)
    # keeps it, and a second restock sets it again, to 0 (out of stock).
    client.control("reprice", {"seller_open_id": open_id, "fraction": 1.0, "seed": 1})
    assert client.truth(f"products/{with_skus}")["stock"] == 7 * len(before[with_skus]["skus"])
    out = client.control("restock", {"seller_open_id": open_id, "fraction": 1.0, "stock": 0})["changed"]
    assert out == list(before)
    assert all(client.truth(f"products/{i}")["stock"] == 0 for i in changed[:5])


def test_delist_and_restock_draw_listed_products_by_seed(start_client):
    first, second = start_client(), start_client()
    small = first.shop(50)["seller_open_id"]
    for client in (first, second):
        client.control("delist", {"seller_open_id": small, "fraction": 0.2, "seed": 5})
    assert first.truth(f"shops/{small}/ids") == second.truth(f"shops/{small}/ids")
    kept = first.truth(f"shops/{small}/ids")
    assert len(kept) == 40

    restocked = [c.control("restock", {"seller_open_id": small, "fraction": 1.0, "seed": 5, "stock": 3})
                 for c in (first, second)]
    assert restocked[0] == restocked[1] and restocked[0]["changed"] == kept

    everywhere = [c.control("delist", {"seed": 9}) for c in (first, second)]
    assert everywhere[0] == everywhere[1]
    assert len(everywhere[0]["changed"]) == round(40 * 0.02) + round(96 * 0.02) + round(640 * 0.02)
    other = first.control("delist", {"seed": 10})["changed"]
    assert other and not set(other) & set(everywhere[0]["changed"])  # only still-listed ones


@pytest.mark.parametrize(
    ("endpoint", "body", "status", "message"),
    [
        ("reprice", b"[1, 2]", 400, "the body must be a JSON object"),
        ("delist", b"not json", 400, "the body is not JSON"),
        ("delist", {"fraction": 1.5}, 400, "fraction must be a number between 0 and 1, got 1.5"),
        ("reprice", {"fraction": -0.1}, 400, "fraction must be a number between 0 and 1"),
        ("restock", {"fraction": "0.5", "stock": 1}, 400, "fraction must be a number"),
        ("delist", {"fraction": True}, 400, "fraction must be a number"),
        ("delist", {"seed": "x"}, 400, "seed must be an integer, got 'x'"),
        ("reprice", {"seed": 1.5}, 400, "seed must be an integer"),
        ("delist", {"fractoin": 0.1}, 400, "unknown field(s) 'fractoin'; known: seller_open_id, fraction, seed"),
        ("reprice", {"stock": 3}, 400, "unknown field(s) 'stock'"),
        ("delist", {"seller_open_id": 42}, 400, "seller_open_id must be a shop's seller_open_id"),
        ("restock", {"seller_open_id": "nope", "stock": 1}, 404, "no shop with seller_open_id 'nope'"),
        ("reprice", {"seller_open_id": "nope"}, 404, "no shop with seller_open_id 'nope'"),
        ("restock", {}, 400, "stock is required"),
        ("restock", {"stock": -1}, 400, "stock must be an integer between 0 and 2147483647, got -1"),
        ("restock", {"stock": 2**31}, 400, "stock must be an integer between 0 and 2147483647"),
        ("restock", {"stock": "5"}, 400, "stock must be an integer, got '5'"),
        ("restock", {"stock": 1.5}, 400, "stock must be an integer"),
    ],
)
def test_bad_change_bodies_are_clear_errors_and_change_nothing(client, endpoint, body, status, message):
    shops = client.truth("shops")
    options = {"data": body} if isinstance(body, bytes) else {"json": body}
    answer = client.http.post(f"{client.base_url}/sandbox/{endpoint}", timeout=30, **options)
    assert answer.status_code == status
    assert answer.json()["error"].startswith(message)
    assert client.truth("shops") == shops


def test_the_shops_ground_truth_answers_chinese_as_it_is(sandbox):
    body = requests.get(f"{sandbox.base_url}/sandbox/shops", timeout=30).content.decode("utf-8")
    names = [shop["name"] for shop in sandbox.shops()]
    assert all(name in body for name in names) and "\\u" not in body
