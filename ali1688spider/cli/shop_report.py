"""``ali1688 report shop --db URL --seller-open-id ID [--since DATE] [--json] [--html FILE]``.

One competitor's shop over a period (default: the last 30 days), from what crawls stored: the
product count day by day, products added and removed per week, top sellers by sales and by
sales growth, the price distribution and its moves, stock-outs and restocks
(``storage/analysis.py``). A table, one JSON object (``--json``), or one self-contained HTML
page (``--html``: charts inlined as SVG, tables sortable; no network needed to open it).
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ali1688spider.cli.errors import CommandError

if TYPE_CHECKING:
    from collections.abc import Sequence

DEFAULT_DAYS = 30
HTML_MISSING_CHARTS = "--html draws its charts with matplotlib: pip install 'ali1688spider[chart]'"
#: The family name of the Chinese glyphs a page embeds (the CSS falls back to it).
EMBEDDED_FONT = "ReportCJK"


def add_parser(reports: Any, *, parse_since: Any) -> None:
    shop = reports.add_parser(
        "shop", help="one competitor's shop over a period (counts, top sellers, prices, stock-outs)",
        description="Summarize one shop over a period from what crawls stored: product count, products "
                    "added and removed per week, top sellers, prices and their moves, stock-outs.",
    )
    shop.add_argument("--db", metavar="URL", default=None,
                      help="database URL, e.g. sqlite:///ali1688.db (default: $ALI1688_DB_URL)")
    shop.add_argument("--seller-open-id", required=True, metavar="ID", help="the shop's sellerOpenId")
    shop.add_argument("--since", metavar="DATE", type=parse_since,
                      help=f"start of the period (YYYY-MM-DD, local time; default: {DEFAULT_DAYS} days ago)")
    shop.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    shop.add_argument("--html", metavar="FILE", type=Path, help="also write one self-contained HTML page")
    shop.set_defaults(report_run=run_shop)


def run_shop(args: argparse.Namespace) -> int:
    from ali1688spider.cli.database import open_database
    from ali1688spider.storage.analysis import NoRuns, UnknownShop, shop_report

    if args.html is not None:
        _check_writable(args.html)
        _require_charts()
    since = args.since or (datetime.now().astimezone() - timedelta(days=DEFAULT_DAYS))
    engine = open_database(args.db)
    try:
        with engine.connect() as connection:
            report = shop_report(connection, args.seller_open_id, since=since)
    except UnknownShop:
        raise CommandError(f"the database holds no product of shop {args.seller_open_id!r}: crawl it first "
                           f"(scrapy crawl shop -a seller_open_id={args.seller_open_id} with ALI1688_DB_URL set)",
                           status=2) from None
    except NoRuns:
        raise CommandError(f"no crawl stored anything of shop {args.seller_open_id!r} since "
                           f"{since:%Y-%m-%d %H:%M}: give an earlier --since", status=2) from None
    finally:
        engine.dispose()
    print(json.dumps(report, ensure_ascii=False) if args.json else format_report(report))
    if args.html is not None:
        args.html.write_text(html_page(report), encoding="utf-8")
        print(f"\nHTML report written to {args.html}")
    return 0


def _check_writable(path: Path) -> None:
    """One line, before any work, when *path* cannot be written."""
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or not directory.is_dir() or not os.access(directory, os.W_OK):
        raise CommandError(f"--html {path}: cannot write there (give a file path in a writable directory)",
                           status=2)


def _require_charts() -> None:
    try:
        import matplotlib  # noqa: F401  (only whether it imports)
    except ImportError:
        raise CommandError(HTML_MISSING_CHARTS, status=2) from None


# -- text --------------------------------------------------------------------------------------

def format_report(report: dict[str, Any]) -> str:
    prices, stock, moves = report["prices"], report["stock"], report["price_moves"]
    lines = [
        f"Shop {report['seller_open_id']}: {report['products']} products listed "
        f"({report['since'][:10]} – {report['until'][:10]})",
        "",
        "Products day by day: " + ", ".join(f"{p['day']} {p['products']}" for p in report["product_count"]),
        "Added / removed per week: " + (", ".join(f"{w['week']} +{w['added']} -{w['removed']}"
                                                   for w in report["weekly"]) or "none"),
        f"Prices: {prices['count']} products, min {prices.get('min')}, median {prices.get('median')}, "
        f"max {prices.get('max')}; moves up {moves['up']}, down {moves['down']} "
        f"(median {moves['median_change_pct']} %)",
        f"Stock-outs {stock['stock_outs']}, restocks {stock['restocks']}",
        "",
        *_table("Top sellers", report["top_sellers"], ("product_id", "sales", "price_min", "title")),
        "",
        *_table("Top sales growth", report["top_growth"], ("product_id", "sales_growth", "sales", "title")),
    ]
    return "\n".join(lines)


def _table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[str]:
    if not rows:
        return [f"{title}: none"]
    return [f"{title}:", *("  " + "  ".join(str(row.get(c) if row.get(c) is not None else "-") for c in columns)
                           for row in rows)]


# -- HTML --------------------------------------------------------------------------------------

def html_page(report: dict[str, Any]) -> str:
    """One self-contained page: no script, style, font or image is loaded from anywhere."""
    title = f"Shop {report['seller_open_id']}"
    charts = "".join(f"<figure>{svg}</figure>" for svg in _charts(report))
    tables = "".join((
        _html_table("Top sellers", report["top_sellers"], ("product_id", "title", "sales", "price_min", "stock")),
        _html_table("Top sales growth", report["top_growth"], ("product_id", "title", "sales_growth", "sales")),
        _html_table("Most stock-outs", report["stock"]["most_stock_outs"], ("product_id", "title", "stock_outs")),
        _html_table("Added and removed per week", report["weekly"], ("week", "added", "removed")),
    ))
    prices, moves, stock = report["prices"], report["price_moves"], report["stock"]
    summary = (f"{report['products']} products listed · prices {prices.get('min')}–{prices.get('max')} "
               f"(median {prices.get('median')}) · {moves['up']} price rises, {moves['down']} cuts · "
               f"{stock['stock_outs']} stock-outs, {stock['restocks']} restocks")
    text_chars = "".join(sorted({char for char in tables + summary if ord(char) > 0x2E7F}))
    font_face = _embedded_font(text_chars)
    missing_font = "" if font_face or not text_chars else (
        '<p class="note">This page embeds no font for its Chinese text: it shows where the '
        "machine has one. pip install 'ali1688spider[chart]' embeds one.</p>")
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{font_face}{_CSS}</style></head>
<body><main>
<h1>{html.escape(title)}</h1>{missing_font}
<p class="period">{html.escape(report['since'][:10])} – {html.escape(report['until'][:10])}</p>
<p class="summary">{html.escape(summary)}</p>
<section class="charts">{charts}</section>
{tables}
</main><script>{_SORT_SCRIPT}</script></body></html>
"""


def _embedded_font(chars: str) -> str:
    """An ``@font-face`` holding just the glyphs of *chars* from the ``chart`` extra's CJK font
    (a few KB each), so Chinese shows on a machine without a CJK font; "" without the extra."""
    from ali1688spider.cli.chart import packaged_cjk_font

    path = packaged_cjk_font() if chars else None
    if path is None:
        return ""
    from fontTools import subset

    font = subset.load_font(path, subset.Options())
    subsetter = subset.Subsetter()
    subsetter.populate(text=chars)
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    data = base64.b64encode(out.getvalue()).decode()
    return f'@font-face{{font-family:"{EMBEDDED_FONT}";src:url(data:font/otf;base64,{data}) format("opentype");font-display:block}}'


def _html_table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if row.get(c) is None else str(row.get(c)))}</td>"
                                    for c in columns) + "</tr>" for row in rows)
    empty = "" if rows else f'<tr><td colspan="{len(columns)}">none</td></tr>'
    return (f'<section><h2>{html.escape(title)}</h2><div class="scroll"><table class="sortable">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}{empty}</tbody></table></div></section>")


def _charts(report: dict[str, Any]) -> list[str]:
    """The product count over time and the top sellers' sales, as inline SVG (text drawn as
    paths, so Chinese titles show on any machine that opens the page)."""
    from matplotlib.figure import Figure

    from ali1688spider.cli.chart import legend_font

    svgs = []
    counts = report["product_count"]
    figure = Figure(figsize=(7, 3.2), layout="constrained")
    axes = figure.add_subplot()
    axes.plot([p["day"] for p in counts], [p["products"] for p in counts], marker="o")
    axes.set_title("Products listed")
    axes.tick_params(axis="x", labelrotation=30)
    axes.grid(True, alpha=0.3)
    svgs.append(_svg(figure))
    sellers = report["top_sellers"]
    if sellers:
        labels = [f"{(s['title'] or s['product_id'])[:14]}" for s in sellers]
        font, _ = legend_font(labels)
        figure = Figure(figsize=(7, 3.6), layout="constrained")
        axes = figure.add_subplot()
        axes.barh(range(len(sellers)), [s["sales"] or 0 for s in sellers])
        axes.set_yticks(range(len(sellers)), labels, fontproperties=font)
        axes.invert_yaxis()
        axes.set_title("Top sellers (sales)")
        svgs.append(_svg(figure))
    return svgs


def _svg(figure: Any) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg")
    text = out.getvalue()
    return text[text.index("<svg"):]


_CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI","Noto Sans SC","PingFang SC","ReportCJK",sans-serif;
margin:0;color:#222}
.note{color:#8a4b00}
main{max-width:1100px;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0}
.summary{background:#f4f6f8;padding:.6rem .8rem;border-radius:6px}
.charts{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;flex:1 1 420px;min-width:0}
figure svg{width:100%;height:auto}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;overflow-wrap:anywhere}
th{cursor:pointer;background:#fafafa}
"""

_SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var column = th.cellIndex, body = th.closest("table").tBodies[0], rows = Array.from(body.rows);
    var up = th.dataset.order !== "asc"; th.dataset.order = up ? "asc" : "desc";
    rows.sort(function (a, b) {
      var x = a.cells[column].textContent, y = b.cells[column].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var order = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
      return up ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""
