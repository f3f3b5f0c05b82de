"""``ali1688 report prices``: the table of price changes and the chart, from a real database."""

from __future__ import annotations

import sqlite3
import struct
import subprocess

import pytest
from conftest import REPO
from helpers import CLI

from ali1688spider.sandbox.process import crawl_environment
from ali1688spider.storage.records import product_record
from ali1688spider.storage.store import Store

# The `ali1688` console script, also when the package is not installed.

A, B, C = "610000000001", "610000000002", "610000000003"


def report(*args: str) -> subprocess.CompletedProcess:
    env = crawl_environment()
    env["TZ"] = "UTC"
    return subprocess.run(
        [*CLI, "report", "prices", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def history_db(db_url, make_product):
    """Three crawls: A changes on 2 and 5 January, B on 5 January, C never."""
    store = Store(db_url)
    store.open()
    crawls = [
        ("2026-01-01T09:00:00+00:00", {A: "10", B: "20", C: "30"}),
        ("2026-01-02T09:00:00+00:00", {A: "12.5", B: "20", C: "30"}),
        ("2026-01-05T09:00:00+00:00", {A: "11", B: "18.4", C: "30"}),
    ]
    for when, prices in crawls:
        run = store.start_run("product", make_product()["crawled_at"])
        store.write(run, [
            product_record(make_product(
                product_id=pid, title=f"商品{pid[-1]}", price_min=price, price_max="104.3", crawled_at=when,
            ))
            for pid, price in prices.items()
        ])
    store.close()
    return db_url


def test_the_table_lists_each_change_once_oldest_first(history_db):
    done = report("--db", history_db)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("2026-")]
    assert rows == [
        f"2026-01-02 09:00:00  {A}  商品1  10 -> 12.5    104.3          +25.0%",
        f"2026-01-05 09:00:00  {A}  商品1  12.5 -> 11    104.3          -12.0%",
        f"2026-01-05 09:00:00  {B}  商品2  20 -> 18.4    104.3          -8.0%",
    ]
    assert "3 price change(s)" in done.stdout


def test_product_and_since_filter_the_table(history_db):
    by_product = report("--db", history_db, "--product", f"https://detail.1688.com/offer/{A}.html")
    assert by_product.returncode == 0, by_product.stderr
    assert by_product.stdout.count(A) == 2 and B not in by_product.stdout

    since = report("--db", history_db, "--since", "2026-01-03")
    assert since.returncode == 0, since.stderr
    assert "10 -> 12.5" not in since.stdout and "12.5 -> 11" in since.stdout and B in since.stdout

    none = report("--db", history_db, "--product", C)
    assert none.returncode == 0 and "No price changes." in none.stdout


def test_the_chart_is_a_png_of_the_changed_products(history_db, tmp_path):
    chart = tmp_path / "charts" / "prices.png"
    done = report("--db", history_db, "--chart", str(chart))
    assert done.returncode == 0, done.stderr
    assert "Chart of 2 product(s) written to" in done.stdout
    data = chart.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 800 and height >= 400


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --db URL"),
        (("--db", "sqlite:////nonexistent/ali1688.db"), "no database file"),
        (("--db", "mysql://localhost/x"), "must be sqlite:///PATH or postgresql"),
        (("--db", "sqlite:///x.db", "--since", "last week"), "is not a date like 2024-05-01"),
    ],
)
def test_mistakes_are_one_line(args, message):
    done = report(*args)
    assert done.returncode in (1, 2)
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_database_without_crawls_is_explained(tmp_path):
    path = tmp_path / "other.db"
    sqlite3.connect(path).close()
    done = report("--db", f"sqlite:///{path}")
    assert done.returncode == 1
    assert "holds no ali1688 data" in done.stderr


def test_a_chart_needs_history(db_url, tmp_path):
    store = Store(db_url)
    store.open()
    store.close()
    done = report("--db", db_url, "--chart", str(tmp_path / "empty.png"))
    assert done.returncode == 1 and "no price history to chart" in done.stderr
    assert not (tmp_path / "empty.png").exists()
