"""Signatures: every published vector, and the rule "what is sent is what is signed"."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

import pytest
from reference_data import sample_json

from ali1688spider.api.signing import (
    aop_signed_string,
    aop_url_path,
    encode_params,
    sign_aop,
    sign_top,
    to_param_value,
    top_signed_string,
)

VECTORS = "signature-vectors.json"


def _vectors() -> dict:
    return sample_json(VECTORS)


def _ids(section: str) -> list[str]:
    return [vector["name"] for vector in _vectors()[section]]


def _vector(section: str, name: str) -> dict:
    return next(v for v in _vectors()[section] if v["name"] == name)


def _hmac_sha1(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha1).hexdigest().upper()


@pytest.mark.parametrize("name", _ids("aop"))
def test_aop_vector(name):
    vector = _vector("aop", name)
    path, params, secret = vector["urlPath"], vector["params"], vector["secret"]
    if vector["mode"] == "concat_sort":
        assert aop_signed_string(path, params) == vector["signedString"]
        assert sign_aop(path, params, secret) == vector["signature"]
    else:
        # Sorting by key (a third-party variant) signs another string: the production signer
        # must not produce it. The vector itself is consistent with key order.
        key_sorted = path + "".join(k + params[k] for k in sorted(params))
        assert key_sorted == vector["signedString"]
        assert _hmac_sha1(secret, key_sorted) == vector["signature"]
        assert sign_aop(path, params, secret) != vector["signature"]


def test_prefix_keys_follow_the_official_order():
    official = _vector("aop", "A6a prefix keys, sort k+v strings (official SDKs)")
    key_sorted = _vector("aop", "A6b prefix keys, sort by key (some 3rd-party)")
    assert official["params"] == key_sorted["params"]
    assert sign_aop(official["urlPath"], key_sorted["params"], "test123") == official["signature"]


@pytest.mark.parametrize("name", _ids("top"))
def test_top_vector(name):
    vector = _vector("top", name)
    params, secret, method = vector["params"], vector["secret"], vector["signMethod"]
    wrapped = secret if method == "md5" else ""
    if vector["skipEmpty"]:
        assert wrapped + top_signed_string(params) + wrapped == vector["signedString"]
        assert sign_top(params, secret, method) == vector["signature"]
    else:
        # We follow the Java SDK and skip empty values: the same params sign like T5a.
        assert sign_top(params, secret, method) != vector["signature"]
        skipped = _vector("top", "T5a empty session skipped (Java SDK areNotEmpty)")
        assert sign_top(params, secret, method) == skipped["signature"]


def test_signature_parameters_are_excluded():
    params = {"b": "2", "a": "1"}
    path = "param2/1/system/currentTime/1000000"
    assert sign_aop(path, {**params, "_aop_signature": "X"}, "test123") == sign_aop(path, params, "test123")
    top = {"method": "m", "app_key": "1"}
    assert sign_top({**top, "sign": "X"}, "s", "md5") == sign_top(top, "s", "md5")


def test_sign_top_rejects_unknown_method():
    with pytest.raises(ValueError, match="hmac-sha256"):
        sign_top({"a": "1"}, "s", "sha1")


def test_unencoded_values_are_refused():
    with pytest.raises(TypeError, match="'flag'"):
        sign_aop("param2/1/ns/name/1", {"flag": True}, "s")


def test_aop_url_path():
    assert aop_url_path("com.alibaba.product", "alibaba.product.get", 1, "1000000") == (
        "param2/1/com.alibaba.product/alibaba.product.get/1000000"
    )
    assert aop_url_path("system.oauth2", "getToken", 1, "7", protocol="http") == (
        "http/1/system.oauth2/getToken/7"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (1031910, "1031910"),
        (Decimal("10.50"), "10.50"),
        ("", ""),
        ("饼干", "饼干"),
        ({"keyword": "饼干", "beginPage": 1, "ok": True}, '{"keyword":"饼干","beginPage":1,"ok":true}'),
        ([1, "a"], '[1,"a"]'),
        ({"price": Decimal("1.5")}, '{"price":"1.5"}'),
    ],
)
def test_to_param_value(value, expected):
    assert to_param_value(value) == expected


@pytest.mark.parametrize("value", [None, object(), b"bytes"])
def test_to_param_value_refuses(value):
    with pytest.raises(TypeError):
        to_param_value(value)


def test_encode_params_matches_the_official_vectors():
    """None dropped; "" kept (A4a), 0 kept (A5a), booleans as "true" (A7a)."""
    cases = {
        "A4a empty value kept (Java/PHP)": {"productID": 1, "webSite": 1688, "scene": "", "x": None},
        "A5a numeric zero kept (Java/PHP)": {"categoryID": 0},
        "A7a boolean as Java/PHP-json 'true'": {"productID": 1, "needX": True, "y": None},
    }
    for name, params in cases.items():
        vector = _vector("aop", name)
        encoded = encode_params(params)
        assert encoded == vector["params"]
        assert sign_aop(vector["urlPath"], encoded, vector["secret"]) == vector["signature"]


def test_nested_parameter_matches_vector_a3():
    vector = _vector("aop", "A3 Chinese JSON value")
    params = encode_params(
        {
            "offerQueryParam": {"keyword": "饼干", "beginPage": 1, "pageSize": 20, "country": "en"},
            "access_token": "f14da3b8-b0b1-4f73-a5de-9bed637e0188",
        }
    )
    assert "\\u" not in params["offerQueryParam"]
    assert sign_aop(vector["urlPath"], params, vector["secret"]) == vector["signature"]


def test_signed_set_equals_sent_set():
    """The form body carries exactly the signed pairs; the gateway's recomputation agrees."""
    path = "param2/1/com.alibaba.product/alibaba.product.get/1000000"
    sent = encode_params({"productID": 573741401425, "webSite": "1688", "scene": "", "skip": None, "on": False})
    sent["_aop_signature"] = sign_aop(path, sent, "test123")
    received = dict(parse_qsl(urlencode(sent), keep_blank_values=True))
    assert received == sent
    signature = received.pop("_aop_signature")
    gateway_view = path + "".join(sorted(k + v for k, v in received.items()))
    assert _hmac_sha1("test123", gateway_view) == signature
    assert "skip" not in received and received["on"] == "false" and received["scene"] == ""


def test_catalogue_apis_sign_under_their_documented_path():
    from ali1688spider.api.catalogue import CATALOGUE, get_api

    spec = get_api("alibaba.product.get")
    assert spec.doc_id == "com.alibaba.product:alibaba.product.get-1"
    assert aop_url_path(spec.namespace, spec.name, spec.version, "1000000") == (
        _vector("aop", "A2 ASCII product.get")["urlPath"]
    )
    detail = get_api("product.search.queryProductDetail")
    assert (detail.namespace, detail.wrapper_param) == ("com.alibaba.fenxiao.crossborder", "offerDetailParam")
    assert get_api("alibaba.product.getList").max_page_size == 30
    assert not get_api("alibaba.category.get").needs_token
    token = get_api("getToken")
    assert (token.namespace, token.needs_token, token.needs_signature) == ("system.oauth2", False, False)
    assert all(name == spec.name for name, spec in CATALOGUE.items())
    with pytest.raises(KeyError, match="unknown 1688 API 'nope'"):
        get_api("nope")
