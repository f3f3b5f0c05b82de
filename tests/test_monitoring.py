"""Crawl-health monitors on Spidermon: the suite against made-up stats, as Spidermon's own tests
run monitors (a crawler, a ``SpiderMonitorRunner``, the stats in its data), then real crawls
with Spidermon enabled, and one without Spidermon installed at all.
"""

from __future__ import annotations

import json
import os

import pytest
from conftest import REPO
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.statscollectors import MemoryStatsCollector
from spidermon import settings as spidermon_settings
from spidermon.contrib.scrapy.runners import SpiderMonitorRunner

# Imported as a module: its monitors are unittest cases, which pytest would collect here.
from ali1688spider import monitoring
from ali1688spider.config import ConfigError
from ali1688spider.monitoring.health import health_limits
from ali1688spider.reporting.ledger import ledger_for

STATUS = spidermon_settings.MONITOR.STATUS
#: Spidermon 1.27 logs its results with Spider.log(), which Scrapy deprecates (scrapy/scrapy#7739).
SPIDERMON_LOG_WARNING = r"ignore:Spider\.log\(\) is deprecated:scrapy.exceptions.ScrapyDeprecationWarning"
pytestmark = pytest.mark.filterwarnings(SPIDERMON_LOG_WARNING)
#: The same, for the crawl processes (every other warning stays an error there).
PYTHON_WARNINGS = "error,ignore:Spider.log() is deprecated::spidermon.contrib.scrapy.runners"
MONITORS = ("qps_refusals", "error_rate", "completeness", "item_count")

HEALTHY = {
    "ali1688/calls": 200, "ali1688/responses/ok": 180, "ali1688/errors/qps_limit": 12,
    "ali1688/errors/code/gw.QosAppFrequencyLimit": 12, "ali1688/errors/server_error": 5,
    "ali1688/errors/not_found": 3, "ali1688/report/verdict": "complete", "item_scraped_count": 95,
}


class ShopSpider(Spider):
    name = "shop"


def run_suite(tmp_path, stats: dict, settings: dict | None = None, targets: tuple[str, ...] = ("seller_open_id=s1",)):
    """The suite's results by monitor, and the crawler (its stats hold ``ali1688/health/…``)."""
    crawler = Crawler(ShopSpider, settings={"ALI1688_MONITOR_HISTORY": str(tmp_path / "history.json"), **(settings or {})})
    crawler.stats = MemoryStatsCollector(crawler)
    for key, value in stats.items():
        crawler.stats.set_value(key, value)
    for target in targets:
        ledger_for(crawler).open(target, spider="shop", target=target)
    spider = ShopSpider()
    runner = SpiderMonitorRunner(spider=spider)
    data = {"stats": crawler.stats.get_stats(), "crawler": crawler, "spider": spider, "job": None}
    runner.run(monitoring.CrawlHealthMonitorSuite(crawler=crawler), **data)
    results = {result.monitor.check_name: result for result in runner.result.monitor_results}
    return results, crawler


def statuses(results) -> dict[str, str]:
    return {name: result.status for name, result in results.items()}


def history(tmp_path, previous: int, target: str = "seller_open_id=s1") -> None:
    (tmp_path / "history.json").write_text(json.dumps(
        {"shop": {target: {"item_scraped_count": previous, "recorded_at": "2026-01-01T00:00:00+00:00"}}}))


def test_a_healthy_crawl_passes_every_monitor_and_becomes_the_last_run(tmp_path):
    history(tmp_path, 100)
    results, crawler = run_suite(tmp_path, HEALTHY)
    assert statuses(results) == dict.fromkeys(MONITORS, STATUS.SUCCESS)
    assert {name: crawler.stats.get_value(f"ali1688/health/{name}") for name in MONITORS} == dict.fromkeys(MONITORS, "pass")
    recorded = json.loads((tmp_path / "history.json").read_text())["shop"]["seller_open_id=s1"]
    assert recorded["item_scraped_count"] == 95


@pytest.mark.parametrize(("refused", "status"), [(40, STATUS.SUCCESS), (41, STATUS.FAILURE)])
def test_the_qps_refusal_share_fails_above_its_limit(tmp_path, refused, status):
    results, _ = run_suite(tmp_path, {**HEALTHY, "ali1688/errors/qps_limit": refused})
    assert results["qps_refusals"].status == status
    if status == STATUS.FAILURE:
        assert "41 of 200 calls (20.5%) were refused for rate, above ALI1688_MONITOR_MAX_QPS_REFUSALS=0.2" in results["qps_refusals"].error


def test_the_error_rate_counts_failed_answers_and_network_errors_only(tmp_path):
    failing = {**HEALTHY, "ali1688/errors/server_error": 10, "ali1688/errors/network": 6,
               "ali1688/errors/invalid_response": 5, "ali1688/errors/code/500": 10}
    results, _ = run_suite(tmp_path, failing)
    assert results["error_rate"].status == STATUS.FAILURE
    # QPS refusals (12), not-found answers (3) and the per-code counts are not failures.
    assert "21 of 200 calls (10.5%) failed, above ALI1688_MONITOR_MAX_ERROR_RATE=0.1" in results["error_rate"].error
    results, _ = run_suite(tmp_path, failing, {"ALI1688_MONITOR_MAX_ERROR_RATE": "0.2"})
    assert results["error_rate"].status == STATUS.SUCCESS


@pytest.mark.parametrize(("verdict", "accept_partial", "status"), [
    ("complete", "0", STATUS.SUCCESS),
    ("partial", "0", STATUS.FAILURE),
    ("partial", "1", STATUS.SUCCESS),
    ("incomplete", "1", STATUS.FAILURE),
    ("unresolved", "0", STATUS.FAILURE),
])
def test_the_completeness_monitor_reads_the_crawl_reports_verdict(tmp_path, verdict, accept_partial, status):
    results, _ = run_suite(tmp_path, {**HEALTHY, "ali1688/report/verdict": verdict},
                           {"ALI1688_MONITOR_ACCEPT_PARTIAL": accept_partial})
    assert results["completeness"].status == status
    if verdict == "partial" and status == STATUS.FAILURE:
        assert "the crawl report says partial, not complete (ALI1688_MONITOR_ACCEPT_PARTIAL accepts it)" in results["completeness"].error


def test_what_a_crawl_gives_nothing_to_judge_by_is_skipped(tmp_path):
    stats = {"ali1688/calls": 0, "item_scraped_count": 0}
    results, crawler = run_suite(tmp_path, stats, targets=())
    assert statuses(results) == dict.fromkeys(MONITORS, STATUS.SKIPPED)
    assert results["completeness"].reason == "the crawl wrote no crawl report (only shop crawls do)"
    assert results["item_count"].reason == "no earlier run of this spider and target in ALI1688_MONITOR_HISTORY"
    assert crawler.stats.get_value("ali1688/health/item_count") == "skip"
    # The next run of the same crawl (no target, no arguments: "-") has a last run.
    assert json.loads((tmp_path / "history.json").read_text())["shop"]["-"]["item_scraped_count"] == 0


@pytest.mark.parametrize(("count", "status"), [(90, STATUS.SUCCESS), (89, STATUS.FAILURE), (150, STATUS.SUCCESS)])
def test_the_item_count_is_held_against_the_last_run_of_the_same_target(tmp_path, count, status):
    history(tmp_path, 100)
    history_file = tmp_path / "history.json"
    other = json.loads(history_file.read_text())
    other["shop"]["seller_open_id=s2"] = {"item_scraped_count": 5000}
    history_file.write_text(json.dumps(other))
    results, _ = run_suite(tmp_path, {**HEALTHY, "item_scraped_count": count})
    assert results["item_count"].status == status
    if status == STATUS.FAILURE:
        assert "89 items, the last run (2026-01-01T00:00:00+00:00) 100: below ALI1688_MONITOR_MIN_ITEM_RATIO=0.9" in results["item_count"].error
    kept = json.loads(history_file.read_text())["shop"]
    assert kept["seller_open_id=s1"]["item_scraped_count"] == count
    assert kept["seller_open_id=s2"] == {"item_scraped_count": 5000}


def test_an_unreadable_history_fails_the_monitor_once_and_is_replaced(tmp_path):
    (tmp_path / "history.json").write_text("{not json")
    results, _ = run_suite(tmp_path, HEALTHY)
    assert results["item_count"].status == STATUS.FAILURE
    assert "is unreadable" in results["item_count"].error
    results, _ = run_suite(tmp_path, HEALTHY)
    assert results["item_count"].status == STATUS.SUCCESS


@pytest.mark.parametrize(("settings", "expected"), [
    ({"ALI1688_MONITOR_MAX_QPS_REFUSALS": "2"}, "ALI1688_MONITOR_MAX_QPS_REFUSALS must be a share between 0 and 1"),
    ({"ALI1688_MONITOR_MAX_ERROR_RATE": "-0.1"}, "ALI1688_MONITOR_MAX_ERROR_RATE must be >= 0"),
    ({"ALI1688_MONITOR_MIN_ITEM_RATIO": "most"}, "ALI1688_MONITOR_MIN_ITEM_RATIO must be a number"),
    ({"ALI1688_MONITOR_ACCEPT_PARTIAL": "maybe"}, "ALI1688_MONITOR_ACCEPT_PARTIAL must be 1/0, true/false"),
])
def test_bad_monitor_settings_name_the_setting(settings, expected):
    with pytest.raises(ConfigError) as raised:
        health_limits(settings)
    assert expected in str(raised.value)


# -- real crawls ------------------------------------------------------------------------------

MONITORED_SETTINGS = '''\
from ali1688spider.settings import *  # noqa: F403

SPIDERMON_ENABLED = True
# The add-on adds its own extensions beside the project's.
EXTENSIONS = {"spidermon.contrib.scrapy.extensions.Spidermon": 500}
SPIDERMON_SPIDER_CLOSE_MONITORS = ("ali1688spider.monitoring.CrawlHealthMonitorSuite",)
'''


def python_path(*paths) -> str:
    return os.pathsep.join([*map(str, paths), os.environ.get("PYTHONPATH", str(REPO))])


@pytest.fixture
def monitored(tmp_path):
    """The environment of a crawl whose settings module enables the suite, as docs/monitoring.md
    says (the embedded sandbox: no gateway is set)."""
    (tmp_path / "settings_module").mkdir()
    (tmp_path / "settings_module" / "monitored_settings.py").write_text(MONITORED_SETTINGS)
    return {"SCRAPY_SETTINGS_MODULE": "monitored_settings", "PYTHONWARNINGS": PYTHON_WARNINGS,
            "PYTHONPATH": python_path(tmp_path / "settings_module")}


def spidermon_lines(log: str) -> list[str]:
    return [line.split("[Spidermon] ", 1)[1] for line in log.splitlines() if "[Spidermon] " in line]


def test_a_monitored_crawl_runs_the_suite_and_a_shrunk_one_fails_the_item_count(crawl, tmp_path, monitored, sandbox):
    history_file = tmp_path / "monitor-history.json"
    settings = {"ALI1688_MONITOR_HISTORY": str(history_file)}
    # The embedded sandbox has the same default seed, so the same shops.
    shop = {"seller_open_id": sandbox.shop(60)["seller_open_id"]}

    first = crawl("shop", args=shop, settings=settings, env=monitored)
    assert first.returncode == 0, first.log[-3000:]
    assert "Traceback" not in first.log
    lines = spidermon_lines(first.log)
    assert "QPS refusals/Share of calls refused for rate... OK" in lines
    assert "Failed calls/Share of calls that failed... OK" in lines
    assert "Completeness/Crawl report verdict... OK" in lines
    assert ("Item count/Items against the last run... SKIPPED (no earlier run of this spider and "
            "target in ALI1688_MONITOR_HISTORY)") in lines
    assert "OK (skipped=1)" in lines
    stats = first.stats
    assert [stats[f"ali1688/health/{name}"] for name in MONITORS] == ["pass", "pass", "pass", "skip"]
    delivered = stats["item_scraped_count"]
    target = f"seller_open_id={shop['seller_open_id']}"
    assert json.loads(history_file.read_text())["shop"][target]["item_scraped_count"] == delivered

    # A bigger last run: this one delivered less than 0.9 of it.
    recorded = json.loads(history_file.read_text())
    recorded["shop"][target]["item_scraped_count"] = delivered * 2
    history_file.write_text(json.dumps(recorded))
    second = crawl("shop", args=shop, settings=settings, env=monitored)
    assert second.returncode == 0, second.log[-3000:]
    lines = spidermon_lines(second.log)
    assert "Item count/Items against the last run... FAIL" in lines
    assert "FAILED (failures=1)" in lines
    assert (f"AssertionError: {delivered} items, the last run ({recorded['shop'][target]['recorded_at']}) "
            f"{delivered * 2}: below ALI1688_MONITOR_MIN_ITEM_RATIO=0.9 of it") in second.log
    assert second.stats["ali1688/health/item_count"] == "fail"
    # The crawl itself is what it was: the monitors report, they do not change the close reason.
    assert second.stats["finish_reason"] == "finished"


def test_the_package_crawls_without_spidermon_installed(crawl, tmp_path, sandbox):
    stub = tmp_path / "no_spidermon" / "spidermon"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('spidermon is not installed (test stub)')\n")
    env = sandbox.env(PYTHONPATH=python_path(stub.parent))
    result = crawl("product", args={"ids": ",".join(sandbox.ids(sandbox.shop(60))[:3])}, env=env)
    assert result.returncode == 0, result.log[-3000:]
    assert len(result.items) == 3
    assert "ali1688/health/item_count" not in result.stats


def test_a_bad_monitor_setting_stops_the_crawl_before_it_starts(crawl, sandbox):
    result = crawl("product", args={"ids": "123456789012"}, env=sandbox.env(),
                   settings={"ALI1688_MONITOR_MIN_ITEM_RATIO": "1.5"})
    assert result.returncode == 2, result.log[-2000:]
    error_lines = [line for line in result.log.splitlines() if "error:" in line]
    assert len(error_lines) == 1
    assert "ALI1688_MONITOR_MIN_ITEM_RATIO must be a share between 0 and 1, got 1.5" in error_lines[0]
    assert "Traceback" not in result.log


@pytest.mark.parametrize("entry", ["100", None, True, -3, [1]])
def test_a_history_entry_without_a_count_is_skipped_with_the_reason(tmp_path, entry):
    (tmp_path / "history.json").write_text(json.dumps({"shop": {"seller_open_id=s1": {"item_scraped_count": entry}}}))
    results, crawler = run_suite(tmp_path, HEALTHY)
    assert results["item_count"].status == STATUS.SKIPPED
    assert results["item_count"].reason.startswith("the last run's entry in ALI1688_MONITOR_HISTORY holds no item count")
    assert crawler.stats.get_value("ali1688/health/item_count") == "skip"
    assert json.loads((tmp_path / "history.json").read_text())["shop"]["seller_open_id=s1"]["item_scraped_count"] == 95


def test_a_directory_as_the_history_is_refused_before_any_call(tmp_path):
    with pytest.raises(ConfigError, match="ALI1688_MONITOR_HISTORY .* is a directory: give a file path in it"):
        health_limits({"ALI1688_MONITOR_HISTORY": str(tmp_path)})
