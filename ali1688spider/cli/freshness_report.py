"""``ali1688 report freshness --db URL [--json] [--chart FILE.png]``: how fresh the stored details
are and what monitoring costs, per shop that crawls listed whole (``storage/freshness.py``).

For each shop: its products by the age of their last detail (stock and SKUs are only as fresh
as that), and its latest runs' calls, changes found and calls per change found. ``--chart``
draws both with matplotlib (the ``chart`` extra).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ali1688spider.cli.chart import require_matplotlib
from ali1688spider.cli.errors import CommandError

if TYPE_CHECKING:
    from collections.abc import Sequence


def add_parser(reports: Any) -> None:
    freshness = reports.add_parser(
        "freshness", help="per shop: products by age of their last detail, calls per change found",
        description="Per shop that crawls listed whole: its products by the age of their last detail, and "
                    "its latest runs' calls, changes found and calls per change found.",
    )
    freshness.add_argument("--db", metavar="URL", default=None,
                           help="database URL, e.g. sqlite:///ali1688.db (default: $ALI1688_DB_URL)")
    freshness.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    freshness.add_argument("--chart", metavar="FILE.png", type=Path, help="also draw the figures into a PNG")
    freshness.set_defaults(report_run=run_freshness)


def run_freshness(args: argparse.Namespace) -> int:
    from ali1688spider.cli.database import open_database
    from ali1688spider.storage.freshness import freshness_report

    if args.chart is not None:
        require_matplotlib()
    now = datetime.now(timezone.utc)
    engine = open_database(args.db)
    try:
        with engine.connect() as connection:
            shops = freshness_report(connection, now=now)
    finally:
        engine.dispose()
    if not shops:
        raise CommandError("no finished crawl in this database listed a whole shop (schema 5 records what "
                           "each run spent): run scrapy crawl shop or watch with ALI1688_DB_URL set first",
                           status=2)
    report = {"generated_at": now.isoformat(timespec="seconds"), "shops": shops}
    print(json.dumps(report, ensure_ascii=False) if args.json else format_report(shops))
    if args.chart is not None:
        write_chart(args.chart, shops)
        print(f"\nChart written to {args.chart}")
    return 0


def format_report(shops: Sequence[dict[str, Any]]) -> str:
    lines = []
    for shop in shops:
        ages = ", ".join(f"{label} {count}" for label, count in shop["detail_age"].items())
        lines += [f"Shop {shop['seller_open_id']}: {shop['products']} products; last detail: {ages}",
                  "  run  started                     calls  listing  changes  calls/change"]
        lines += [
            f"  {run['run_id']:>3}  {run['started_at']:<26}  {run['calls']:>5}  {run['listing_calls']:>7}  "
            f"{run['changes']:>7}  {run['calls_per_change'] if run['calls_per_change'] is not None else '-':>12}"
            for run in shop["runs"]
        ]
        lines.append("")
    return "\n".join(lines).rstrip()


def write_chart(path: Path, shops: Sequence[dict[str, Any]]) -> None:
    """Two panels: products by detail age (one bar per shop), calls per change found per run."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.5), layout="constrained")
    ages, costs = figure.subplots(1, 2)
    names = [shop["seller_open_id"][-10:] for shop in shops]
    bottom = [0] * len(shops)
    for label in shops[0]["detail_age"]:
        counts = [shop["detail_age"][label] for shop in shops]
        ages.bar(names, counts, bottom=bottom, label=label)
        bottom = [b + c for b, c in zip(bottom, counts)]
    ages.set_title("Products by age of their last detail")
    ages.legend(fontsize="small")
    for name, shop in zip(names, shops):
        runs = [run for run in shop["runs"] if run["calls_per_change"] is not None]
        costs.plot([run["run_id"] for run in runs], [run["calls_per_change"] for run in runs], marker="o", label=name)
    costs.set_title("Calls per change found, per run")
    costs.set_xlabel("run")
    costs.legend(fontsize="small")
    try:
        figure.savefig(path, dpi=100)
    except OSError as exc:
        raise CommandError(f"--chart {path}: cannot write it ({exc.strerror})", status=2) from None
