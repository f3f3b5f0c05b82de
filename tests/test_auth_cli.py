"""`ali1688 auth` and `ali1688 call` against a live sandbox, and crawls that run on stored tokens.

The story of a user: print the authorization URL, follow it (the sandbox authorizes at once and
redirects with a code), exchange the code, see the tokens stored 0600, call an API, let the
token expire, refresh, and crawl with the stored tokens while the crawler refreshes them.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from helpers import (
    REDIRECT_URI,
    ali1688,
    app_env,
    authorize,
    exchange,
    product_ids,
)

from ali1688spider.gateway.tokenstore import FileTokenStore


def stored(path: Path, app_key: str):
    return FileTokenStore(path).load(app_key)


def owner_only(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def report_in(tmp_path: Path) -> dict[str, str]:
    """Crawl settings that keep the crawl report out of the repository."""
    return {"ALI1688_REPORT_FILE": str(tmp_path / "report-%(spider)s-%(time)s.json")}


def test_oauth_round_trip_then_a_crawl_continues_on_the_stored_tokens(sandbox_factory, crawl, tmp_path):
    sandbox = sandbox_factory("--qps", "0")
    store_path = tmp_path / "secrets" / "tokens.json"
    env = app_env(sandbox, store_path)
    app_key = sandbox.credentials["app_key"]

    done = exchange(sandbox, env)
    first = stored(store_path, app_key)
    assert first is not None and first.refresh_token and first.member_id
    assert owner_only(store_path)
    assert first.access_token not in done.stdout + done.stderr
    assert f"memberId {first.member_id}" in done.stdout and "expires" in done.stdout

    status = ali1688("auth", "status", env=env)
    assert status.returncode == 0 and str(store_path) in status.stdout

    called = ali1688("call", "alibaba.account.basic", env=env)
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout)["result"]["memberId"] == first.member_id

    # The token dies before its time: `call` is refused once, refreshes, stores and succeeds.
    sandbox.post("/sandbox/expire-tokens")
    called = ali1688("call", "alibaba.account.basic", "--result", env=env)
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout)["memberId"] == first.member_id
    assert "refreshing" in called.stderr
    second = stored(store_path, app_key)
    assert second.access_token != first.access_token and second.refresh_token == first.refresh_token

    refreshed = ali1688("auth", "refresh", env=env)
    assert refreshed.returncode == 0, refreshed.stderr
    third = stored(store_path, app_key)
    assert third.access_token not in (first.access_token, second.access_token)
    assert owner_only(store_path)

    # The crawl starts from the stored token, which the gateway no longer accepts.
    sandbox.post("/sandbox/expire-tokens")
    ids = product_ids(sandbox, 6)
    result = crawl("product", args={"ids": ",".join(ids)}, env=env, settings=report_in(tmp_path))
    assert result.returncode == 0, result.log[-3000:]
    assert sorted(item["product_id"] for item in result.items) == sorted(ids)
    stats = result.stats
    assert stats["finish_reason"] == "finished"
    assert stats["ali1688/tokens/loaded"] == 1
    assert stats["ali1688/errors/token_invalid"] >= 1
    assert stats["ali1688/tokens/refreshed"] == 1
    fourth = stored(store_path, app_key)
    assert fourth.access_token != third.access_token and fourth.member_id == first.member_id
    assert owner_only(store_path)

    # The next crawl takes the refreshed token from the store: nothing to refresh.
    result = crawl(
        "product", args={"ids": ids[0]}, env=env, settings=report_in(tmp_path), output_name="again.jsonl"
    )
    assert result.returncode == 0, result.log[-3000:]
    assert "ali1688/errors/token_invalid" not in result.stats
    assert "ali1688/tokens/refreshed" not in result.stats


def test_the_crawler_refreshes_a_token_before_it_expires(sandbox_factory, crawl, tmp_path):
    # Tokens live 2 minutes: less than the 5-minute margin, so the crawl refreshes at once.
    sandbox = sandbox_factory("--qps", "0", "--token-ttl", "120")
    store_path = tmp_path / "tokens.json"
    env = app_env(sandbox, store_path)
    exchange(sandbox, env)
    before = stored(store_path, sandbox.credentials["app_key"])

    ids = product_ids(sandbox, 4)
    result = crawl("product", args={"ids": ",".join(ids)}, env=env, settings=report_in(tmp_path))
    assert result.returncode == 0, result.log[-3000:]
    assert len(result.items) == len(ids)
    assert "refreshing it now" in result.log
    assert result.stats["ali1688/tokens/refreshed"] >= 1
    assert "ali1688/errors/token_invalid" not in result.stats
    after = stored(store_path, sandbox.credentials["app_key"])
    assert after.access_token != before.access_token


def test_call_explains_an_acl_refusal_with_the_permission_package(sandbox_factory):
    sandbox = sandbox_factory("--deny-api", "product.search.keywordQuery")
    # No credentials at all: the CLI uses the running sandbox's public ones.
    env = {"ALI1688_GATEWAY_URL": sandbox.url}
    refused = ali1688(
        "call", "product.search.keywordQuery", "keyword=饼干", "beginPage=1", "pageSize=5", "country=en",
        env=env,
    )
    assert refused.returncode == 1
    assert refused.stdout == ""
    message = refused.stderr.strip()
    assert len(message.splitlines()) == 1
    assert "gw.APIACLDecline" in message and "product.search.keywordQuery" in message
    assert "跨境大客户寻源通" in message

    offer_id = sandbox.shops()[0]["sample_offer_id"]
    detail = ali1688("call", "product.search.queryProductDetail", f"offerId={offer_id}", "country=en", env=env)
    assert detail.returncode == 0, detail.stderr
    assert json.loads(detail.stdout)["result"]["result"]["offerId"] == int(offer_id)

    missing = ali1688("call", "alibaba.product.get", "productID=1", "webSite=1688", env=env)
    assert missing.returncode == 1 and "[not_found]" in missing.stderr


def test_call_fills_in_the_country_and_names_every_missing_parameter_at_once(sandbox):
    env = {"ALI1688_GATEWAY_URL": sandbox.url}
    offer_id = sandbox.shops()[0]["sample_offer_id"]
    detail = ali1688("call", "product.search.queryProductDetail", f"offerId={offer_id}", env=env)
    assert detail.returncode == 0, detail.stderr
    assert json.loads(detail.stdout)["result"]["result"]["offerId"] == int(offer_id)

    missing = ali1688("call", "product.search.querySellerOfferList", "pageSize=5", env=env)
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr == ("ali1688 call: product.search.querySellerOfferList needs sellerOpenId, beginPage: "
                              "add sellerOpenId=… beginPage=…\n")


@pytest.mark.parametrize(("action", "description"), [
    ("url", "Print the authorization URL for the app"),
    ("exchange", "Trade the code 1688 redirected with"),
    ("refresh", "Get a new access token with the stored refresh token"),
    ("status", "Show which tokens the token store holds"),
])
def test_each_auth_action_describes_itself_in_its_help(action, description):
    shown = ali1688("auth", action, "--help", env={})
    assert shown.returncode == 0
    assert shown.stdout.split("\n\n")[1].startswith(description)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("auth", "exchange", "some-code", "--redirect-uri", REDIRECT_URI), "ALI1688_TOKEN_STORE"),
        (("auth", "url"), "--redirect-uri"),
        (("call", "no.such.api"), "unknown 1688 API"),
        (("call", "alibaba.account.basic", "novalue"), "is not KEY=VALUE"),
    ],
)
def test_user_errors_are_one_line(sandbox, args, message):
    result = ali1688(*args, env={"ALI1688_GATEWAY_URL": sandbox.url})
    assert result.returncode == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_used_code_is_refused_and_nothing_is_stored(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    store_path = tmp_path / "tokens.json"
    env = app_env(sandbox, store_path)
    redirected = authorize(sandbox, env)
    assert ali1688("auth", "exchange", redirected, "--redirect-uri", REDIRECT_URI, env=env).returncode == 0
    store_path.unlink()
    again = ali1688("auth", "exchange", redirected, "--redirect-uri", REDIRECT_URI, env=env)
    assert again.returncode == 1 and "invalid_grant" in again.stderr
    assert not store_path.exists()
    wrong_state = ali1688("auth", "exchange", redirected, "--redirect-uri", REDIRECT_URI, "--state", "other", env=env)
    assert wrong_state.returncode == 1 and "state" in wrong_state.stderr
