"""``--html FILE`` of the ``ali1688 report`` commands: the path checked before any work, the page
written (``reporting/html.py``) in one piece."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ali1688spider.cli.errors import CommandError

if TYPE_CHECKING:
    from ali1688spider.reporting.html import Section

HTML_MISSING_CHARTS = "--html draws its charts with matplotlib: pip install 'ali1688spider[chart]'"


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


def write_page(path: Path, section: Section) -> None:
    from ali1688spider.reporting import html

    html.write_page(path, section.title, [section])
    print(f"\nHTML report written to {path}")
