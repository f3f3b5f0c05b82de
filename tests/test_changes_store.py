"""Change detection in the crawl database (SQLite and a real PostgreSQL): what each kind of
change records, what is not a change, removals, and the migration of a version-1 database."""

from __future__ import annotations

import copy
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import MetaData, Table, select, text

from ali1688spider.idset import ProductIdSet
from ali1688spider.monitoring.changes import KINDS
from ali1688spider.storage import schema
from ali1688spider.storage.records import product_record
from ali1688spider.storage.store import ListingScope, Store
from tests.product_samples import SAMPLE

T0 = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)
LATER = "2026-02-01T00:00:00+00:00"
#: When the listings of these tests began: after every product was first stored.
LISTED = datetime(2029, 1, 1, tzinfo=timezone.utc)


def changes_of(store: Store) -> list[dict]:
    table = schema.product_changes
    with store.engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(select(table).order_by(table.c.id))]


def kinds(changes, *fields: str) -> list[tuple]:
    """The changes as sorted tuples of *fields* (None sorts first)."""
    return sorted((tuple(c[f] for f in fields) for c in changes), key=lambda t: [("" if v is None else str(v)) for v in t])


def stored_then(store, make_product, first: dict, then: dict):
    """Store a product, then the same product with *then* changed; the second batch's changes."""
    store.write(store.start_run("shop", T0), [product_record(make_product(**first))])
    later = make_product(**{**first, **then, "crawled_at": LATER})
    return store.write(store.start_run("shop", T0), [product_record(later)]).changes


def test_a_first_sighting_is_new_and_a_repeat_is_no_change(store, make_product):
    run = store.start_run("shop", T0)
    first = store.write(run, [product_record(make_product())]).changes
    assert [(c["kind"], c["new"]["price_min"], c["new"]["stock"]) for c in first] == [("new", "72.92", 3746)]
    again = store.write(store.start_run("shop", T0), [product_record(make_product(crawled_at=LATER))])
    assert again.changes == [] and again.unchanged == 1
    assert len(changes_of(store)) == 1


def test_a_price_change_records_old_new_and_percent(store, make_product):
    changes = stored_then(store, make_product, {}, {"price_min": "65.628", "price_max": "104.3"})
    assert len(changes) == 1
    change = changes[0]
    assert change["kind"] == "price"
    assert change["old"] == {"price_min": "72.92", "price_max": "104.3"}
    assert change["new"] == {"price_min": "65.628", "price_max": "104.3"}
    assert change["change_pct"] == "-10"
    stored = changes_of(store)[-1]
    assert stored["change_pct"] == Decimal("-10") and stored["detected_at"] == datetime.fromisoformat(LATER)


def test_stock_kinds_at_product_and_sku_level(store, make_product):
    skus = copy.deepcopy(SAMPLE["skus"])
    for sku in skus:
        sku["stock"] = 0
    changes = stored_then(store, make_product, {}, {"stock": 0, "skus": skus})
    assert kinds(changes, "kind", "sku_id", "old", "new") == [
        ("out_of_stock", None, 3746, 0),
        ("out_of_stock", "4142928772436", 302, 0),
        ("out_of_stock", "4910490746659", 3444, 0),
    ]
    back = store.write(store.start_run("shop", T0), [product_record(make_product(crawled_at="2026-03-01T00:00:00+00:00"))])
    assert kinds(back.changes, "kind", "sku_id") == [
        ("back_in_stock", None), ("back_in_stock", "4142928772436"), ("back_in_stock", "4910490746659"),
    ]
    moved = store.write(store.start_run("shop", T0), [product_record(make_product(stock=10, crawled_at="2026-04-01T00:00:00+00:00"))])
    assert [(c["kind"], c["old"], c["new"]) for c in moved.changes] == [("stock", 3746, 10)]


def test_skus_added_and_removed_title_and_status(store, make_product):
    skus = [copy.deepcopy(SAMPLE["skus"][0]), {**SAMPLE["skus"][1], "sku_id": "4999999999999"}]
    changes = stored_then(store, make_product, {}, {"skus": skus, "title": "新标题", "status": "expired"})
    assert kinds(changes, "kind", "sku_id") == [
        ("sku_added", "4999999999999"), ("sku_removed", "4910490746659"), ("status", None), ("title", None),
    ]
    by_kind = {c["kind"]: c for c in changes}
    assert by_kind["sku_removed"]["old"]["stock"] == 3444 and by_kind["sku_added"]["new"]["price"] == "81.75"
    assert (by_kind["title"]["old"], by_kind["status"]["new"]) == ("现货加厚四件套一件代发", "expired")
    assert {c["title"] for c in changes} == {"新标题"}


def test_what_a_listing_entry_does_not_know_is_no_change(store, make_product):
    """A search/listing entry carries no stock, SKUs or tiers: none of them 'changed'."""
    changes = stored_then(store, make_product, {}, {"stock": None, "skus": None, "price_tiers": None, "sales": 3})
    assert changes == []


def listing(ids, *, seen=(), began=LISTED) -> ListingScope:
    """A complete listing of SAMPLE's shop holding *ids*."""
    return ListingScope("seller_open_id", SAMPLE["seller_open_id"], set(ids), set(seen).__contains__, began)


def settle(store: Store, run: int, scope: ListingScope, **options):
    """``Store.settle_listings`` of one listing."""
    [settled] = store.settle_listings(run, [scope], **options)
    return settled


def shop_of(store, make_product, count: int = 10) -> list[str]:
    ids = [str(610000000000 + i) for i in range(count)]
    store.write(store.start_run("shop", T0), [product_record(make_product(product_id=i)) for i in ids])
    return ids


def test_an_absent_product_is_a_suspect_then_removed_by_a_second_complete_listing(store, make_product):
    ids = shop_of(store, make_product)
    run = store.start_run("shop", T0)
    first = settle(store, run, listing(ids[:9]), gone=(), max_share=0.2, at=T0 + timedelta(hours=1))
    assert (first.changes, first.suspects, first.withheld) == ([], 1, None)
    second = settle(store, store.start_run("shop", T0), listing(ids[:9]), gone=(), max_share=0.2,
                    at=T0 + timedelta(hours=2))
    assert [(c["kind"], c["product_id"], c["old"]["price_min"]) for c in second.changes] == [("removed", ids[9], "72.92")]
    # Once removed, a third listing without it records nothing new.
    assert settle(store, run, listing(ids[:9]), gone=(), max_share=0.2, at=T0).changes == []
    back = store.write(store.start_run("shop", T0), [product_record(make_product(product_id=ids[9], crawled_at=LATER))])
    assert [(c["kind"], c["old"], c["new"]) for c in back.changes] == [("status", "removed", "published")]
    with store.engine.connect() as connection:
        row = connection.execute(select(schema.products).where(schema.products.c.product_id == ids[9])).one()
    assert row.removed_at is None and row.removed_run_id is None


def test_a_listing_held_in_a_compact_id_set_past_its_merges_suspects_exactly_the_absent(store, make_product):
    """The ledger keeps a shop's listed ids in a ``ProductIdSet``: past 4,096 ids most sit in
    its merged array and the latest in its buffer. Both must answer for the verdict."""
    ids = shop_of(store, make_product, count=5000)
    absent = {ids[0], ids[2500], ids[-1]}
    listed = ProductIdSet()
    for product_id in random.Random(7).sample(ids, len(ids)):  # shuffled: merges into the middle
        if product_id not in absent:
            listed.add(product_id)
    scope = ListingScope("seller_open_id", SAMPLE["seller_open_id"], listed, set().__contains__, LISTED)
    settled = settle(store, store.start_run("shop", T0), scope, gone=(), max_share=0.2, at=T0 + timedelta(hours=1))
    assert (settled.suspects, settled.withheld) == (3, None)
    with store.engine.connect() as connection:
        suspected = connection.execute(
            select(schema.products.c.product_id).where(schema.products.c.suspected_at.is_not(None))).scalars()
        assert set(suspected) == absent


def test_listings_of_several_shops_are_settled_together_each_on_its_own_shop(store, make_product):
    ids = shop_of(store, make_product)
    other = [str(620000000000 + i) for i in range(10)]
    store.write(store.start_run("shop", T0),
                [product_record(make_product(product_id=i, seller_open_id="other")) for i in other])
    other_listing = ListingScope("seller_open_id", "other", set(other[:5]), set().__contains__, LISTED)
    first, second = store.settle_listings(store.start_run("shop", T0), [listing(ids[:9]), other_listing],
                                          gone=(), max_share=0.2, at=T0)
    assert (first.suspects, first.withheld, first.stored) == (1, None, 10)
    assert (second.suspects, second.withheld, second.stored) == (0, 5, 10)


def test_a_suspect_listed_again_is_cleared(store, make_product):
    ids = shop_of(store, make_product)
    run = store.start_run("shop", T0)
    assert settle(store, run, listing(ids[:9]), gone=(), max_share=0.2, at=T0).suspects == 1
    assert settle(store, run, listing(ids), gone=(), max_share=0.2, at=T0).suspects == 0
    third = settle(store, run, listing(ids[:9]), gone=(), max_share=0.2, at=T0)
    assert (third.changes, third.suspects) == ([], 1)


def test_a_suspect_stored_again_after_the_listing_began_and_listed_is_cleared(store, make_product):
    """The database leaves out what changed after a listing began, but never a suspect the
    listing may clear."""
    ids = shop_of(store, make_product)
    run = store.start_run("shop", T0)
    assert settle(store, run, listing(ids[:9]), gone=(), max_share=0.2, at=T0).suspects == 1
    changed = make_product(product_id=ids[9], title="a new title", crawled_at="2030-01-01T00:00:00+00:00")
    store.write(store.start_run("shop", T0), [product_record(changed)])
    assert settle(store, run, listing(ids), gone=(), max_share=0.2, at=T0).suspects == 0
    with store.engine.connect() as connection:
        row = connection.execute(select(schema.products).where(schema.products.c.product_id == ids[9])).one()
    assert row.suspected_at is None and row.changed_at > LISTED


def test_the_details_word_removes_at_once(store, make_product):
    ids = shop_of(store, make_product)
    settled = settle(store, store.start_run("shop", T0), listing(ids[:9]), gone={ids[9]}, max_share=0.2, at=T0)
    assert [(c["kind"], c["product_id"]) for c in settled.changes] == [("removed", ids[9])]
    assert settled.suspects == 0
    gone = store.remove_gone(store.start_run("shop", T0), [ids[0], "699999999999"], T0)
    assert [(c["kind"], c["product_id"]) for c in gone] == [("removed", ids[0])]


def test_a_listing_missing_too_much_removes_nothing(store, make_product):
    """Page 1 claiming 5 of a 10-product shop: 5 absent is more than the share."""
    ids = shop_of(store, make_product)
    run = store.start_run("shop", T0)
    for _ in range(2):
        settled = settle(store, run, listing(ids[:5]), gone=set(ids[5:]), max_share=0.2, at=T0)
        assert (settled.changes, settled.suspects, settled.withheld, settled.stored) == ([], 0, 5, 10)


def test_products_seen_by_this_run_or_stored_after_the_listing_began_are_never_suspects(store, make_product):
    ids = shop_of(store, make_product)
    run = store.start_run("shop", T0)
    # Stored by a concurrent crawl after this listing began (first seen later than it).
    late = make_product(product_id="610000000099", crawled_at="2030-01-01T00:00:00+00:00")
    store.write(store.start_run("product", T0), [product_record(late)])
    for _ in range(2):
        settled = settle(store, run, listing(ids[:9], seen={ids[9]}), gone=(), max_share=0.5, at=T0)
        assert (settled.changes, settled.suspects) == ([], 0)


def test_a_product_stored_in_the_second_the_listing_began_is_judged(store, make_product):
    """Times are whole seconds: the previous crawl's last product, stored in the second this
    listing began, is not taken for one a concurrent crawl stored meanwhile."""
    ids = shop_of(store, make_product)
    with store.engine.connect() as connection:
        stored_at = connection.execute(select(schema.products.c.first_seen_at)
                                       .where(schema.products.c.product_id == ids[9])).scalar_one()
    settled = settle(store, store.start_run("shop", T0), listing(ids[:9], began=stored_at), gone=(),
                     max_share=0.2, at=T0)
    assert (settled.changes, settled.suspects) == ([], 1)


def test_detection_can_be_switched_off(db_url, make_product):
    store = Store(db_url, detect_changes=False)
    store.open()
    try:
        changes = stored_then(store, make_product, {}, {"price_min": "1"})
        assert changes == [] and changes_of(store) == []
    finally:
        store.close()


def test_every_kind_is_declared():
    assert set(KINDS) == {"new", "removed", "price", "out_of_stock", "back_in_stock", "stock",
                          "sku_added", "sku_removed", "title", "status"}


def test_a_version_1_database_is_migrated_and_keeps_its_data(db_url, make_product):
    """Build a version-1 database (today's tables without the version-2 parts), store into it
    the old way, then open it with this version: the data stays, changes are recorded."""
    store = Store(db_url)
    version_1 = MetaData()
    for table in schema.metadata.sorted_tables:
        if table is schema.products:
            Table(table.name, version_1, *(c._copy() for c in table.columns
                                           if not c.name.startswith(("removed_", "suspected_")) and c.name != "detail_at"))
        elif table is schema.crawl_runs:
            Table(table.name, version_1, *(c._copy() for c in table.columns if c.name != "calls"))
        elif table not in (schema.product_changes, schema.observations, schema.run_targets, schema.search_results):
            table.to_metadata(version_1)
    with store.engine.begin() as connection:
        version_1.create_all(connection)
        connection.execute(schema.schema_version.insert(), {"version": 1, "applied_at": T0})
        connection.execute(schema.crawl_runs.insert(), {"spider": "shop", "started_at": T0})
        connection.execute(text(
            "INSERT INTO products (product_id, seller_open_id, title, price_min, price_max, stock) "
            "VALUES ('610000000001', 's', 't', 5, 6, 3)"
        ))
    assert store.open() == schema.SCHEMA_VERSION
    with store.engine.connect() as connection:
        versions = [r.version for r in connection.execute(select(schema.schema_version.c.version))]
    assert sorted(versions) == list(range(1, schema.SCHEMA_VERSION + 1))
    record = product_record(make_product(product_id="610000000001", seller_open_id="s", title="t",
                                         price_min="4", price_max="6", stock=3, skus=None, price_tiers=None))
    changes = store.write(store.start_run("shop", T0), [record]).changes
    assert [(c["kind"], c["change_pct"]) for c in changes] == [("price", "-20")]
    store.close()


LISTING = {"source_api": "product.search.querySellerOfferList", "skus": None, "price_tiers": None, "stock": None}


def test_a_listing_entry_whose_lowest_price_moved_is_a_price_change(store, make_product):
    """Listing-only crawls store no highest price; the lowest one moving is still a change."""
    changes = stored_then(store, make_product, {**LISTING, "price_min": "10", "price_max": "10"},
                          {"price_min": "9", "price_max": "9"})
    assert [(c["kind"], c["old"], c["new"], c["change_pct"]) for c in changes] == [
        ("price", {"price_min": "10", "price_max": None}, {"price_min": "9", "price_max": None}, "-10")]


def test_learning_the_highest_price_from_a_detail_is_no_change(store, make_product):
    changes = stored_then(store, make_product, {**LISTING, "price_min": "72.92", "price_max": "72.92"},
                          {"source_api": SAMPLE["source_api"], "skus": SAMPLE["skus"],
                           "price_tiers": SAMPLE["price_tiers"], "stock": SAMPLE["stock"]})
    assert [c["kind"] for c in changes if c["sku_id"] is None] == []


def detail_times(store) -> dict[str, datetime | None]:
    products = schema.products
    with store.engine.connect() as connection:
        return dict(connection.execute(select(products.c.product_id, products.c.detail_at)).all())


def test_every_detail_stamps_its_time_and_a_list_entry_does_not(store, make_product):
    first = make_product()
    store.write(store.start_run("shop", T0), [product_record(first)])
    assert detail_times(store) == {first["product_id"]: datetime.fromisoformat(first["crawled_at"])}
    # The same detail later: nothing changed, yet the detail is fresh.
    again = store.write(store.start_run("shop", T0), [product_record(make_product(crawled_at=LATER))])
    assert again.unchanged == 1 and detail_times(store) == {first["product_id"]: datetime.fromisoformat(LATER)}
    store.write(store.start_run("shop", T0),
                [product_record(make_product(**LISTING, crawled_at="2026-03-01T00:00:00+00:00"))])
    assert detail_times(store) == {first["product_id"]: datetime.fromisoformat(LATER)}
