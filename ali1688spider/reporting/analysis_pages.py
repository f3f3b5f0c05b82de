"""The competitor-analysis reports as page sections (``html``): a shop over a period
(``storage/analysis.py``) and the suppliers of a keyword (``storage/suppliers.py``), each with
its charts, drawn with matplotlib (the ``chart`` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ali1688spider.reporting.html import Section, Table, svg

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Characters of a title kept as a chart label.
LABEL_WIDTH = 14
#: What the keyword report cannot show (reference §6.2: a search entry carries no location).
NO_LOCATION = ("Supplier location: search answers carry none (the 1688 reference lists no location "
               "field in keywordQuery results), so this report shows none.")


def shop_section(report: dict[str, Any]) -> Section:
    prices, moves, stock = report["prices"], report["price_moves"], report["stock"]
    summary = (f"{report['products']} products listed · prices {prices.get('min')}–{prices.get('max')} "
               f"(median {prices.get('median')}) · {moves['up']} price rises, {moves['down']} cuts · "
               f"{stock['stock_outs']} stock-outs, {stock['restocks']} restocks")
    counts, sellers = report["product_count"], report["top_sellers"]
    charts = [_line([p["day"] for p in counts], [p["products"] for p in counts], "Products listed")]
    if sellers:
        charts.append(_bars([s["title"] or s["product_id"] for s in sellers], [s["sales"] or 0 for s in sellers],
                            "Top sellers (sales)"))
    return Section(
        title=f"Shop {report['seller_open_id']}",
        scope=f"{report['since'][:10]} – {report['until'][:10]}",
        summary=summary,
        charts=charts,
        tables=[
            Table("Top sellers", report["top_sellers"], ("product_id", "title", "sales", "price_min", "stock")),
            Table("Top sales growth", report["top_growth"], ("product_id", "title", "sales_growth", "sales")),
            Table("Most stock-outs", stock["most_stock_outs"], ("product_id", "title", "stock_outs")),
            Table("Added and removed per week", report["weekly"], ("week", "added", "removed")),
        ],
    )


def keyword_section(report: dict[str, Any]) -> Section:
    suppliers, products = report["suppliers"], report["products"]
    quantity = report["quantity"]
    priced = [s for s in suppliers if s["unit_price"] is not None]
    summary = (f"{report['returned']} results, {len(products)} stored · {len(suppliers)} suppliers, "
               f"{len(priced)} of them sell {quantity} pieces"
               + (f" (cheapest {priced[0]['unit_price']} a piece)" if priced else "")
               + (f" · {report['unknown_supplier']} products of an unknown supplier (search with details=1)"
                  if report["unknown_supplier"] else ""))
    charts = []
    if priced:
        charts.append(_bars([s["supplier"] for s in priced], [float(s["unit_price"]) for s in priced],
                            f"Lowest unit price at {quantity} pieces, per supplier"))
    if suppliers:
        charts.append(_bars([s["supplier"] for s in suppliers], [s["sales"] for s in suppliers],
                            "Sales of the results, per supplier"))
    return Section(
        title=f"Keyword {report['keyword']}",
        scope=f"search of {report['searched_at'][:16].replace('T', ' ')} UTC (crawl run {report['run_id']}), "
              f"priced at {quantity} pieces",
        summary=summary,
        charts=charts,
        tables=[
            Table("Suppliers", suppliers,
                  ("supplier", "unit_price", "moq", "sales", "products", "best_position", "title")),
            Table("Products", products,
                  ("position", "product_id", "title", "supplier", "unit_price", "moq", "sales", "stock")),
        ],
        note=NO_LOCATION,
    )


def _line(labels: Sequence[str], values: Sequence[float], title: str) -> str:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 3.2), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(labels, values, marker="o")
    axes.set_title(title)
    axes.tick_params(axis="x", labelrotation=30)
    axes.grid(True, alpha=0.3)
    return svg(figure)


def _bars(labels: Sequence[str], values: Sequence[float], title: str, limit: int = 10) -> str:
    """Horizontal bars of the first *limit* labels (Chinese ones in the font that has them)."""
    from matplotlib.figure import Figure

    from ali1688spider.reporting.fonts import legend_font

    labels = [label[:LABEL_WIDTH] for label in labels[:limit]]
    font, _ = legend_font(labels)
    figure = Figure(figsize=(7, 3.6), layout="constrained")
    axes = figure.add_subplot()
    axes.barh(range(len(labels)), values[:limit])
    axes.set_yticks(range(len(labels)), labels, fontproperties=font)
    axes.invert_yaxis()
    axes.set_title(title)
    return svg(figure)
