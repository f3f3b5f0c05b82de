"""Alerts on the change feed: which changes match ``ALI1688_ALERT_RULES``, and what reaches
``ALI1688_ALERT_WEBHOOK``.

The rules are unit tests; the webhook is a real HTTP receiver in a thread of the test process,
and the crawls are real ``scrapy crawl`` runs against the sandbox, storing into a real SQLite
database whose change detection sends the changes (a watchlist's own rules on real changes:
tests/test_watch.py).
"""

from __future__ import annotations

import base64
import json
import logging
import signal
import threading
import time
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from conftest import start_sandbox_process
from helpers import recorded_changes, run_async
from test_faults import start_crawl
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import MemoryStatsCollector

from ali1688spider.monitoring.rules import (
    Rule,
    check_webhook_url,
    json_ready,
    matching,
    parse_rules,
)
from ali1688spider.monitoring.changes import change_recorded
from ali1688spider.config import ConfigError
from ali1688spider.monitoring import alerts as alerts_module
from ali1688spider.monitoring.alerts import Alerts, post_webhook, url_origin
from ali1688spider.items import ProductChange
from ali1688spider.sandbox.process import free_port

# -- rules -----------------------------------------------------------------------------------


def change(kind: str, change_pct: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"product_id": "1", "kind": kind, "change_pct": change_pct, "run_id": 1, **fields}


def test_rules_parse_into_their_names_with_repeats_and_blanks_dropped():
    rules = parse_rules(" price_drop:5, price_rise:12.5,,out_of_stock,back_in_stock,removed,new,price_drop:5.0")
    assert [str(rule) for rule in rules] == [
        "price_drop:5", "price_rise:12.5", "out_of_stock", "back_in_stock", "removed", "new",
    ]
    assert parse_rules(None) == parse_rules("") == ()


@pytest.mark.parametrize(("text", "expected"), [
    ("price_drop:abc", "'price_drop:abc' needs a positive number of percent"),
    ("price_drop", "'price_drop' needs a percent"),
    ("price_rise:", "'price_rise:' needs a percent"),
    ("price_drop:-5", "'price_drop:-5' needs a positive number of percent"),
    ("price_drop:0", "'price_drop:0' needs a positive number of percent"),
    ("new,price_fall:5", "'price_fall:5' is not a rule"),
    ("out_of_stock:3", "'out_of_stock:3' takes no value"),
])
def test_a_malformed_rule_names_the_setting_the_entry_and_the_valid_forms(text, expected):
    with pytest.raises(ConfigError) as raised:
        parse_rules(text)
    message = str(raised.value)
    assert message.startswith("ALI1688_ALERT_RULES: ")
    assert expected in message
    assert "valid rules: price_drop:PCT, price_rise:PCT" in message and "back_in_stock, removed, new" in message


@pytest.mark.parametrize(("pct", "drop", "rise"), [
    ("-5", True, False), ("-5.00", True, False), ("-4.99", False, False), ("-37.5", True, False),
    ("5", False, True), ("+5.0", False, True), ("4.999", False, False), ("0", False, False),
    (None, False, False), ("n/a", False, False),
])
def test_price_rules_compare_the_relative_change_of_the_lowest_price(pct, drop, rise):
    rules = parse_rules("price_drop:5,price_rise:5")
    names = [rule.name for rule in matching(rules, change("price", pct))]
    assert names == [name for name, hit in (("price_drop", drop), ("price_rise", rise)) if hit]


def test_kind_rules_match_their_kind_sku_level_changes_included():
    rules = parse_rules("out_of_stock,back_in_stock,removed,new")
    assert matching(rules, change("out_of_stock")) == [Rule("out_of_stock")]
    assert matching(rules, change("out_of_stock", sku_id="sku-1")) == [Rule("out_of_stock")]
    assert matching(rules, change("back_in_stock", sku_id="sku-2")) == [Rule("back_in_stock")]
    assert matching(rules, change("removed")) == [Rule("removed")]
    assert matching(rules, change("new")) == [Rule("new")]
    for kind in ("price", "stock", "sku_added", "sku_removed", "title", "status"):
        assert matching(rules, change(kind, "-50")) == []
    # A price rule never matches another kind, whatever its change_pct says.
    assert matching(parse_rules("price_drop:1"), change("stock", "-90")) == []


@pytest.mark.parametrize(("url", "expected"), [
    ("ftp://example.com/hook", "must be an http:// or https:// URL, got scheme 'ftp'"),
    ("example.com/hook", "must be an http:// or https:// URL, got scheme 'none'"),
    ("http:///hook", "must name a host"),
    ("https://example.com:99999/hook", "is not a valid URL"),
])
def test_a_webhook_that_is_not_an_http_url_with_a_host_is_refused(url, expected):
    with pytest.raises(ConfigError) as raised:
        check_webhook_url(url)
    assert str(raised.value).startswith("ALI1688_ALERT_WEBHOOK ")
    assert expected in str(raised.value)


def test_changes_become_json_ready_and_urls_are_logged_by_their_origin_only():
    item = ProductChange(product_id="1", kind="price", old={"price_min": Decimal("9.90")},
                         new={"price_min": Decimal("8.00")}, change_pct="-19.19", run_id=3)
    assert json.loads(json.dumps(json_ready(dict(item)))) == {
        "product_id": "1", "kind": "price", "old": {"price_min": "9.90"},
        "new": {"price_min": "8.00"}, "change_pct": "-19.19", "run_id": 3,
    }
    assert url_origin("https://user:pass@hooks.example.com:8443/T0/B0/secret?token=x") == "https://hooks.example.com:8443"


# -- the extension, driven by the signal in this process -----------------------------------------


class PlainSpider(Spider):
    name = "plain"


class WatchSpider(Spider):
    name = "watch"
    alert_rules: ClassVar[dict[str, str]] = {"shop-a": "new", "shop-b": "price_drop:not-a-number"}


def alerts_for(spidercls: type[Spider], settings: dict[str, Any]) -> tuple[Alerts, Crawler]:
    """The extension of a crawler that is never started (as Spidermon's own tests build one)."""
    crawler = Crawler(spidercls, settings=settings)
    crawler.stats = MemoryStatsCollector(crawler)
    crawler.spider = spidercls()
    return Alerts.from_crawler(crawler), crawler


def test_a_spiders_rules_replace_the_global_ones_for_its_targets(caplog):
    alerts, crawler = alerts_for(WatchSpider, {"ALI1688_ALERT_RULES": "price_drop:10"})
    sent = [
        (change("price", "-12"), "shop-a"),   # shop-a alerts on new products only
        (change("new"), "shop-a"),
        (change("price", "-12"), "other"),    # no rules of its own: the global ones
        (change("price", "-12"), None),
        (change("new"), None),
        (change("new"), "shop-b"),             # its rules do not parse: nothing matches
    ]
    with caplog.at_level(logging.INFO, logger="ali1688spider.monitoring.alerts"):
        for fields, target in sent:
            crawler.signals.send_catch_log(change_recorded, change=ProductChange(fields), target=target)
        run_async(alerts.spider_closed())
    assert {target: [c["kind"] for c in changes] for target, changes in alerts.matched.items()} == {
        "shop-a": ["new"], "other": ["price"], None: ["price"],
    }
    stats = crawler.stats.get_stats()
    assert stats["ali1688/alerts/matched"] == 3
    assert stats["ali1688/alerts/matched/price_drop:10"] == 2
    assert stats["ali1688/alerts/matched/new"] == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [(
        "alert_rules['shop-b'] of spider 'watch': 'price_drop:not-a-number' needs a positive number "
        "of percent; valid rules: price_drop:PCT, price_rise:PCT (PCT a positive number, percent), "
        "out_of_stock, back_in_stock, removed, new; the changes of shop-b match no rule"
    )]
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Alerts: ")]
    assert summary == ["Alerts: 3 changes matched the alert rules (new 1, price_drop:10 2) in 3 target(s)"]


def test_a_change_of_a_product_two_targets_share_is_judged_by_each_ones_rules():
    alerts, crawler = alerts_for(WatchSpider, {"ALI1688_ALERT_RULES": "price_drop:10"})
    crawler.signals.send_catch_log(change_recorded, change=ProductChange(change("new")),
                                   target="shop-a", targets=("shop-a", "other"))
    crawler.signals.send_catch_log(change_recorded, change=ProductChange(change("price", "-12")),
                                   target="shop-a", targets=("shop-a", "other"))
    assert {target: [c["kind"] for c in changes] for target, changes in alerts.matched.items()} == {
        "shop-a": ["new"], "other": ["price"],
    }


def test_the_extension_is_off_unless_asked_for():
    with pytest.raises(NotConfigured) as raised:
        alerts_for(PlainSpider, {})
    assert raised.value.args == ()
    alerts, _ = alerts_for(PlainSpider, {"ALI1688_ALERT_RULES": "new"})
    assert alerts.settings.webhook is None


# -- the webhook -------------------------------------------------------------------------------


@pytest.mark.parametrize(("answers", "delivered", "posts", "problem"), [
    ([500, 503], True, 3, None),
    ([429, 429, 429, 429], False, 4, "HTTP 429 Too Many Requests"),
    ([400], False, 1, "HTTP 400 Bad Request"),
    ([404], False, 1, "HTTP 404 Not Found"),
    ([302], False, 1, "HTTP 302 Found"),
    ([204], True, 1, None),
])
def test_a_post_is_retried_on_5xx_and_429_only(receiver_factory, answers, delivered, posts, problem):
    receiver = receiver_factory(answers)
    waits: list[float] = []
    delivery = post_webhook(receiver.url(), {"changes": []}, sleep=waits.append)
    assert (delivery.delivered, delivery.attempts, delivery.problem) == (delivered, posts, problem)
    assert len(receiver.posts) == posts
    # Exponential back-off from ALI1688_ALERT_BACKOFF's default: 1, 2, 4 s.
    assert waits == [1.0, 2.0, 4.0][: posts - 1]


def test_a_closed_port_is_tried_four_times():
    waits: list[float] = []
    delivery = post_webhook(f"http://127.0.0.1:{free_port()}/hook", {}, backoff=0.5, sleep=waits.append)
    assert not delivery.delivered and delivery.attempts == 4
    assert delivery.problem.startswith("ConnectionRefusedError: ")
    assert waits == [0.5, 1.0, 2.0]


# -- real crawls ------------------------------------------------------------------------------

RULES = "price_drop:5,out_of_stock"
FAST_RETRIES = {"ALI1688_ALERT_BACKOFF": "0.05", "ALI1688_ALERT_TIMEOUT": "5"}
FAST = {"ALI1688_QPS": "500"}


def matched_by_rules(changes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(product id, kind) of the changes RULES match."""
    return sorted(
        (c["product_id"], c["kind"]) for c in changes
        if c["kind"] == "out_of_stock" or (c["kind"] == "price" and Decimal(c["change_pct"]) <= -5)
    )


def test_webhook_gets_the_changes_the_database_recorded_on_the_third_try(sandbox_factory, crawl, tmp_path,
                                                                        receiver_factory):
    sandbox = sandbox_factory("--qps", "0")
    shop = sandbox.shop(60)
    db = f"sqlite:///{tmp_path / 'alerts.db'}"
    env = sandbox.env(ALI1688_DB_URL=db, **FAST)
    args = {"seller_open_id": shop["seller_open_id"], "details": "1"}
    assert crawl("shop", args=args, env=env).returncode == 0
    body = {"seller_open_id": shop["seller_open_id"], "seed": 3}
    sandbox.post("/sandbox/reprice", {**body, "fraction": 0.5})
    sandbox.post("/sandbox/restock", {**body, "fraction": 0.2, "stock": 0})

    receiver = receiver_factory([500, 500])
    url = receiver.url("alerts:hunter2@", "/hook?token=secret")
    result = crawl("shop", args=args, env=env,
                   settings={**FAST_RETRIES, "ALI1688_ALERT_RULES": RULES, "ALI1688_ALERT_WEBHOOK": url})
    assert result.returncode == 0, result.log[-3000:]
    assert "Traceback" not in result.log
    stats = result.stats
    assert stats["finish_reason"] == "finished"
    assert (stats["ali1688/alerts/sent"], stats["ali1688/alerts/retries"]) == (1, 2)
    assert "ali1688/alerts/failed" not in stats
    changes = recorded_changes(db)
    expected = matched_by_rules(changes)
    assert {kind for _, kind in expected} == {"price", "out_of_stock"}
    assert stats["ali1688/alerts/matched"] == len(expected)

    assert len(receiver.posts) == 3
    bodies = receiver.bodies()
    assert bodies[0] == bodies[1] == bodies[2]
    posted = bodies[2]
    target = f"seller_open_id={shop['seller_open_id']}"
    assert {key: posted[key] for key in ("spider", "target", "run_id")} == {
        "spider": "shop", "target": target, "run_id": stats["ali1688/db/run_id"],
    }
    assert sorted((c["product_id"], c["kind"]) for c in posted["changes"]) == expected
    drop = next(c for c in posted["changes"] if c["kind"] == "price")
    assert drop == next(c for c in changes if c["product_id"] == drop["product_id"] and c["kind"] == "price")
    post = receiver.posts[2]
    assert post["path"] == "/hook?token=secret"
    assert post["headers"]["Content-Type"] == "application/json"
    assert post["headers"]["Authorization"] == "Basic " + base64.b64encode(b"alerts:hunter2").decode()
    assert f"Alerts: the {len(expected)} matching changes of {target} posted to http://127.0.0.1:" in result.log
    assert "hunter2" not in result.log and "secret" not in result.log


def test_a_webhook_nobody_listens_on_fails_in_one_line_without_failing_the_crawl(sandbox, crawl, tmp_path):
    ids = sandbox.ids(sandbox.shop(60))[:8]
    url = f"http://alerts:hunter2@127.0.0.1:{free_port()}/hook/T123?token=secret"
    result = crawl(
        "product", args={"ids": ",".join(ids)},
        env=sandbox.env(ALI1688_DB_URL=f"sqlite:///{tmp_path / 'alerts.db'}", **FAST),
        settings={**FAST_RETRIES, "ALI1688_ALERT_RULES": "new", "ALI1688_ALERT_WEBHOOK": url},
    )
    assert result.returncode == 0, result.log[-3000:]
    assert "Traceback" not in result.log
    stats = result.stats
    assert stats["finish_reason"] == "finished"
    assert stats["ali1688/alerts/failed"] == 1 and "ali1688/alerts/sent" not in stats
    assert stats["ali1688/alerts/matched"] == len(ids)
    lines = [line for line in result.log.splitlines() if "ALI1688_ALERT_WEBHOOK" in line]
    assert len(lines) == 1, lines
    assert "ERROR" in lines[0] and "after 4 attempt(s)" in lines[0]
    assert f"the {len(ids)} matching changes of no target" in lines[0]
    for secret in ("hunter2", "secret", "T123"):
        assert secret not in result.log


def test_rules_without_a_webhook_are_summed_up_in_one_line(sandbox, crawl, tmp_path):
    ids = sandbox.ids(sandbox.shop(60))[:8]
    result = crawl(
        "product", args={"ids": ",".join(ids)},
        env=sandbox.env(ALI1688_DB_URL=f"sqlite:///{tmp_path / 'alerts.db'}", **FAST),
        settings={"ALI1688_ALERT_RULES": "new,removed"},
    )
    assert result.returncode == 0, result.log[-3000:]
    summary = [line for line in result.log.splitlines() if "Alerts: " in line]
    assert len(summary) == 1
    assert summary[0].endswith(f"Alerts: {len(ids)} changes matched the alert rules (new {len(ids)})")


# -- bad input -------------------------------------------------------------------------------

BAD_ALERT_SETTINGS = [
    ({"ALI1688_ALERT_RULES": "price_drop:abc"}, "ALI1688_ALERT_RULES: 'price_drop:abc' needs a positive number"),
    ({"ALI1688_ALERT_RULES": "price_drop"}, "ALI1688_ALERT_RULES: 'price_drop' needs a percent"),
    ({"ALI1688_ALERT_RULES": "new,cheaper:5"}, "ALI1688_ALERT_RULES: 'cheaper:5' is not a rule"),
    ({"ALI1688_ALERT_RULES": "price_rise:-3"}, "ALI1688_ALERT_RULES: 'price_rise:-3' needs a positive number"),
    ({"ALI1688_ALERT_WEBHOOK": "ftp://u:p@example.com/x"}, "ALI1688_ALERT_WEBHOOK must be an http:// or https:// URL"),
    ({"ALI1688_ALERT_WEBHOOK": "https:///x?token=secret"}, "ALI1688_ALERT_WEBHOOK must name a host"),
]


@pytest.fixture(scope="module")
def quiet_sandbox():
    """A private sandbox: these tests count its calls (there must be none)."""
    process = start_sandbox_process("--qps", "0")
    yield process
    process.stop()


@pytest.mark.parametrize(("settings", "expected"), BAD_ALERT_SETTINGS,
                         ids=[f"{k}={v}" for s, _ in BAD_ALERT_SETTINGS for k, v in s.items()])
def test_bad_alert_settings_stop_the_crawl_before_any_call(quiet_sandbox, crawl, settings, expected):
    result = crawl("product", args={"ids": "123456789012"}, settings=settings, env=quiet_sandbox.env())
    assert result.returncode == 2, result.log[-2000:]
    assert "Traceback" not in result.log
    error_lines = [line for line in result.log.splitlines() if "error:" in line]
    assert len(error_lines) == 1, result.log[-2000:]
    assert expected in error_lines[0]
    if "RULES" in expected:
        assert "valid rules: price_drop:PCT, price_rise:PCT" in error_lines[0]
    assert "secret" not in result.log and "u:p@" not in result.log
    assert quiet_sandbox.stats()["total_calls"] == 0


# -- receivers that would hold the close ------------------------------------------------------

def bounded(function, limit: float = 60):
    """*function*'s result, run in a thread that must end within *limit* seconds (a bound
    against a hang, not a speed figure)."""
    results: list = []
    worker = threading.Thread(target=lambda: results.append(function()), daemon=True)
    worker.start()
    worker.join(limit)
    assert not worker.is_alive(), "the POST outlived every deadline"
    return results[0]


def test_a_trickling_answer_is_cut_off_at_the_attempts_deadline(receiver_factory):
    receiver = receiver_factory(body="slow_headers")
    delivery = bounded(lambda: post_webhook(receiver.url(), {"changes": []}, attempts=2, backoff=0.01, timeout=1))
    assert (delivery.delivered, delivery.attempts) == (False, 2)
    assert delivery.problem == "DeadlinePassed: no complete answer within 1 s (ALI1688_ALERT_TIMEOUT)"


def test_a_socket_timeout_before_the_watchdog_is_the_same_deadline(receiver_factory, monkeypatch):
    """On a busy machine the socket's own timeout may fire before the late watchdog: the
    attempt still says its deadline passed."""

    class LateTimer(threading.Timer):
        def __init__(self, interval, function):
            super().__init__(interval * 3, function)

    monkeypatch.setattr(alerts_module.threading, "Timer", LateTimer)
    receiver = receiver_factory(body="slow_headers")
    delivery = bounded(lambda: post_webhook(receiver.url(), {"changes": []}, attempts=1, backoff=0.01, timeout=1))
    assert delivery.problem == "DeadlinePassed: no complete answer within 1 s (ALI1688_ALERT_TIMEOUT)"


@pytest.mark.parametrize("body", ["huge", "slow_body"])
def test_the_answers_body_is_not_waited_for(receiver_factory, body):
    """Its status is all that counts: 300 MB, or 100,000 bytes at one every 2 s, are not read."""
    receiver = receiver_factory(body=body)
    delivery = bounded(lambda: post_webhook(receiver.url(), {"changes": []}, timeout=30), limit=20)
    assert (delivery.delivered, delivery.attempts) == (True, 1)


def test_a_slow_webhook_never_holds_the_crawl_and_a_second_sigterm_stops_it(sandbox, tmp_path, receiver_factory):
    """The receiver trickles its answer for ever; ALI1688_ALERT_TIMEOUT is long. Two SIGTERMs
    (scrapyd's cancel, twice) stop the process while it waits, as they stop Scrapy."""
    receiver = receiver_factory(body="slow_headers")
    env = sandbox.env(ALI1688_DB_URL=f"sqlite:///{tmp_path / 'a.db'}", ALI1688_ALERT_RULES="new",
                      ALI1688_ALERT_WEBHOOK=receiver.url(), ALI1688_ALERT_TIMEOUT="600", **FAST)
    with (tmp_path / "crawl.log").open("wb") as log:
        process = start_crawl({"seller_open_id": sandbox.shop(60)["seller_open_id"]}, {}, env, log)
    try:
        for _ in range(600):
            if receiver.posts:
                break
            time.sleep(0.1)
        assert receiver.posts, (tmp_path / "crawl.log").read_text(errors="replace")[-3000:]
        process.send_signal(signal.SIGTERM)
        time.sleep(1)
        process.send_signal(signal.SIGTERM)
        # Fails (TimeoutExpired) when the process waits for the receiver after the second signal.
        process.wait(timeout=60)
    finally:
        process.kill()


def test_a_slow_webhook_fails_within_its_deadlines_and_the_crawl_ends(sandbox, crawl, tmp_path, receiver_factory):
    receiver = receiver_factory(body="slow_headers")
    result = crawl("shop", args={"seller_open_id": sandbox.shop(60)["seller_open_id"]}, timeout=120,
                   env=sandbox.env(ALI1688_DB_URL=f"sqlite:///{tmp_path / 'a.db'}", ALI1688_ALERT_RULES="new",
                                   ALI1688_ALERT_WEBHOOK=receiver.url(), ALI1688_ALERT_TIMEOUT="1",
                                   ALI1688_ALERT_BACKOFF="0.05", **FAST))
    assert result.returncode == 0, result.log[-3000:]
    assert "after 4 attempt(s): DeadlinePassed: no complete answer within 1 s" in result.log
    assert result.stats["ali1688/alerts/failed"] == 1
