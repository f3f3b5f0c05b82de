"""The shop spider against sandbox gateways with a small page cap: every product, once, near
the minimum number of calls, a report that matches the ground truth, and every way to name a
shop (seller_open_id=, offer=, own=1, member_id=, shop_url=), since= and incremental=1."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, start_sandbox_process

from ali1688spider.reporting.pipeline import report_path
from ali1688spider.reporting.progress import progress_line
from ali1688spider.sandbox.process import crawl_environment

CAP = 3
LIST_API = "product.search.querySellerOfferList"


@pytest.fixture(scope="module")
def capped():
    """A sandbox whose listings stop after 3 pages (only read from, except the stats)."""
    process = start_sandbox_process("--qps", "0", "--page-cap", str(CAP))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def owned():
    """Small shops; the token's owner has 300 products (more than 3 pages of 30)."""
    process = start_sandbox_process("--qps", "0", "--page-cap", str(CAP), "--shops", "60,300")
    yield process
    process.stop()


def shop_of(sandbox, size: int) -> dict:
    return sandbox.shop(size)


def truth(sandbox, shop: dict) -> list[str]:
    return sandbox.get(f"/sandbox/shops/{shop['seller_open_id']}/ids")


def owner_of(sandbox) -> dict:
    return next(s for s in sandbox.shops() if s["owner"])


def run(crawl, sandbox, tmp_path: Path, args: dict, **settings: str):
    all_settings = {
        "ALI1688_MAX_PAGES": str(CAP),
        "ALI1688_REPORT_FILE": str(tmp_path / "reports" / "%(spider)s-%(time)s.json"),
        "ALI1688_STATE_FILE": str(tmp_path / "state.json"),
    }
    all_settings.update(settings)
    return crawl("shop", args=args, settings=all_settings, env=sandbox.env(ALI1688_QPS="500"))


def the_report(result, tmp_path: Path) -> dict:
    files = list((tmp_path / "reports").glob("*.json"))
    assert len(files) == 1
    assert str(files[0]) in result.log  # the path is logged at close
    return json.loads(files[0].read_text(encoding="utf-8"))


def ids_of(result) -> list[str]:
    return [item["product_id"] for item in result.items]


def test_shop_past_the_cap_is_complete_and_the_report_matches_the_ground_truth(capped, crawl, tmp_path):
    shop = shop_of(capped, 1000)  # 640 products, far more than 3 pages of 50
    capped.post("/sandbox/stats/reset")
    result = run(crawl, capped, tmp_path, {"seller_open_id": shop["seller_open_id"]})

    assert result.returncode == 0, result.log[-3000:]
    ids = ids_of(result)
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(truth(capped, shop))
    report = the_report(result, tmp_path)
    gateway = capped.stats()
    listing_calls = gateway["calls"][LIST_API]
    minimum = -(-shop["products"] // 50)
    assert report["official_total"] == shop["products"]
    assert report["unique_fetched"] == shop["products"] and report["missing_count"] == 0
    assert report["completeness"] == 1.0 and report["verdict"] == "complete"
    assert report["price_completeness"] == 1.0
    assert report["sku_completeness"] == 0.0  # list entries carry no SKUs (details off)
    assert report["calls_spent"] == gateway["total_calls"] == result.stats["ali1688/calls"]
    assert report["listing_calls"] == listing_calls
    assert report["minimum_listing_calls"] == minimum
    assert report["slices_used"] > 1 and report["max_pages"] == CAP
    # Each slice costs at most one call above the minimum (a partly filled last page, or
    # the first page of a slice that had to be split): nothing else is spent.
    assert minimum <= listing_calls <= minimum + report["slices_used"]
    stats = result.stats
    assert stats["ali1688/report/unique_fetched"] == shop["products"]
    assert stats["ali1688/report/verdict"] == "complete"
    assert stats["ali1688/shop/splits/price"] >= 1
    # The report is not mixed into the product feed.
    assert all("verdict" not in item for item in result.items)
    assert all(item["seller_open_id"] == shop["seller_open_id"] for item in result.items)


def test_listing_calls_stay_within_five_percent_of_the_minimum(sandbox_factory, crawl, tmp_path):
    # The default 50-page cap with 10 entries per page: 500 calls at least for 5,000 products.
    sandbox = sandbox_factory("--qps", "0", "--page-size-cap", "10")
    shop = shop_of(sandbox, 5000)
    result = run(crawl, sandbox, tmp_path, {"seller_open_id": shop["seller_open_id"]},
                 ALI1688_MAX_PAGES="50", ALI1688_PROGRESS_INTERVAL="0.3")

    assert result.returncode == 0, result.log[-3000:]
    ids = ids_of(result)
    assert len(ids) == len(set(ids)) == shop["products"]
    assert set(ids) == set(truth(sandbox, shop))
    report = the_report(result, tmp_path)
    assert report["page_size"] == 10  # the size the answers report, not the one asked for
    minimum = shop["products"] // 10
    listing_calls = sandbox.stats()["calls"][LIST_API]
    assert report["listing_calls"] == listing_calls
    assert minimum <= listing_calls <= minimum * 1.05
    progress = re.findall(r"Progress: ([\d,]+)/5,000 products \((\d+\.\d)%\), [\d.]+ calls/s, ETA \S+",
                          result.log)
    assert progress
    assert all(0 <= float(share) <= 100 for _, share in progress)


def test_the_cap_is_detected_from_the_answers(capped, crawl, tmp_path):
    shop = shop_of(capped, 1000)
    # The spider believes 50 pages are served; the sandbox serves 3.
    result = run(crawl, capped, tmp_path, {"seller_open_id": shop["seller_open_id"]},
                 ALI1688_MAX_PAGES="50")

    assert result.returncode == 0, result.log[-3000:]
    assert sorted(ids_of(result)) == sorted(truth(capped, shop))
    report = the_report(result, tmp_path)
    # The cap learned is the lowest empty page seen minus one: which pages a crawl asks for
    # after the first empty one depends on the order answers arrive, so it may stay above
    # the real cap, never below it.
    assert CAP <= report["max_pages"] < 50 and report["verdict"] == "complete"
    assert result.stats["ali1688/shop/empty_pages"] >= 1
    assert re.search(r"serves [34] pages at most", result.log)


def test_offer_url_resolves_the_shop_and_details_add_skus(capped, crawl, tmp_path):
    shop = shop_of(capped, 100)
    offer = f"https://detail.1688.com/offer/{shop['sample_offer_id']}.html"
    capped.post("/sandbox/stats/reset")
    result = run(crawl, capped, tmp_path, {"offer": offer, "details": "1"}, ALI1688_PROGRESS_INTERVAL="0.2")

    assert result.returncode == 0, result.log[-3000:]
    # Every progress line is one of the two phases' (the listing's; details behind it).
    progress = re.findall(r"Progress: .*", result.log)
    total = shop["products"]
    phase = re.compile(rf"Progress: (listed )?\d+/{total} products \(\d+\.\d%\), (details \d+/{total} \(\d+\.\d%\), )?"
                       r"[\d.]+ calls/s, ETA \S+")
    assert progress and all(phase.fullmatch(line) for line in progress), progress
    items = result.items
    assert sorted(ids_of(result)) == sorted(truth(capped, shop))
    assert all(isinstance(item["skus"], list) and item["price_tiers"] for item in items)
    assert all(item["modified_at"] and item["seller_open_id"] == shop["seller_open_id"] for item in items)
    report = the_report(result, tmp_path)
    assert report["target"] == f"seller_open_id={shop['seller_open_id']}"
    assert report["sku_completeness"] == 1.0 and report["price_completeness"] == 1.0
    # One detail call resolves the shop, then one per product.
    assert capped.stats()["calls"]["product.search.queryProductDetail"] == shop["products"] + 1


@pytest.mark.parametrize("how", ["own", "member_id", "shop_url"])
def test_the_authorizing_sellers_own_catalogue_is_split_by_day(owned, crawl, tmp_path, how):
    owner = owner_of(owned)
    args = {
        "own": {"own": "1"},
        "member_id": {"member_id": owner["member_id"]},
        "shop_url": {"shop_url": owner["shop_url"] + "/page/offerlist.htm"},
    }[how]
    result = run(crawl, owned, tmp_path, args)

    assert result.returncode == 0, result.log[-3000:]
    ids = ids_of(result)
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(truth(owned, owner))
    assert all(item["source_api"] == "alibaba.product.getList" for item in result.items)
    assert all(item["member_id"] == owner["member_id"] for item in result.items)
    report = the_report(result, tmp_path)
    assert report["verdict"] == "complete" and report["official_total"] == owner["products"]
    assert report["page_size"] == 30 and report["sku_completeness"] == 1.0
    assert result.stats["ali1688/shop/splits/time"] >= 1


@pytest.mark.parametrize("how", ["member_id", "shop_url"])
def test_a_shop_no_api_can_resolve_fails_with_one_line(owned, crawl, tmp_path, how):
    other = next(s for s in owned.shops() if not s["owner"])
    args = {"member_id": other["member_id"]} if how == "member_id" else {"shop_url": other["shop_url"]}
    result = run(crawl, owned, tmp_path, args)

    assert result.stats["finish_reason"] == "ali1688_shop_unresolved"
    errors = [line for line in result.log.splitlines() if " ERROR: " in line]
    assert len(errors) == 1
    assert "-a offer=" in errors[0] and "-a seller_open_id=" in errors[0]
    assert "Traceback" not in result.log
    assert result.items == []
    report = the_report(result, tmp_path)
    assert report["verdict"] == "unresolved" and report["official_total"] is None


def test_since_and_incremental_crawl_only_what_changed(sandbox_factory, crawl, tmp_path):
    sandbox = sandbox_factory("--qps", "0", "--page-cap", str(CAP))
    shop = shop_of(sandbox, 1000)
    seller = {"seller_open_id": shop["seller_open_id"]}
    state = tmp_path / "state.json"

    full = run(crawl, sandbox, tmp_path / "full", seller, ALI1688_STATE_FILE=str(state))
    assert full.returncode == 0, full.log[-3000:]
    # Every crawl of this test writes the same feed file: read each right after its crawl.
    full_items = full.items
    modified = {item["product_id"]: dt.datetime.fromisoformat(item["modified_at"]) for item in full_items}
    high_water = max(modified.values())
    stored = json.loads(state.read_text(encoding="utf-8"))["shops"][f"seller:{shop['seller_open_id']}"]
    assert dt.datetime.fromisoformat(stored["high_water"]) == high_water

    since = sorted(modified.values())[len(modified) * 3 // 4]
    partial = run(crawl, sandbox, tmp_path / "since", {**seller, "since": since.isoformat()},
                  ALI1688_STATE_FILE=str(tmp_path / "other-state.json"))
    assert partial.returncode == 0, partial.log[-3000:]
    assert sorted(ids_of(partial)) == sorted(i for i, m in modified.items() if m >= since)
    assert the_report(partial, tmp_path / "since")["unique_fetched"] == shop["products"]

    changed = sandbox.post("/sandbox/reprice", {"fraction": 0.05, "seed": 3,
                                                "seller_open_id": shop["seller_open_id"]})["changed"]
    assert changed
    again = run(crawl, sandbox, tmp_path / "incremental", {**seller, "incremental": "1"},
                ALI1688_STATE_FILE=str(state))
    assert again.returncode == 0, again.log[-3000:]
    at_mark = {i for i, m in modified.items() if m == high_water}
    assert set(ids_of(again)) == set(changed) | at_mark
    prices = {item["product_id"]: item["price_min"] for item in full_items}
    assert all(item["price_min"] != prices[item["product_id"]] for item in again.items
               if item["product_id"] in changed)
    newer = json.loads(state.read_text(encoding="utf-8"))["shops"][f"seller:{shop['seller_open_id']}"]
    assert dt.datetime.fromisoformat(newer["high_water"]) > high_water


def test_an_incomplete_crawl_closes_as_incomplete_and_keeps_the_old_mark(sandbox_factory, crawl, tmp_path):
    sandbox = sandbox_factory("--qps", "0", "--page-cap", str(CAP), "--fail-5xx", "0.3")
    shop = shop_of(sandbox, 1000)
    result = run(crawl, sandbox, tmp_path, {"seller_open_id": shop["seller_open_id"]},
                 ALI1688_RETRY_TIMES="0")

    assert result.returncode == 1
    assert result.stats["finish_reason"] == "ali1688_incomplete"
    report = the_report(result, tmp_path)
    assert report["verdict"] == "incomplete"
    assert report["unique_fetched"] == len(set(ids_of(result))) < shop["products"]
    assert report["missing_count"] == shop["products"] - report["unique_fetched"]
    assert report["completeness"] < 0.97
    assert result.stats["ali1688/shop/failed_pages"] >= 1
    assert not (tmp_path / "state.json").exists()


def test_a_paused_crawl_resumes_where_it_stopped(sandbox_factory, tmp_path):
    """Ctrl-C with JOBDIR, then the same command again: every product once, one full report."""
    sandbox = sandbox_factory("--qps", "0", "--page-cap", str(CAP))
    shop = shop_of(sandbox, 1000)
    expected = truth(sandbox, shop)
    settings = {"JOBDIR": str(tmp_path / "job"), "ALI1688_MAX_PAGES": str(CAP), "ALI1688_QPS": "5",
                "ALI1688_REPORT_FILE": str(tmp_path / "report.json"),
                "ALI1688_STATE_FILE": str(tmp_path / "state.json")}
    args = {"seller_open_id": shop["seller_open_id"]}

    def command(feed: str) -> list[str]:
        words = [sys.executable, "-m", "scrapy", "crawl", "shop", "-o", str(tmp_path / feed)]
        for key, value in args.items():
            words += ["-a", f"{key}={value}"]
        for key, value in settings.items():
            words += ["-s", f"{key}={value}"]
        return words

    env = crawl_environment()
    env.update(sandbox.env())
    first = subprocess.Popen(command("first.jsonl"), cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while first.poll() is None and sandbox.stats()["total_calls"] < 6:
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGINT)  # a clean stop: Scrapy keeps JOBDIR
        first.wait(timeout=120)
    paused = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert paused["unique_fetched"] < shop["products"], "the pause must come before the end"

    second = subprocess.run(command("second.jsonl"), cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=240)
    assert second.returncode == 0, second.stderr[-3000:]
    ids = [json.loads(line)["product_id"] for name in ("first.jsonl", "second.jsonl")
           for line in (tmp_path / name).read_text(encoding="utf-8").splitlines() if line]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(expected)
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "complete" and report["unique_fetched"] == shop["products"]
    assert "Resuming shop" in second.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"seller_open_id": "x", "offer": "123"}, "needs exactly one of"),
        ({}, "needs exactly one of"),
        ({"seller_open_id": "x", "since": "2024-01-01", "incremental": "1"}, "either since= or incremental=1"),
        ({"offer": "https://example.com/nothing"}, "argument offer="),
        ({"seller_open_id": "x", "since": "yesterday"}, "argument since="),
    ],
)
def test_bad_arguments_fail_before_any_call(capped, crawl, tmp_path, args, message):
    result = run(crawl, capped, tmp_path, args)
    assert result.returncode == 2
    assert message in result.log
    assert "Traceback" not in result.log


def test_report_paths_and_progress_lines():
    started = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    data = Path("/data")
    assert report_path("reports/%(spider)s-%(time)s.json", spider="shop", started=started,
                       target=None, directory=data) == data / "reports/shop-2026-01-02T03-04-05.json"
    # Several shops in one crawl: one file each; an absolute template ignores the data directory.
    assert report_path("/r/%(spider)s.json", spider="shop", started=started,
                       target="seller_open_id=ab/c", directory=data) == Path("/r/shop-seller_open_id=ab_c.json")
    assert progress_line(250, 1000, 12.5, 50.0) == (
        "Progress: 250/1,000 products (25.0%), 12.5 calls/s, ETA 0:00:15"
    )
    assert progress_line(3, None, 1.0, 1.0) == "Progress: 3 products, 1.0 calls/s"
    assert progress_line(10, 10, 0.0, 0.0).endswith("ETA 0:00:00")
    # Answers from the HTTP cache are no calls: counted apart.
    assert progress_line(3, None, 0.0, 1.0, 1200) == "Progress: 3 products, 0.0 calls/s, 1,200 cache hits"
    # details=1: a listing that is done is not a crawl that is done.
    assert progress_line(640, 640, 9.8, 0.0, delivered=570, delivered_per_second=10.0) == (
        "Progress: listed 640/640 products (100.0%), details 570/640 (89.1%), 9.8 calls/s, ETA 0:00:07"
    )
    assert progress_line(640, 640, 9.8, 0.0, delivered=640, delivered_per_second=10.0).endswith("ETA 0:00:00")


def test_a_shop_that_does_not_exist_is_one_line_and_unresolved(sandbox, crawl):
    result = crawl("shop", args={"seller_open_id": "nosuchshop000000000"}, env=sandbox.env())
    assert result.returncode == 1
    assert result.stats["finish_reason"] == "ali1688_shop_unresolved"
    problems = [line for line in result.log.splitlines() if " ERROR: " in line or " WARNING: " in line]
    problems = [line for line in problems if "SANDBOX" not in line]
    assert len(problems) == 1, problems
    assert "seller_open_id" in problems[0] and "offer=" in problems[0]
    assert "0 products delivered (the platform gave no total)" in result.log
    assert "None" not in result.log.split("Crawl report of", 1)[1].splitlines()[0]
