"""``JOBDIR`` that fails loudly: checked before the crawl starts, guarded while it runs.

Scrapy keeps a paused crawl's queue, seen requests and spider state in ``JOBDIR``. An
unwritable directory, a disk that fills up or a queue file damaged by a crash would otherwise
stall the engine or drop requests silently. ``check_jobdir`` (run by the crawl command, exit 2
on failure) proves the directory writable and reads every queued request back from a copy;
``GuardedScheduler`` closes the crawl with ``ali1688_jobdir_failed`` when a write fails.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.core.scheduler import Scheduler
from scrapy.pqueues import _path_safe
from scrapy.utils.misc import load_object

from ali1688spider.closing import JOBDIR_FAILED, close_crawl
from ali1688spider.config import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from scrapy import Request


#: What a JOBDIR that cannot be used tells the user to do.
START_OVER = "fix it, or remove the directory to start the crawl over"


def check_jobdir(settings: Mapping[str, Any]) -> None:
    """ConfigError naming ``JOBDIR`` when it is not writable or its queue cannot be read back."""
    value = settings.get("JOBDIR")
    if value:
        _check_writable(Path(value))
        _check_queue(Path(value), load_object(settings["SCHEDULER_DISK_QUEUE"]).__mro__[1])


def _check_writable(directory: Path) -> None:
    probe = directory / ".ali1688-write-check"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # A few kilobytes, so that a disk with no room left fails here, not mid-crawl.
        probe.write_bytes(b"\0" * 4096)
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"JOBDIR {directory} is not writable ({exc.strerror}): {START_OVER}") from None


def _check_queue(directory: Path, serializing_queue: type) -> None:
    """Every request queued at the last clean stop can be read back."""
    queue_dir = directory / "requests.queue"
    active_file = queue_dir / "active.json"
    # Written at a clean stop only: without it (a killed crawl) Scrapy starts the queue over
    # and the crash guard (extensions/crashguard.py) takes care of what was stored.
    if not active_file.exists():
        return
    try:
        active = json.loads(active_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"JOBDIR {directory} is damaged: {active_file.name} cannot be read ({exc}): {START_OVER}"
        ) from None
    for queue in _queues(queue_dir, active):
        try:
            _read_back(queue, serializing_queue)
        except Exception as exc:  # noqa: BLE001 - whatever the damage, one line
            raise ConfigError(
                f"JOBDIR {directory} is damaged: the queue {queue.relative_to(directory)} cannot "
                f"be read ({type(exc).__name__}): {START_OVER}"
            ) from None


def _queues(queue_dir: Path, active: Any) -> Iterator[Path]:
    """The disk queues a resumed scheduler opens: ``active.json``'s priorities, per download
    slot (``DownloaderAwarePriorityQueue``) or not (``ScrapyPriorityQueue``)."""
    slots = active if isinstance(active, dict) else {None: active}
    for slot, priorities in slots.items():
        # Scrapy names each slot's directory so (scrapy.pqueues, an implementation detail).
        directory = queue_dir if slot is None else queue_dir / _path_safe(slot)
        for priority in priorities:
            for name in (str(priority), f"{priority}s"):
                if (directory / name).exists():
                    yield directory / name


def _read_back(queue: Path, serializing_queue: type) -> None:
    """Pop every request of a copy of *queue* (popping shrinks a queue: never the original)."""
    with tempfile.TemporaryDirectory(prefix="ali1688-jobdir-check-") as scratch:
        copy = Path(scratch) / queue.name
        if queue.is_dir():
            shutil.copytree(queue, copy)
        else:
            shutil.copyfile(queue, copy)
        reader = serializing_queue(str(copy))
        try:
            while len(reader):
                if reader.pop() is None:
                    break
        finally:
            reader.close()


class GuardedScheduler(Scheduler):
    """Scrapy's scheduler; a failed write to ``JOBDIR`` (a full disk) closes the crawl."""

    def enqueue_request(self, request: Request) -> bool:
        try:
            return super().enqueue_request(request)
        except OSError as exc:
            assert self.crawler is not None
            close_crawl(
                self.crawler, JOBDIR_FAILED,
                "Writing the request queue in JOBDIR %s failed (%s): the paused crawl cannot be "
                "resumed from it; free space there, remove it and run the crawl again",
                self.dqdir, exc.strerror or exc,
            )
            return False
