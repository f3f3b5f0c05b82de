"""A monitoring user's story: crawl a shop into a database, let the sandbox reprice, delist and
empty some of its products, crawl again — and get exactly those changes: in the database, in a
``ProductChange`` feed, in stats and in ``ali1688 report changes``; never a removal from a
listing that was not complete."""

from __future__ import annotations

import json
import logging

from helpers import ali1688, report_changes
from redis_server import start_redis_server
from scrapy import Spider
from scrapy.utils.test import get_crawler
from test_bad_input import BadGateway
from test_distributed import run_workers

from ali1688spider.pipelines.changefeed import ChangeFeed
from ali1688spider.reporting.ledger import ledger_for

FAST = {"ALI1688_QPS": "500"}
CHANGES_FEED = "changes.jsonl"


def crawl_shop(crawl, sandbox, db_url, seller, tmp_path, *, settings=None, **args):
    feeds = {str(tmp_path / CHANGES_FEED): {"format": "jsonlines", "overwrite": True,
                                            "item_classes": ["ali1688spider.items.ProductChange"]}}
    return crawl(
        "shop",
        args={"seller_open_id": seller, "details": "1", **args},
        env=sandbox.env(ALI1688_DB_URL=db_url, **FAST),
        settings={"FEEDS": json.dumps(feeds), **(settings or {})},
    )


def feed(tmp_path) -> list[dict]:
    path = tmp_path / CHANGES_FEED
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_a_repriced_shop_gives_exactly_its_price_changes(sandbox_factory, crawl, db_url, tmp_path):
    sandbox = sandbox_factory("--qps", "0")
    shop = sandbox.shop(100)
    seller = shop["seller_open_id"]
    first = crawl_shop(crawl, sandbox, db_url, seller, tmp_path)
    assert first.returncode == 0, first.log[-3000:]
    assert first.stats["ali1688/changes/new"] == shop["products"]
    first_run = first.stats["ali1688/db/run_id"]  # (the next crawl writes the same stats file)

    repriced = set(sandbox.post("/sandbox/reprice", {"seller_open_id": seller, "fraction": 0.1, "seed": 3})["changed"])
    second = crawl_shop(crawl, sandbox, db_url, seller, tmp_path)
    assert second.returncode == 0, second.log[-3000:]
    changes = feed(tmp_path)
    assert {c["product_id"] for c in changes} == repriced
    assert {c["kind"] for c in changes} == {"price"} and len(changes) == len(repriced)
    assert second.stats["ali1688/changes/price"] == len(repriced)
    assert all(c["run_id"] == second.stats["ali1688/db/run_id"] and c["change_pct"] for c in changes)
    # The plain product feed holds products only.
    assert len(second.items) == shop["products"] and all("kind" not in item for item in second.items)

    listed = report_changes(db_url, "--json")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line) for line in listed.stdout.splitlines()] == changes
    table = report_changes(db_url, "--kind", "new", "--run", str(first_run))
    assert f"{shop['products']} change(s) (new {shop['products']})" in table.stdout


def test_delisted_and_emptied_products_are_found_and_nothing_else(sandbox_factory, crawl, db_url, tmp_path):
    sandbox = sandbox_factory("--qps", "0")
    shop = sandbox.shop(100)
    seller = shop["seller_open_id"]
    assert crawl_shop(crawl, sandbox, db_url, seller, tmp_path).returncode == 0

    delisted = set(sandbox.post("/sandbox/delist", {"seller_open_id": seller, "fraction": 0.05, "seed": 1})["changed"])
    emptied = set(sandbox.post("/sandbox/restock", {"seller_open_id": seller, "fraction": 0.05, "seed": 2,
                                                    "stock": 0})["changed"])
    second = crawl_shop(crawl, sandbox, db_url, seller, tmp_path)
    assert second.returncode == 0, second.log[-3000:]
    changes = feed(tmp_path)
    by_kind: dict[str, set[str]] = {}
    for change in changes:
        if change["sku_id"] is None:
            by_kind.setdefault(change["kind"], set()).add(change["product_id"])
    assert by_kind.pop("removed") == delisted
    # A product that was already out of stock cannot run out again.
    assert by_kind.pop("out_of_stock") <= emptied and emptied - delisted
    assert not by_kind, by_kind
    sku_changes = [c for c in changes if c["sku_id"] is not None]
    assert {c["kind"] for c in sku_changes} <= {"out_of_stock"}
    assert {c["product_id"] for c in sku_changes} <= emptied

    # Crawled again unchanged: nothing new, nothing removed twice.
    third = crawl_shop(crawl, sandbox, db_url, seller, tmp_path)
    assert third.returncode == 0 and feed(tmp_path) == []


def test_a_crawl_cut_short_records_no_removal(sandbox_factory, crawl, db_url, tmp_path):
    sandbox = sandbox_factory("--qps", "0")
    seller = sandbox.shop(100)["seller_open_id"]
    assert crawl_shop(crawl, sandbox, db_url, seller, tmp_path).returncode == 0
    sandbox.post("/sandbox/delist", {"seller_open_id": seller, "fraction": 0.1, "seed": 1})

    cut = crawl_shop(crawl, sandbox, db_url, seller, tmp_path, settings={"ALI1688_MAX_REQUESTS": "20"})
    assert cut.stats["finish_reason"] == "ali1688_budget_spent", cut.log[-3000:]
    assert "No removals recorded for seller_open_id=" in cut.log
    assert [c for c in feed(tmp_path) if c["kind"] == "removed"] == []
    assert "ali1688/changes/removed" not in cut.stats


def test_a_product_whose_detail_is_gone_is_removed(sandbox_factory, crawl, db_url, tmp_path):
    sandbox = sandbox_factory("--qps", "0")
    shop = sandbox.shop(100)
    ids = sandbox.ids(shop)[:6]
    env = sandbox.env(ALI1688_DB_URL=db_url, **FAST)
    first = crawl("product", args={"ids": ",".join(ids)}, env=env)
    assert first.returncode == 0 and first.stats["ali1688/changes/new"] == len(ids), first.log[-3000:]
    delisted = sandbox.post("/sandbox/delist", {"seller_open_id": shop["seller_open_id"], "fraction": 0.5, "seed": 4})
    gone = sorted(set(delisted["changed"]) & set(ids))
    assert gone, "the seed delists none of the crawled products"

    again = crawl("product", args={"ids": ",".join(ids)}, env=env)
    assert again.stats["ali1688/changes/removed"] == len(gone), again.log[-3000:]
    removed = report_changes(db_url, "--kind", "removed", "--json")
    assert sorted(json.loads(line)["product_id"] for line in removed.stdout.splitlines()) == gone


def test_report_changes_says_what_to_fix(tmp_path, sandbox, crawl):
    missing = report_changes(f"sqlite:///{tmp_path / 'none.db'}")
    assert missing.returncode == 1 and "no database file" in missing.stderr
    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert crawl("product", args={"ids": sandbox.ids(sandbox.shop(100))[0]},
                 env=sandbox.env(ALI1688_DB_URL=url, **FAST)).returncode == 0
    assert "has no crawl run 7" in report_changes(url, "--run", "7").stderr
    bad = report_changes(url, "--run", "latest")
    assert bad.returncode == 2 and "'latest' is not a crawl run id" in bad.stderr
    kind = report_changes(url, "--kind", "price_drop")
    assert kind.returncode == 2 and "invalid choice: 'price_drop'" in kind.stderr
    empty = report_changes(url, "--kind", "price")
    assert empty.returncode == 0 and "No changes recorded by crawl run 1." in empty.stdout


def test_two_workers_judge_removals_from_their_shared_listing(tmp_path, sandbox_factory, redis_url):
    """Distributed: each worker lists part of the shop; the removals come from all workers'
    listing together, once the shared crawl is done, and are recorded once."""
    sandbox = sandbox_factory("--qps", "0")
    shop = sandbox.shop(700)
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    # Small pages at 10 calls/s: the listing lasts long enough (about 15 s) for the second
    # worker to join (an idle worker looks for work every 5 s).
    env = sandbox.env(ALI1688_REDIS_URL=redis_url, ALI1688_REDIS_IDLE_TIMEOUT="2", ALI1688_DB_URL=db,
                      ALI1688_QPS="10", ALI1688_PAGE_SIZE="5")
    args = {"seller_open_id": shop["seller_open_id"]}
    first = run_workers(tmp_path, 2, "shop", args, env, prefix="first")
    assert all(r.returncode == 0 for r in first), [r.log[-2000:] for r in first]
    assert sum(r.stats.get("ali1688/changes/new", 0) for r in first) == shop["products"]

    delisted = set(sandbox.post("/sandbox/delist", {"seller_open_id": shop["seller_open_id"],
                                                    "fraction": 0.02, "seed": 9})["changed"])
    # The second crawl is a new shared crawl (its own queue, seen requests and ledger).
    second = run_workers(tmp_path, 2, "shop", args, {**env, "ALI1688_REDIS_PREFIX": "again"}, prefix="second")
    assert all(r.returncode == 0 for r in second), [r.log[-2000:] for r in second]
    assert all(r.items for r in second), "one worker listed the whole shop: the shared listing went untested"
    assert sum(r.stats.get("ali1688/changes/removed", 0) for r in second) == len(delisted), \
        [line for r in second for line in r.log.splitlines() if "emovals" in line or "Changes recorded" in line]
    removed = []
    for result in second:
        run = str(result.stats["ali1688/db/run_id"])
        removed += [json.loads(line)["product_id"]
                    for line in report_changes(db, "--run", run, "--kind", "removed", "--json").stdout.splitlines()]
    assert sorted(removed) == sorted(delisted)


def test_a_listing_after_a_detail_crawl_is_no_change(sandbox, crawl, tmp_path):
    """A list entry's one price is the lowest: it neither changes nor overwrites the highest
    price a detail crawl stored, and learning nothing new records nothing."""
    db = f"sqlite:///{tmp_path / 'list.db'}"
    seller = sandbox.shop(100)["seller_open_id"]
    assert crawl_shop(crawl, sandbox, db, seller, tmp_path).returncode == 0
    listing = crawl_shop(crawl, sandbox, db, seller, tmp_path, details="0")
    assert listing.returncode == 0, listing.log[-3000:]
    assert feed(tmp_path) == [] and not any(key.startswith("ali1688/changes/") for key in listing.stats)
    prices = ali1688("report", "prices", "--db", db, env={})
    assert prices.stdout.startswith("No price changes."), prices.stdout
    # Detailed again: still nothing, the stored highest prices were kept.
    again = crawl_shop(crawl, sandbox, db, seller, tmp_path)
    assert again.returncode == 0 and feed(tmp_path) == []


#: "Not found" answers that are not the API's: they prove nothing about the offer.
NOT_THE_APIS_ANSWER = {
    "gateway_404": (404, "application/json", '{"error_code": "gw.Unknown", "error_message": "API not found"}'),
    "server_500": (500, "application/json", '{"error_code": "500", "error_message": "service not found"}'),
}


def test_only_the_apis_own_answer_proves_a_product_gone(sandbox_factory, crawl, tmp_path):
    """A gateway's or a failing server's "not found" removes nothing; the API's own does."""
    sandbox = sandbox_factory("--qps", "0")
    shop = sandbox.shop(100)
    ids = sandbox.ids(shop)[:3]
    db = f"sqlite:///{tmp_path / 'hostile.db'}"
    env = sandbox.env(ALI1688_DB_URL=db, **FAST)
    assert crawl("product", args={"ids": ",".join(ids)}, env=env).returncode == 0
    delisted = set(sandbox.post("/sandbox/delist", {"seller_open_id": shop["seller_open_id"],
                                                    "fraction": 1.0, "seed": 1})["changed"])
    assert set(ids) <= delisted
    proxy = BadGateway(sandbox.base_url, dict(zip(ids, NOT_THE_APIS_ANSWER)), answers=NOT_THE_APIS_ANSWER)
    try:
        again = crawl("product", args={"ids": ",".join(ids)}, timeout=120,
                      settings={"ALI1688_RETRY_TIMES": "1", "ALI1688_BACKOFF_BASE": "0.01"},
                      env={**env, "ALI1688_GATEWAY_URL": proxy.url})
    finally:
        proxy.close()
    assert again.returncode == 1, again.log[-3000:]
    removed = [json.loads(line)["product_id"] for line in report_changes(db, "--kind", "removed", "--json").stdout.splitlines()]
    assert removed == [ids[2]]


class ShopNamed(Spider):
    name = "shop"


def test_a_redis_gone_at_the_close_judges_no_removal_in_one_line(tmp_path, caplog):
    """Distributed: the shared ledger's Redis died before the close. No removal can be proved,
    none is recorded, and one warning says why (not a database error)."""
    server = start_redis_server(tmp_path)
    crawler = get_crawler(ShopNamed, {"ALI1688_REDIS_URL": server.url})
    target = ledger_for(crawler).open("seller_open_id=s", spider="shop", target="seller_open_id=s")
    target.scope = ("seller_open_id", "s")
    feed = ChangeFeed(crawler)
    server.kill()
    with caplog.at_level(logging.WARNING, logger="ali1688spider.pipelines.changefeed"):
        assert list(feed.complete_listings()) == []
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith("No removals judged for seller_open_id=s: the shared ledger in Redis "
                           "(ALI1688_REDIS_URL) did not answer (ConnectionError")
    feed.close()
