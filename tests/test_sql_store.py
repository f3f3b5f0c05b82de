"""The crawl database on SQLite and on a real PostgreSQL: schema, idempotent upserts,
partial items, exact prices, and batches that are all-or-nothing."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from ali1688spider.storage import schema
from ali1688spider.storage.records import category_row, product_record
from ali1688spider.storage.store import WAL_CHECKPOINT_PAGES, StorageError, Store, make_engine

T0 = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)


def rows(store: Store, table, order_by=None) -> list[dict]:
    with store.engine.connect() as connection:
        query = select(table).order_by(*(order_by or table.primary_key.columns))
        return [dict(row._mapping) for row in connection.execute(query)]


def count(store: Store, table) -> int:
    with store.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_schema_is_created_once_with_a_version(db_url):
    for _ in range(2):
        store = Store(db_url)
        assert store.open() == schema.SCHEMA_VERSION
        store.close()
    store = Store(db_url)
    assert [r["version"] for r in rows(store, schema.schema_version)] == [schema.SCHEMA_VERSION]
    store.close()


def test_a_newer_schema_is_refused_not_damaged(store, db_url):
    with store.engine.begin() as connection:
        connection.execute(schema.schema_version.insert(), {"version": 99, "applied_at": T0})
    other = Store(db_url)
    with pytest.raises(StorageError, match="schema version 99, newer than"):
        other.open()
    other.close()


def test_storing_the_same_batch_twice_changes_nothing(store, make_product):
    items = [make_product(product_id=str(610000000000 + i)) for i in range(5)]
    run = store.start_run("product", T0)
    first = store.write(run, [product_record(i) for i in items])
    assert (first.new, first.changed, first.unchanged, first.price_changes) == (5, 0, 0, 0)
    snapshot = {t.name: rows(store, t) for t in (schema.products, schema.skus, schema.price_tiers, schema.price_history)}

    again = store.start_run("product", T0)
    later = [make_product(product_id=i["product_id"], crawled_at="2026-02-01T00:00:00+00:00") for i in items]
    second = store.write(again, [product_record(i) for i in later])
    assert (second.new, second.changed, second.unchanged, second.price_changes) == (0, 0, 5, 0)
    for table in (schema.skus, schema.price_tiers, schema.price_history):
        assert rows(store, table) == snapshot[table.name]
    # The products' content is as it was; only the bookkeeping of when their detail last
    # answered (what details=changed measures its age by) moved to the second crawl.
    later_at = datetime.fromisoformat("2026-02-01T00:00:00+00:00")
    assert [{**row, "detail_at": None} for row in rows(store, schema.products)] == \
        [{**row, "detail_at": None} for row in snapshot["products"]]
    assert {row["detail_at"] for row in rows(store, schema.products)} == {later_at}
    assert len(snapshot["skus"]) == 10 and len(snapshot["price_tiers"]) == 10
    assert [r["kind"] for r in snapshot["price_history"]] == ["first"] * 5
    runs = rows(store, schema.crawl_runs)
    assert [(r["items_stored"], r["products_new"], r["products_unchanged"]) for r in runs] == [(5, 5, 0), (5, 0, 5)]


def test_stored_values_are_exact_and_typed(store, make_product):
    item = make_product(
        price_min="0.1", price_max="1234567.0005",
        price_tiers=[{"min_quantity": 1, "price": "1234567.0005"}, {"min_quantity": 3, "price": "0.1"}],
        skus=[{"sku_id": "1", "spec_id": None, "attributes": {"颜色": "红色"}, "price": "0.10", "stock": 0, "sku_code": None}],
    )
    store.write(store.start_run("product", T0), [product_record(item)])
    [product] = rows(store, schema.products)
    assert product["price_min"] == Decimal("0.1") and str(product["price_max"]) == "1234567.0005"
    assert product["created_at"] == datetime(2024, 11, 20, 4, 59, 43, tzinfo=timezone.utc)
    assert product["first_seen_at"] == product["changed_at"] == T0
    assert product["images"] == item["images"] and product["title"] == item["title"]
    [sku] = rows(store, schema.skus)
    assert sku["attributes"] == {"颜色": "红色"} and sku["price"] == Decimal("0.1") and sku["stock"] == 0
    assert [(t["min_quantity"], str(t["price"])) for t in rows(store, schema.price_tiers)] == [
        (1, "1234567.0005"), (3, "0.1"),
    ]


def test_a_partial_item_keeps_what_a_detail_call_stored(store, make_product):
    detail = make_product()
    store.write(store.start_run("product", T0), [product_record(detail)])
    skus_before, tiers_before = rows(store, schema.skus), rows(store, schema.price_tiers)
    listing = make_product(
        skus=None, price_tiers=None, stock=None, unit=None, status=None, source_api="product.search.querySellerOfferList",
    )
    result = store.write(store.start_run("shop", T0), [product_record(listing)])
    assert result.changed == 1 and result.price_changes == 0
    [product] = rows(store, schema.products)
    assert product["stock"] == detail["stock"] and product["unit"] == detail["unit"]
    assert product["source_api"] == "product.search.querySellerOfferList"
    assert rows(store, schema.skus) == skus_before and rows(store, schema.price_tiers) == tiers_before


def test_changed_skus_and_tiers_are_replaced(store, make_product):
    store.write(store.start_run("product", T0), [product_record(make_product())])
    changed = make_product(
        skus=[{"sku_id": "9", "spec_id": None, "attributes": {}, "price": "104.3", "stock": 1, "sku_code": None}],
        price_tiers=[{"min_quantity": 1, "price": "72.92"}],
        crawled_at="2026-01-06T10:00:00+00:00",
    )
    result = store.write(store.start_run("product", T0), [product_record(changed)])
    assert result.changed == 1 and result.price_changes == 1
    assert [s["sku_id"] for s in rows(store, schema.skus)] == ["9"]
    assert [t["min_quantity"] for t in rows(store, schema.price_tiers)] == [1]
    history = rows(store, schema.price_history, [schema.price_history.c.id])
    assert [h["kind"] for h in history] == ["first", "change"]
    # Same span, different tiers and SKUs: still a price change, the span unchanged.
    assert history[1]["previous_price_min"] == history[1]["price_min"] == Decimal("72.92")
    assert history[1]["prices"]["tiers"] == [[1, "72.92"]]


def test_duplicates_within_a_batch_store_the_last(store, make_product):
    items = [make_product(title="old"), make_product(title="new")]
    result = store.write(store.start_run("product", T0), [product_record(i) for i in items])
    assert result.new == 1
    assert [p["title"] for p in rows(store, schema.products)] == ["new"]


def test_categories_are_upserted(store):
    run = store.start_run("categories", T0)
    store.write(run, categories=[category_row({"category_id": "1", "name": "家纺", "level": 1, "is_leaf": False})])
    store.write(run, categories=[category_row({"category_id": "1", "name": "家纺家饰", "level": 1, "is_leaf": False}),
                                 category_row({"category_id": "2", "parent_id": "1", "name": "床品", "level": 2, "is_leaf": True})])
    assert [(c["category_id"], c["name"], c["is_leaf"]) for c in rows(store, schema.categories)] == [
        ("1", "家纺家饰", False), ("2", "床品", True),
    ]


def test_a_failing_batch_leaves_nothing_behind(store, db_url, make_product, history_trigger):
    run = store.start_run("product", T0)
    store.write(run, [product_record(make_product(product_id="610000000001"))])
    history_trigger(db_url, refuse="610000000003")
    batch = [product_record(make_product(product_id=str(610000000002 + i))) for i in range(3)]
    with pytest.raises(SQLAlchemyError, match="refused by test"):
        store.write(run, batch)
    assert [p["product_id"] for p in rows(store, schema.products)] == ["610000000001"]
    assert count(store, schema.skus) == 2 and count(store, schema.price_tiers) == 2
    assert count(store, schema.price_history) == 1
    assert rows(store, schema.crawl_runs)[0]["items_stored"] == 1
    # The store stays usable after the rollback.
    store.write(run, [product_record(make_product(product_id="610000000009"))])
    assert count(store, schema.products) == 2


def test_unusable_urls_fail_with_one_clear_line(tmp_path):
    with pytest.raises(StorageError, match="ALI1688_DB_URL is not a database URL"):
        Store("not a url")
    with pytest.raises(StorageError, match="must be a SQLite or PostgreSQL URL"):
        Store("mysql://u@localhost/x")
    store = Store("postgresql://ali:s3cret-pw@127.0.0.1:1/nowhere")
    assert store.engine.url.drivername == "postgresql+psycopg"
    with pytest.raises(StorageError) as failure:
        store.open()
    assert "s3cret-pw" not in str(failure.value) and "ALI1688_DB_URL" in str(failure.value)


def test_sqlite_readers_do_not_block_the_writer(tmp_path, make_product):
    url = f"sqlite:///{tmp_path / 'db' / 'ali1688.db'}"
    store = Store(url)
    store.open()
    run = store.start_run("product", T0)
    reader = make_engine(url, writer=False).connect()
    reader.begin()
    reader.execute(text("SELECT count(*) FROM products")).scalar_one()
    store.write(run, [product_record(make_product())])  # would wait for the reader without WAL
    reader.close()
    assert count(store, schema.products) == 1
    store.close()


def test_sqlite_commits_to_its_write_ahead_log_without_a_sync_each(tmp_path):
    """WAL with synchronous=NORMAL: a commit is safe from a killed process without an fsync."""
    with make_engine(f"sqlite:///{tmp_path / 'ali1688.db'}").connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar_one() == 1  # NORMAL


def test_a_sqlite_writer_checkpoints_its_log_less_often_than_a_reader(tmp_path):
    url = f"sqlite:///{tmp_path / 'ali1688.db'}"
    for writer, pages in ((True, WAL_CHECKPOINT_PAGES), (False, 1000)):  # 1000: SQLite's default
        with make_engine(url, writer=writer).connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == pages


def test_the_database_url_is_logged_without_its_password(sandbox, crawl, postgres_url):
    # Trust authentication ignores the password, so the crawl really connects with it.
    url = f"{postgres_url}?password=db-secret-8c41"
    result = crawl("categories", args={"root": "1031910", "depth": "1"}, env=sandbox.env(),
                   settings={"ALI1688_DB_URL": url})
    assert result.returncode == 0, result.log[-2000:]
    assert "Storing items in" in result.log and "password=***" in result.log
    assert "db-secret-8c41" not in result.log
    assert "db-secret-8c41" not in result.stats_path.read_text()
