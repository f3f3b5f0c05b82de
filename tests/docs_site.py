"""The docs site, built once per test process for the tests that read it as HTML or in a browser.

Sphinx runs in a subprocess with warnings as errors (``-W``), as a reader builds the site.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import REPO

# myst-parser still reads attributes that Sphinx 9 deprecates for Sphinx 11
# (RemovedInSphinx11Warning, a PendingDeprecationWarning): ignored in those two modules only,
# every other Python warning of the build stays an error (conftest.py's PYTHONWARNINGS).
PYTHON_WARNINGS = ",".join(
    ["error"] + [f"ignore::PendingDeprecationWarning:{module}"
                 for module in ("myst_parser.mocking", "myst_parser.sphinx_ext.myst_refs")]
)


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The HTML site of docs/."""
    out = tmp_path_factory.mktemp("html")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "docs", str(out)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONWARNINGS": PYTHON_WARNINGS})
    assert result.returncode == 0, f"the docs build failed:\n{result.stderr}{result.stdout}"
    return out
