"""Crash resume for ``JOBDIR`` crawls: start over cleanly, without fetching stored details again.

Scrapy writes its ``JOBDIR`` state on a clean close only: the disk queue's sizes, the tail of
``requests.seen`` and ``spider.state`` (where the shop spider keeps its ledgers). After a
SIGKILL, an OOM kill or a power cut that state is stale or half written, and a resumed crawl
finds its first listing request already "seen" and ends with nothing. So a marker file
(``ali1688.running``) lives in ``JOBDIR`` while a crawl runs and is removed on any clean close;
found at start, it means the previous run died: Scrapy's queue, seen-set and spider state are
moved aside to ``JOBDIR/crashed-<time>/`` and the job starts over.

Starting over does not mean fetching everything again: the SQL pipeline appends the ids of
every product whose batch has committed to ``ali1688.stored`` (``acknowledge``); these are
the job's ``stored`` products. When a restarted job lists one again, the shop spider counts it
in the report but spends no detail call on it (nor after a clean pause that followed a
restart). Without ``ALI1688_DB_URL`` nothing is acknowledged (a feed written by a killed
process cannot be trusted), so a feed-only crawl fetches everything again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.job import job_dir

from ali1688spider.config import DB_URL_SETTING, get_str
from ali1688spider.distributed.keys import is_distributed
from ali1688spider.idset import ProductIdSet

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy.crawler import Crawler
    from typing_extensions import Self

logger = logging.getLogger(__name__)

MARKER = "ali1688.running"
STORED = "ali1688.stored"
#: What Scrapy keeps in JOBDIR (scheduler disk queue, dupefilter, SpiderState extension).
SCRAPY_STATE = ("requests.queue", "requests.seen", "spider.state")

_ATTRIBUTE = "ali1688_crash_guard"


def crash_guard_for(crawler: Crawler) -> CrashGuard | None:
    """The crawl's crash guard (None without JOBDIR, in distributed mode, or when disabled)."""
    return getattr(crawler, _ATTRIBUTE, None)


class CrashGuard:
    """Detects a run that died in ``JOBDIR`` and remembers the products already stored."""

    def __init__(self, crawler: Crawler, jobdir: Path, *, remember: bool):
        self.jobdir = jobdir
        self.remember = remember
        self.crashed = (jobdir / MARKER).exists()
        #: Ids stored by earlier runs of this job (none without a database).
        self.stored = self._read_stored() if remember else ProductIdSet()
        if self.crashed:
            self._start_over()
        self._log: TextIO | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        setattr(crawler, _ATTRIBUTE, self)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        jobdir = job_dir(crawler.settings)
        if not jobdir or is_distributed(crawler.settings):
            # Nothing to guard: no JOBDIR, or a shared queue in Redis instead.
            raise NotConfigured
        return cls(crawler, Path(jobdir), remember=bool(get_str(crawler.settings, DB_URL_SETTING)))

    def _start_over(self) -> None:
        aside = self.jobdir / f"crashed-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%fZ}"
        aside.mkdir()
        for name in SCRAPY_STATE:
            if (self.jobdir / name).exists():
                (self.jobdir / name).rename(aside / name)
        logger.warning(
            "The previous run in JOBDIR %s did not close cleanly: its queue and state cannot be "
            "trusted (moved to %s); the job starts over, and the %d products already stored "
            "are not fetched again", self.jobdir, aside.name, len(self.stored),
        )

    def _read_stored(self) -> ProductIdSet:
        path = self.jobdir / STORED
        if not path.exists():
            return ProductIdSet()
        with path.open(encoding="utf-8", newline="\n") as lines:
            # A last line without its newline was cut by a crash (an id that may not be whole).
            return ProductIdSet(line[:-1] for line in lines if line.endswith("\n") and line != "\n")

    def acknowledge(self, product_ids: Iterable[str]) -> None:
        """Record products whose database batch has committed (one id a line)."""
        if self._log is None:
            return
        self._log.writelines(f"{product_id}\n" for product_id in product_ids)
        # Flushed to the OS: it survives the process being killed (not a power cut).
        self._log.flush()

    def spider_opened(self) -> None:
        """The marker is written once the crawl runs: a run that failed to start leaves no
        marker, so a paused job it could not resume is not thrown away by the next run."""
        self.jobdir.mkdir(parents=True, exist_ok=True)
        started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        (self.jobdir / MARKER).write_text(f"pid {os.getpid()} started {started}\n", encoding="utf-8")
        if self.remember:
            path = self.jobdir / STORED
            data = path.read_bytes() if path.exists() else b""
            if data and not data.endswith(b"\n"):
                # Drop the line a crash cut (the next id would join it).
                os.truncate(path, data.rfind(b"\n") + 1)
            self._log = path.open("a", encoding="utf-8")

    def spider_closed(self, reason: str) -> None:
        """A clean close (any reason): Scrapy has written its state, the marker goes."""
        if self._log is not None:
            self._log.close()
            self._log = None
        (self.jobdir / MARKER).unlink(missing_ok=True)
