"""``ali1688 report keyword --db URL --keyword TEXT [--quantity N] [--json] [--html FILE]``.

The suppliers of the last stored search of a keyword side by side, the table a buyer chooses
one from: each one's lowest unit price at the quantity (tiered prices and MOQ), its sales, its
products in the results (``storage/suppliers.py``). A table, one JSON object (``--json``), or
one self-contained HTML page (``--html``).
"""

from __future__ import annotations

import argparse
from functools import partial
from typing import Any

from ali1688spider.cli.errors import CommandError
from ali1688spider.cli.pages import add_output_arguments, check_html_path, read_report, show
from ali1688spider.cli.shop_report import format_rows

DEFAULT_QUANTITY = 1


def add_parser(reports: Any) -> None:
    keyword = reports.add_parser(
        "keyword", help="the suppliers of a stored search side by side (price at a quantity, MOQ, sales)",
        description="Compare the suppliers of the last stored search of a keyword: the lowest unit price at "
                    "a quantity (tiered prices and MOQ), sales, and their products in the results.",
    )
    add_output_arguments(keyword)
    keyword.add_argument("--keyword", required=True, metavar="TEXT", help="the keyword a search crawl stored")
    keyword.add_argument("--quantity", metavar="N", default=str(DEFAULT_QUANTITY),
                         help=f"the pieces you would buy, priced from each product's tiers (default: {DEFAULT_QUANTITY})")
    keyword.set_defaults(report_run=run_keyword)


def _quantity(text: str) -> int:
    """The pieces asked for; one line (exit 2) for anything but a whole number above 0."""
    if not text.strip().isdigit() or int(text) < 1:
        raise CommandError(f"--quantity {text}: give the number of pieces, a whole number above 0 (e.g. 100)",
                           status=2)
    return int(text)


def run_keyword(args: argparse.Namespace) -> int:
    from ali1688spider.reporting.analysis_pages import keyword_section
    from ali1688spider.storage.suppliers import UnknownKeyword, keyword_report

    quantity = _quantity(args.quantity)
    if args.html is not None:
        check_html_path(args.html)
    try:
        report = read_report(args.db, partial(keyword_report, keyword=args.keyword, quantity=quantity))
    except UnknownKeyword:
        raise CommandError(f"the database holds no search for {args.keyword!r}: crawl it first (scrapy crawl "
                           f"search -a keyword={args.keyword} with ALI1688_DB_URL set)", status=2) from None
    return show(args, report, text=format_report, section=keyword_section)


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"Keyword {report['keyword']}: {report['returned']} results, {len(report['suppliers'])} suppliers "
        f"(search of {report['searched_at'][:16].replace('T', ' ')} UTC, crawl run {report['run_id']}); "
        f"unit prices at {report['quantity']} pieces",
    ]
    if report["unknown_supplier"]:
        lines.append(f"{report['unknown_supplier']} products of an unknown supplier: search with -a details=1")
    lines += ["", *format_rows("Suppliers", report["suppliers"],
                               ("supplier", "unit_price", "moq", "sales", "products", "best_position", "title"))]
    return "\n".join(lines)
