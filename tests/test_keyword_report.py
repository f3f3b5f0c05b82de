"""``ali1688 report keyword``: the suppliers of a stored search side by side, from real search
crawls of the sandbox into SQLite and a real PostgreSQL; as JSON, a table, and one
self-contained HTML page opened in a real headless Chromium at 1280 px. And the page a watch
run leaves with ``ALI1688_REPORT_HTML``, and the migration of a version-4 database."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from helpers import ali1688
from sqlalchemy import MetaData, select

from ali1688spider.gateway.client import Ali1688Client
from ali1688spider.storage import schema
from ali1688spider.storage.store import Store
from ali1688spider.storage.suppliers import unit_price

FAST = {"ALI1688_QPS": "500"}
#: Sorted by sales, the sandbox's first page of this keyword holds products of several shops.
SEARCH = {"keyword": "批发", "max_pages": "1", "sort": "monthSold_desc"}
QUANTITY = 10


def sandbox_first_page(sandbox, size: int) -> list[str]:
    """The offer ids of the sandbox's own first result page of SEARCH, in its order."""
    creds = sandbox.credentials
    client = Ali1688Client(sandbox.url, creds["app_key"], creds["app_secret"])
    query = {"keyword": SEARCH["keyword"], "sort": '{"monthSold":"desc"}', "beginPage": 1, "pageSize": size,
             "country": "en"}
    answer = client.call("product.search.keywordQuery", {"offerQueryParam": query},
                         access_token=creds["access_token"])
    return [str(entry["offerId"]) for entry in answer["result"]["result"]["data"]]


@pytest.fixture(scope="module")
def searched(module_sandbox_factory, module_crawl, module_db_url):
    """SEARCH crawled with details (suppliers known), and 饼干 without (suppliers unknown);
    shared by the module's tests, which only read it."""
    sandbox = module_sandbox_factory("--qps", "0")
    env = sandbox.env(ALI1688_DB_URL=module_db_url, **FAST)
    first = module_crawl("search", args={**SEARCH, "details": "1"}, env=env)
    assert first.returncode == 0, first.log[-3000:]
    second = module_crawl("search", args={"keyword": "饼干", "max_pages": "1"}, env=env)
    assert second.returncode == 0, second.log[-3000:]
    return {"sandbox": sandbox, "db": module_db_url, "items": {item["product_id"]: item for item in first.items}}


def report(db_url: str, *words: str):
    return ali1688("report", "keyword", "--db", db_url, *words, env={})


def test_unit_price_takes_the_tier_the_quantity_reaches_and_never_goes_below_the_moq():
    tiers = [(2, Decimal("5")), (10, Decimal("4.5")), (100, Decimal("4"))]
    assert unit_price(tiers, 2, Decimal("4"), 9) == (Decimal("5"), 2)
    assert unit_price(tiers, 2, Decimal("4"), 10) == (Decimal("4.5"), 2)
    assert unit_price(tiers, 2, Decimal("4"), 5000) == (Decimal("4"), 2)
    # Below the MOQ or the first tier: no price, and the minimum says how many it takes.
    assert unit_price(tiers, 20, Decimal("4"), 10) == (None, 20)
    assert unit_price(tiers, None, Decimal("4"), 1) == (None, 2)
    # No tiers (priced per SKU): its lowest price.
    assert unit_price([], 3, Decimal("7.2"), 3) == (Decimal("7.2"), 3)


def test_suppliers_side_by_side_at_a_quantity(searched):
    result = report(searched["db"], "--keyword", SEARCH["keyword"], "--quantity", str(QUANTITY), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    items = searched["items"]
    products = data["products"]
    # Every result in the platform's order, each with its supplier from its detail.
    assert [p["product_id"] for p in products] == sandbox_first_page(searched["sandbox"], len(products))
    assert data["returned"] == len(products) == len(items) and data["unknown_supplier"] == 0
    for product in products:
        item = items[product["product_id"]]
        assert product["supplier"] == item["seller_open_id"] and product["sales"] == item["sales"]
        tiers = sorted((t["min_quantity"], Decimal(t["price"])) for t in item["price_tiers"] or [])
        minimum = max(item["moq"] or 1, tiers[0][0] if tiers else 1)
        assert product["moq"] == minimum and product["moq_above_quantity"] == (minimum > QUANTITY)
        if minimum > QUANTITY:
            assert product["unit_price"] is None  # marked, never priced below its MOQ
        else:
            expected = [price for start, price in tiers if start <= QUANTITY][-1] if tiers else item["price_min"]
            assert Decimal(product["unit_price"]) == Decimal(expected)
    assert any(p["moq_above_quantity"] for p in products) and any(p["unit_price"] for p in products)
    suppliers = data["suppliers"]
    assert len(suppliers) > 1 and {s["supplier"] for s in suppliers} == {i["seller_open_id"] for i in items.values()}
    for supplier in suppliers:
        own = [p for p in products if p["supplier"] == supplier["supplier"]]
        prices = [Decimal(p["unit_price"]) for p in own if p["unit_price"] is not None]
        assert supplier["products"] == len(own) and supplier["sales"] == sum(p["sales"] for p in own)
        assert supplier["unit_price"] == (str(min(prices).normalize()) if prices else None)
    priced = [Decimal(s["unit_price"]) for s in suppliers if s["unit_price"] is not None]
    assert priced == sorted(priced)
    table = report(searched["db"], "--keyword", SEARCH["keyword"], "--quantity", str(QUANTITY))
    assert table.returncode == 0 and f"{len(suppliers)} suppliers" in table.stdout
    assert suppliers[0]["supplier"] in table.stdout.splitlines()[3]


def test_a_search_without_details_has_unknown_suppliers(searched):
    data = json.loads(report(searched["db"], "--keyword", "饼干", "--json").stdout)
    assert data["products"] and data["unknown_supplier"] == len(data["products"]) and data["suppliers"] == []
    table = report(searched["db"], "--keyword", "饼干")
    assert "of an unknown supplier: search with -a details=1" in table.stdout


def test_the_keyword_page_is_self_contained_and_fits_1280_px(searched, tmp_path, browser):
    page = tmp_path / "keyword.html"
    result = report(searched["db"], "--keyword", SEARCH["keyword"], "--quantity", str(QUANTITY),
                    "--html", str(page))
    assert result.returncode == 0, result.stderr
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text) and "@import" not in text
    browser.get(page.as_uri())
    assert browser.execute_script("return document.querySelector('h1').textContent") == "Keyword 批发"
    assert browser.execute_script("return document.querySelectorAll('figure svg').length") == 2
    assert browser.execute_script("return document.querySelectorAll('table.sortable').length") == 2
    rows = browser.execute_script("return document.querySelectorAll('table.sortable')[1].tBodies[0].rows.length")
    assert rows == len(searched["items"])
    assert "search answers carry none" in browser.execute_script("return document.querySelector('.note').textContent")
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize(("words", "message"), [
    (("--keyword", "没有这个词"), "the database holds no search for '没有这个词'"),
    (("--keyword", "批发", "--quantity", "0"), "--quantity 0: give the number of pieces"),
    (("--keyword", "批发", "--quantity", "ten"), "--quantity ten: give the number of pieces"),
    (("--keyword", "批发", "--html", "/nonexistent-dir/k.html"), "--html /nonexistent-dir/k.html: cannot write"),
])
def test_bad_input_is_one_line_and_exit_2(searched, words, message):
    result = report(searched["db"], *words)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_watch_run_leaves_one_page_of_its_searches_and_shops(sandbox, crawl, tmp_path, browser):
    shop = sandbox.shop(60)
    watchlist = tmp_path / "watch.toml"
    watchlist.write_text(f'[[shop]]\nseller_open_id = "{shop["seller_open_id"]}"\n\n'
                         f'[[search]]\nkeyword = "{SEARCH["keyword"]}"\nmax_pages = 1\ndetails = true\n',
                         encoding="utf-8")
    pages = tmp_path / "pages"
    env = sandbox.env(ALI1688_DB_URL=f"sqlite:///{tmp_path / 'w.db'}", **FAST)
    result = crawl("watch", args={"watchlist": str(watchlist)}, env=env,
                   settings={"ALI1688_REPORT_HTML": str(pages / "%(spider)s-%(time)s.html")})
    assert result.returncode == 0, result.log[-3000:]
    [page] = pages.glob("watch-*.html")
    assert result.stats["ali1688/report_page"] == str(page)
    browser.get(page.as_uri())
    headings = browser.execute_script("return Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
    assert headings == [f"Keyword {SEARCH['keyword']}", f"Shop {shop['seller_open_id']}"]
    assert browser.execute_script("return document.querySelectorAll('figure svg').length") == 4
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def test_a_report_page_without_a_database_is_refused_before_any_call(sandbox, crawl, tmp_path):
    result = crawl("search", args={"keyword": "饼干"}, env=sandbox.env(**FAST),
                   settings={"ALI1688_REPORT_HTML": str(tmp_path / "p.html")})
    assert result.returncode == 2
    assert "ALI1688_REPORT_HTML reads the crawl's results from the database: set ALI1688_DB_URL too" in result.log
    assert not (tmp_path / "p.html").exists()


def test_a_version_5_database_is_migrated_and_keeps_its_data(db_url):
    """Today's tables but ``search_results``, version 5 recorded: opening adds the table."""
    store = Store(db_url)
    version_5 = MetaData()
    for table in schema.metadata.sorted_tables:
        if table is not schema.search_results:
            table.to_metadata(version_5)
    at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    with store.engine.begin() as connection:
        version_5.create_all(connection)
        connection.execute(schema.schema_version.insert(), [{"version": v, "applied_at": at} for v in range(1, 6)])
        connection.execute(schema.crawl_runs.insert(), {"spider": "search", "started_at": at})
    try:
        assert store.open() == 6
        assert store.record_search_results(1, {"饼干": ["610000000002", "610000000001"]}) == 2
        with store.engine.connect() as connection:
            assert connection.execute(select(schema.crawl_runs.c.spider)).scalar_one() == "search"
            table = schema.search_results
            stored = connection.execute(select(table.c.product_id, table.c.position).order_by(table.c.position))
            assert [tuple(row) for row in stored] == [("610000000002", 1), ("610000000001", 2)]
    finally:
        store.close()
