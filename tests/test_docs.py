"""The docs site builds from docs/ with no warning, and names exactly the settings the code declares.

The site (``docs_site.py``) is built with warnings as errors; a
reference to an unknown setting, page or section is a warning, so it fails the build.
"""

from __future__ import annotations

import re

from helpers import REPO

from ali1688spider.config import DEFAULTS

SETTING_NAME = re.compile(r"ALI1688_[A-Z0-9_]+")
#: Not a setting: the misspelling the settings page shows to explain the unknown-setting warning.
MISSPELT_EXAMPLE = "ALI1688_QSP"


def test_the_docs_build_without_a_warning(site):
    assert (site / "index.html").is_file()
    assert (site / "getting-started.html").is_file()


def test_the_settings_reference_has_an_entry_for_every_declared_setting(site):
    page = (site / "settings.html").read_text(encoding="utf-8")
    assert set(re.findall(r'id="std-setting-(ALI1688_[A-Z0-9_]+)"', page)) == set(DEFAULTS)


def test_the_docs_and_the_readme_mention_only_declared_settings():
    sources = [REPO / "README.md"] + [
        path for path in (REPO / "docs").rglob("*")
        if path.is_file() and "_build" not in path.parts and path.suffix in (".md", ".rst", ".py")
    ]
    mentioned = {(name, str(path.relative_to(REPO))) for path in sources
                 for name in SETTING_NAME.findall(path.read_text(encoding="utf-8"))}
    unknown = sorted((name, path) for name, path in mentioned
                     if name not in DEFAULTS and name != MISSPELT_EXAMPLE)
    assert unknown == []
