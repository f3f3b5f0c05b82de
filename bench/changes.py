"""Benchmark: what change detection costs, and whether it finds every change and no other.

1. Cost: a store holding 100,000 products gets all of them again, 5 % repriced and 3 % with
   other stock, in batches of 500 (``Store.write``, the SQL pipeline's worker-thread work),
   once with change detection and once without (``ALI1688_DB_CHANGES=off``), each from the
   same copy of the store, alternating which goes first, six rounds (the median pass counts);
   SQLite and a real PostgreSQL. Record building is outside the timing. Goal: detection costs
   <= 10 % of the products/s.
2. Accuracy: a 640-product sandbox shop crawled (``details=1``) into SQLite, then 5 %
   repriced, 2 % delisted and 3 % emptied through ``/sandbox/``, crawled again: the changes
   recorded must be exactly those (every one found, none false).

Prints a table and writes ``bench/results/changes.json``.

    python bench/changes.py
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import REPO, crawl, goal_row, print_summary, print_table, sandbox, workdir, write_results

sys.path.insert(0, str(REPO / "tests"))
from postgres_server import start_postgres_server  # noqa: E402
from product_samples import SAMPLE  # noqa: E402

from sqlalchemy import func, select  # noqa: E402

from ali1688spider.items import Product  # noqa: E402
from ali1688spider.storage import schema  # noqa: E402
from ali1688spider.storage.records import product_record  # noqa: E402
from ali1688spider.storage.store import Store  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

GOAL_OVERHEAD = 0.10
BATCH = 500
T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)


def products(count: int, *, round_number: int) -> list[Any]:
    """*count* records like the sandbox's; from round 1 on 5 % repriced and 3 % restocked."""
    records = []
    for n in range(count):
        data = copy.deepcopy(SAMPLE)
        data["product_id"] = str(610_000_000_000 + n)
        data["detail_url"] = f"https://detail.1688.com/offer/{data['product_id']}.html"
        data["crawled_at"] = (T0 + timedelta(days=round_number)).isoformat()
        if round_number and n % 20 == 0:
            data["price_min"] = "70.01"
        if round_number and n % 33 == 1:
            data["stock"] = 0
            for sku in data["skus"]:
                sku["stock"] = 0
        records.append(product_record(Product(data)))
    return records


def write_all(store: Store, records: list[Any]) -> float:
    """Seconds to store *records* in batches, as the pipeline's worker thread does."""
    run = store.start_run("bench", T0)
    started = time.perf_counter()
    for start in range(0, len(records), BATCH):
        store.write(run, records[start:start + BATCH])
    return time.perf_counter() - started


class Backend:
    """A database to fill once and to restore before every timed pass."""

    def __init__(self, name: str, root: Path):
        self.name, self.root = name, root
        self.server = None
        if name == "postgresql":
            pg_root = Path(tempfile.mkdtemp(prefix="ali1688-bench-pg-"))
            self.server = start_postgres_server(pg_root)
            self.pg_root = pg_root

    def url(self, database: str) -> str:
        if self.server is None:
            return f"sqlite:///{self.root / (database + '.db')}"
        return self.server.url(database)

    def create(self, database: str) -> None:
        if self.server is not None:
            self.server.admin(f"CREATE DATABASE {database}")

    def restore(self, template: str, database: str) -> None:
        if self.server is None:
            for suffix in ("", "-wal", "-shm"):
                source = self.root / f"{template}.db{suffix}"
                target = self.root / f"{database}.db{suffix}"
                target.unlink(missing_ok=True)
                if source.exists():
                    shutil.copy(source, target)
        else:
            self.server.admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            self.server.admin(f"CREATE DATABASE {database} TEMPLATE {template}")

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            shutil.rmtree(self.pg_root, ignore_errors=True)


def on_each_backend(name: str, measure: Callable[[Backend], dict[str, Any]]) -> list[dict[str, Any]]:
    """*measure* on SQLite, then on a PostgreSQL server of its own (in a work directory *name*)."""
    results = []
    with workdir(name) as tmp:
        for backend_name in ("sqlite", "postgresql"):
            backend = Backend(backend_name, tmp)
            try:
                results.append(measure(backend))
            finally:
                backend.close()
    return results


def fill_template(backend: Backend, count: int) -> None:
    """The store every timed pass starts from (``template_store``): *count* products stored once."""
    backend.create("template_store")
    seed = Store(backend.url("template_store"), detect_changes=False)
    seed.open()
    write_all(seed, products(count, round_number=0))
    seed.close()


def alternating_passes(backend: Backend, records: list[Any], rounds: int,
                       modes: Mapping[str, Callable[[str], AbstractContextManager[Store]]]) -> dict[str, list[float]]:
    """Seconds to store *records* into a fresh copy of the template, once per mode per round,
    alternating which mode goes first, so that a slow moment of the machine hits both. Each
    mode opens the store on a URL (and may look into it once the pass is done)."""
    seconds: dict[str, list[float]] = {mode: [] for mode in modes}
    for number in range(rounds):
        for mode in list(modes) if number % 2 == 0 else list(reversed(modes)):
            backend.restore("template_store", "timed")
            with modes[mode](backend.url("timed")) as store:
                gc.collect()
                seconds[mode].append(round(write_all(store, records), 3))
    return seconds


def measure_cost(backend: Backend, count: int, rounds: int) -> dict[str, Any]:
    fill_template(backend, count)
    recorded = 0

    @contextmanager
    def detecting(detect: bool, url: str) -> Iterator[Store]:
        nonlocal recorded
        store = Store(url, detect_changes=detect)
        store.open()
        yield store
        if detect:
            with store.engine.connect() as connection:
                recorded = connection.execute(select(func.count()).select_from(schema.product_changes)).scalar()
        store.close()

    seconds = alternating_passes(backend, products(count, round_number=1), rounds,
                                 {"off": partial(detecting, False), "on": partial(detecting, True)})
    rate = {mode: count / statistics.median(values) for mode, values in seconds.items()}
    return {
        "backend": backend.name,
        "products": count,
        "products_per_s_without": round(rate["off"], 1),
        "products_per_s_with": round(rate["on"], 1),
        "cost": round(1 - rate["on"] / rate["off"], 4),
        "changes_recorded": recorded,
        "seconds": seconds,
    }


def measure_accuracy(shop_size: int) -> dict[str, Any]:
    with sandbox("--qps", "0") as box, workdir("changes") as tmp:
        shop = box.nearest_shop(shop_size)
        seller = shop["seller_open_id"]
        db = f"sqlite:///{tmp / 'shop.db'}"
        feeds = {str(tmp / "changes.jsonl"): {"format": "jsonlines", "overwrite": True,
                                              "item_classes": ["ali1688spider.items.ProductChange"]}}
        settings = {"ALI1688_QPS": 1_000_000, "ALI1688_DB_URL": db, "FEEDS": json.dumps(feeds)}
        args = {"seller_open_id": seller, "details": "1"}
        crawl("shop", tmp / "first", sandbox=box, args=args, settings=settings).run().check()
        body = {"seller_open_id": seller}
        repriced = set(box.post("/sandbox/reprice", {**body, "fraction": 0.05, "seed": 11})["changed"])
        delisted = set(box.post("/sandbox/delist", {**body, "fraction": 0.02, "seed": 12})["changed"])
        emptied = set(box.post("/sandbox/restock", {**body, "fraction": 0.03, "seed": 13, "stock": 0})["changed"])
        crawl("shop", tmp / "second", sandbox=box, args=args, settings=settings).run().check()
        changes = [json.loads(line) for line in (tmp / "changes.jsonl").read_text(encoding="utf-8").splitlines()]
    found: dict[str, set[str]] = {}
    for change in changes:
        if change["sku_id"] is None:
            found.setdefault(change["kind"], set()).add(change["product_id"])
    # A product can only be seen changing while it is still listed; one that was out of stock
    # already cannot run out again (none is, in the sandbox's catalogue).
    expected = {"price": repriced - delisted, "removed": delisted, "out_of_stock": emptied - delisted}
    missed = sum(len(ids - found.get(kind, set())) for kind, ids in expected.items())
    false = sum(len(ids - expected.get(kind, set())) for kind, ids in found.items())
    sku_false = sum(1 for c in changes if c["sku_id"] is not None and c["product_id"] not in emptied)
    return {
        "shop_products": shop["products"],
        "repriced": len(repriced), "delisted": len(delisted), "emptied": len(emptied),
        "found": {kind: len(ids) for kind, ids in found.items()},
        "sku_level_changes": sum(1 for c in changes if c["sku_id"] is not None),
        "missed": missed, "false": false + sku_false,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--shop-size", type=int, default=640)
    options = parser.parse_args()

    costs = on_each_backend("changes-cost", lambda backend: measure_cost(backend, options.products, options.rounds))
    print_table("Change detection cost (Store.write, batches of 500)", costs,
                ["backend", "products", "products_per_s_without", "products_per_s_with", "cost", "changes_recorded"])
    accuracy = measure_accuracy(options.shop_size)
    print_table("Changes found after repricing 5 %, delisting 2 %, emptying 3 %", [accuracy],
                ["shop_products", "repriced", "delisted", "emptied", "found", "missed", "false"])
    summary = [
        goal_row(f"change detection cost on a {c['products']:,}-product {c['backend']} store",
                 c["cost"], f"<= {GOAL_OVERHEAD:.0%}", c["cost"] <= GOAL_OVERHEAD)
        for c in costs
    ]
    summary.append(goal_row(
        f"{accuracy['shop_products']}-product shop, 5 % repriced / 2 % delisted / 3 % emptied: missed + false changes",
        accuracy["missed"] + accuracy["false"], "0", accuracy["missed"] + accuracy["false"] == 0,
    ))
    path = write_results("changes", summary, {"cost": costs, "accuracy": accuracy})
    print_summary("changes", summary, path)


if __name__ == "__main__":
    main()
