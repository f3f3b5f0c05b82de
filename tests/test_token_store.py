"""The token store: an owner-only JSON file replaced atomically, or Redis; never a token in a message."""

from __future__ import annotations

import json
import logging
import os
import stat
import time

import pytest
from helpers import run_async

from ali1688spider.api.oauth import TokenSet
from ali1688spider.config import ConfigError
from ali1688spider.gateway.tokenstore import (
    FileTokenStore,
    RedisTokenStore,
    TokenStoreError,
    merge_tokens,
    open_token_store,
    parse_mode,
    token_store_from_settings,
)

ACCESS = "store-test-access-token-7f3a"
REFRESH = "store-test-refresh-token-91bc"


def tokens(access: str = ACCESS, refresh: str | None = REFRESH, **extra) -> TokenSet:
    return TokenSet(access_token=access, refresh_token=refresh, expires_at=time.time() + 36000, **extra)


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_file_store_round_trip_is_owner_only_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "new-dir" / "tokens.json"
    store = FileTokenStore(path)
    saved = tokens(member_id="b2b-1", refresh_expires_at=time.time() + 86400 * 180)
    store.save("8688001", saved)

    assert store.load("8688001") == saved
    assert store.load("other-key") is None
    assert mode_of(path) == 0o600
    assert mode_of(path.parent) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["tokens.json", "tokens.json.lock"]
    data = json.loads(path.read_text())
    assert data["format"] == "ali1688-tokens/1"
    assert data["tokens"]["8688001"]["access_token"] == ACCESS


def test_saving_one_app_key_keeps_the_others_and_tightens_a_loose_file(tmp_path, caplog):
    path = tmp_path / "tokens.json"
    FileTokenStore(path).save("a", tokens("token-a"))
    os.chmod(path, 0o644)
    store = FileTokenStore(path)
    with caplog.at_level(logging.WARNING):
        store.save("b", tokens("token-b"))
    assert "readable by other users" in caplog.text
    assert mode_of(path) == 0o600
    assert store.load("a").access_token == "token-a"
    assert store.load("b").access_token == "token-b"


def test_configured_mode_is_applied(tmp_path):
    path = tmp_path / "tokens.json"
    store = token_store_from_settings({"ALI1688_TOKEN_STORE": str(path), "ALI1688_TOKEN_STORE_MODE": "640"})
    store.save("k", tokens())
    assert mode_of(path) == 0o640


@pytest.mark.parametrize("text", ["abc", "0400", "1777", "999"])
def test_unusable_modes_are_refused_naming_the_setting(text):
    with pytest.raises(ConfigError, match="ALI1688_TOKEN_STORE_MODE"):
        parse_mode(text)


def test_a_broken_file_is_reported_without_its_content(tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text('{"tokens": {"k": {"access_token": "%s"' % ACCESS)
    with pytest.raises(TokenStoreError) as caught:
        FileTokenStore(path).load("k")
    assert str(path) in str(caught.value)
    assert ACCESS not in str(caught.value) and ACCESS not in repr(caught.value)


def test_reprs_show_no_token():
    assert ACCESS not in repr(tokens()) and REFRESH not in repr(tokens())


def test_a_refresh_answer_is_completed_by_the_previous_tokens():
    old = tokens(member_id="b2b-9", resource_owner="seller", refresh_expires_at=123.0)
    new = TokenSet(access_token="fresh", expires_at=456.0)
    merged = merge_tokens(old, new)
    assert (merged.access_token, merged.expires_at) == ("fresh", 456.0)
    assert (merged.refresh_token, merged.refresh_expires_at) == (REFRESH, 123.0)
    assert (merged.member_id, merged.resource_owner) == ("b2b-9", "seller")
    # A new refresh token does not inherit the old one's deadline.
    replaced = merge_tokens(old, TokenSet(access_token="fresh", refresh_token="r2"))
    assert (replaced.refresh_token, replaced.refresh_expires_at) == ("r2", None)


def test_store_selection(tmp_path):
    assert open_token_store(None) is None
    assert isinstance(open_token_store(str(tmp_path / "t.json")), FileTokenStore)
    redis_store = open_token_store(None, redis_url="redis://:pw-secret@127.0.0.1:1/0")
    assert isinstance(redis_store, RedisTokenStore)
    assert "pw-secret" not in redis_store.describe() and "pw-secret" not in repr(redis_store)
    assert isinstance(open_token_store("redis://127.0.0.1:1/0", redis_url=None), RedisTokenStore)


def test_redis_store_round_trip_shares_tokens_between_store_objects(redis_url):
    import redis

    writer = token_store_from_settings({"ALI1688_REDIS_URL": redis_url, "ALI1688_REDIS_PREFIX": "job7"})
    reader = RedisTokenStore(redis_url, prefix="job7")
    assert reader.load("8688001") is None
    saved = tokens(member_id="b2b-2")
    writer.save("8688001", saved)
    assert reader.load("8688001") == saved
    assert redis.Redis.from_url(redis_url).keys("*") == [b"job7:tokens:8688001"]


def test_an_unreachable_redis_is_a_clear_error(tmp_path):
    store = RedisTokenStore(f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(TokenStoreError, match="cannot read the token store"):
        store.load("k")


def test_two_crawl_processes_share_one_refresh_through_redis(sandbox_factory, redis_url):
    """The second process adopts the token the first refreshed instead of refreshing again."""

    from ali1688spider.gateway.credentials import Credentials
    from ali1688spider.gateway.tokens import TokenManager

    sandbox = sandbox_factory()
    c = sandbox.credentials
    app_key = c["app_key"]
    credentials = [Credentials(app_key, c["app_secret"], c["access_token"], c["refresh_token"])]
    first = TokenManager(sandbox.url, credentials, store=RedisTokenStore(redis_url))
    second = TokenManager(sandbox.url, credentials, store=RedisTokenStore(redis_url))

    async def both_see_the_token_fail() -> None:
        assert await first.refresh(app_key, first.current(app_key).generation)
        assert await second.refresh(app_key, second.current(app_key).generation)

    run_async(both_see_the_token_fail())
    new_token = first.current(app_key).access_token
    assert new_token != c["access_token"]
    assert second.current(app_key).access_token == new_token
    assert RedisTokenStore(redis_url).load(app_key).access_token == new_token
    assert sandbox.stats()["calls"]["getToken"] == 1
