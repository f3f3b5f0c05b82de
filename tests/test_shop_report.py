"""``ali1688 report shop``: a competitor's shop over several real crawls of the sandbox (repriced,
emptied and delisted between them), into SQLite and a real PostgreSQL; as JSON, as a table, and
as one self-contained HTML page opened in a real headless Chromium at 1280 px."""

from __future__ import annotations

import json
import re

import pytest
from helpers import ali1688

FAST = {"ALI1688_QPS": "500"}


@pytest.fixture(scope="module")
def watched_shop(module_sandbox_factory, module_crawl, module_db_url):
    """A shop crawled twice with details, 10 % repriced, 5 % emptied and 3 % delisted between;
    shared by the module's tests, which only read it."""
    db_url, crawl = module_db_url, module_crawl
    sandbox = module_sandbox_factory("--qps", "0")
    shop = sandbox.shop(100)
    seller = shop["seller_open_id"]
    env = sandbox.env(ALI1688_DB_URL=db_url, **FAST)
    args = {"seller_open_id": seller, "details": "1"}
    assert crawl("shop", args=args, env=env).returncode == 0
    body = {"seller_open_id": seller}
    delisted = set(sandbox.post("/sandbox/delist", {**body, "fraction": 0.03, "seed": 1})["changed"])
    repriced = set(sandbox.post("/sandbox/reprice", {**body, "fraction": 0.1, "seed": 2})["changed"]) - delisted
    emptied = set(sandbox.post("/sandbox/restock", {**body, "fraction": 0.05, "seed": 3, "stock": 0})["changed"])
    second = crawl("shop", args=args, env=env)
    assert second.returncode == 0, second.log[-3000:]
    return {"shop": shop, "db": db_url, "delisted": delisted, "repriced": repriced, "emptied": emptied - delisted}


def report(db_url: str, seller: str, *words: str):
    return ali1688("report", "shop", "--db", db_url, "--seller-open-id", seller, *words, env={})


def test_the_report_counts_what_the_crawls_saw(watched_shop):
    shop = watched_shop["shop"]
    result = report(watched_shop["db"], shop["seller_open_id"], "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["products"] == shop["products"] - len(watched_shop["delisted"])
    [week] = data["weekly"]
    assert (week["added"], week["removed"]) == (shop["products"], len(watched_shop["delisted"]))
    assert data["price_moves"]["up"] + data["price_moves"]["down"] == len(watched_shop["repriced"])
    assert data["stock"]["stock_outs"] == len(watched_shop["emptied"])
    assert {p["product_id"] for p in data["stock"]["most_stock_outs"]} <= watched_shop["emptied"]
    sales = [p["sales"] for p in data["top_sellers"]]
    assert sales == sorted(sales, reverse=True) and len(sales) == 10
    assert data["product_count"][-1]["products"] == data["products"]
    table = report(watched_shop["db"], shop["seller_open_id"])
    assert table.returncode == 0 and f"Shop {shop['seller_open_id']}: {data['products']} products listed" in table.stdout


def test_the_html_page_is_self_contained_and_fits_1280_px(watched_shop, tmp_path, browser):
    page = tmp_path / "shop.html"
    result = report(watched_shop["db"], watched_shop["shop"]["seller_open_id"], "--html", str(page))
    assert result.returncode == 0, result.stderr
    text = page.read_text(encoding="utf-8")
    # Nothing loaded from anywhere: no external script, style, image or font.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text) and "@import" not in text
    browser.get(page.as_uri())
    assert browser.execute_script("return document.querySelectorAll('figure svg').length") == 2
    # The page carries the glyphs of its Chinese titles (this machine has no CJK font).
    titles = "".join(browser.execute_script(
        "return Array.from(document.querySelectorAll('td')).map(td => td.textContent)"))
    chinese = "".join(sorted({char for char in titles if ord(char) > 0x2E7F}))
    assert chinese and browser.execute_async_script(
        "const done = arguments[1]; document.fonts.load('16px ReportCJK', arguments[0])"
        ".then(faces => done(faces.length === 1 && document.fonts.check('16px ReportCJK', arguments[0])));",
        chinese)
    assert browser.execute_script("return document.querySelectorAll('table.sortable tbody tr').length") > 10
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    # The tables sort by a click on their heading.
    browser.execute_script("document.querySelector('table.sortable th:nth-child(3)').click()")
    first = browser.execute_script("return document.querySelector('table.sortable tbody td:nth-child(3)').textContent")
    sales = [p["sales"] for p in json.loads(report(watched_shop["db"], watched_shop["shop"]["seller_open_id"],
                                                   "--json").stdout)["top_sellers"]]
    assert int(first) == min(sales)


@pytest.mark.parametrize(("words", "message"), [
    (("--seller-open-id", "nosuchshop"), "the database holds no product of shop 'nosuchshop'"),
    (("--since", "2099-01-01"), "no crawl stored anything of shop"),
    (("--html", "/nonexistent-dir/shop.html"), "--html /nonexistent-dir/shop.html: cannot write there"),
])
def test_bad_input_is_one_line_and_exit_2(watched_shop, words, message):
    seller = watched_shop["shop"]["seller_open_id"]
    if words[0] == "--seller-open-id":
        seller, words = words[1], ()
    result = report(watched_shop["db"], seller, *words)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
