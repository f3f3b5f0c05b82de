"""The requests client, replayed from betamax cassettes recorded against the sandbox.

A missing cassette is recorded against a fresh sandbox (record mode ``once``); an existing one
replays offline. Requests match on method, path and the business parameters: signatures,
timestamps and secrets vary between runs and are left out. Secrets never reach a cassette:
the sandbox's fixed credentials are betamax placeholders, and every token the gateway issues
during a recording becomes a placeholder of its own before the cassette is written.
To re-record, delete tests/cassettes/<name>.json and run this file.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, quote_plus, urlsplit

import pytest
import requests
from betamax import Betamax
from betamax.cassette.cassette import Placeholder
from betamax.matchers import BaseMatcher

from ali1688spider.api.errors import ApiCallError, ErrorKind, unwrap_result
from ali1688spider.cli.auth import code_from
from ali1688spider.gateway.client import Ali1688Client, explain_error, resolve_api
from ali1688spider.sandbox.options import app_credentials

CASSETTES = Path(__file__).resolve().parent / "cassettes"
PUBLIC = app_credentials(1)
# Where replays "go": nothing listens there, so a request betamax does not serve fails.
REPLAY_GATEWAY = "http://127.0.0.1:9/openapi"
REDIRECT_URI = "http://127.0.0.1:1/callback"
WRONG_SECRET = "cassette-wrong-secret-0000"

SECRET_FIELDS = ("client_secret", "access_token", "refresh_token", "session", "code")
VOLATILE_FIELDS = ("_aop_signature", "_aop_timestamp", "sign", "timestamp")
STATIC_PLACEHOLDERS = [
    {"placeholder": "<SANDBOX_APP_SECRET>", "replace": PUBLIC.app_secret},
    {"placeholder": "<SANDBOX_ACCESS_TOKEN>", "replace": PUBLIC.access_token},
    {"placeholder": "<SANDBOX_REFRESH_TOKEN>", "replace": PUBLIC.refresh_token},
]


def request_params(request: dict | requests.PreparedRequest) -> dict[str, str]:
    """Query and form parameters of a live or recorded request."""
    if isinstance(request, dict):
        url, body = request["uri"], request["body"].get("string", "")
    else:
        url, body = request.url, request.body or ""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    if body and not body.lstrip().startswith("{"):
        params.update(parse_qsl(body, keep_blank_values=True))
    return params


class BusinessParamsMatcher(BaseMatcher):
    """Same parameters apart from signatures, timestamps and secrets."""

    name = "ali1688-params"

    def match(self, request, recorded_request) -> bool:
        def comparable(params: dict[str, str]) -> dict[str, str]:
            return {k: v for k, v in params.items() if k not in SECRET_FIELDS + VOLATILE_FIELDS}

        return comparable(request_params(request)) == comparable(request_params(recorded_request))


def secret_values(interaction_data: dict) -> list[str]:
    """Every secret-named value the interaction carries (request form, answer JSON, redirect)."""
    found = [v for k, v in request_params(interaction_data["request"]).items() if k in SECRET_FIELDS]
    body = interaction_data["response"]["body"].get("string", "")
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        found += [str(answer[k]) for k in SECRET_FIELDS if answer.get(k)]
    for location in interaction_data["response"]["headers"].get("Location", []):
        found += [v for k, v in parse_qsl(urlsplit(location).query) if k in SECRET_FIELDS]
    return [v for v in found if v and not v.startswith("<")]


def placeholder_issued_secrets(interaction, cassette) -> None:
    """Register a placeholder for each secret not known in advance (applied when saving)."""
    known = {p.replace for p in cassette.placeholders}
    for value in secret_values(interaction.data):
        if value in known:
            continue
        number = len(cassette.placeholders) + 1
        cassette.placeholders.append(Placeholder(f"<ISSUED_SECRET_{number}>", value))
        if quote_plus(value) != value:
            cassette.placeholders.append(Placeholder(f"<ISSUED_SECRET_{number}>", quote_plus(value)))
        known.add(value)


def drop_content_length(interaction, cassette) -> None:
    """Placeholders change body lengths: let the replayed body end where its text ends."""
    headers = interaction.data["response"]["headers"]
    for name in [h for h in headers if h.lower() == "content-length"]:
        del headers[name]


Betamax.register_request_matcher(BusinessParamsMatcher)
with Betamax.configure() as config:
    config.before_record(callback=placeholder_issued_secrets)
    config.before_playback(callback=drop_content_length)


@pytest.fixture
def cassette(sandbox_factory):
    """``cassette(name, *sandbox_args)`` -> (session, gateway URL): replay, or record live."""
    recorders: list[Betamax] = []

    def use(name: str, *sandbox_args: str) -> tuple[requests.Session, str]:
        gateway = REPLAY_GATEWAY
        if not (CASSETTES / f"{name}.json").exists():
            gateway = sandbox_factory(*sandbox_args).url
        session = requests.Session()
        recorder = Betamax(session, cassette_library_dir=str(CASSETTES))
        recorder.use_cassette(
            name,
            record="once",
            match_requests_on=["method", "path", BusinessParamsMatcher.name],
            placeholders=STATIC_PLACEHOLDERS,
        )
        recorder.start()
        recorders.append(recorder)
        return session, gateway

    yield use
    for recorder in recorders:
        recorder.stop()


def client_for(session: requests.Session, gateway: str, secret: str = PUBLIC.app_secret, **kwargs) -> Ali1688Client:
    return Ali1688Client(gateway, PUBLIC.app_key, secret, session=session, **kwargs)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_oauth_round_trip(cassette):
    session, gateway = cassette("oauth_round_trip")
    client = client_for(session, gateway)

    authorize = session.get(client.authorize_url(REDIRECT_URI, "state-7"), allow_redirects=False)
    assert authorize.status_code == 302
    location = authorize.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    code = code_from(location, "state-7")

    tokens = client.exchange_code(code, REDIRECT_URI)
    assert tokens.refresh_token and tokens.member_id and tokens.resource_owner
    assert tokens.expires_at is not None and tokens.refresh_expires_at > tokens.expires_at
    account = unwrap_result(client.call("alibaba.account.basic", {}, access_token=tokens.access_token))
    assert account["memberId"] == tokens.member_id

    with pytest.raises(ApiCallError) as reused:
        client.exchange_code(code, REDIRECT_URI)
    assert reused.value.error.http_status == 400

    refreshed = client.refresh(tokens.refresh_token)
    assert refreshed.access_token != tokens.access_token
    account = unwrap_result(client.call("alibaba.account.basic", {}, access_token=refreshed.access_token))
    assert account["memberId"] == tokens.member_id


def test_signed_calls_and_classified_errors(cassette):
    session, gateway = cassette("calls_and_errors", "--deny-api", "product.search.keywordQuery")
    client = client_for(session, gateway)
    token = PUBLIC.access_token

    shops = session.get(f"{origin(gateway)}/sandbox/shops").json()
    offer_id = int(shops[0]["sample_offer_id"])
    detail = client.call(
        "product.search.queryProductDetail",
        {"offerDetailParam": {"offerId": offer_id, "country": "en"}},
        access_token=token,
    )
    assert unwrap_result(detail)["offerId"] == offer_id

    def error_of(api: str, params: dict, *, access_token: str | None = token, using=client) -> tuple:
        with pytest.raises(ApiCallError) as caught:
            using.call(api, params, access_token=access_token)
        return caught.value.error

    denied = error_of("product.search.keywordQuery", {"offerQueryParam": {
        "keyword": "饼干", "beginPage": 1, "pageSize": 10, "country": "en"}})
    assert (denied.kind, denied.code) == (ErrorKind.ACL_DENIED, "gw.APIACLDecline")
    advice = explain_error(resolve_api("product.search.keywordQuery"), denied, PUBLIC.app_key)
    assert "跨境大客户寻源通" in advice and "product.search.keywordQuery" in advice

    assert error_of("alibaba.account.basic", {}, access_token="not-a-token").kind is ErrorKind.TOKEN_INVALID
    wrong = client_for(session, gateway, WRONG_SECRET)
    assert error_of("alibaba.account.basic", {}, using=wrong).kind is ErrorKind.SIGNATURE_INVALID
    missing = error_of("alibaba.product.get", {"productID": 1, "webSite": "1688"})
    assert missing.kind is ErrorKind.NOT_FOUND
    unknown = error_of("com.alibaba.trade:alibaba.trade.get.buyerView-1", {"orderId": 1})
    assert (unknown.kind, unknown.code) == (ErrorKind.BAD_PARAMETER, "gw.APIUnsupported")

    top = client_for(session, f"{origin(gateway)}/router/rest", protocol="top", top_sign_method="md5")
    categories = top.call("alibaba.category.get", {"categoryID": 0})
    assert unwrap_result(categories)["categoryInfo"]


def test_no_cassette_holds_a_secret():
    cassettes = sorted(CASSETTES.glob("*.json"))
    assert {p.stem for p in cassettes} >= {"oauth_round_trip", "calls_and_errors"}
    checked = 0
    for path in cassettes:
        text = path.read_text(encoding="utf-8")
        # pytest.fail, not assert: a failure must not print the secret it found.
        if any(v in text for v in (PUBLIC.app_secret, PUBLIC.access_token, PUBLIC.refresh_token, WRONG_SECRET)):
            pytest.fail(f"{path.name} holds a sandbox secret")
        for interaction in json.loads(text)["http_interactions"]:
            checked += len(request_params(interaction["request"]))
            if secret_values(interaction):
                pytest.fail(f"{path.name}: a secret value is not replaced by a placeholder")
    assert checked > 0
