"""Why a crawl closes: every ``ali1688_*`` close reason, and the one way to close with one.

``close_crawl`` sets the reason (the first one wins), logs the one line that says what to
fix, counts ``ali1688/closed/<reason>`` and asks the engine to close. ``scrapy crawl`` exits
1 after any of ``FAILURE_REASONS``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import deferred_from_coro

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

BAD_CREDENTIALS = "ali1688_bad_credentials"
QUOTA_EXHAUSTED = "ali1688_quota_exhausted"
BUDGET_SPENT = "ali1688_budget_spent"
INCOMPLETE = "ali1688_incomplete"
SHOP_UNRESOLVED = "ali1688_shop_unresolved"
DB_ERROR = "ali1688_db_error"
CALLS_FAILED = "ali1688_calls_failed"

#: Close reasons after which the data is not what the user asked for (exit code 1).
FAILURE_REASONS = frozenset(
    {BAD_CREDENTIALS, QUOTA_EXHAUSTED, INCOMPLETE, SHOP_UNRESOLVED, DB_ERROR, CALLS_FAILED}
)

_REASON_ATTRIBUTE = "ali1688_close_reason"


def closing_reason(crawler: Crawler) -> str | None:
    """The reason the crawl is closing for, once ``close_crawl`` was called."""
    return getattr(crawler, _REASON_ATTRIBUTE, None)


def close_crawl(crawler: Crawler, reason: str, message: str, *args: object) -> bool:
    """Close the crawl with *reason*, logging ``message % args`` as one error line.

    Only the first call closes (and logs); False for the later ones.
    """
    if closing_reason(crawler) is not None:
        return False
    setattr(crawler, _REASON_ATTRIBUTE, reason)
    logger.error(message + "; closing the crawl (%s)", *args, reason)
    if crawler.stats is not None:
        crawler.stats.inc_value(f"ali1688/closed/{reason}")
    assert crawler.engine is not None
    deferred_from_coro(crawler.engine.close_spider_async(reason=reason))
    return True


def keep_queued(crawler: Crawler, request: Request, why: str) -> IgnoreRequest:
    """Put back *request*, which will not be sent in this run, into the queue (it persists
    with JOBDIR or Redis, so the next run sends it); the exception that drops it here."""
    assert crawler.engine is not None
    crawler.engine.crawl(request.replace(dont_filter=True))
    if crawler.stats is not None:
        crawler.stats.inc_value("ali1688/requeued")
    return IgnoreRequest(f"not sent ({why}): kept in the queue")
