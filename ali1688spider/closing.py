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

# The ``#:`` comments are the docs' table of close reasons (docs/_ext/ali1688docs.py).

#: The gateway refused the signature, the API (ACL) or the token (after one refresh): the log
#: line names the setting to fix.
BAD_CREDENTIALS = "ali1688_bad_credentials"
#: The gateway says the app's quota is used up, or ``ALI1688_DAILY_QUOTA`` is spent for every
#: app key today (its unsent calls stay queued for a run after midnight China time).
QUOTA_EXHAUSTED = "ali1688_quota_exhausted"
#: ``ALI1688_MAX_REQUESTS`` calls were made, as asked.
BUDGET_SPENT = "ali1688_budget_spent"
#: A shop crawl fetched less than ``ALI1688_COMPLETENESS_MIN`` of the platform's total.
INCOMPLETE = "ali1688_incomplete"
#: A shop the documented APIs cannot resolve (e.g. ``shop_url=`` or ``member_id=`` of a seller
#: other than the authorizing one): pass ``offer=`` or ``seller_open_id=``.
SHOP_UNRESOLVED = "ali1688_shop_unresolved"
#: A database batch failed and was rolled back; running the crawl again fills in what is missing.
DB_ERROR = "ali1688_db_error"
#: Some products of a ``product`` crawl, or result pages of a ``search``, failed for good: one
#: summary line says how many of how many.
CALLS_FAILED = "ali1688_calls_failed"
#: Writing a feed failed (a full disk, a storage refusing it): items after the failure are not
#: in it. Free space (or fix ``FEEDS``) and run the crawl again.
FEED_FAILED = "ali1688_feed_failed"
#: Writing the request queue in ``JOBDIR`` failed (a full disk): the crawl cannot be resumed
#: from it. Free space, remove the directory and run the crawl again.
JOBDIR_FAILED = "ali1688_jobdir_failed"
#: A distributed worker could not reach Redis for ``ALI1688_REDIS_OUTAGE_SECONDS``: what it
#: held returns to the shared queue; start the worker again once Redis is back.
REDIS_UNAVAILABLE = "ali1688_redis_unavailable"

#: Redis refused a command on the crawl's keys: one holds data of another kind (e.g. a Bloom
#: filter where ``DUPEFILTER_CLASS`` expects scrapy-redis's set of fingerprints). Set
#: ``DUPEFILTER_CLASS`` to the dupefilter that wrote it, or ``ALI1688_REDIS_PREFIX`` to a new prefix.
REDIS_KEY_CONFLICT = "ali1688_redis_key_conflict"

#: A distributed worker found its run's shared state gone from Redis (a restart without
#: persistence, a flush) or replaced by another run: re-seed with ``ali1688 enqueue --fresh``.
REDIS_DATA_LOST = "ali1688_redis_data_lost"

#: Close reasons after which the data is not what the user asked for (exit code 1).
FAILURE_REASONS = frozenset({
    BAD_CREDENTIALS, QUOTA_EXHAUSTED, INCOMPLETE, SHOP_UNRESOLVED, DB_ERROR, CALLS_FAILED,
    FEED_FAILED, JOBDIR_FAILED, REDIS_UNAVAILABLE, REDIS_DATA_LOST, REDIS_KEY_CONFLICT,
})

_REASON_ATTRIBUTE = "ali1688_close_reason"
#: Sent (with ``reason``) when ``close_crawl`` begins a close, before the engine drains: what
#: has not been sent by then is not sent.
crawl_closing = object()


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
    crawler.signals.send_catch_log(crawl_closing, reason=reason)
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
