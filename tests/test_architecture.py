"""The package's architecture holds: the import-linter contracts of pyproject.toml are kept.

The contracts say: layers import only downwards (the CLI on top; spiders; pipelines;
extensions and reporting; the gateway; distributed mode and storage; the shared basics; the
protocol and the sandbox at the bottom), the protocol and the sandbox import neither Scrapy
nor Twisted, and no two modules of a package import each other in a cycle.
"""

from __future__ import annotations

import subprocess
import sys

import tomllib
from conftest import REPO

# In a process of its own: import-linter trips over classes that zope.interface (imported
# by Twisted, so by every test process here) has touched.
LINT_IMPORTS = [
    sys.executable, "-c",
    "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
    "--no-cache", "--config", str(REPO / "pyproject.toml"),
]


def test_the_import_contracts_are_kept():
    result = subprocess.run(LINT_IMPORTS, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_contracts_cover_every_package():
    """A new subpackage must be placed in a layer, or the layers say nothing about it."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    layers = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    placed = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    package = REPO / "ali1688spider"
    children = {
        f"ali1688spider.{path.stem}"
        for path in package.iterdir()
        if (path.is_dir() and (path / "__init__.py").exists())
        or (path.suffix == ".py" and path.stem not in ("__init__", "settings"))
    }
    assert children - placed == set()
