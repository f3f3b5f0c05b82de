"""No data loss: a shop crawl against a misbehaving gateway, and a crawl killed half-way.

The sandbox injects 10 % 5xx pages, 5 % QPS-limit errors, 2 % truncated JSON and 2 % dropped
connections; every access token is expired once half-way. Small shops and a small paging cap
(so the listing is sliced) keep these fast. ``bench/faults.py`` runs the same at a larger scale.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from conftest import REPO

from ali1688spider.sandbox.process import crawl_environment

FAULTS = ("--fail-5xx", "0.10", "--fail-qps", "0.05", "--fail-truncate", "0.02",
          "--fail-drop", "0.02")
# Retries come quickly here; the budgets stay the defaults.
FAST_BACKOFF = {"ALI1688_BACKOFF_BASE": "0.05", "ALI1688_BACKOFF_MAX": "1"}


def wait_for_calls(sandbox, calls: int, running) -> int:
    """Block until the gateway has seen *calls* calls (or ``running()`` is false)."""
    while running():
        seen = sandbox.stats()["total_calls"]
        if seen >= calls:
            return seen
        time.sleep(0.05)
    return -1


def assert_complete_report(path, expected: int) -> None:
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["verdict"] == "complete", report
    assert report["official_total"] == expected
    assert report["unique_fetched"] == expected
    assert report["missing_count"] == 0


def test_shop_crawl_gets_every_product_once_despite_faults_and_token_expiry(
    sandbox_factory, crawl, tmp_path
):
    sandbox = sandbox_factory("--qps", "0", "--page-cap", "3", *FAULTS)
    shop = sandbox.shop(700)
    expected = sandbox.get(f"/sandbox/shops/{shop['seller_open_id']}/ids")
    assert len(expected) > 3 * 50, "the listing must need slicing past the paging cap"
    done = threading.Event()
    expired: list[int] = []

    def expire_half_way() -> None:
        if wait_for_calls(sandbox, len(expected) // 2, lambda: not done.is_set()) > 0:
            expired.append(sandbox.post("/sandbox/expire-tokens")["expired"])

    watcher = threading.Thread(target=expire_half_way)
    watcher.start()
    try:
        result = crawl(
            "shop",
            args={"seller_open_id": shop["seller_open_id"], "details": "1"},
            settings={"ALI1688_QPS": "100000", "ALI1688_REPORT_FILE": str(tmp_path / "report.json"),
                      "ALI1688_STATE_FILE": str(tmp_path / "state.json"), **FAST_BACKOFF},
            env=sandbox.env(),
        )
    finally:
        done.set()
        watcher.join()

    assert result.returncode == 0, result.log[-3000:]
    ids = [item["product_id"] for item in result.items]
    assert sorted(ids) == sorted(expected)          # every product, none twice
    assert all(item["skus"] is not None for item in result.items)  # details, not list entries
    assert_complete_report(tmp_path / "report.json", len(expected))
    injected = sandbox.stats()["faults"]
    assert {"5xx", "qps", "truncate", "drop"} <= set(injected), injected
    assert expired and expired[0] >= 1
    # One expiry, one refresh: the calls in flight with the old token wait for it.
    assert result.log.count("Refreshed the access token") == 1
    stats = result.stats
    assert stats["ali1688/retries/token"] >= 1
    assert stats["ali1688/retries/qps"] >= 1 and stats["ali1688/retries/transient"] >= 1
    assert not any(key.startswith("ali1688/gave_up") for key in stats)
    assert "Traceback" not in result.log


def start_crawl(args: dict[str, str], settings: dict[str, str], env: dict[str, str], log):
    command = [sys.executable, "-m", "scrapy", "crawl", "shop"]
    for key, value in args.items():
        command += ["-a", f"{key}={value}"]
    for key, value in settings.items():
        command += ["-s", f"{key}={value}"]
    child_env = crawl_environment()
    child_env.update(env)
    return subprocess.Popen(command, cwd=REPO, env=child_env, stdout=log, stderr=subprocess.STDOUT)


def stored_ids(database) -> list[str]:
    with sqlite3.connect(database) as db:
        return [row[0] for row in db.execute("SELECT product_id FROM products")]


def test_crawl_killed_half_way_resumes_complete_without_duplicates(sandbox_factory, crawl, tmp_path):
    sandbox = sandbox_factory("--qps", "0", "--page-cap", "3")
    # Big enough that Scrapy has flushed part of JOBDIR/requests.seen by the kill.
    shop = sandbox.shop(700)
    expected = sandbox.get(f"/sandbox/shops/{shop['seller_open_id']}/ids")
    database = tmp_path / "shop.db"
    args = {"seller_open_id": shop["seller_open_id"], "details": "1"}
    settings = {"JOBDIR": str(tmp_path / "job"), "ALI1688_DB_URL": f"sqlite:///{database}",
                "ALI1688_QPS": "100", "ALI1688_REPORT_FILE": str(tmp_path / "report.json"),
                "ALI1688_STATE_FILE": str(tmp_path / "state.json")}

    with (tmp_path / "first.log").open("wb") as log:
        first = start_crawl(args, settings, sandbox.env(), log)
        try:
            assert wait_for_calls(sandbox, len(expected) // 2, lambda: first.poll() is None) > 0
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
    before = stored_ids(database)
    assert 0 < len(before) < len(expected), "the kill must come half-way"

    sandbox.post("/sandbox/stats/reset")
    resumed = crawl("shop", args=args, settings=settings, env=sandbox.env())

    assert resumed.returncode == 0, resumed.log[-3000:]
    stored = stored_ids(database)
    assert len(stored) == len(set(stored))
    assert sorted(stored) == sorted(expected)
    assert_complete_report(tmp_path / "report.json", len(expected))
    # Resumed, not started over: the details stored before the kill are not fetched again.
    assert sandbox.stats()["calls"].get("product.search.queryProductDetail", 0) < len(expected)


def test_a_crawl_stopped_half_way_is_not_complete_and_stores_no_mark(sandbox_factory, crawl, tmp_path):
    sandbox = sandbox_factory("--qps", "0", "--page-cap", "3")
    shop = sandbox.shop(700)
    expected = sandbox.ids(shop)
    args = {"seller_open_id": shop["seller_open_id"], "details": "1", "incremental": "1"}
    state, report = tmp_path / "state.json", tmp_path / "report.json"
    settings = {"ALI1688_QPS": "100", "ALI1688_REPORT_FILE": str(report), "ALI1688_STATE_FILE": str(state)}
    output = tmp_path / "first.jsonl"
    with (tmp_path / "first.log").open("wb") as log:
        first = start_crawl(args, {**settings, "FEEDS": json.dumps({str(output): {"format": "jsonlines"}})},
                            sandbox.env(), log)
        try:
            assert wait_for_calls(sandbox, len(expected) // 2, lambda: first.poll() is None) > 0
        finally:
            first.send_signal(signal.SIGINT)
            first.wait(timeout=120)
    emitted = {json.loads(line)["product_id"] for line in output.read_text().splitlines() if line}
    assert 0 < len(emitted) < len(expected), "the stop must come half-way"
    stopped = json.loads(report.read_text(encoding="utf-8"))
    assert stopped["verdict"] != "complete", stopped
    assert stopped["missing_count"] == len(expected) - len(emitted)
    assert not state.exists(), "a stopped crawl must not advance the incremental mark"

    # So the next incremental crawl crawls everything, and only then stores its mark.
    again = crawl("shop", args=args, settings=settings, env=sandbox.env())
    assert again.returncode == 0, again.log[-3000:]
    assert sorted(item["product_id"] for item in again.items) == sorted(expected)
    assert_complete_report(report, len(expected))
    assert json.loads(state.read_text(encoding="utf-8"))
