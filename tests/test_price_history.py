"""A user's story: crawl a shop's products into a database, let the sandbox change some
prices, crawl again — and trust what is stored, even when a batch fails or the crawl dies."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conftest import REPO
from helpers import CLI
from postgres_server import start_postgres_server
from sqlalchemy import func, select

from ali1688spider.sandbox.process import crawl_environment
from ali1688spider.storage import schema
from ali1688spider.storage.records import ProductRecord
from ali1688spider.storage.store import make_engine

# The `ali1688` console script, also when the package is not installed.

FAST = {"ALI1688_QPS": "500"}
# What a repriced product keeps (the sandbox may move its sales and modification time too).
IDENTITY_COLUMNS = ("title", "seller_open_id", "category_id", "images", "detail_url", "created_at",
                    "first_run_id", "first_seen_at")


def table(url: str, name: str) -> list[dict]:
    engine = make_engine(url, writer=False)
    try:
        with engine.connect() as connection:
            t = schema.metadata.tables[name]
            rows = connection.execute(select(t).order_by(*t.primary_key.columns))
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


def crawl_into(crawl, sandbox, db_url: str, ids: list[str], **settings: str):
    return crawl(
        "product",
        args={"ids": ",".join(ids)},
        env=sandbox.env(ALI1688_DB_URL=db_url, **FAST),
        settings={"ALI1688_DB_BATCH_SIZE": "7", **settings},
    )


def shop_ids(sandbox, max_products: int) -> tuple[str, list[str]]:
    shop = sandbox.shop(max_products)
    return shop["seller_open_id"], sandbox.get(f"/sandbox/shops/{shop['seller_open_id']}/ids")


def test_a_price_change_is_one_history_row_and_nothing_else_moves(sandbox_factory, crawl, db_url):
    sandbox = sandbox_factory("--qps", "0")
    seller, ids = shop_ids(sandbox, 100)

    first = crawl_into(crawl, sandbox, db_url, ids)
    assert first.returncode == 0, first.log[-3000:]
    assert first.stats["ali1688/db/stored"] == first.stats["ali1688/db/products_new"] == len(ids)
    first_items = {item["product_id"]: item for item in first.items}
    products_before = {p["product_id"]: p for p in table(db_url, "products")}
    history_before = table(db_url, "price_history")
    assert sorted(products_before) == sorted(ids)
    assert [h["kind"] for h in history_before] == ["first"] * len(ids)
    assert len(table(db_url, "skus")) == sum(len(i["skus"]) for i in first.items)

    changed = set(sandbox.post("/sandbox/reprice", {"fraction": 0.2, "seed": 11, "seller_open_id": seller})["changed"])
    assert len(changed) == round(len(ids) * 0.2) and changed <= set(ids)

    second = crawl_into(crawl, sandbox, db_url, ids)
    assert second.returncode == 0, second.log[-3000:]
    stats = second.stats
    assert stats["ali1688/db/products_changed"] == stats["ali1688/db/price_changes"] == len(changed)
    assert stats["ali1688/db/products_unchanged"] == len(ids) - len(changed)
    assert "ali1688/db/products_new" not in stats

    history = table(db_url, "price_history")
    assert history[: len(history_before)] == history_before
    new_rows = history[len(history_before):]
    assert sorted(h["product_id"] for h in new_rows) == sorted(changed)
    second_items = {item["product_id"]: item for item in second.items}
    for row in new_rows:
        before = first_items[row["product_id"]]
        after = second_items[row["product_id"]]
        assert row["kind"] == "change" and row["run_id"] == stats["ali1688/db/run_id"]
        assert str(row["previous_price_min"]) == before["price_min"] != after["price_min"] == str(row["price_min"])

    products_after = {p["product_id"]: p for p in table(db_url, "products")}
    for product_id, before in products_before.items():
        after = products_after[product_id]
        if product_id in changed:
            assert [after[k] for k in IDENTITY_COLUMNS] == [before[k] for k in IDENTITY_COLUMNS]
            assert after["changed_run_id"] == stats["ali1688/db/run_id"]
            assert after["price_min"] != before["price_min"]
        else:
            # Unchanged; a detail's answer time is bookkeeping that every detail moves.
            assert {**after, "detail_at": None} == {**before, "detail_at": None}

    runs = table(db_url, "crawl_runs")
    assert [(r["finish_reason"], r["products_new"], r["products_changed"], r["price_changes"]) for r in runs] == [
        ("finished", len(ids), 0, 0), ("finished", 0, len(changed), len(changed)),
    ]

    report = subprocess.run(
        [*CLI, "report", "prices", "--db", db_url],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert report.returncode == 0, report.stderr
    lines = report.stdout.splitlines()
    for product_id in changed:
        [line] = [line for line in lines if product_id in line]
        assert f"{first_items[product_id]['price_min']} -> {second_items[product_id]['price_min']}" in line
    assert f"{len(changed)} price change(s)" in report.stdout


def test_a_failed_batch_stops_the_crawl_and_only_acknowledged_items_are_out(
    sandbox_factory, crawl, db_url, history_trigger
):
    sandbox = sandbox_factory("--qps", "0")
    _, ids = shop_ids(sandbox, 100)
    refused = ids[len(ids) // 2]
    history_trigger(db_url, refuse=refused)

    result = crawl_into(crawl, sandbox, db_url, ids, ALI1688_DB_BATCH_SIZE="5")
    assert result.stats["finish_reason"] == "ali1688_db_error"
    assert "refused by test" in result.stats["ali1688/db/error"]
    errors = [line for line in result.log.splitlines() if "A database batch of" in line]
    assert len(errors) == 1 and "closing the crawl" in errors[0]

    items = {item["product_id"]: item for item in result.items}
    products = {p["product_id"]: p for p in table(db_url, "products")}
    # Acknowledged (passed on to the feed) == committed; the refused batch is in neither.
    assert sorted(items) == sorted(products)
    assert refused not in products and len(products) < len(ids)
    skus, tiers = table(db_url, "skus"), table(db_url, "price_tiers")
    for product_id, item in items.items():
        assert len([s for s in skus if s["product_id"] == product_id]) == len(item["skus"])
        assert len([t for t in tiers if t["product_id"] == product_id]) == len(item["price_tiers"])
    assert {s["product_id"] for s in skus} <= set(products)
    [run] = table(db_url, "crawl_runs")
    assert run["items_stored"] == len(products) and run["finish_reason"] == "ali1688_db_error"

    history_trigger(db_url)  # the database is fixed: a re-run completes it
    again = crawl_into(crawl, sandbox, db_url, ids)
    assert again.returncode == 0 and again.stats["finish_reason"] == "finished"
    assert again.stats["ali1688/db/products_new"] == len(ids) - len(products)
    assert sorted(p["product_id"] for p in table(db_url, "products")) == sorted(ids)


def start_crawl(sandbox, db_url: str, ids: list[str], output, tmp_path, log=subprocess.DEVNULL) -> subprocess.Popen:
    """A product crawl of *ids* in batches of 5 through the writer process from the first;
    its output and log go to *log* (a file)."""
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(ids), encoding="utf-8")
    command = [
        sys.executable, "-m", "scrapy", "crawl", "product", "-a", f"ids_file={ids_file}", "-O", str(output),
        "-s", "ALI1688_DB_BATCH_SIZE=5", "-s", "ALI1688_DB_WRITER_AFTER=0", "-s", "CONCURRENT_REQUESTS=4",
        "-s", "LOG_LEVEL=INFO",
    ]
    env = crawl_environment()
    env.update(sandbox.env(ALI1688_DB_URL=db_url, **FAST))
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)


def stored_count(db_url: str) -> int:
    engine = make_engine(db_url, writer=False)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(schema.products)).scalar_one()
    except Exception:  # the crawl has not created the schema yet
        return 0
    finally:
        engine.dispose()


def writer_process(crawl_pid: int) -> int:
    """The pid of the crawl's database writer (``storage.writer``), a child of *crawl_pid*."""
    for task in Path(f"/proc/{crawl_pid}/task").iterdir():
        for pid in (task / "children").read_text().split():
            if b"ali1688spider.storage.writer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
    raise AssertionError(f"crawl {crawl_pid} has no database writer process")


def is_running(pid: int) -> bool:
    """Whether *pid* runs (a zombie waiting for its parent does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


WRITER_STARTED = re.compile(r"Storing through a writer process from item (\d+) on")


def test_a_crawl_hands_its_batches_to_the_writer_process_past_the_setting_and_stores_each_once(
    sandbox_factory, crawl, db_url
):
    """Small crawls write from the worker thread; past ALI1688_DB_WRITER_AFTER the writer
    process takes the batches that follow, and every product is stored once, as acknowledged."""
    sandbox = sandbox_factory("--qps", "0")
    _, ids = shop_ids(sandbox, 10_000)
    assert len(ids) >= 120
    small = crawl_into(crawl, sandbox, db_url, ids[:30])
    assert small.returncode == 0, small.log[-3000:]
    assert not WRITER_STARTED.search(small.log) and small.stats["ali1688/db/stored"] == 30
    assert "ali1688/db/stored_by_writer_process" not in small.stats

    handed = crawl_into(crawl, sandbox, db_url, ids[:120], ALI1688_DB_WRITER_AFTER="40")
    assert handed.returncode == 0, handed.log[-3000:]
    started = WRITER_STARTED.search(handed.log)
    assert started and 1 < int(started[1]) <= 41, handed.log[-3000:]
    assert handed.stats["ali1688/db/stored"] == 120
    # The thread stored the items before the one that started the writer, the writer the rest.
    assert handed.stats["ali1688/db/stored_by_writer_process"] == 120 - (int(started[1]) - 1)
    stored = table(db_url, "products")
    assert sorted(p["product_id"] for p in stored) == sorted(ids[:120])
    assert sorted(p["product_id"] for p in stored if p["first_run_id"] == handed.stats["ali1688/db/run_id"]) \
        == sorted(ids[30:120])


def slow_store(sandbox_factory, db_url: str, history_trigger) -> tuple[object, list[str]]:
    """A sandbox and 150 of its product ids, with the store's history inserts slowed to 0.1 s a
    row: each batch's transaction (half a second for 5) stays open long enough to be cut short."""
    sandbox = sandbox_factory("--qps", "0", "--latency-ms", "20")
    _, ids = shop_ids(sandbox, 10_000)
    history_trigger(db_url, delay=0.1)
    return sandbox, ids[:150]


def disrupt_half_way(sandbox, db_url: str, ids: list[str], output: Path, tmp_path: Path, *, disrupt,
                     log=subprocess.DEVNULL) -> tuple[int, int]:
    """Start a crawl of *ids* and call ``disrupt(crawl_pid, writer_pid)`` once 20 products are
    stored; the crawl's exit status and its writer's pid."""
    process = start_crawl(sandbox, db_url, ids, output, tmp_path, log)
    try:
        while stored_count(db_url) < 20:
            assert process.poll() is None, "the crawl ended before it could be disrupted"
            time.sleep(0.05)
        writer = writer_process(process.pid)
        disrupt(process.pid, writer)
        process.wait(60)
    finally:
        process.kill()
        process.wait()
    return process.returncode, writer


def assert_a_rerun_completes(crawl, sandbox, db_url: str, ids: list[str], history_trigger, stored: int):
    """With the store fast again, the same crawl stores the products the disrupted one did not."""
    history_trigger(db_url)
    again = crawl_into(crawl, sandbox, db_url, ids)
    assert again.returncode == 0, again.log[-3000:]
    assert again.stats["ali1688/db/products_new"] == len(ids) - stored
    return again


def assert_stored_whole(db_url: str, output: Path, ids: list[str]) -> dict[str, dict]:
    """Every acknowledged item (a whole line of *output*) is stored, and no batch is half
    written; the stored products."""
    products = {p["product_id"]: p for p in table(db_url, "products")}
    assert 20 <= len(products) < len(ids)
    lines = output.read_text(encoding="utf-8").splitlines() if output.exists() else []
    acknowledged = {json.loads(line)["product_id"] for line in lines if line.endswith("}")}
    assert acknowledged <= set(products)
    # Nothing half-written: each product's SKU and tier rows are exactly those it was stored with.
    skus, tiers = table(db_url, "skus"), table(db_url, "price_tiers")
    for product_id, product in products.items():
        record = ProductRecord(
            product_id, {},
            sorted((s for s in skus if s["product_id"] == product_id), key=lambda s: s["position"]),
            [t for t in tiers if t["product_id"] == product_id],
            product["first_seen_at"],
        )
        assert record.skus_hash == product["skus_hash"] and record.tiers_hash == product["tiers_hash"]
    assert len(table(db_url, "price_history")) == len(products)
    return products


def test_a_killed_crawl_keeps_every_acknowledged_item_and_no_half_batch(
    sandbox_factory, crawl, db_url, history_trigger, tmp_path
):
    sandbox, ids = slow_store(sandbox_factory, db_url, history_trigger)
    output = tmp_path / "killed.jsonl"
    _, writer = disrupt_half_way(sandbox, db_url, ids, output, tmp_path,
                                 disrupt=lambda crawl, writer: os.kill(crawl, signal.SIGKILL))
    # The writer dies with the crawl: it commits no batch that nobody can acknowledge any more.
    # (A COMMIT PostgreSQL had received just before may still land: read after it has.)
    time.sleep(0.2)
    stored = stored_count(db_url)
    deadline = time.monotonic() + 10
    while is_running(writer):
        assert time.monotonic() < deadline, "the database writer outlived its crawl"
        time.sleep(0.05)
    assert stored_count(db_url) == stored, "the database writer committed a batch after its crawl died"
    products = assert_stored_whole(db_url, output, ids)
    [run] = table(db_url, "crawl_runs")
    assert run["items_stored"] == len(products) and run["finished_at"] is None

    again = assert_a_rerun_completes(crawl, sandbox, db_url, ids, history_trigger, len(products))
    assert again.stats["ali1688/db/products_unchanged"] == len(products)


def test_a_killed_database_writer_ends_the_crawl_with_every_acknowledged_item_stored(
    sandbox_factory, crawl, db_url, history_trigger, tmp_path
):
    sandbox, ids = slow_store(sandbox_factory, db_url, history_trigger)
    output = tmp_path / "writer-killed.jsonl"
    status, _ = disrupt_half_way(sandbox, db_url, ids, output, tmp_path,
                                 disrupt=lambda crawl, writer: os.kill(writer, signal.SIGKILL))
    assert status == 1
    products = assert_stored_whole(db_url, output, ids)
    [run] = table(db_url, "crawl_runs")
    # The crawl itself closed: the run is marked, with what its writer committed.
    assert run["finish_reason"] == "ali1688_db_error" and run["items_stored"] == len(products)
    assert_a_rerun_completes(crawl, sandbox, db_url, ids, history_trigger, len(products))


def test_postgresql_going_away_mid_crawl_ends_it_in_one_line_and_a_rerun_completes(
    sandbox_factory, crawl, history_trigger, tmp_path
):
    root = Path(tempfile.mkdtemp(prefix="ali1688-pg-outage-"))  # the server runs as postgres
    server = start_postgres_server(root)
    try:
        db_url = server.url(server.create_database())
        sandbox, ids = slow_store(sandbox_factory, db_url, history_trigger)
        output, log = tmp_path / "outage.jsonl", tmp_path / "outage.log"
        with log.open("wb") as handle:
            status, _ = disrupt_half_way(sandbox, db_url, ids, output, tmp_path, log=handle,
                                         disrupt=lambda crawl, writer: server.stop())
        text = log.read_text(encoding="utf-8", errors="replace")
        assert status == 1, text[-3000:]
        assert "Traceback" not in text
        failures = [line for line in text.splitlines() if "A database batch of" in line]
        assert len(failures) == 1 and "closing the crawl" in failures[0], text[-3000:]
        assert "Spider closed (ali1688_db_error)" in text

        server.start()
        products = assert_stored_whole(db_url, output, ids)
        assert_a_rerun_completes(crawl, sandbox, db_url, ids, history_trigger, len(products))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
