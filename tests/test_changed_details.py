"""``details=changed``: a monitoring crawl of a drifting shop asks the detail of exactly the
products whose listing entry moved (and the new ones), finds every change a listing shows,
and skips the rest, into SQLite and a real PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from helpers import recorded_changes
from sqlalchemy import select, update

from ali1688spider.api.catalogue import DETAIL_API
from ali1688spider.storage import schema
from ali1688spider.storage.store import Store

START = "2026-01-01T00:00:00+08:00"
FAST = {"ALI1688_QPS": "500"}


def monitor(crawl, sandbox, db_url, seller, run, **settings):
    done = crawl("shop", args={"seller_open_id": seller, "details": "changed"},
                 env=sandbox.env(ALI1688_DB_URL=db_url, **FAST, **settings), output_name=f"run{run}.jsonl")
    assert done.returncode == 0, done.log[-3000:]
    return done


def detailed(done) -> set[str]:
    return {item["product_id"] for item in done.items if item["source_api"] == DETAIL_API}


def test_only_products_whose_listing_moved_get_a_detail_and_every_change_is_found(
        sandbox_factory, crawl, db_url):
    sandbox = sandbox_factory("--qps", "0", "--shops", "300")
    seller = sandbox.shops()[0]["seller_open_id"]
    listed = set(sandbox.ids(sandbox.shops()[0]))
    first = monitor(crawl, sandbox, db_url, seller, 1)
    assert detailed(first) == listed                     # all new: every detail
    still = monitor(crawl, sandbox, db_url, seller, 2)
    assert detailed(still) == set()                      # nothing moved: no detail call at all
    assert still.stats["ali1688/details/unchanged"] == len(listed)
    assert {item["product_id"] for item in still.items} == listed

    sandbox.post("/sandbox/advance", {"hours": 48})
    truth = sandbox.get(f"/sandbox/changes?since={quote(START)}&seller_open_id={seller}")
    visible = {c["product_id"] for c in truth if c["in_listing"]}
    now_listed = set(sandbox.ids(sandbox.shops()[0]))
    assert visible & now_listed and now_listed - visible
    moved = monitor(crawl, sandbox, db_url, seller, 3)
    # A product whose listing entry moved was never skipped, nor one that did not moved detailed.
    assert detailed(moved) == visible & now_listed
    found = {c["product_id"] for c in recorded_changes(db_url)}
    assert visible <= found                              # every listing-visible change found
    assert found <= {c["product_id"] for c in truth}     # and no false change
    report = moved.stats
    assert report["ali1688/details/unchanged"] == len(now_listed - visible)


def test_a_detail_older_than_the_maximum_age_is_fetched_again(sandbox_factory, crawl, db_url):
    sandbox = sandbox_factory("--qps", "0", "--shops", "120")
    seller = sandbox.shops()[0]["seller_open_id"]
    monitor(crawl, sandbox, db_url, seller, 1)
    store = Store(db_url)
    products = schema.products
    with store.engine.begin() as connection:
        old = sorted(connection.execute(select(products.c.product_id)).scalars())[:7]
        connection.execute(update(products).where(products.c.product_id.in_(old))
                           .values(detail_at=datetime.now(timezone.utc) - timedelta(days=8)))
    store.close()
    aged = monitor(crawl, sandbox, db_url, seller, 2, ALI1688_DETAIL_MAX_AGE="7d")
    assert detailed(aged) == set(old)
    assert aged.stats["ali1688/details/age"] == 7
    again = monitor(crawl, sandbox, db_url, seller, 3, ALI1688_DETAIL_MAX_AGE="7d")
    assert detailed(again) == set()


def one_line_refusal(result, expected: str) -> None:
    assert result.returncode == 2, result.log[-2000:]
    assert "Traceback" not in result.log
    errors = [line for line in result.log.splitlines() if "error:" in line]
    assert len(errors) == 1 and expected in errors[0], result.log[-2000:]


def test_changed_details_without_a_database_or_with_a_bad_age_stop_before_any_call(
        sandbox, crawl, tmp_path):
    calls = sandbox.stats()["total_calls"]
    bare = crawl("shop", args={"seller_open_id": "x", "details": "changed"}, env=sandbox.env())
    one_line_refusal(bare, "details=changed compares the listing with the stored products, but "
                           "ALI1688_DB_URL is not set")
    aged = crawl("shop", args={"seller_open_id": "x", "details": "changed"},
                 env=sandbox.env(ALI1688_DB_URL=f"sqlite:///{tmp_path / 'x.db'}", ALI1688_DETAIL_MAX_AGE="a week"))
    one_line_refusal(aged, "ALI1688_DETAIL_MAX_AGE must be a duration (seconds, or 30m, 12h, 7d), got 'a week'")
    watchlist = tmp_path / "watch.toml"
    watchlist.write_text('[[shop]]\nseller_open_id = "x"\ndetails = "changed"\n', encoding="utf-8")
    watched = crawl("watch", args={"watchlist": str(watchlist)}, env=sandbox.env())
    one_line_refusal(watched, "ALI1688_DB_URL is not set")
    assert sandbox.stats()["total_calls"] == calls
