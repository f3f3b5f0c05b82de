"""A crawl that keeps its items nowhere (no feed, no database) says so at the start, once."""

from __future__ import annotations

import subprocess

from conftest import REPO

from ali1688spider.sandbox.process import crawl_command, crawl_environment

WARNING = ("This crawl stores its items nowhere: no feed (-O FILE or FEEDS) and no ALI1688_DB_URL; "
           "add e.g. -O products.jsonl or -s ALI1688_DB_URL=sqlite:///ali1688.db to keep them")


def product_crawl(sandbox, tmp_path, **output) -> subprocess.CompletedProcess:
    settings = {"ALI1688_REPORT_FILE": str(tmp_path / "report.json"), "ALI1688_STATE_FILE": str(tmp_path / "state.json")}
    command = crawl_command("product", args={"ids": sandbox.ids(sandbox.shop(100))[0]}, settings=settings, **output)
    return subprocess.run(command, cwd=REPO, env=crawl_environment(sandbox.env()), capture_output=True, text=True,
                          timeout=120)


def test_a_crawl_without_feed_or_database_warns_once_at_the_start(sandbox, tmp_path):
    done = product_crawl(sandbox, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.count(WARNING) == 1
    assert done.stderr.index(WARNING) < done.stderr.index("Spider opened")


def test_a_crawl_with_a_feed_does_not_warn(sandbox, tmp_path):
    done = product_crawl(sandbox, tmp_path, output=tmp_path / "items.jsonl")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "stores its items nowhere" not in done.stderr and (tmp_path / "items.jsonl").read_text()
