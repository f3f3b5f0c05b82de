"""What the competitor-analysis reports (``report shop``, ``report keyword``) share: ``--html
FILE`` checked before any work, the report read from the database, and shown as a table, one
JSON object (``--json``) and the page (``reporting/html.py``) written in one piece."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ali1688spider.cli.errors import CommandError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from sqlalchemy.engine import Connection

    from ali1688spider.reporting.html import Section

Report = dict[str, Any]

HTML_MISSING_CHARTS = "--html draws its charts with matplotlib: pip install 'ali1688spider[chart]'"


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--db URL``, ``--json`` and ``--html FILE``."""
    parser.add_argument("--db", metavar="URL", default=None,
                        help="database URL, e.g. sqlite:///ali1688.db (default: $ALI1688_DB_URL)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    parser.add_argument("--html", metavar="FILE", type=Path, help="also write one self-contained HTML page")


def check_html_path(path: Path) -> None:
    """One line (exit 2) when *path* cannot be written or matplotlib is missing."""
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or not directory.is_dir() or not os.access(directory, os.W_OK):
        raise CommandError(f"--html {path}: cannot write there (give a file path in a writable directory)",
                           status=2)
    try:
        import matplotlib  # noqa: F401  (only whether it imports)
    except ImportError:
        raise CommandError(HTML_MISSING_CHARTS, status=2) from None


def read_report(db: str | None, ask: Callable[[Connection], Report]) -> Report:
    """What *ask* answers on the database of ``--db`` (or ``ALI1688_DB_URL``)."""
    from ali1688spider.cli.database import open_database

    engine = open_database(db)
    try:
        with engine.connect() as connection:
            return ask(connection)
    finally:
        engine.dispose()


def show(args: argparse.Namespace, report: Report, *, text: Callable[[Report], str],
         section: Callable[[Report], Section]) -> int:
    """Print *report* (``--json``: one JSON object; else *text*) and write its page (``--html``)."""
    print(json.dumps(report, ensure_ascii=False) if args.json else text(report))
    if args.html is not None:
        from ali1688spider.reporting import html

        page = section(report)
        html.write_page(args.html, page.title, [page])
        print(f"\nHTML report written to {args.html}")
    return 0
