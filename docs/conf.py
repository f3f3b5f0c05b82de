"""Sphinx configuration of the ali1688spider docs: ``python -m sphinx docs docs/_build/html``."""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# Document this checkout's code, whichever copy of the package is installed; the extension
# that generates the reference pages lives in _ext/.
sys.path[:0] = [str(DOCS.parent), str(DOCS / "_ext")]

from ali1688spider import __version__ as release  # noqa: E402 - the one version string

project = "ali1688spider"
extensions = ["myst_parser", "ali1688docs"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
# Every reference must resolve: a {setting} that names no declared setting is a warning.
nitpicky = True
# Anchors for Markdown headings, so pages link to sections as GitHub does (page.md#section).
myst_heading_anchors = 3
# Definition lists (the /sandbox/ endpoints).
myst_enable_extensions = ["deflist"]
# Furo: a content column wide enough for the commands at 1280 px, a page contents sidebar
# (the settings page has one section per topic), and a footer from ``copyright``.
html_theme = "furo"
html_title = f"{project} {release}"
copyright = "2026, the ali1688spider maintainers"
html_static_path = ["_static"]
html_css_files = ["wrap.css"]
