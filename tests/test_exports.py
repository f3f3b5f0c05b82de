"""Feeds written with ``-O``: JSON lines and CSV keep the items' declared field order; CSV
cells hold nested fields (SKUs, price tiers, images) as JSON text."""

from __future__ import annotations

import csv
import io
import json

import pytest
from product_samples import SAMPLE
from scrapy import Field, Item
from scrapy.exporters import JsonItemExporter, JsonLinesItemExporter

from ali1688spider.exporters import PlainJsonItemExporter, PlainJsonLinesItemExporter
from ali1688spider.items import Category, Product

FAST = {"ALI1688_QPS": "200"}
SEARCH = {"keyword": "连衣裙", "price_max": "30", "max_pages": "1", "details": "1"}
NESTED = ("price_tiers", "skus", "images")


def read_csv(path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], [dict(zip(rows[0], row)) for row in rows[1:]]


def as_cell(value) -> str:
    """What a JSON-lines value should look like in a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


class Priced(Item):
    name = Field()
    price = Field(serializer=lambda cents: f"{cents / 100:.2f}")


def exported(exporter_class, items, **options) -> bytes:
    out = io.BytesIO()
    exporter = exporter_class(out, **options)
    exporter.start_exporting()
    for item in items:
        exporter.export_item(item)
    exporter.finish_exporting()
    return out.getvalue()


@pytest.mark.parametrize(("ours", "scrapys"), [(PlainJsonLinesItemExporter, JsonLinesItemExporter),
                                               (PlainJsonItemExporter, JsonItemExporter)])
@pytest.mark.parametrize("options", [{}, {"fields_to_export": ["title", "product_id", "missing"]},
                                     {"export_empty_fields": True}, {"encoding": "utf-8", "indent": 2}])
def test_the_json_exporters_write_what_scrapys_write(ours, scrapys, options):
    reordered = Product({name: SAMPLE[name] for name in reversed(list(SAMPLE))})
    items = [reordered, Product(product_id="1", title="连衣裙"), Priced(price=1250, name="x"), {"b": 1, "a": 2}]
    assert exported(ours, items, **options) == exported(scrapys, items, **options)


def test_json_lines_and_csv_agree_in_declaration_order(sandbox, crawl):
    settings = {"ALI1688_PAGE_SIZE": "10"}
    lines = crawl("search", args=SEARCH, env=sandbox.env(**FAST), settings=settings)
    table = crawl("search", args=SEARCH, env=sandbox.env(**FAST), settings=settings,
                  output_name="items.csv")
    assert lines.returncode == 0 and table.returncode == 0, table.log[-3000:]

    declared = list(Product.fields)
    products = lines.items
    assert len(products) == 10
    for product in products:
        assert list(product) == [name for name in declared if name in product]

    header, rows = read_csv(table.output)
    assert header == declared
    by_id = {row["product_id"]: row for row in rows}
    assert sorted(by_id) == sorted(p["product_id"] for p in products)
    for product in products:
        row = by_id[product["product_id"]]
        for name in declared:
            if name != "crawled_at":
                assert row[name] == as_cell(product.get(name)), name
        for name in NESTED:
            assert json.loads(row[name]) == product[name]
    assert any(len(p["skus"]) > 1 for p in products)
    assert any(attr for p in products for sku in p["skus"] for attr in sku["attributes"])


def test_csv_of_search_entries_leaves_unknown_fields_empty(sandbox, crawl):
    result = crawl(
        "search", args={"keyword": "饼干", "max_pages": "1"}, env=sandbox.env(**FAST),
        settings={"ALI1688_PAGE_SIZE": "5"}, output_name="items.csv",
    )
    assert result.returncode == 0, result.log[-3000:]
    header, rows = read_csv(result.output)
    assert header == list(Product.fields)
    assert len(rows) == 5
    for row in rows:
        assert row["skus"] == row["price_tiers"] == ""  # a list entry has neither
        assert json.loads(row["images"])[0].startswith("https://")
        assert "饼干" in row["title"]


def test_categories_csv(sandbox, crawl):
    result = crawl(
        "categories", args={"depth": "1"}, env=sandbox.env(**FAST), output_name="categories.csv"
    )
    assert result.returncode == 0, result.log[-3000:]
    header, rows = read_csv(result.output)
    assert header == list(Category.fields)
    top = [c for c in sandbox.get("/sandbox/categories") if c["level"] == 1]
    assert sorted(rows, key=lambda r: r["category_id"]) == sorted(
        ({k: as_cell(v) for k, v in c.items()} for c in top), key=lambda r: r["category_id"]
    )
