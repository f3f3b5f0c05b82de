"""A product's sales, stock and lowest price over time (``observations``), for competitor
analysis: a point only when one of them moved, thinned to one a day after the retention age;
on SQLite and a real PostgreSQL, and from real crawls of the sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from ali1688spider.storage import schema
from ali1688spider.storage.records import product_record

T0 = datetime(2026, 3, 1, 8, tzinfo=timezone.utc)


def points(store, product_id: str | None = None) -> list[tuple]:
    table = schema.observations
    query = select(table.c.product_id, table.c.observed_at, table.c.sales, table.c.stock, table.c.price_min)
    if product_id is not None:
        query = query.where(table.c.product_id == product_id)
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query.order_by(table.c.id))]


def write(store, make_product, at: datetime, **fields):
    item = make_product(product_id="620000000001", crawled_at=at.isoformat(), **fields)
    store.write(store.start_run("shop", at), [product_record(item)])


def test_a_point_only_when_sales_stock_or_the_lowest_price_moved(store, make_product):
    write(store, make_product, T0, sales=10, stock=50, price_min="5.5")
    write(store, make_product, T0 + timedelta(hours=1), sales=10, stock=50, price_min="5.5")
    write(store, make_product, T0 + timedelta(hours=2), sales=10, stock=50, price_min="5.5", title="新标题")
    write(store, make_product, T0 + timedelta(hours=3), sales=12, stock=50, price_min="5.5")
    write(store, make_product, T0 + timedelta(hours=4), sales=12, stock=48, price_min="5.2")
    assert [(sales, stock, price) for _, _, sales, stock, price in points(store)] == [
        (10, 50, Decimal("5.5")), (12, 50, Decimal("5.5")), (12, 48, Decimal("5.2")),
    ]


def test_a_listing_entry_keeps_the_stock_a_detail_stored(store, make_product):
    write(store, make_product, T0, sales=10, stock=50, price_min="5.5")
    write(store, make_product, T0 + timedelta(hours=1), sales=11, stock=None, price_min="5.5", skus=None,
          price_tiers=None)
    assert [(sales, stock) for _, _, sales, stock, _ in points(store)] == [(10, 50), (11, 50)]


def test_old_points_are_thinned_to_the_last_of_each_day(store, make_product):
    for hour in range(0, 48, 6):  # 08:00, 14:00, 20:00 UTC, 02:00 the next day…: three UTC days
        write(store, make_product, T0 + timedelta(hours=hour), sales=hour, stock=50, price_min="5.5")
    write(store, make_product, T0 + timedelta(days=40), sales=1000, stock=50, price_min="5.5")
    deleted = store.compact_observations(T0 + timedelta(days=30))
    kept = points(store)
    assert deleted == 5
    # The last point of each old (UTC) day, and the recent one untouched.
    assert [sales for _, _, sales, _, _ in kept] == [12, 36, 42, 1000]
    assert store.compact_observations(T0 + timedelta(days=30)) == 0


def test_a_restocked_shop_records_exactly_the_moved_products(sandbox_factory, crawl, db_url):
    sandbox = sandbox_factory("--qps", "0")
    shop = sandbox.shop(100)
    env = sandbox.env(ALI1688_DB_URL=db_url, ALI1688_QPS="500")
    args = {"seller_open_id": shop["seller_open_id"], "details": "1"}
    assert crawl("shop", args=args, env=env).returncode == 0
    from ali1688spider.storage.store import Store

    store = Store(db_url)
    try:
        assert len(points(store)) == shop["products"]
        moved = set(sandbox.post("/sandbox/restock", {"seller_open_id": shop["seller_open_id"], "fraction": 0.1,
                                                      "seed": 4, "stock": 0})["changed"])
        second = crawl("shop", args=args, env=env)
        assert second.returncode == 0, second.log[-3000:]
        later = points(store)[shop["products"]:]
        assert {product_id for product_id, *_ in later} == moved
        assert all(stock == 0 for _, _, _, stock, _ in later)
    finally:
        store.close()
