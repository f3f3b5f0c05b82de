"""``ali1688 report shop --db URL --seller-open-id ID [--since DATE] [--json] [--html FILE]``.

One competitor's shop over a period (default: the last 30 days), from what crawls stored: the
product count day by day, products added and removed per week, top sellers by sales and by
sales growth, the price distribution and its moves, stock-outs and restocks
(``storage/analysis.py``). A table, one JSON object (``--json``), or one self-contained HTML
page (``--html``, see ``reporting/html.py``).
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from ali1688spider.cli.errors import CommandError
from ali1688spider.cli.pages import add_output_arguments, check_html_path, read_report, show

if TYPE_CHECKING:
    from collections.abc import Sequence

DEFAULT_DAYS = 30


def add_parser(reports: Any, *, parse_since: Any) -> None:
    shop = reports.add_parser(
        "shop", help="one competitor's shop over a period (counts, top sellers, prices, stock-outs)",
        description="Summarize one shop over a period from what crawls stored: product count, products "
                    "added and removed per week, top sellers, prices and their moves, stock-outs.",
    )
    add_output_arguments(shop)
    shop.add_argument("--seller-open-id", required=True, metavar="ID", help="the shop's sellerOpenId")
    shop.add_argument("--since", metavar="DATE", type=parse_since,
                      help=f"start of the period (YYYY-MM-DD, local time; default: {DEFAULT_DAYS} days ago)")
    shop.set_defaults(report_run=run_shop)


def run_shop(args: argparse.Namespace) -> int:
    from ali1688spider.reporting.analysis_pages import shop_section
    from ali1688spider.storage.analysis import NoRuns, UnknownShop, shop_report

    if args.html is not None:
        check_html_path(args.html)
    since = args.since or (datetime.now().astimezone() - timedelta(days=DEFAULT_DAYS))
    try:
        report = read_report(args.db, partial(shop_report, seller_open_id=args.seller_open_id, since=since))
    except UnknownShop:
        raise CommandError(f"the database holds no product of shop {args.seller_open_id!r}: crawl it first "
                           f"(scrapy crawl shop -a seller_open_id={args.seller_open_id} with ALI1688_DB_URL set)",
                           status=2) from None
    except NoRuns:
        raise CommandError(f"no crawl stored anything of shop {args.seller_open_id!r} since "
                           f"{since:%Y-%m-%d %H:%M}: give an earlier --since", status=2) from None
    return show(args, report, text=format_report, section=shop_section)


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
        *format_rows("Top sellers", report["top_sellers"], ("product_id", "sales", "price_min", "title")),
        "",
        *format_rows("Top sales growth", report["top_growth"], ("product_id", "sales_growth", "sales", "title")),
    ]
    return "\n".join(lines)


def format_rows(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[str]:
    if not rows:
        return [f"{title}: none"]
    return [f"{title}:", *("  " + "  ".join(str(row.get(c) if row.get(c) is not None else "-") for c in columns)
                           for row in rows)]
