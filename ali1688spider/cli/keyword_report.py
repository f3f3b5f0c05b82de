"""``ali1688 report keyword --db URL --keyword TEXT [--quantity N] [--json] [--html FILE]``.

The suppliers of the last stored search of a keyword side by side, the table a buyer chooses
one from: each one's lowest unit price at the quantity (tiered prices and MOQ), its sales, its
products in the results (``storage/suppliers.py``). A table, one JSON object (``--json``), or
one self-contained HTML page (``--html``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ali1688spider.cli.errors import CommandError
from ali1688spider.cli.pages import check_html_path, write_page
from ali1688spider.cli.shop_report import format_rows

DEFAULT_QUANTITY = 1


def add_parser(reports: Any) -> None:
    keyword = reports.add_parser(
        "keyword", help="the suppliers of a stored search side by side (price at a quantity, MOQ, sales)",
        description="Compare the suppliers of the last stored search of a keyword: the lowest unit price at "
                    "a quantity (tiered prices and MOQ), sales, and their products in the results.",
    )
    keyword.add_argument("--db", metavar="URL", default=None,
                         help="database URL, e.g. sqlite:///ali1688.db (default: $ALI1688_DB_URL)")
    keyword.add_argument("--keyword", required=True, metavar="TEXT", help="the keyword a search crawl stored")
    keyword.add_argument("--quantity", metavar="N", default=str(DEFAULT_QUANTITY),
                         help=f"the pieces you would buy, priced from each product's tiers (default: {DEFAULT_QUANTITY})")
    keyword.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    keyword.add_argument("--html", metavar="FILE", type=Path, help="also write one self-contained HTML page")
    keyword.set_defaults(report_run=run_keyword)


def _quantity(text: str) -> int:
    """The pieces asked for; one line (exit 2) for anything but a whole number above 0."""
    if not text.strip().isdigit() or int(text) < 1:
        raise CommandError(f"--quantity {text}: give the number of pieces, a whole number above 0 (e.g. 100)",
                           status=2)
    return int(text)


def run_keyword(args: argparse.Namespace) -> int:
    from ali1688spider.cli.database import open_database
    from ali1688spider.storage.suppliers import UnknownKeyword, keyword_report

    quantity = _quantity(args.quantity)
    if args.html is not None:
        check_html_path(args.html)
    engine = open_database(args.db)
    try:
        with engine.connect() as connection:
            report = keyword_report(connection, args.keyword, quantity=quantity)
    except UnknownKeyword:
        raise CommandError(f"the database holds no search for {args.keyword!r}: crawl it first (scrapy crawl "
                           f"search -a keyword={args.keyword} with ALI1688_DB_URL set)", status=2) from None
    finally:
        engine.dispose()
    print(json.dumps(report, ensure_ascii=False) if args.json else format_report(report))
    if args.html is not None:
        from ali1688spider.reporting.analysis_pages import keyword_section

        write_page(args.html, keyword_section(report))
    return 0


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
