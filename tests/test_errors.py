"""Error classification: every documented error shape, and success answers left alone."""

from __future__ import annotations

import json
import pickle

import pytest
from reference_data import SAMPLES, sample_bytes

from ali1688spider.api.errors import (
    ApiCallError,
    ApiError,
    ErrorKind,
    classify_response,
    parse_json_body,
    unwrap_result,
)


def _sample(name: str) -> bytes:
    return sample_bytes(name)


def _body(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(
    ("name", "status", "kind", "code"),
    [
        ("error.401.need-user-authorized.json", 401, ErrorKind.TOKEN_INVALID, "401"),
        ("error.gw.APIACLDecline.json", 400, ErrorKind.ACL_DENIED, "gw.APIACLDecline"),
        ("error.gw.NoUsageLeftError.json", 400, ErrorKind.QUOTA_EXHAUSTED, "gw.NoUsageLeftError"),
        ("error.gw.QosAppFrequencyLimit.json", 400, ErrorKind.QPS_LIMIT, "gw.QosAppFrequencyLimit"),
        # Some clients saw the throttle answer with HTTP 200: still an error.
        ("error.gw.QosAppFrequencyLimit.json", 200, ErrorKind.QPS_LIMIT, "gw.QosAppFrequencyLimit"),
        (
            "top.error_response.app-call-limited.json",
            200,
            ErrorKind.QPS_LIMIT,
            "7:accesscontrol.limited-by-dynamic-access-count",
        ),
        ("top.error_response.invalid-signature.json", 200, ErrorKind.SIGNATURE_INVALID, "25"),
    ],
)
def test_documented_error_samples(name, status, kind, code):
    error = classify_response(status, _sample(name))
    assert error is not None
    assert (error.kind, error.code, error.http_status) == (kind, code, status)


def test_every_error_sample_is_covered():
    _sample("error.gw.APIACLDecline.json")
    names = {p.name for p in SAMPLES.glob("error.*")} | {p.name for p in SAMPLES.glob("top.error_response.*")}
    covered = {
        "error.401.need-user-authorized.json",
        "error.gw.APIACLDecline.json",
        "error.gw.NoUsageLeftError.json",
        "error.gw.QosAppFrequencyLimit.json",
        "top.error_response.app-call-limited.json",
        "top.error_response.invalid-signature.json",
    }
    assert names == covered


def test_every_success_sample_is_a_success():
    _sample("alibaba.product.get.response.json")
    responses = sorted(SAMPLES.glob("*.response.json"))
    assert len(responses) >= 9
    for path in responses:
        assert classify_response(200, path.read_bytes()) is None, path.name


def test_describe_is_one_line_and_request_id_is_kept():
    error = classify_response(400, _sample("error.gw.APIACLDecline.json"))
    assert error.describe() == "gw.APIACLDecline (HTTP 400): AppKey is not allowed(acl)"
    top = classify_response(200, _sample("top.error_response.invalid-signature.json"))
    assert top.describe() == "25 (HTTP 200): Invalid signature [request_id 109wcmcgllsj1]"
    multi = ApiError(ErrorKind.SERVER_ERROR, "x", "first\nsecond\r\n  third", 500)
    assert multi.describe() == "x (HTTP 500): first second third"
    assert "\n" not in ApiError(ErrorKind.SERVER_ERROR, "x", "y" * 5000, 500).describe()


@pytest.mark.parametrize(
    ("status", "data", "kind"),
    [
        (400, {"error_code": "gw.SignatureInvalid", "error_message": "sign mismatch"}, ErrorKind.SIGNATURE_INVALID),
        (400, {"error_code": "gw.AppKeyNotFound", "error_message": "no such app"}, ErrorKind.SIGNATURE_INVALID),
        (400, {"error_code": "gw.APIUnsupported", "error_message": "no such api"}, ErrorKind.BAD_PARAMETER),
        (400, {"error_code": "gw.ParamMissing", "error_message": "productID"}, ErrorKind.BAD_PARAMETER),
        (400, {"error_code": "gw.SomethingNew", "error_message": "?"}, ErrorKind.BAD_PARAMETER),
        (503, {"error_code": "gw.SomethingNew", "error_message": "?"}, ErrorKind.SERVER_ERROR),
        (200, {"error_code": "gw.SomethingNew"}, ErrorKind.BAD_PARAMETER),
        (401, {"error_code": "401", "exception": "Request need user authorized"}, ErrorKind.TOKEN_INVALID),
        (401, {}, ErrorKind.TOKEN_INVALID),
        (400, {"error_code": "400", "exception": "Request need user authorized"}, ErrorKind.TOKEN_INVALID),
        (500, {"error_code": "500", "error_message": "internal"}, ErrorKind.SERVER_ERROR),
        (429, {"message": "slow down"}, ErrorKind.QPS_LIMIT),
        (200, {"error_response": {"code": 27, "msg": "Invalid session"}}, ErrorKind.TOKEN_INVALID),
        (200, {"error_response": {"code": 29, "msg": "Invalid app Key"}}, ErrorKind.SIGNATURE_INVALID),
        (200, {"error_response": {"code": 40, "msg": "Missing required arguments"}}, ErrorKind.BAD_PARAMETER),
        (200, {"error_response": {"code": 41, "msg": "Invalid arguments"}}, ErrorKind.BAD_PARAMETER),
        (
            200,
            {"error_response": {"code": 15, "msg": "Remote service error", "sub_code": "isv.item-not-exist"}},
            ErrorKind.NOT_FOUND,
        ),
        (
            200,
            {"error_response": {"code": 15, "msg": "Remote service error", "sub_code": "isp.unknown-error"}},
            ErrorKind.SERVER_ERROR,
        ),
    ],
)
def test_gateway_and_top_codes(status, data, kind):
    error = classify_response(status, _body(data))
    assert error is not None and error.kind is kind


@pytest.mark.parametrize(
    ("data", "kind", "code"),
    [
        # result wrapper (cross-border search/detail, translation)
        (
            {"result": {"success": False, "code": "500", "message": "商品[1]不存在", "result": None}},
            ErrorKind.NOT_FOUND,
            "500",
        ),
        ({"result": {"success": "false", "code": "E01", "message": "bad country"}}, ErrorKind.BAD_PARAMETER, "E01"),
        (
            {"result": {"success": False, "errorMessage": "User authorization is required"}},
            ErrorKind.TOKEN_INVALID,
            "business_error",
        ),
        # flat flags (account APIs, product.list.get)
        (
            {"success": False, "errorCode": "ACCOUNT_NOT_EXIST", "errorMessage": "member does not exist"},
            ErrorKind.NOT_FOUND,
            "ACCOUNT_NOT_EXIST",
        ),
        ({"success": "false", "code": "X", "message": "denied", "subCode": "y"}, ErrorKind.BAD_PARAMETER, "X"),
        # errorMsg/errorCode (category.get, getList), including the misspelt "succes"
        ({"errorMsg": "category id invalid", "errorCode": "500_1"}, ErrorKind.BAD_PARAMETER, "500_1"),
        ({"succes": False, "errorCode": "500_1"}, ErrorKind.BAD_PARAMETER, "500_1"),
        ({"categoryInfo": [], "errorCode": "500_1"}, ErrorKind.BAD_PARAMETER, "500_1"),
        # errMsg only (alibaba.product.get / simple.get)
        ({"errMsg": "商品[57053081292]不存在"}, ErrorKind.NOT_FOUND, "business_error"),
        # cross.productInfo
        ({"success": False, "message": "No permission to query this product"}, ErrorKind.BAD_PARAMETER, "business_error"),
        ({"success": False, "message": "Product [1] does not exist"}, ErrorKind.NOT_FOUND, "business_error"),
        # the same envelopes inside a TOP answer
        ({"alibaba_product_get_response": {"errMsg": "商品[1]不存在"}}, ErrorKind.NOT_FOUND, "business_error"),
    ],
)
def test_business_errors_inside_http_200(data, kind, code):
    error = classify_response(200, _body(data))
    assert error is not None
    assert (error.kind, error.code, error.http_status) == (kind, code, 200)


@pytest.mark.parametrize(
    "data",
    [
        {"result": {"success": True, "code": "200", "message": "成功", "result": {"offerId": 1}}},
        {"success": True, "code": "S0000", "result": {"categoryId": 1}},
        {"succes": True, "errorMsg": None, "categoryInfo": []},
        {"productInfos": [], "count": 0, "errorMsg": ""},
        {"productInfo": {"productID": 1}, "errMsg": None},
        {"productInfos": [], "count": 0, "errorCode": "0"},
        {"alibaba_product_get_response": {"productInfo": {"productID": 1}, "request_id": "r"}},
    ],
)
def test_success_envelopes(data):
    assert classify_response(200, _body(data)) is None


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, b"<html><head><title>502 Bad Gateway</title></head></html>", ErrorKind.INVALID_RESPONSE),
        (502, b"<html><head><title>502 Bad Gateway</title></head></html>", ErrorKind.SERVER_ERROR),
        (503, b"", ErrorKind.SERVER_ERROR),
        (200, b"", ErrorKind.INVALID_RESPONSE),
        (200, b'{"result": {"success": true, "result": {"offerId": 12', ErrorKind.INVALID_RESPONSE),
        (404, b"Not Found", ErrorKind.INVALID_RESPONSE),
        (200, b"\xff\xfe\x00garbage", ErrorKind.INVALID_RESPONSE),
        (200, b"[1, 2]", ErrorKind.INVALID_RESPONSE),
        (500, b"null", ErrorKind.SERVER_ERROR),
    ],
)
def test_bodies_that_are_not_json_objects(status, body, kind):
    error = classify_response(status, body)
    assert error is not None and error.kind is kind and error.http_status == status
    assert error.retryable


def test_error_pages_do_not_leak_into_messages():
    page = b"<html>echo: access_token=secret-token-123 &amp; more</html>"
    error = classify_response(502, page)
    assert "secret-token-123" not in error.describe()
    truncated = b'{"access_token": "secret-token-123", "refresh'
    assert "secret-token-123" not in classify_response(200, truncated).describe()


def test_parse_json_body():
    assert parse_json_body(b'{"a": 1}') == {"a": 1}
    with pytest.raises(ApiCallError) as caught:
        parse_json_body(b'{"a": ', status=200)
    assert caught.value.error.kind is ErrorKind.INVALID_RESPONSE


@pytest.mark.parametrize(
    ("kind", "retryable", "fatal"),
    [
        (ErrorKind.QPS_LIMIT, True, False),
        (ErrorKind.SERVER_ERROR, True, False),
        (ErrorKind.INVALID_RESPONSE, True, False),
        (ErrorKind.SIGNATURE_INVALID, False, True),
        (ErrorKind.ACL_DENIED, False, True),
        (ErrorKind.TOKEN_INVALID, False, False),
        (ErrorKind.QUOTA_EXHAUSTED, False, False),
        (ErrorKind.BAD_PARAMETER, False, False),
        (ErrorKind.NOT_FOUND, False, False),
    ],
)
def test_error_properties(kind, retryable, fatal):
    error = ApiError(kind, "c", "m", 400)
    assert (error.retryable, error.fatal_credentials) == (retryable, fatal)


def test_api_call_error_carries_the_error():
    error = ApiError(ErrorKind.ACL_DENIED, "gw.APIACLDecline", "AppKey is not allowed(acl)", 400, "rid")
    exc = ApiCallError(error)
    assert exc.error is error
    assert str(exc) == "gw.APIACLDecline (HTTP 400): AppKey is not allowed(acl) [request_id rid]"
    assert pickle.loads(pickle.dumps(exc)).error == error


def test_unwrap_result_for_each_envelope():
    detail = json.loads(_sample("product.search.queryProductDetail.response.json"))
    assert unwrap_result(detail)["offerId"] == 34513534353434
    search = json.loads(_sample("product.search.keywordQuery.response.json"))
    assert unwrap_result(search)["data"][0]["offerId"] == 2
    translation = json.loads(_sample("category.translation.getById.response.json"))
    assert unwrap_result(translation)["chineseName"] == "连衣裙"
    cross_basic = json.loads(_sample("alibaba.account.agent.crossBasic.response.json"))
    assert unwrap_result(cross_basic)["loginId"] == "alitestforisv01"
    classic = json.loads(_sample("alibaba.product.get.response.json"))
    assert unwrap_result(classic) is classic
    token = json.loads(_sample("system.oauth2.getToken.response.json"))
    assert unwrap_result(token) is token
    top = {"alibaba_product_get_response": {"productInfo": {"productID": 1}, "request_id": "r"}}
    assert unwrap_result(top) == {"productInfo": {"productID": 1}, "request_id": "r"}
    top_wrapped = {"x_response": {"result": {"success": True, "result": {"offerId": 5}}}}
    assert unwrap_result(top_wrapped) == {"offerId": 5}
    # Unwrapping twice changes nothing: callers may pass either form.
    assert unwrap_result(unwrap_result(detail)) == unwrap_result(detail)


def _top_code_7(sub_code: str, sub_msg: str) -> bytes:
    body = {"error_response": {"code": 7, "msg": "App Call Limited", "sub_code": sub_code, "sub_msg": sub_msg}}
    return json.dumps(body).encode()


def test_top_code_7_is_the_daily_quota_only_for_the_app_access_count():
    error = classify_response(
        200, _top_code_7("isv.limited-by-app-access-count", "This ban will last for 3600 more seconds")
    )
    assert error.kind is ErrorKind.QUOTA_EXHAUSTED
    assert not error.retryable


@pytest.mark.parametrize(
    "sub_code",
    [
        "accesscontrol.limited-by-api-access-count",
        "accesscontrol.limited-by-app-api-access-count",
        "accesscontrol.limited-by-dynamic-access-count",
    ],
)
def test_top_code_7_per_second_or_minute_limits_are_bans_to_wait_out(sub_code):
    error = classify_response(200, _top_code_7(sub_code, "This ban will last for 12 more seconds"))
    assert error.kind is ErrorKind.QPS_LIMIT and error.retryable
    assert error.retry_after == 12.0


def test_a_gateway_refusal_without_a_stated_ban_has_no_retry_time():
    error = classify_response(400, sample_bytes("error.gw.QosAppFrequencyLimit.json"))
    assert error.kind is ErrorKind.QPS_LIMIT and error.retry_after is None

@pytest.mark.parametrize("status", [200, 400])
def test_an_error_field_is_an_error_whatever_the_status(status):
    body = {"error": "invalid_grant", "error_description": "code is invalid, used or expired"}
    error = classify_response(status, _body(body))
    assert error is not None and error.code == "invalid_grant"
    assert classify_response(200, _body({"error_code": "gw.QosAppFrequencyLimit"})).kind is ErrorKind.QPS_LIMIT


@pytest.mark.parametrize("status", [200, 401])
def test_a_string_error_field_is_the_message_when_no_other_field_holds_one(status):
    # The shape some public clients' test doubles answer with (reference §4.1: the 401 message).
    error = classify_response(status, _body({"error": "Request need user authorized"}))
    assert error is not None
    assert (error.kind, error.message) == (ErrorKind.TOKEN_INVALID, "Request need user authorized")
    assert error.describe() == f"http.{status} (HTTP {status}): Request need user authorized"
