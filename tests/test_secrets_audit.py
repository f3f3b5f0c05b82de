"""Secrets audit: known fake secrets go through crawls, the CLI and failure paths, and come out nowhere.

Every app secret and token used here is known to the test (the sandbox's fixed ones, a wrong
secret, a bogus refresh token, and each token the sandbox issues, read back from the store).
None may appear in a log, stats dump, feed, report, CLI output, cassette or exception text.
The token store is the one place meant to hold tokens and is left out.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from helpers import REDIRECT_URI, ali1688, app_env, authorize, product_ids

from ali1688spider.api.errors import ApiCallError
from ali1688spider.gateway.client import Ali1688Client
from ali1688spider.gateway.tokenstore import FileTokenStore
from ali1688spider.redact import redact_every_log_record, remember_secrets

CASSETTES = Path(__file__).resolve().parent / "cassettes"
WRONG_SECRET = "audit-wrong-app-secret-3b9d71"
BOGUS_REFRESH_TOKEN = "audit-bogus-refresh-token-c04e2a"


class Audit:
    """Collects secrets and every text that must not contain one."""

    def __init__(self, store_path: Path):
        self.store_path = store_path
        self.secrets: set[str] = set()
        self.texts: list[tuple[str, str]] = []

    def secret(self, *values: str | None) -> None:
        self.secrets.update(v for v in values if v)

    def stored_tokens(self, app_key: str) -> None:
        if self.store_path.exists():
            tokens = FileTokenStore(self.store_path).load(app_key)
            if tokens is not None:
                self.secret(tokens.access_token, tokens.refresh_token)

    def text(self, where: str, value: str) -> None:
        self.texts.append((where, value))

    def files(self, root: Path, where: str) -> int:
        count = 0
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.startswith(self.store_path.name):
                self.text(f"{where}/{path.relative_to(root)}", path.read_text(encoding="utf-8", errors="replace"))
                count += 1
        return count

    def leaks(self) -> list[str]:
        """Where a secret appeared (never which one: the report must not leak it either)."""
        return [where for where, text in self.texts if any(s in text for s in self.secrets)]


def test_no_secret_leaves_the_crawl_the_cli_or_a_failure(sandbox_factory, crawl, tmp_path):
    sandbox = sandbox_factory("--qps", "0")
    creds = sandbox.credentials
    app_key = creds["app_key"]
    store_path = tmp_path / "store" / "tokens.json"
    audit = Audit(store_path)
    audit.secret(creds["app_secret"], creds["access_token"], creds["refresh_token"], WRONG_SECRET, BOGUS_REFRESH_TOKEN)
    env = app_env(sandbox, store_path)

    def cli(label: str, *args: str, extra_env: dict[str, str] | None = None, expect: int = 0) -> None:
        result = ali1688(*args, env={**env, **(extra_env or {})})
        assert result.returncode == expect, f"{label}: {result.stderr[-500:]}"
        audit.text(f"cli {label} stdout", result.stdout)
        audit.text(f"cli {label} stderr", result.stderr)
        audit.stored_tokens(app_key)

    # The OAuth round trip and calls through the CLI.
    redirected = authorize(sandbox, env)
    cli("exchange", "auth", "exchange", redirected, "--redirect-uri", REDIRECT_URI)
    cli("status", "auth", "status")
    cli("call", "call", "alibaba.account.basic")
    sandbox.post("/sandbox/expire-tokens")
    cli("call after expiry", "call", "alibaba.account.basic")
    cli("refresh", "auth", "refresh")
    # Failure paths: wrong secret, bogus refresh token, used code.
    cli("call, wrong secret", "call", "alibaba.account.basic", extra_env={"ALI1688_APP_SECRET": WRONG_SECRET}, expect=1)
    cli("refresh, wrong secret", "auth", "refresh", extra_env={"ALI1688_APP_SECRET": WRONG_SECRET}, expect=1)
    cli(
        "refresh, bogus token", "auth", "refresh", "--store", str(tmp_path / "empty-store.json"),
        extra_env={"ALI1688_REFRESH_TOKEN": BOGUS_REFRESH_TOKEN}, expect=1,
    )
    cli("used code", "auth", "exchange", redirected, "--redirect-uri", REDIRECT_URI, expect=1)

    # A crawl on stored tokens that must refresh (DEBUG logs: the most talkative), then a crawl
    # with a wrong secret that closes on bad credentials.
    sandbox.post("/sandbox/expire-tokens")
    ids = ",".join(product_ids(sandbox, 5))
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    debug = {"LOG_LEVEL": "DEBUG", "ALI1688_REPORT_FILE": str(outputs / "report-%(spider)s.json")}
    good = crawl("product", args={"ids": ids}, env=env, settings=debug, output_name="outputs/items.jsonl")
    assert good.returncode == 0 and good.stats["ali1688/tokens/refreshed"] == 1
    audit.stored_tokens(app_key)
    audit.text("crawl log", good.log)
    assert good.items
    bad_env = {**env, "ALI1688_APP_SECRET": WRONG_SECRET}
    bad = crawl("product", args={"ids": ids}, env=bad_env, settings=debug, output_name="outputs/bad.jsonl")
    assert bad.stats["finish_reason"] == "ali1688_bad_credentials"
    audit.text("crawl log, wrong secret", bad.log)
    audit.files(tmp_path, "crawl outputs")  # feeds, stats dumps, reports, anything written

    # Exception texts of the client and the objects holding secrets.
    client = Ali1688Client(sandbox.url, app_key, WRONG_SECRET)
    for label, attempt in (
        ("signed call", lambda: client.call("alibaba.account.basic", {}, access_token=creds["access_token"])),
        ("refresh", lambda: client.refresh(BOGUS_REFRESH_TOKEN)),
        ("exchange", lambda: client.exchange_code("not-a-code", REDIRECT_URI)),
    ):
        with pytest.raises(ApiCallError) as caught:
            attempt()
        audit.text(f"exception of {label}", f"{caught.value} {caught.value!r} {caught.value.error!r}")
    audit.text("client repr", repr(client))
    audit.text("token repr", repr(FileTokenStore(store_path).load(app_key)))

    assert audit.files(CASSETTES, "cassettes") >= 2
    # Issued tokens + the fixed ones: the audit must have had something to look for.
    assert len(audit.secrets) >= 8
    leaks = audit.leaks()
    if leaks:
        pytest.fail(f"secrets leaked into: {', '.join(leaks)}")


def test_every_logger_is_masked_at_debug(caplog):
    """One record factory masks every secret the process knows of in every logger's records,
    a third-party one's included, and in the traceback of a logged exception."""
    redact_every_log_record()
    remember_secrets("audit-hook-path-51e0", "audit-db-password-7f3")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("urllib3.connectionpool").debug('"POST /hooks/%s?x=1 HTTP/1.1" 200 0', "audit-hook-path-51e0")
        try:
            raise RuntimeError("cannot connect as user:audit-db-password-7f3@db")
        except RuntimeError:
            logging.getLogger("sqlalchemy.pool").exception("connection failed")
    text = "\n".join(f"{record.getMessage()} {record.exc_text}" for record in caplog.records)
    assert '"POST /hooks/***?x=1 HTTP/1.1" 200 0' in text
    assert "user:***@db" in text and "audit-db-password-7f3" not in text and "audit-hook-path-51e0" not in text


def test_a_debug_crawl_shows_no_webhook_credential(sandbox, crawl, tmp_path, receiver_factory):
    receiver = receiver_factory()
    hook = receiver.url(userinfo="hookuser:audit-hook-pass-2a7@", path="/hooks/audit-hook-path-9c1?token=audit-hook-token-5e3")
    result = crawl("shop", args={"seller_open_id": sandbox.shop(60)["seller_open_id"]},
                   env=sandbox.env(ALI1688_DB_URL=f"sqlite:///{tmp_path / 'a.db'}", ALI1688_ALERT_RULES="new",
                                   ALI1688_ALERT_WEBHOOK=hook, ALI1688_QPS="500"),
                   settings={"LOG_LEVEL": "DEBUG"})
    assert result.returncode == 0, result.log[-3000:]
    assert receiver.posts and receiver.posts[0]["path"] == "/hooks/audit-hook-path-9c1?token=audit-hook-token-5e3"
    creds = sandbox.credentials
    for secret in ("audit-hook-pass-2a7", "audit-hook-path-9c1", "audit-hook-token-5e3",
                   creds["app_secret"], creds["access_token"], creds["refresh_token"]):
        assert secret not in result.log


def test_another_librarys_record_factory_is_wrapped_not_replaced(caplog):
    """A factory installed before ours still makes the records; they are masked as made."""
    previous = logging.getLogRecordFactory()

    def tagging_factory(*args, **kwargs):
        record = logging.LogRecord(*args, **kwargs)
        record.tagged = True
        return record

    logging.setLogRecordFactory(tagging_factory)
    try:
        redact_every_log_record()
        remember_secrets("audit-foreign-secret-3c9")
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("elsewhere").debug("sent %s", "audit-foreign-secret-3c9")
    finally:
        logging.setLogRecordFactory(previous)
    [record] = [r for r in caplog.records if r.name == "elsewhere"]
    assert record.tagged and record.getMessage() == "sent ***"
