"""The search spider against the sandbox: keyword, price band, category, sort, paging, details."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ali1688spider.gateway.client import Ali1688Client
from ali1688spider.spiders.search import parse_sort, sort_param

FAST = {"ALI1688_QPS": "200"}


def sandbox_search(sandbox, **query) -> tuple[list[str], int]:
    """(offer ids in the sandbox's own order, total) of a keywordQuery paged to the end."""
    creds = sandbox.credentials
    client = Ali1688Client(sandbox.url, creds["app_key"], creds["app_secret"])
    ids: list[str] = []
    page = 1
    while True:
        params = {"beginPage": page, "pageSize": 50, "country": "en", **query}
        answer = client.call(
            "product.search.keywordQuery", {"offerQueryParam": params},
            access_token=creds["access_token"],
        )["result"]["result"]
        ids += [str(entry["offerId"]) for entry in answer["data"]]
        if not answer["data"] or page >= answer["totalPage"]:
            return ids, answer["totalRecords"]
        page += 1


def descendants(sandbox, category_id: str) -> set[str]:
    children: dict[str, list[str]] = {}
    for category in sandbox.get("/sandbox/categories"):
        children.setdefault(category["parent_id"], []).append(category["category_id"])
    found, todo = set(), [category_id]
    while todo:
        node = todo.pop()
        found.add(node)
        todo += children.get(node, [])
    return found


def test_chinese_keyword_in_a_price_band_yields_only_matches_cheapest_first(sandbox, crawl):
    result = crawl(
        "search",
        args={"keyword": "饼干", "price_min": "5.5", "price_max": "8", "sort": "price_asc"},
        env=sandbox.env(**FAST),
    )
    assert result.returncode == 0, result.log[-3000:]
    items = result.items
    prices = [Decimal(item["price_min"]) for item in items]
    assert all("饼干" in item["title"] for item in items)
    assert all(Decimal("5.5") <= price <= Decimal("8") for price in prices)
    assert prices == sorted(prices)
    expected, total = sandbox_search(
        sandbox, keyword="饼干", priceStart="5.5", priceEnd="8", sort='{"price":"asc"}'
    )
    assert [item["product_id"] for item in items] == expected
    assert len(items) == total > 50
    # The band did filter: the keyword alone finds more, some of them outside it.
    assert sandbox_search(sandbox, keyword="饼干")[1] > total
    stats = result.stats
    assert stats["ali1688/search/total"] == total
    assert stats["ali1688/search/pages"] == stats["ali1688/calls"] == -(-total // 50)
    assert "ali1688/search/cut_short" not in stats
    assert {item["source_api"] for item in items} == {"product.search.keywordQuery"}


def test_category_filter_best_sellers_first_and_page_cap(sandbox, crawl):
    result = crawl(
        "search",
        args={"keyword": "一件代发", "category_id": "10166", "sort": "monthSold_desc",
              "max_pages": "3"},
        env=sandbox.env(**FAST),
    )
    assert result.returncode == 0, result.log[-3000:]
    items = result.items
    assert len(items) == 150
    subtree = descendants(sandbox, "10166")
    assert all(item["category_id"] in subtree for item in items)
    sales = [item["sales"] for item in items]
    assert sales == sorted(sales, reverse=True)
    expected, total = sandbox_search(
        sandbox, keyword="一件代发", categoryId=10166, sort='{"monthSold":"desc"}'
    )
    assert [item["product_id"] for item in items] == expected[:150]
    assert result.stats["ali1688/search/pages"] == 3
    assert result.stats["ali1688/search/cut_short"] == 1
    assert f"stopped at page 3 of {-(-total // 50)}" in result.log
    assert "max_pages=" in result.log


def test_search_stops_at_the_platforms_last_served_page(sandbox_factory, crawl):
    sandbox = sandbox_factory("--qps", "0", "--page-cap", "2")
    result = crawl(
        "search", args={"keyword": "饼干", "price_min": "5.5", "price_max": "8"},
        env=sandbox.env(**FAST),
    )
    assert result.returncode == 0, result.log[-3000:]
    assert len(result.items) == 100
    assert result.stats["ali1688/search/pages"] == 3  # the third answers an empty list
    assert "the last page the platform serves" in result.log


def test_details_give_full_products_completed_by_the_search_entry(sandbox, crawl):
    result = crawl(
        "search",
        args={"keyword": "连衣裙", "price_max": "30", "max_pages": "1", "details": "1"},
        env=sandbox.env(**FAST),
        settings={"ALI1688_PAGE_SIZE": "20"},
    )
    assert result.returncode == 0, result.log[-3000:]
    items = result.items
    expected, _ = sandbox_search(sandbox, keyword="连衣裙", priceEnd="30")
    assert sorted(item["product_id"] for item in items) == sorted(expected[:20])
    for item in items:
        assert item["source_api"] == "product.search.queryProductDetail"
        assert item["seller_open_id"] and item["unit"] and item["price_tiers"]
        assert isinstance(item["skus"], list) and item["stock"] is not None
        # queryProductDetail has no modification date; the search entry gives it.
        assert item["modified_at"].endswith("+08:00")
    assert result.stats["ali1688/calls/product.search.queryProductDetail"] == 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "needs -a keyword="),
        ({"keyword": "饼干", "price_min": "cheap"}, "argument price_min='cheap'"),
        ({"keyword": "饼干", "price_max": "-1"}, "must be a non-negative number"),
        ({"keyword": "饼干", "price_min": "20", "price_max": "10"},
         "price_min=20 is above price_max=10"),
        ({"keyword": "饼干", "sort": "cheapest"}, "price_asc, price_desc, monthSold_asc"),
        ({"keyword": "饼干", "max_pages": "0"}, "argument max_pages='0'"),
        ({"keyword": "饼干", "category_id": "abc"}, "argument category_id='abc'"),
        ({"keyword": "饼干", "details": "maybe"}, "argument details='maybe'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(sandbox, crawl, args, message):
    result = crawl("search", args=args, env=sandbox.env())
    assert result.returncode == 2
    errors = [line for line in result.log.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.log
    assert not result.stats_path.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("price_asc", '{"price":"asc"}'),
        ("PRICE-DESC", '{"price":"desc"}'),
        ("monthSold_desc", '{"monthSold":"desc"}'),
        ("month_sold:asc", '{"monthSold":"asc"}'),
        ("rePurchaseRate_desc", '{"rePurchaseRate":"desc"}'),
        ('{"rePurchaseRate":"asc"}', '{"rePurchaseRate":"asc"}'),
    ],
)
def test_sort_spellings_map_to_the_apis_json_string(text, expected):
    assert sort_param(parse_sort(text)) == expected


@pytest.mark.parametrize("text", ["price", "price_up", "sales_desc", '{"price":"up"}', "{}", "[1]"])
def test_unknown_sort_orders_are_refused(text):
    with pytest.raises(ValueError, match="unknown sort order"):
        parse_sort(text)
