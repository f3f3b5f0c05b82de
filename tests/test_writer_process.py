"""The database writer process: batches committed in order, a failed batch told in one line
without stopping the writer, and a writer that ended failing every later batch."""

from __future__ import annotations

import os
import signal
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ali1688spider.storage.store import StorageError, Store
from ali1688spider.storage.writer import WriterProcess

T0 = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)


@pytest.fixture
def run(db_url):
    """The database opened as the SQL pipeline opens it, and a crawl run of it."""
    store = Store(db_url)
    store.open()
    yield store.start_run("product", T0)
    store.close()


@pytest.fixture
def writer(db_url):
    started = WriterProcess(db_url, detect_changes=True)
    yield started
    started.close()


def product(make_product, number: int) -> dict:
    return dict(make_product(product_id=str(610000000000 + number)))


def test_batches_are_committed_in_order_and_told_back(writer, run, make_product):
    first = writer.write(run, [product(make_product, i) for i in range(3)])
    again = writer.write(run, [product(make_product, i) for i in range(4)])
    assert (first.stored, first.new) == (3, 3)
    assert (again.stored, again.new, again.unchanged) == (4, 1, 3)
    assert [change["kind"] for change in first.changes] == ["new"] * 3


def test_the_database_url_is_never_on_the_command_line(writer, run, make_product, db_url):
    writer.write(run, [product(make_product, 0)])  # the child runs its own program by now
    command_line = Path(f"/proc/{writer.process.pid}/cmdline").read_bytes().decode()
    assert "ali1688spider.storage.writer" in command_line
    assert db_url.split("@")[-1] not in command_line


def test_a_failed_batch_is_one_line_and_the_next_batch_is_written(
    writer, run, make_product, db_url, history_trigger
):
    refused = product(make_product, 1)
    history_trigger(db_url, refuse=refused["product_id"])
    with pytest.raises(StorageError, match="refused by test") as failure:
        writer.write(run, [product(make_product, 0), refused])
    assert "\n" not in str(failure.value)
    history_trigger(db_url)
    assert writer.write(run, [product(make_product, 0), refused]).new == 2


def test_a_writer_that_ended_fails_this_batch_and_every_later_one(writer, run, make_product):
    os.kill(writer.process.pid, signal.SIGKILL)
    for _ in range(2):
        with pytest.raises(StorageError, match=r"writer process ended unexpectedly \(exit status -9\)"):
            writer.write(run, [product(make_product, 0)])


def test_a_writer_that_could_not_start_fails_every_batch_with_why(monkeypatch, run, make_product, db_url):
    monkeypatch.setattr("sys.executable", "/nonexistent/python")
    writer = WriterProcess(db_url, detect_changes=True)
    for _ in range(2):
        with pytest.raises(StorageError, match=r"^the database writer process could not start \(.*nonexistent"):
            writer.write(run, [product(make_product, 0)])
    writer.close()


def test_a_ctrl_c_to_the_whole_group_leaves_the_writer_committing(writer, run, make_product):
    """Ctrl-C in a terminal reaches every process of the group; the crawl's graceful close
    still commits its last batches through the writer."""
    writer.write(run, [product(make_product, 0)])  # the child runs its own program by now
    for number in (signal.SIGINT, signal.SIGTERM):
        os.kill(writer.process.pid, number)
    assert writer.write(run, [product(make_product, 1)]).new == 1


def test_the_writer_runs_this_package_even_from_a_directory_holding_another(
    db_url, run, make_product, tmp_path, monkeypatch
):
    """A crawl started where an unrelated ``ali1688spider`` directory lies (an old checkout)
    still writes through its own package."""
    impostor = tmp_path / "ali1688spider"
    (impostor / "storage").mkdir(parents=True)
    (impostor / "__init__.py").write_text("")
    (impostor / "storage" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    writer = WriterProcess(db_url, detect_changes=True)
    try:
        assert writer.write(run, [product(make_product, 0)]).new == 1
    finally:
        writer.close()
