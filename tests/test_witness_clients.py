"""Outside witnesses: two public client libraries (``tests/witnesses.py``) call the sandbox.

For each API that both sides have, the witness's call must be accepted, its answer must be the
one the project's own client gets for the same parameters, and the project must read it into
the sandbox's ground truth; errors must come out in the witness's own error types with the
codes the project classifies. So the project, the sandbox and a client written for the real
gateway agree three ways.
"""

from __future__ import annotations

import gc
import json
import time
from typing import Any

import pytest
import taobao_open.api
from aop.api import AlibabaLogisticsOpQueryLogisticCompanyListParam
from aop.exceptions import ApiError as Open1688Error
from aop.structure import AppInfo
from taobao_open.api.base import TopException
from taobao_open.api.base import sign as top_sdk_sign
from witnesses import Gateway, open1688_call, open1688_class, top_sdk_call, top_sdk_class

from ali1688spider.api.catalogue import (
    CATEGORY_API,
    DETAIL_API,
    SEARCH_API,
    SHOP_LIST_API,
    ApiSpec,
    get_api,
)
from ali1688spider.api.errors import ApiCallError, ErrorKind
from ali1688spider.api.normalize import list_entries, list_total, normalize_categories, normalize_product
from ali1688spider.api.signing import aop_url_path, sign_aop, sign_top
from ali1688spider.gateway.client import Ali1688Client
from ali1688spider.sandbox.signature import aop_valid, top_valid

# py-taobao-open never closes the HTTP connection it opens for a call (a bug of its own): the
# socket's ResourceWarning when it is collected is not this project's to fix.
pytestmark = pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")


@pytest.fixture(autouse=True)
def _collect_the_sdks_connections():
    """Collect those sockets at the end of each test, where the filter above holds: one that
    a TopException's traceback keeps in a reference cycle would otherwise be collected later,
    during any other test, as an error."""
    yield
    gc.collect()


CLASSIC_DETAIL_API = "alibaba.product.get"
# The keyword as a buyer types it: Chinese, spaces and the characters form encoding changes.
ODD_KEYWORD = "全棉 四件套 & a=b+c 100%"
CALLS = ("listing", "listing by category", "detail", "classic detail", "keyword",
         "keyword with & = + and spaces", "categories", "category")


def as_json(value: dict[str, Any]) -> str:
    # As a user of either library writes it: json.dumps with Chinese kept as UTF-8.
    return json.dumps(value, ensure_ascii=False)


def call_params(name: str, sandbox: Any) -> tuple[ApiSpec, dict[str, str]]:
    """The API and the business parameters (as text: see ``open1688_call``) of call *name*."""
    shop = sandbox.shop(100)
    offer = shop["sample_offer_id"]
    listing = {"sellerOpenId": shop["seller_open_id"], "beginPage": 1, "pageSize": 20, "country": "en"}
    calls = {
        "listing": (SHOP_LIST_API, {"offerQueryParam": as_json(listing)}),
        "listing by category": (SHOP_LIST_API, {"offerQueryParam": as_json(
            {**listing, "categoryId": int(shop["category_ids"][0])})}),
        "detail": (DETAIL_API, {"offerDetailParam": as_json({"offerId": int(offer), "country": "en"})}),
        "classic detail": (CLASSIC_DETAIL_API, {"productID": offer, "webSite": "1688"}),
        "keyword": (SEARCH_API, {"offerQueryParam": as_json(
            {"keyword": "四件套", "beginPage": 1, "pageSize": 10, "country": "en"})}),
        "keyword with & = + and spaces": (SEARCH_API, {"offerQueryParam": as_json(
            {"keyword": ODD_KEYWORD, "beginPage": 1, "pageSize": 10, "country": "en"})}),
        # "0" as text: open-1688 drops an int 0 (falsy) and the call goes without its id.
        "categories": (CATEGORY_API, {"categoryID": "0"}),
        "category": (CATEGORY_API, {"categoryID": str(shop["category_ids"][0])}),
    }
    api, params = calls[name]
    return get_api(api), params


def project_client(sandbox: Any, protocol: str, *, app_secret: str | None = None) -> Ali1688Client:
    creds = sandbox.credentials
    url = sandbox.info["router_url"] if protocol == "top" else sandbox.url
    # md5: the one sign method the Python TOP SDK has.
    return Ali1688Client(url, creds["app_key"], app_secret or creds["app_secret"], protocol=protocol,
                         top_sign_method="md5")


def without_request_id(answer: dict[str, Any]) -> dict[str, Any]:
    """A TOP answer without the ``request_id`` that differs from call to call."""
    ((key, inner),) = answer.items()
    return {key: {k: v for k, v in inner.items() if k != "request_id"}}


def check_against_truth(name: str, spec: ApiSpec, params: dict[str, str], answer: Any, sandbox: Any) -> None:
    """What the project reads from *answer* is the sandbox's ground truth."""
    shop = sandbox.shop(100)
    if spec.name in (DETAIL_API, CLASSIC_DETAIL_API):
        product, _ = normalize_product(spec.name, answer)
        truth = sandbox.get(f"/sandbox/products/{shop['sample_offer_id']}")
        assert (product["product_id"], product["title"], product["price_min"]) == \
            (truth["product_id"], truth["title"], truth["price_min"])
    elif spec.name == SHOP_LIST_API:
        ids = {str(entry["offerId"]) for entry in list_entries(spec.name, answer)}
        assert ids and ids <= set(sandbox.ids(shop))
        if name == "listing":
            assert list_total(spec.name, answer) == shop["products"]
        else:
            assert list_total(spec.name, answer) < shop["products"]
    elif spec.name == SEARCH_API:
        titles = [entry["subject"] for entry in list_entries(spec.name, answer)]
        keyword = json.loads(params["offerQueryParam"])["keyword"]
        # The sandbox matches titles by substring; its titles hold no spaces, so the odd
        # keyword finds nothing, while its signature still proves it arrived byte for byte.
        assert all(keyword in title for title in titles)
        assert bool(titles) is (keyword != ODD_KEYWORD)
    else:
        categories, _ = normalize_categories(spec.name, answer)
        names = {c["category_id"]: c["name"] for c in sandbox.get("/sandbox/categories")}
        assert categories
        assert all(names.get(c["category_id"]) == c["name"] for c in categories if c["category_id"] != "0")


# -- signatures, by hand ------------------------------------------------------------------------

@pytest.mark.parametrize("name", CALLS)
def test_witness_project_and_sandbox_sign_alike(name, sandbox):
    spec, params = call_params(name, sandbox)
    app_key, secret = sandbox.credentials["app_key"], sandbox.credentials["app_secret"]
    sent = {**params, "access_token": "token", "_aop_timestamp": "1700000000000"}
    path = aop_url_path(spec.namespace, spec.name, spec.version, app_key)
    witness = open1688_class(spec)(AppInfo(app_key, secret)).sign(path, sent, secret)
    assert witness == sign_aop(path, sent, secret)
    assert aop_valid(path, [*sent.items(), ("_aop_signature", witness)], secret)

    # The system parameters as py-taobao-open sends them (epoch-millisecond timestamp).
    top = {**params, "method": spec.name, "app_key": app_key, "format": "json", "v": "2.0",
           "sign_method": "md5", "timestamp": "1700000000000", "partner_id": "tbk-sdk-python-20220112",
           "session": "token"}
    witness = top_sdk_sign(secret, top)
    assert witness == sign_top(top, secret, "md5")
    assert top_valid([*top.items(), ("sign", witness)], secret, "md5")


# -- answers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CALLS)
def test_open_1688_calls_are_answered_as_the_project_reads_them(name, sandbox):
    spec, params = call_params(name, sandbox)
    token = sandbox.credentials["access_token"] if spec.needs_token else None
    answer = open1688_call(Gateway.of(sandbox), spec, params, token)
    assert answer == project_client(sandbox, "aop").call(spec, params, access_token=token)
    check_against_truth(name, spec, params, answer, sandbox)


@pytest.mark.parametrize("name", CALLS)
def test_py_taobao_open_calls_are_answered_as_the_project_reads_them(name, sandbox):
    spec, params = call_params(name, sandbox)
    session = sandbox.credentials["access_token"] if spec.needs_token else None
    answer = top_sdk_call(Gateway.of(sandbox), top_sdk_class(spec.name), params, session)
    ours = project_client(sandbox, "top").call(spec, params, access_token=session)
    assert without_request_id(answer) == without_request_id(ours)
    check_against_truth(name, spec, params, answer, sandbox)


def test_py_taobao_open_signs_empty_values_and_is_accepted(sandbox):
    """The Python TOP SDK signs an empty value (vector T5b); the project skips it (T5a)."""
    gateway = Gateway.of(sandbox)
    category, params = call_params("categories", sandbox)
    # An empty session: what the SDK sends for a call made with authrize="".
    answer = top_sdk_call(gateway, top_sdk_class(category.name), params, "")
    assert without_request_id(answer) == without_request_id(
        project_client(sandbox, "top").call(category, params))
    detail, params = call_params("detail", sandbox)
    params = {**params, "scene": ""}
    token = sandbox.credentials["access_token"]
    answer = top_sdk_call(gateway, top_sdk_class(detail.name), params, token)
    assert without_request_id(answer) == without_request_id(
        project_client(sandbox, "top").call(detail, params, access_token=token))


# -- errors --------------------------------------------------------------------------------------

def project_error(sandbox: Any, protocol: str, gateway: Gateway, spec: ApiSpec, params: dict[str, str],
                  token: str | None) -> Any:
    """The ``ApiError`` the project's client raises for the same call."""
    client = project_client(sandbox, protocol, app_secret=gateway.app_secret)
    with pytest.raises(ApiCallError) as caught:
        client.call(spec, params, access_token=token)
    return caught.value.error


def test_open_1688_reads_the_gateway_errors_in_its_own_error_type(sandbox):
    token = sandbox.credentials["access_token"]
    spec, params = call_params("detail", sandbox)
    cases = {
        "gw.SignatureInvalid": (Gateway.of(sandbox, app_secret="not-the-secret"), token),
        "401": (Gateway.of(sandbox), "not-a-token"),
    }
    for code, (gateway, sent_token) in cases.items():
        with pytest.raises(Open1688Error) as caught:
            open1688_call(gateway, spec, params, sent_token)
        assert (caught.value.error_code, caught.value.api) == (code, f"1/{spec.namespace}/{spec.name}")
        assert caught.value.error_message and caught.value.request_id
        ours = project_error(sandbox, "aop", gateway, spec, params, sent_token)
        assert (ours.code, ours.message) == (code, caught.value.error_message)

    # One of the library's own API classes, for an API the sandbox does not serve.
    creds = sandbox.credentials
    unsupported = AlibabaLogisticsOpQueryLogisticCompanyListParam(
        AppInfo(creds["app_key"], creds["app_secret"]), token, domain=Gateway.of(sandbox).domain)
    with pytest.raises(Open1688Error) as caught:
        unsupported.get_response(timeout=30, _aop_timestamp=str(int(time.time() * 1000)))
    assert caught.value.error_code == "gw.APIUnsupported"


def test_open_1688_returns_business_errors_that_the_project_classifies(sandbox):
    """An API's own "not found" is HTTP 200: the library hands it back, the project reads it."""
    spec, _ = call_params("detail", sandbox)
    params = {"offerDetailParam": as_json({"offerId": 999999999999, "country": "en"})}
    token = sandbox.credentials["access_token"]
    answer = open1688_call(Gateway.of(sandbox), spec, params, token)
    assert answer["result"]["success"] is False
    ours = project_error(sandbox, "aop", Gateway.of(sandbox), spec, params, token)
    assert ours.kind is ErrorKind.NOT_FOUND and ours.proves_absence


def test_py_taobao_open_reads_the_router_errors_in_its_own_error_type(sandbox):
    token = sandbox.credentials["access_token"]
    spec, params = call_params("detail", sandbox)
    missing = {"offerDetailParam": as_json({"offerId": 999999999999, "country": "en"})}
    cases = [  # (code, sub_code), the gateway, the session and the parameters sent
        ((25, None), Gateway.of(sandbox, app_secret="not-the-secret"), token, params),
        ((27, "invalid-sessionkey"), Gateway.of(sandbox), None, params),
        ((15, "isv.item-not-exist"), Gateway.of(sandbox), token, missing),
    ]
    for (code, sub_code), gateway, session, sent in cases:
        with pytest.raises(TopException) as caught:
            top_sdk_call(gateway, top_sdk_class(spec.name), sent, session)
        assert (caught.value.errorcode, caught.value.subcode) == (code, sub_code)
        assert caught.value.message
        ours = project_error(sandbox, "top", gateway, spec, sent, session)
        assert ours.code == (f"{code}:{sub_code}" if sub_code else str(code))

    # One of the SDK's own request classes, for an API the sandbox does not serve.
    with pytest.raises(TopException) as caught:
        top_sdk_call(Gateway.of(sandbox), taobao_open.api.TbkItemInfoGetRequest, {"num_iids": "1"}, None)
    assert (caught.value.errorcode, caught.value.subcode) == (22, "isv.invalid-method")


# -- OAuth ---------------------------------------------------------------------------------------

def test_witnesses_call_with_the_token_the_project_refreshes(sandbox_factory):
    """Neither library implements 1688's token endpoint (open-1688 signs param2 paths only,
    py-taobao-open knows Taobao's taobao.top.auth.* APIs): they take the access token the
    project's OAuth client gets, and read an expired one as their own error."""
    sandbox = sandbox_factory("--shops", "50")
    gateway = Gateway.of(sandbox)
    spec, params = call_params("detail", sandbox)
    token = sandbox.credentials["access_token"]
    sandbox.post("/sandbox/expire-tokens")
    with pytest.raises(Open1688Error) as aop_error:
        open1688_call(gateway, spec, params, token)
    with pytest.raises(TopException) as top_error:
        top_sdk_call(gateway, top_sdk_class(spec.name), params, token)
    assert (aop_error.value.error_code, top_error.value.errorcode) == ("401", 27)

    fresh = project_client(sandbox, "aop").refresh(sandbox.credentials["refresh_token"])
    assert fresh.access_token != token
    aop_answer = open1688_call(gateway, spec, params, fresh.access_token)
    top_answer = top_sdk_call(gateway, top_sdk_class(spec.name), params, fresh.access_token)
    assert aop_answer == without_request_id(top_answer)[f"{spec.name.replace('.', '_')}_response"]
