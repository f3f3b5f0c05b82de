"""Failures that lose output end the crawl as failures: a full disk under the feed or JOBDIR,
a damaged or unwritable JOBDIR.

The full disk is a real one: a small tmpfs the test mounts (root only; elsewhere those tests
skip, saying why). A database on a full disk (a batch fails, in the writer process or the
worker thread) ends the crawl as a database failure, with every product already in the feed
stored.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import uuid

import pytest

TINY_DISK = "256k"
DATABASE_DISK = "1m"


def small_disk(tmp_path, size: str):
    """A directory on a tmpfs of *size*, unmounted when done."""
    mount = tmp_path / f"disk-{size}"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.fixture
def full_disk(tmp_path):
    """A directory on a tiny tmpfs that a shop crawl's output overflows."""
    yield from small_disk(tmp_path, TINY_DISK)


@pytest.fixture
def database_disk(tmp_path):
    """A tmpfs with room for the database's schema and a few batches, not for a whole shop."""
    yield from small_disk(tmp_path, DATABASE_DISK)


def shop_args(sandbox) -> dict[str, str]:
    return {"seller_open_id": sandbox.shop(700)["seller_open_id"], "details": "1"}


def test_a_feed_on_a_full_disk_closes_the_crawl_as_failed(sandbox, crawl, full_disk):
    feed = full_disk / "products.jsonl"
    result = crawl("shop", args=shop_args(sandbox), env=sandbox.env(),
                   settings={"ALI1688_QPS": "200", "FEEDS": f'{{"{feed}": {{"format": "jsonlines"}}}}'})
    assert result.returncode == 1, result.log[-3000:]
    assert result.stats["finish_reason"] == "ali1688_feed_failed"
    lines = [line for line in result.log.splitlines() if "Writing the feed failed" in line]
    assert len(lines) == 1 and "No space left on device" in lines[0]
    assert result.stats["ali1688/feed/items_not_written"] > 0


@pytest.mark.parametrize("by_process", [True, False], ids=["writer-process", "worker-thread"])
def test_a_database_on_a_full_disk_closes_the_crawl_as_failed_and_keeps_what_it_acknowledged(
        sandbox, crawl, database_disk, by_process):
    database = database_disk / "shop.db"
    result = crawl("shop", args=shop_args(sandbox), env=sandbox.env(),
                   settings={"ALI1688_QPS": "200", "ALI1688_DB_URL": f"sqlite:///{database}",
                             "ALI1688_DB_WRITER_AFTER": "0" if by_process else "1000000"})
    assert result.returncode == 1, result.log[-3000:]
    assert result.stats["finish_reason"] == "ali1688_db_error"
    assert bool(result.stats.get("ali1688/db/stored_by_writer_process")) == by_process, "stored by the wrong path"
    assert "Traceback" not in result.log
    lines = [line for line in result.log.splitlines() if "A database batch of" in line]
    assert len(lines) == 1 and "full" in lines[0], result.log[-3000:]
    with sqlite3.connect(database) as db:
        stored = {row[0] for row in db.execute("SELECT product_id FROM products")}
    acknowledged = {item["product_id"] for item in result.items}
    assert stored and acknowledged <= stored


def test_a_jobdir_on_a_full_disk_closes_the_crawl_as_failed(sandbox, crawl, full_disk):
    result = crawl("shop", args=shop_args(sandbox), env=sandbox.env(),
                   settings={"ALI1688_QPS": "200", "JOBDIR": str(full_disk / "job")}, timeout=120)
    assert result.returncode == 1, result.log[-3000:]
    assert result.stats["finish_reason"] == "ali1688_jobdir_failed"
    assert "Writing the request queue in JOBDIR" in result.log


def test_a_jobdir_that_cannot_be_written_is_one_line_and_exit_2(sandbox, crawl, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    result = crawl("product", args={"ids": "1"}, env=sandbox.env(), settings={"JOBDIR": str(blocker / "job")})
    assert result.returncode == 2
    assert f"JOBDIR {blocker / 'job'} is not writable" in result.log
    assert "Traceback" not in result.log


def test_a_damaged_jobdir_queue_is_one_line_and_exit_2_before_any_call(sandbox_factory, crawl, tmp_path):
    sandbox = sandbox_factory("--qps", "0", "--page-cap", "3")
    job = tmp_path / "job"
    args = shop_args(sandbox)
    # Ten calls, then the budget is spent: the rest of the crawl stays queued in JOBDIR.
    # The sandbox sets no rate: neither does the crawl (ALI1688_QPS's default of 10 would make
    # the resumed crawl's 700 detail calls last over a minute).
    unpaced = {"ALI1688_QPS": "500", "JOBDIR": str(job)}
    first = crawl("shop", args=args, env=sandbox.env(), settings={**unpaced, "ALI1688_MAX_REQUESTS": "10"})
    assert first.stats["finish_reason"] == "ali1688_budget_spent", first.log[-3000:]
    queues = [p for p in (job / "requests.queue").rglob("*") if p.is_file() and p.name != "active.json"]
    assert queues
    backup = tmp_path / "backup"
    shutil.copytree(job, backup)
    damaged = queues[0]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = uuid.uuid4().bytes * 4
    damaged.write_bytes(bytes(data))
    sandbox.post("/sandbox/stats/reset")

    result = crawl("shop", args=args, env=sandbox.env(), settings=unpaced)
    assert result.returncode == 2, result.log[-3000:]
    assert f"JOBDIR {job} is damaged: the queue requests.queue/" in result.log
    assert "Traceback" not in result.log
    assert sandbox.stats()["total_calls"] == 0
    # The check read a copy: the queue itself is as it was.
    assert damaged.read_bytes() == bytes(data)

    # An intact JOBDIR resumes to the end.
    shutil.rmtree(job)
    shutil.copytree(backup, job)
    resumed = crawl("shop", args=args, env=sandbox.env(), settings=unpaced)
    assert resumed.returncode == 0, resumed.log[-3000:]
