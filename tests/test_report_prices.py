"""``ali1688 report prices``: the table of price changes and the chart, from a real database."""

from __future__ import annotations

import re
import sqlite3
import struct
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from conftest import REPO
from helpers import CLI

from ali1688spider.cli import chart, main
from ali1688spider.sandbox.process import crawl_environment
from ali1688spider.storage.records import product_record
from ali1688spider.storage.store import Store

# The `ali1688` console script, also when the package is not installed.

A, B, C = "610000000001", "610000000002", "610000000003"


def report(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = crawl_environment(env)
    env["TZ"] = "UTC"
    return subprocess.run(
        [*CLI, "report", "prices", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


# Three crawls: A changes on 2 and 5 January, B on 5 January, C never.
CRAWLS = [
    ("2026-01-01T09:00:00+00:00", {A: "10", B: "20", C: "30"}),
    ("2026-01-02T09:00:00+00:00", {A: "12.5", B: "20", C: "30"}),
    ("2026-01-05T09:00:00+00:00", {A: "11", B: "18.4", C: "30"}),
]


def store_crawls(db_url: str, make_product, titles: dict[str, str], crawls=CRAWLS) -> str:
    """The *crawls* (CRAWLS), stored in *db_url* with these product *titles*."""
    store = Store(db_url)
    store.open()
    for when, prices in crawls:
        run = store.start_run("product", make_product()["crawled_at"])
        store.write(run, [
            product_record(make_product(
                product_id=pid, title=titles[pid], price_min=price, price_max="104.3", crawled_at=when,
            ))
            for pid, price in prices.items()
        ])
    store.close()
    return db_url


@pytest.fixture
def history_db(db_url, make_product):
    return store_crawls(db_url, make_product, {pid: f"商品{pid[-1]}" for pid in (A, B, C)})


def test_the_table_lists_each_change_once_oldest_first(history_db):
    done = report("--db", history_db)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("2026-")]
    assert rows == [
        f"2026-01-02 09:00:00  {A}  商品1  10 -> 12.5    104.3          +25%",
        f"2026-01-05 09:00:00  {A}  商品1  12.5 -> 11    104.3          -12%",
        f"2026-01-05 09:00:00  {B}  商品2  20 -> 18.4    104.3          -8%",
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
        (("--db", "mysql://localhost/x"), "--db must be a SQLite or PostgreSQL URL (e.g. sqlite:///ali1688.db"),
        (("--db", "ali1688.db"), "--db is not a database URL: 'ali1688.db' (e.g. sqlite:///"),
        (("--db", "sqlite:///x.db", "--since", "last week"), "is not a date like 2024-05-01"),
    ],
)
def test_mistakes_are_one_line(args, message):
    done = report(*args)
    assert done.returncode in (1, 2)
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(("flag", "environment", "named"),
                         [(("--db", "ali1688.db"), {}, "--db"), ((), {"ALI1688_DB_URL": "ali1688.db"}, "ALI1688_DB_URL")])
def test_a_bad_database_url_names_the_option_that_gave_it_and_exits_2(flag, environment, named):
    done = report(*flag, env=environment)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith(
        f"{named} is not a database URL: 'ali1688.db' (e.g. sqlite:///ali1688.db or postgresql://user@localhost/ali1688)")


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


def test_without_matplotlib_the_chart_stops_at_one_line_before_anything_else(tmp_path, make_product):
    db = store_crawls(f"sqlite:///{tmp_path / 'ali1688.db'}", make_product, dict.fromkeys((A, B, C), "x"))
    no_matplotlib = "import sys; sys.modules['matplotlib'] = None; from ali1688spider.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", no_matplotlib, "report", "prices", "--db", db,
         "--chart", str(tmp_path / "charts" / "prices.png")],
        cwd=REPO, env=crawl_environment(), capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 2
    assert done.stderr == "ali1688 report: --chart needs matplotlib: pip install 'ali1688spider[chart]'\n"
    assert done.stdout == "" and not (tmp_path / "charts").exists()


def chart_of(tmp_path, monkeypatch, capsys, db: str, *args: str) -> tuple[object, str]:
    """``ali1688 report prices --chart`` run in this process: the figure it drew, and stderr."""
    drawn = []
    write = chart.write_chart
    monkeypatch.setattr(chart, "write_chart", lambda *a, **k: drawn.append(write(*a, **k)))
    assert main(["report", "prices", "--db", db, "--chart", str(tmp_path / "prices.png"), *args]) == 0
    assert (tmp_path / "prices.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return drawn[0], capsys.readouterr().err


def legend_of(figure) -> list[tuple[str, list[str]]]:
    return [(text.get_text(), text.get_fontfamily()) for text in figure.axes[0].get_legend().get_texts()]


def test_the_legend_names_each_product_by_id_and_shortened_title(tmp_path, make_product, monkeypatch, capsys):
    titles = {A: "Stainless steel water bottle 500ml insulated", B: "2024新款夏季纯棉短袖T恤男士宽松大码潮流上衣", C: "x"}
    db = store_crawls(f"sqlite:///{tmp_path / 'ali1688.db'}", make_product, titles)
    figure, err = chart_of(tmp_path, monkeypatch, capsys, db)
    legend = legend_of(figure)
    assert [text for text, _ in legend] == [
        f"{A} Stainless steel water b… (2 changes)",   # 24 columns
        f"{B} 2024新款夏季纯棉短袖T恤… (1 change)",      # 24 columns: a CJK character takes two
    ]
    # No glyph warning either way (warnings are errors here): with a CJK font installed the
    # legend falls back to it, without one the titles show as boxes and a note says so.
    has_cjk_font = len(legend[1][1]) > 1
    assert ("note: no installed font can draw" in err) != has_cjk_font


def test_characters_the_default_font_lacks_come_from_an_installed_font_that_has_them(
        tmp_path, make_product, monkeypatch, capsys):
    # Mathematical fraktur letters: not in matplotlib's default DejaVu Sans, but in the
    # STIX fonts it ships, so this takes the same road as CJK titles on any machine.
    db = store_crawls(f"sqlite:///{tmp_path / 'ali1688.db'}", make_product, dict.fromkeys((A, B, C), "𝔄𝔅 bottle"))
    figure, err = chart_of(tmp_path, monkeypatch, capsys, db)
    families = {tuple(family) for _, family in legend_of(figure)}
    assert len(families) == 1 and len(next(iter(families))) == 2
    assert "note:" not in err


def test_the_chart_shows_the_products_whose_price_changed_most_not_most_often(
        tmp_path, make_product, monkeypatch, capsys):
    # Nine products step by 1 % in each of three crawls; one more falls by 20 % once, another
    # rises by 25 % once: those two are among the eight drawn, whatever their ids.
    steady = [f"61000000010{n}" for n in range(9)]
    drop, rise = "610000000201", "610000000202"
    crawls = [(f"2026-01-0{day + 1}T09:00:00+00:00",
               {**{pid: str(100 + day) for pid in steady}, drop: "10" if day < 2 else "8", rise: "4" if day < 1 else "5"})
              for day in range(4)]
    titles = {pid: "x" for pid in [*steady, drop, rise]}
    db = store_crawls(f"sqlite:///{tmp_path / 'ali1688.db'}", make_product, titles, crawls)
    figure, _ = chart_of(tmp_path, monkeypatch, capsys, db)
    drawn = [text.split()[0] for text, _ in legend_of(figure)]
    assert len(drawn) == 8 and {rise, drop} <= set(drawn)


@pytest.fixture
def china_local_time(monkeypatch):
    """This process's local time is UTC+8 for the test."""
    monkeypatch.setenv("TZ", "CST-8")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)   # 17:00 in UTC+8
HOUR_MINUTE = re.compile(r"\d\d:\d\d")
MONTH = re.compile(r"[A-Z][a-z]{2}")


@pytest.mark.parametrize(
    ("span", "offset", "check"),
    [
        # Minutes: hours and minutes of local time (UTC+8: 17:xx, not 09:xx), the day beside.
        (timedelta(minutes=10), "2026-Jan-05",
         lambda labels: 3 <= len(labels) <= 12 and all(re.fullmatch(r"17:\d\d", t) for t in labels)),
        # Days: each midnight by its date, hours between.
        (timedelta(days=3), "2026-Jan-08",
         lambda labels: {"Jan-06", "Jan-07", "Jan-08"} <= set(labels)
         and all(HOUR_MINUTE.fullmatch(t) or re.fullmatch(r"Jan-\d\d", t) for t in labels)),
        # Years: each January by its year, months between.
        (timedelta(days=730), "",
         lambda labels: {"2026", "2027", "2028"} <= set(labels)
         and all(re.fullmatch(r"20\d\d", t) or MONTH.fullmatch(t) for t in labels)),
    ],
    ids=["10 minutes", "3 days", "2 years"],
)
def test_the_time_axis_suits_the_span_in_local_time(tmp_path, china_local_time, span, offset, check):
    series = {A: [(START, 10.0), (START + span / 2, 12.5)], B: [(START + span / 3, 20.0)]}
    figure = chart.write_chart(tmp_path / "span.png", series, {A: "a", B: "b"}, end=START + span)
    axis = figure.axes[0].xaxis
    labels = [tick.get_text() for tick in axis.get_ticklabels()]
    assert check(labels), labels
    assert axis.get_offset_text().get_text() == offset
