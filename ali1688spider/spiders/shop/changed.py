"""``details=changed``: a detail call only for the listed products whose listing entry, stored
row or detail age says something may have changed (``storage/freshness.py`` decides); and,
when the crawl has a call budget, its spare calls spent on the products likeliest to have
changed unseen (``monitoring/planner.py`` ranks them).

The stored rows of each listing page are read with one query by primary key, blocking, on the
reactor thread: a few milliseconds per 50 products, against the detail calls it saves. The
planner reads the watched shops' histories once, when the crawl is idle.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DontCloseSpider

from ali1688spider.api.china_time import CHINA_UTC_OFFSET, DAY_SECONDS, china_day
from ali1688spider.closing import closing_reason
from ali1688spider.config import DB_URL_SETTING, ConfigError, get_duration, get_int, get_str
from ali1688spider.distributed.keys import is_distributed
from ali1688spider.gateway.middleware import ApiRequestError
from ali1688spider.monitoring.planner import History, Plan, plan
from ali1688spider.spiders.arguments import SpiderArgumentError, as_bool
from ali1688spider.spiders.shop.jobs import JOB_META_KEY, PRIORITY_DETAIL
from ali1688spider.storage.records import product_record

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Iterator, Mapping, Sequence

    from scrapy.http import Response
    from twisted.python.failure import Failure

    from ali1688spider.items import Product
    from ali1688spider.reporting.ledger import TargetLedger
    from ali1688spider.spiders.shop.jobs import ShopJob

logger = logging.getLogger(__name__)

CHANGED = "changed"
MAX_AGE_SETTING = "ALI1688_DETAIL_MAX_AGE"
#: Of the spare calls, the share kept back for retries of the planned details (at least one).
RETRY_RESERVE = 0.02
#: How many of the products left stale a crawl report names (the likeliest changed first).
STALE_NAMED = 20


def as_details(text: str) -> bool | str:
    """``details=``: 1/0 (every product's detail, or none), or ``changed``."""
    return CHANGED if text.strip().lower() == CHANGED else as_bool(text)


def max_detail_age(settings: Mapping[str, Any]) -> timedelta | None:
    """``ALI1688_DETAIL_MAX_AGE`` (None for 0: never too old); SpiderArgumentError naming the
    setting, or ``ALI1688_DB_URL`` when there is no database to compare the listing with."""
    if not get_str(settings, DB_URL_SETTING):
        raise SpiderArgumentError(
            f"details=changed compares the listing with the stored products, but {DB_URL_SETTING} is "
            f"not set: set it (e.g. -s {DB_URL_SETTING}=sqlite:///ali1688.db) or use details=1"
        )
    try:
        seconds = get_duration(settings, MAX_AGE_SETTING)
    except ConfigError as exc:
        raise SpiderArgumentError(str(exc)) from None
    return timedelta(seconds=seconds) if seconds else None


class ChangedDetails:
    """The crawl database, read to choose which listed products get a detail call."""

    def __init__(self, url: str, max_age: timedelta | None):
        # Imported here: crawls without details=changed never load SQLAlchemy for it.
        from ali1688spider.storage.store import make_engine

        self.engine = make_engine(url, writer=False)
        self.max_age = max_age

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ChangedDetails:
        return cls(get_str(settings, DB_URL_SETTING) or "", max_detail_age(settings))

    def reasons(self, products: Sequence[dict[str, Any]]) -> dict[str, str | None]:
        """Product id -> why it needs a detail call (None: skipped as unchanged)."""
        from ali1688spider.storage.freshness import detail_reason, stored_for_listing

        now = datetime.now(timezone.utc)
        entries = [product_record(product, now=now) for product in products]
        stored = stored_for_listing(self.engine, [entry.product_id for entry in entries])
        return {
            entry.product_id: detail_reason(entry, stored.get(entry.product_id), now=now, max_age=self.max_age)
            for entry in entries
        }

    def calls_today(self, now: datetime) -> int:
        """Calls of the finished runs that started today, China time (the quota's day)."""
        from ali1688spider.storage.freshness import calls_since

        day_start = china_day(now.timestamp()) * DAY_SECONDS - CHINA_UTC_OFFSET
        return calls_since(self.engine, datetime.fromtimestamp(day_start, timezone.utc))

    def plan(self, listed: Mapping[str, Container[str]], calls: int, *, since: datetime,
             asked: Container[str], now: datetime) -> Plan:
        """The refreshes *calls* buy among the products each seller's listing showed this run
        (*listed*: seller -> ids) that were not detailed *since* (the crawl's start) and whose
        detail the crawl has not *asked* for."""
        from ali1688spider.storage.freshness import refresh_histories

        def days(moment: datetime | None) -> float:
            return 0.0 if moment is None else max(0.0, (now - moment).total_seconds() / DAY_SECONDS)

        histories = [
            History(row["product_id"], row["seller_open_id"], days(row["first_seen_at"]), row["changes"],
                    days(row["detail_at"] or row["first_seen_at"]), row["in_stock"])
            for row in refresh_histories(self.engine, list(listed), since)
            if row["product_id"] in listed[row["seller_open_id"]] and row["product_id"] not in asked
        ]
        return plan(histories, calls)

    def close(self) -> None:
        self.engine.dispose()


def spare_calls(settings: Mapping[str, Any], *, spent: int, spent_today: Callable[[], int]) -> int | None:
    """Calls a crawl may still spend under ``ALI1688_MAX_REQUESTS`` and what is left of
    ``ALI1688_DAILY_QUOTA`` today (*spent_today*: by earlier runs), less a reserve for retries;
    None when it has neither budget (then nothing is planned)."""
    left = []
    if max_requests := get_int(settings, "ALI1688_MAX_REQUESTS"):
        left.append(max_requests - spent)
    if per_day := get_int(settings, "ALI1688_DAILY_QUOTA"):
        left.append(per_day - spent_today() - spent)
    if not left:
        return None
    spare = min(left)
    return max(0, spare - max(1, round(spare * RETRY_RESERVE)))


def count_reason(ledger: TargetLedger, reason: str | None) -> None:
    """The crawl report's figures: details fetched, skipped as unchanged, fetched for age."""
    extra = ledger.extra
    for key in ("details_unchanged",) if reason is None else ("details_fetched", f"details_for_{reason}"):
        extra[key] = extra.get(key, 0) + 1


class RefreshPlanning:
    """The shop spider's spare calls, spent when the crawl is idle: once the listings, the
    details they asked for and the removal proofs are done, a crawl with ``details=changed``
    and a call budget refreshes the details of the listed products likeliest to have changed
    (stock and SKUs, which no listing shows), as many as the budget allows; the crawl report
    says how many it refreshed and which it left stale. Not in distributed mode, whose
    workers share one budget."""

    jobs: dict[str, ShopJob]
    planning_since: datetime
    details_asked: Container[str]
    _refreshes_planned = False

    def plan_refreshes(self) -> None:
        crawler = self.crawler
        if self._refreshes_planned or closing_reason(crawler) is not None or is_distributed(crawler.settings):
            return
        jobs = {
            job.seller_open_id: job for job in self.jobs.values()
            if job.args["details"] == CHANGED and job.seller_open_id
            and job.ledger.scope == ("seller_open_id", job.seller_open_id)
        }
        if not jobs:
            return
        if not crawler.engine.spider_is_idle():
            raise DontCloseSpider  # more work came this round (removal proofs): plan after it
        details = self.changed_details()
        now = datetime.now(timezone.utc)
        spare = spare_calls(crawler.settings, spent=crawler.stats.get_value("ali1688/calls", 0),
                            spent_today=lambda: details.calls_today(now))
        if spare is None:
            return
        self._refreshes_planned = True
        cpu = time.process_time()
        listed = {seller: job.ledger.listed for seller, job in jobs.items()}
        chosen = details.plan(listed, spare, since=self.planning_since, asked=self.details_asked, now=now)
        crawler.stats.set_value("ali1688/planner/cpu_seconds", round(time.process_time() - cpu, 6))
        self.report_plan(jobs, chosen)
        for candidate in chosen.chosen:
            crawler.engine.crawl(self.refresh_request(jobs[candidate.seller_open_id], candidate.product_id))
        if chosen.chosen:
            raise DontCloseSpider

    def report_plan(self, jobs: Mapping[str, ShopJob], chosen: Plan) -> None:
        """Each shop's report: refreshes planned, products left stale (the likeliest changed
        named first: the next run starts with them) and the stalest one's age."""
        stats = self.crawler.stats
        stats.inc_value("ali1688/planner/refreshes", len(chosen.chosen))
        stats.inc_value("ali1688/planner/left_stale", len(chosen.left))
        for seller, job in jobs.items():
            planned = sum(1 for c in chosen.chosen if c.seller_open_id == seller)
            left = [c for c in chosen.left if c.seller_open_id == seller]
            extra = job.ledger.extra
            extra["details_planned"] = planned
            extra["left_stale"] = len(left)
            extra["stale_days_max"] = round(max((c.stale_days for c in left), default=0.0), 3)
            extra["left_stale_first"] = [
                {"product_id": c.product_id, "chance": round(c.chance, 4), "stale_days": round(c.stale_days, 3)}
                for c in left[:STALE_NAMED]
            ]
            if left:
                logger.info("Shop %s: %d details refreshed where changes are likeliest; %d products left stale "
                            "for lack of calls (the stalest since %.1f days), the next run starts with the "
                            "likeliest of them", job.ledger.target, planned, len(left), extra["stale_days_max"])
            elif planned:
                logger.info("Shop %s: %d details refreshed; none left stale", job.ledger.target, planned)

    def refresh_request(self, job: ShopJob, product_id: str) -> Any:
        return self.detail_request(
            product_id, callback=self.parse_refresh, errback=self.refresh_failed,
            cb_kwargs={"key": job.key, "product_id": product_id}, meta={JOB_META_KEY: job.spec()}, priority=PRIORITY_DETAIL,
        )

    def parse_refresh(self, response: Response, key: str, product_id: str) -> Iterator[Product]:
        self.answered(key, response)
        yield self.detail_item(response)

    def refresh_failed(self, failure: Failure) -> None:
        """A refresh whose product is gone proves its removal; other failures leave it stale."""
        if isinstance(failure.value, ApiRequestError):
            self.crawler.stats.inc_value("ali1688/planner/failed")
            self.note_gone(failure.request.cb_kwargs["product_id"], failure.value.error)
