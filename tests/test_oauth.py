"""OAuth: the authorize URL, the getToken grants and token answers (reference §5)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from reference_data import sample_json

from ali1688spider.api.errors import ApiCallError, ErrorKind
from ali1688spider.api.normalize import CHINA_TIME
from ali1688spider.api.oauth import (
    TokenSet,
    authorize_url,
    code_grant_params,
    parse_token_response,
    refresh_grant_params,
    token_url,
    token_url_path,
)

NOW = 1_700_000_000.0


def _sample(name: str) -> dict:
    return sample_json(name)


def _epoch(*parts: int) -> float:
    return datetime(*parts, tzinfo=CHINA_TIME).timestamp()


def test_authorize_url():
    url = authorize_url("8688001", "https://app.example.com/cb?x=1&y=2", "st&ate")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://auth.1688.com/oauth/authorize"
    assert parse_qs(parts.query) == {
        "client_id": ["8688001"],
        "site": ["1688"],
        "redirect_uri": ["https://app.example.com/cb?x=1&y=2"],
        "state": ["st&ate"],
    }
    sandbox = authorize_url("1", "http://127.0.0.1/cb", "s", base="http://127.0.0.1:8688/oauth/authorize")
    assert sandbox.startswith("http://127.0.0.1:8688/oauth/authorize?client_id=1&")


def test_token_url():
    assert token_url_path("8688001") == "http/1/system.oauth2/getToken/8688001"
    assert token_url_path("8688001", protocol="param2") == "param2/1/system.oauth2/getToken/8688001"
    assert token_url("https://gw.open.1688.com/openapi/", "8688001") == (
        "https://gw.open.1688.com/openapi/http/1/system.oauth2/getToken/8688001"
    )


def test_grant_params_have_the_documented_names():
    code = code_grant_params("YOUR_APPKEY", "YOUR_APPSECRET", "CODE", "YOUR_REDIRECT_URI")
    assert code == _sample("system.oauth2.getToken.request.json")
    refresh = refresh_grant_params("YOUR_APPKEY", "YOUR_APPSECRET", "REFRESH_TOKEN")
    assert refresh == _sample("system.oauth2.getToken.refresh.request.json")


def test_parse_refresh_response_sample():
    tokens = parse_token_response(_sample("system.oauth2.getToken.refresh.response.json"), now=NOW)
    assert tokens == TokenSet(
        access_token="81dfefd1-7bf0-46a3-8a7b-a9b53a21b292",
        refresh_token="527bc519-b359-4dd2-9792-225008f6c58a",
        expires_at=NOW + 36000,
        refresh_expires_at=_epoch(2017, 1, 26, 9, 45, 56),
        member_id="b2b-1711749575",
        resource_owner="龙江味道88",
        ali_id="1711749575",
    )


def test_parse_code_response_sample_with_the_old_timeout_format():
    tokens = parse_token_response(_sample("system.oauth2.getToken.response.json"), now=NOW)
    assert tokens.refresh_expires_at == _epoch(2012, 12, 22, 22, 22, 22)
    assert (tokens.member_id, tokens.resource_owner, tokens.ali_id) == ("xxxxxxx", "xxx", "8888888888")
    assert tokens.expires_at == NOW + 36000


def test_token_repr_hides_the_tokens():
    tokens = parse_token_response(_sample("system.oauth2.getToken.response.json"), now=NOW)
    text = repr(tokens) + str(tokens)
    assert "f14da3b8" not in text and "479f9564" not in text
    assert "resource_owner='xxx'" in text


def test_minimal_and_odd_answers():
    tokens = parse_token_response({"access_token": "a", "expires_in": "soon", "refresh_token_timeout": "?"}, now=NOW)
    assert tokens == TokenSet(access_token="a")
    numeric = parse_token_response({"access_token": "a", "expires_in": 60}, now=NOW)
    assert numeric.expires_at == NOW + 60


@pytest.mark.parametrize("data", [{}, {"access_token": ""}, None, {"error": "invalid_grant"}])
def test_answer_without_access_token(data):
    with pytest.raises(ApiCallError) as caught:
        parse_token_response(data, now=NOW)
    assert caught.value.error.kind is ErrorKind.INVALID_RESPONSE
