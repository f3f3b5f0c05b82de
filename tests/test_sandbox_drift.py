"""A monitoring benchmark's story: the sandbox's catalogue drifts as its clock moves — sellers
edit, buyers buy, products come and go — and its ground truth says what changed, when, and
whether a listing shows it; a crawl before and after finds exactly that."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from urllib.parse import quote

import pytest
import requests
from helpers import recorded_changes

from ali1688spider.monitoring.changes import KINDS
from ali1688spider.sandbox.catalog import Catalog
from ali1688spider.sandbox.drift import Drift
from ali1688spider.sandbox.options import DEFAULT_SEED

START = "2026-01-01T00:00:00+08:00"
STOCK_KINDS = {"stock", "out_of_stock", "back_in_stock"}


def changes(sandbox, since: str, seller: str | None = None) -> list[dict]:
    query = f"since={quote(since)}" + (f"&seller_open_id={seller}" if seller else "")
    return sandbox.get(f"/sandbox/changes?{query}")


def by_product(found: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for change in found:
        grouped[change["product_id"]].append(change)
    return grouped


def test_the_clock_starts_still_and_advances_with_every_change_in_order(sandbox_factory):
    sandbox = sandbox_factory("--qps", "0", "--shops", "400,3000")
    ids = {s["seller_open_id"]: sandbox.ids(s) for s in sandbox.shops()}
    assert sandbox.post("/sandbox/advance", {"hours": 0}) == {"now": START, "changes": 0}
    assert changes(sandbox, START) == []
    assert {s["seller_open_id"]: sandbox.ids(s) for s in sandbox.shops()} == ids

    moved = sandbox.post("/sandbox/advance", {"hours": 24})
    assert moved["now"] == "2026-01-02T00:00:00+08:00"
    found = changes(sandbox, START)
    assert len(found) == moved["changes"] > 0
    assert [c["at"] for c in found] == sorted(c["at"] for c in found)
    assert all(START < c["at"] <= moved["now"] for c in found)
    assert {c["kind"] for c in found} <= set(KINDS)
    assert changes(sandbox, moved["now"]) == []
    # One shop's changes are its products' (new ones included) and nobody else's.
    small = sandbox.shops()[0]
    own = changes(sandbox, START, small["seller_open_id"])
    born = {c["product_id"] for c in own if c["kind"] == "new"}
    assert own == [c for c in found if c["product_id"] in set(ids[small["seller_open_id"]]) | born]
    listed = set(sandbox.ids(small))
    for change in own:
        if change["kind"] == "new":
            assert change["product_id"] in listed
            assert sandbox.get(f"/sandbox/products/{change['product_id']}")["created_at"] == change["at"]
        if change["kind"] == "removed":
            assert change["product_id"] not in listed


def test_the_same_seed_drifts_the_same_however_the_clock_is_moved(sandbox_factory):
    one = sandbox_factory("--qps", "0", "--shops", "300,2000", "--seed", "7")
    two = sandbox_factory("--qps", "0", "--shops", "300,2000", "--seed", "7")
    other = sandbox_factory("--qps", "0", "--shops", "300,2000", "--seed", "8")
    one.post("/sandbox/advance", {"hours": 36})
    two.post("/sandbox/advance", {"hours": 12})
    two.post("/sandbox/advance", {"hours": 24})
    other.post("/sandbox/advance", {"hours": 36})
    assert changes(one, START) == changes(two, START)
    assert changes(one, START) != changes(other, START)
    assert [one.ids(s) for s in one.shops()] == [two.ids(s) for s in two.shops()]


def test_a_few_products_are_hot_and_most_rarely_change(sandbox_factory):
    sandbox = sandbox_factory("--qps", "0", "--shops", "5000")
    shop = sandbox.shops()[0]
    sandbox.post("/sandbox/advance", {"hours": 30 * 24})
    counts = Counter(c["product_id"] for c in changes(sandbox, START) if c["kind"] != "new")
    per_product = [counts.get(i, 0) for i in sandbox.ids(shop)]
    daily = sum(1 for n in per_product if n >= 30)
    assert 0 < daily <= len(per_product) // 100                 # a few change daily
    assert statistics.median(per_product) == 0                  # most not once a month
    top = sorted(per_product, reverse=True)[: len(per_product) // 100]
    assert sum(top) >= 0.1 * sum(per_product)                   # the top 1 % make a tenth


def test_the_hidden_rates_are_what_the_products_change_at():
    catalog = Catalog(DEFAULT_SEED, [3000])
    drift = Drift(catalog)
    assert drift.rates() == {}                                  # drawn at the first advance
    days = 60
    drift.advance(days * 86_400)
    rates = drift.rates()
    listed = catalog.shop_ids(catalog.shops[0])
    assert set(listed) <= set(rates) and all(rate > 0 for rate in rates.values())
    events = Counter(c.product_id for c in drift.log.since(0) if c.kind != "new")
    expected = sum(rates[i] * days for i in listed)
    assert 0.8 < sum(events[i] for i in listed) / expected < 1.2
    by_rate = sorted(listed, key=rates.__getitem__)
    hot, calm = by_rate[-len(by_rate) // 50:], by_rate[: len(by_rate) // 2]
    assert statistics.mean(events[i] for i in hot) > 10 * statistics.mean(events[i] for i in calm)


def test_sales_lower_stock_and_move_modify_date_only_with_the_switch(sandbox_factory):
    off = sandbox_factory("--qps", "0", "--shops", "600")
    on = sandbox_factory("--qps", "0", "--shops", "600", "--sales-move-modified")
    before = {i: off.get(f"/sandbox/products/{i}") for i in off.ids(off.shops()[0])}
    for sandbox in (off, on):
        sandbox.post("/sandbox/advance", {"hours": 72})
    quiet, loud = changes(off, START), changes(on, START)
    # The switch changes what the listing shows of a sale, and nothing else.
    assert [{**c, "in_listing": None} for c in quiet] == [{**c, "in_listing": None} for c in loud]
    flipped = [c for c, d in zip(quiet, loud) if c["in_listing"] != d["in_listing"]]
    assert flipped and all(not c["in_listing"] and c["kind"] in STOCK_KINDS for c in flipped)
    sold = {pid: found for pid, found in by_product(quiet).items()
            if all(not c["in_listing"] for c in found)}
    assert len(sold) >= 5
    for pid, found in sold.items():
        unseen, seen = off.get(f"/sandbox/products/{pid}"), on.get(f"/sandbox/products/{pid}")
        assert unseen["stock"] == seen["stock"] < before[pid]["stock"]
        assert unseen["modified_at"] == before[pid]["modified_at"]
        assert seen["modified_at"] == found[-1]["at"]
        assert {k: v for k, v in unseen.items() if k not in ("stock", "skus")} == \
            {k: v for k, v in before[pid].items() if k not in ("stock", "skus")}


@pytest.mark.parametrize(("body", "message"), [
    ({}, "hours must be a number"),
    ({"hours": "24"}, "hours must be a number"),
    ({"hours": -1}, "hours must be a number"),
    ({"hours": True}, "hours must be a number"),
    ({"hours": 1, "days": 1}, "unknown field(s) 'days'"),
    ([24], "must be a JSON object"),
])
def test_a_bad_advance_is_refused_and_the_clock_stays(sandbox, body, message):
    response = requests.post(sandbox.base_url + "/sandbox/advance", json=body, timeout=30)
    assert response.status_code == 400 and message in response.json()["error"]
    assert sandbox.post("/sandbox/advance", {"hours": 0}) == {"now": START, "changes": 0}


@pytest.mark.parametrize(("query", "status", "message"), [
    ("", 400, "since=ISO is required"),
    ("since=yesterday", 400, "since must be an ISO 8601 time"),
    (f"since={quote(START)}&page=2", 400, "the query takes since=ISO"),
    (f"since={quote(START)}&seller_open_id=nobody", 404, "no shop with seller_open_id 'nobody'"),
])
def test_a_bad_changes_query_says_what_is_wrong(sandbox, query, status, message):
    response = requests.get(sandbox.base_url + "/sandbox/changes?" + query, timeout=30)
    assert response.status_code == status and message in response.json()["error"]


def crawl_twice(crawl, sandbox, tmp_path, seller: str, details: str) -> list[dict]:
    """Crawl the shop into a new database, let two days drift by, crawl again: the changes
    the second crawl recorded (product-level, and SKUs added or removed)."""
    db_url = f"sqlite:///{tmp_path / f'details-{details}.db'}"

    def crawl_shop() -> None:
        done = crawl("shop", args={"seller_open_id": seller, "details": details},
                     env=sandbox.env(ALI1688_DB_URL=db_url, ALI1688_QPS="500"))
        assert done.returncode == 0, done.log[-3000:]

    crawl_shop()
    sandbox.post("/sandbox/advance", {"hours": 48})
    crawl_shop()
    return [c for c in recorded_changes(db_url)
            if c["sku_id"] is None or c["kind"] in ("sku_added", "sku_removed")]


def test_a_crawl_after_the_clock_moved_finds_exactly_what_the_ground_truth_says(
        sandbox_factory, crawl, tmp_path):
    sandbox = sandbox_factory("--qps", "0", "--shops", "300")
    seller = sandbox.shops()[0]["seller_open_id"]
    found = crawl_twice(crawl, sandbox, tmp_path, seller, details="1")
    truth = by_product(changes(sandbox, START, seller))
    assert {c["kind"] for cs in truth.values() for c in cs} >= {"new", "removed", "price", "stock"}
    seen = by_product(found)
    assert seen.keys() == truth.keys()
    for pid, events in truth.items():
        if len({c["at"] for c in events}) == 1:   # one event: nothing for the crawl to net out
            assert sorted(c["kind"] for c in seen[pid]) == sorted(c["kind"] for c in events), pid
