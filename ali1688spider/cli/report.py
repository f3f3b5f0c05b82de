"""``ali1688 report prices|changes|shop|freshness --db URL …``: reports from the crawl database.

``prices [--product ID] [--since DATE] [--chart FILE.png]`` prints the price changes stored by
crawls with ``ALI1688_DB_URL`` (oldest first; times in this machine's time zone) and, with
``--chart``, draws the lowest price of each product over time (the given products, else the
eight that changed most) into a PNG.

``changes [--run N|last] [--kind K…] [--product ID…] [--json]`` prints the change feed of one
crawl run (default: the last finished one), as a table or one JSON object a line.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from ali1688spider.cli import chart, freshness_report, keyword_report, shop_report
from ali1688spider.cli.database import open_database
from ali1688spider.cli.errors import CommandError

if TYPE_CHECKING:
    from decimal import Decimal

    from sqlalchemy.engine import Connection, Engine

    from ali1688spider.storage.queries import PricePoint

HELP = ("reports from the crawl database: `prices` (price history, --chart), `changes` (the change feed), "
        "`shop` (one competitor's shop over a period), `keyword` (the suppliers of a search side by side), "
        "`freshness` (detail ages, calls per change found)")
CHART_PRODUCTS = 8
TITLE_WIDTH = 30
CHART_TITLE_WIDTH = 24


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ali1688spider.monitoring.changes import KINDS

    reports = parser.add_subparsers(dest="report", metavar="REPORT", required=True)
    prices = reports.add_parser(
        "prices",
        help="price changes stored by crawls (oldest first)",
        description="List the price changes stored by crawls with ALI1688_DB_URL, oldest first.",
    )
    _common_arguments(prices)
    prices.add_argument(
        "--since", metavar="DATE", type=parse_since,
        help="only changes from this date (YYYY-MM-DD, or ISO date and time; local time) on",
    )
    prices.add_argument("--chart", metavar="FILE.png", type=Path, help="also draw the price history into a PNG")
    prices.set_defaults(report_run=run_prices)
    changes = reports.add_parser(
        "changes",
        help="what changed about products in one crawl run (the change feed)",
        description="List the changes one crawl run recorded (default: the last finished run).",
    )
    _common_arguments(changes)
    changes.add_argument("--run", dest="run_id", metavar="N|last", type=_run, default=None,
                         help="the crawl run (its id is logged at start; default: the last finished one)")
    changes.add_argument("--kind", metavar="K", action="append", default=[], choices=KINDS,
                         help=f"only changes of this kind, one of {', '.join(KINDS)}; repeatable")
    changes.add_argument("--json", action="store_true", help="one JSON object a line instead of a table")
    changes.set_defaults(report_run=run_changes)
    shop_report.add_parser(reports, parse_since=parse_since)
    keyword_report.add_parser(reports)
    freshness_report.add_parser(reports)


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="URL", default=None,
        help="database URL, e.g. sqlite:///ali1688.db (default: $ALI1688_DB_URL)",
    )
    parser.add_argument(
        "--product", metavar="ID", action="append", default=[], type=_offer_id,
        help="only this product (offer id or detail URL); repeatable",
    )


def _run(text: str) -> int | None:
    """A crawl run id, or ``last`` (None: the last finished run)."""
    if text.strip().lower() == "last":
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a crawl run id (a number such as 3) or 'last'")
    return int(text)


def run(args: argparse.Namespace) -> int:
    return args.report_run(args)


def _offer_id(text: str) -> str:
    from ali1688spider.api.urls import parse_offer_id

    try:
        return parse_offer_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_since(text: str) -> datetime:
    """A date or date-time; without an offset it is local time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-05-01") from None
    if len(text.strip()) == 10:
        moment = datetime.combine(moment.date(), time())
    return moment if moment.tzinfo else moment.astimezone()


def run_prices(args: argparse.Namespace) -> int:
    from ali1688spider.storage.queries import most_changed, price_history

    if args.chart:
        chart.require_matplotlib()
    engine = open_database(args.db)
    try:
        with engine.connect() as connection:
            changes = price_history(connection, product_ids=args.product, since=args.since, changes_only=True)
            print(format_changes(changes))
            if args.chart:
                ids = args.product or most_changed(connection, since=args.since, limit=CHART_PRODUCTS)
                drawn = write_chart(connection, args.chart, ids, args.since)
                print(f"\nChart of {drawn} product(s) written to {args.chart}")
    finally:
        engine.dispose()
    return 0


def run_changes(args: argparse.Namespace) -> int:
    from ali1688spider.pipelines.changefeed import change_item
    from ali1688spider.storage.queries import last_finished_run, product_changes, run_exists

    engine = open_database(args.db)
    try:
        with engine.connect() as connection:
            run_id = args.run_id
            if run_id is None:
                run_id = last_finished_run(connection)
                if run_id is None:
                    raise CommandError(f"{_database_name(engine)} has no finished crawl run yet")
            elif not run_exists(connection, run_id):
                raise CommandError(f"{_database_name(engine)} has no crawl run {run_id}")
            rows = product_changes(connection, run_id=run_id, kinds=args.kind, product_ids=args.product)
    finally:
        engine.dispose()
    items = [dict(change_item(row)) for row in rows]
    if args.json:
        for item in items:
            print(json.dumps(item, ensure_ascii=False))
    else:
        print(format_change_feed(items, run_id))
    return 0


def _database_name(engine: Engine) -> str:
    from ali1688spider.storage.store import describe_url

    return describe_url(engine.url)


def format_change_feed(items: list[dict], run_id: int) -> str:
    """The table of one run's changes (or a line saying there is none)."""
    if not items:
        return f"No changes recorded by crawl run {run_id}."
    header = ("detected", "product", "title", "kind", "sku", "change", "%")
    rows = [
        (
            _local(datetime.fromisoformat(item["detected_at"])),
            item["product_id"],
            _truncate(item["title"] or "", TITLE_WIDTH),
            item["kind"],
            item["sku_id"] or "",
            f"{_describe(item['old'])} -> {_describe(item['new'])}",
            f"{item['change_pct']}%" if item["change_pct"] is not None else "",
        )
        for item in items
    ]
    counts: dict[str, int] = {}
    for item in items:
        counts[item["kind"]] = counts.get(item["kind"], 0) + 1
    summary = ", ".join(f"{kind} {count}" for kind, count in counts.items())
    return f"{_table(header, rows)}\n\nCrawl run {run_id}: {len(items)} change(s) ({summary})."


def _describe(value: object) -> str:
    """A change's old or new value in a few words."""
    if value is None:
        return "-"
    if not isinstance(value, dict):
        return str(value)
    if "attributes" in value:  # a SKU
        attributes = " ".join(f"{k}={v}" for k, v in (value["attributes"] or {}).items())
        return f"{attributes} @ {value['price'] or '-'}, stock {value['stock']}"
    span = _span(value.get("price_min"), value.get("price_max"))
    if "title" in value:  # a whole product (new, removed)
        return f"{span}, stock {value['stock'] if value['stock'] is not None else '?'}"
    return span


def _span(low: str | None, high: str | None) -> str:
    return low or "-" if low == high else f"{low or '-'}~{high or '-'}"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Columns padded to their widest cell (CJK counts double), a rule under the header."""
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(_pad(cell, width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_changes(changes: list[PricePoint]) -> str:
    """The table of price changes (or a line saying there is none)."""
    if not changes:
        return "No price changes."
    header = ("observed", "product", "title", "lowest price", "highest price", "change")
    rows = [
        (
            _local(change.observed_at),
            change.product_id,
            _truncate(change.title or "", TITLE_WIDTH),
            _arrow(change.previous_price_min, change.price_min),
            _arrow(change.previous_price_max, change.price_max),
            _percent(change.previous_price_min, change.price_min),
        )
        for change in changes
    ]
    offset = datetime.now().astimezone().strftime("%z")
    return (f"{_table(header, rows)}\n\n{len(changes)} price change(s); times are local "
            f"(UTC{offset[:3]}:{offset[3:]}).")


def write_chart(connection: Connection, path: Path, product_ids: list[str], since: datetime | None) -> int:
    """Draw the lowest price of *product_ids* over time; returns how many were drawn.

    Each line starts with the price in effect at *since* (or the first sighting) and runs
    to the latest stored observation.
    """
    from ali1688spider.storage.queries import last_observation, price_history

    points = price_history(connection, product_ids=product_ids) if product_ids else []
    series = chart.price_series(points, since)
    if not series:
        raise CommandError("no price history to chart (crawl the products at least once)")
    titles = {point.product_id: _truncate(point.title, CHART_TITLE_WIDTH) for point in points if point.title}
    chart.write_chart(path, series, titles, end=last_observation(connection).astimezone(), since=since)
    return len(series)


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _arrow(before: Decimal | None, after: Decimal | None) -> str:
    from ali1688spider.storage.records import price_text

    if before == after:
        return price_text(after) or "-"
    return f"{price_text(before) or '-'} -> {price_text(after) or '-'}"


def _percent(before: Decimal | None, after: Decimal | None) -> str:
    """The change in percent as the change feed gives it (two decimals), signed."""
    from ali1688spider.storage.changes import change_pct

    pct = change_pct(before, after)
    return "" if pct is None else f"{'' if pct.startswith('-') else '+'}{pct}%"


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _truncate(text: str, width: int) -> str:
    if _width(text) <= width:
        return text
    out = ""
    for ch in text:
        if _width(out + ch) > width - 1:
            break
        out += ch
    return out + "…"
