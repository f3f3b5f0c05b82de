"""The README's first command on a fresh machine: ``pip install -e .`` installs only the core
dependencies, and the main job (a shop crawl of the embedded sandbox into JSON lines) must run
with nothing from the extras (redis, scrapy-redis, psycopg, matplotlib, spidermon)."""

from __future__ import annotations

import os

from helpers import REPO

EXTRAS = ("redis", "scrapy_redis", "psycopg", "matplotlib", "spidermon")


def test_the_main_job_runs_with_the_core_dependencies_only(crawl, tmp_path, sandbox):
    stubs = tmp_path / "not_installed"
    for name in EXTRAS:
        (stubs / name).mkdir(parents=True)
        (stubs / name / "__init__.py").write_text(f"raise ImportError('{name} is not installed (test stub)')\n")
    shop = sandbox.shop(60)  # the embedded sandbox has the same catalogue (default seed)
    result = crawl("shop", args={"seller_open_id": shop["seller_open_id"]},
                   env={"PYTHONPATH": os.pathsep.join([str(stubs), os.environ.get("PYTHONPATH", str(REPO))])})
    assert result.returncode == 0, result.log[-3000:]
    assert "test stub" not in result.log
    assert len(result.items) == shop["products"]
    assert result.stats["ali1688/sandbox"] == 1
