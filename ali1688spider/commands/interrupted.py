"""A crawl stopped by a signal before it was complete: its exit code and how to resume it.

Scrapy handles SIGINT and SIGTERM itself (a graceful stop, close reason ``shutdown``; a second
signal forces it) and tells only its log which signal came. ``SignalWatch`` reads the name from
that log record, so ``scrapy crawl`` can exit with the shell's code for it (128 + the signal
number: 130, 143), which a cron wrapper or scrapyd can tell from a finished crawl.
"""

from __future__ import annotations

import logging
import shlex
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy.settings import BaseSettings

#: The close reason of a crawl Scrapy stopped on a signal.
SHUTDOWN_REASON = "shutdown"
#: Exit codes of a crawl stopped before it was complete, by the signal that stopped it.
EXIT_CODES = {"SIGINT": 128 + signal.SIGINT, "SIGTERM": 128 + signal.SIGTERM}
#: Where the hint suggests keeping a crawl's state when it had none.
JOBDIR_EXAMPLE = "crawls/%s"


class SignalWatch(logging.Filter):
    """Notes the first signal Scrapy's shutdown log record names. A filter on the logger (not
    a handler) sees the record whatever ``LOG_LEVEL`` lets through."""

    def __init__(self) -> None:
        super().__init__()
        self.signame: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if self.signame is None and isinstance(record.args, dict) and "signame" in record.args:
            self.signame = str(record.args["signame"])
        return True


def resume_hint(signame: str, settings: BaseSettings, spider: str, argv: Sequence[str]) -> str:
    """The last line of a crawl *signame* stopped: the command that resumes it from its
    ``JOBDIR``, or the option that would have made it resumable. *argv* is ``sys.argv[1:]``,
    which Scrapy's command line has taken the command name (``crawl``) out of."""
    stopped = f"Stopped by {signame} before the crawl was complete"
    jobdir = settings.get("JOBDIR")
    if jobdir:
        return f"{stopped}; to resume it from JOBDIR {jobdir}, run the same command: scrapy crawl {shlex.join(argv)}"
    return (f"{stopped}, with no JOBDIR to resume from: run it again with -s JOBDIR={JOBDIR_EXAMPLE % spider} "
            "added, and a later stop resumes with that same command")
