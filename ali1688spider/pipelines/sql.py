"""Stores products (with SKUs, tiers and price history) and categories in ``ALI1688_DB_URL``.

Items are collected into batches of ``ALI1688_DB_BATCH_SIZE`` (or whatever arrived within
``ALI1688_DB_FLUSH_SECONDS``) and each batch is written in one transaction by a single worker
thread: the reactor never waits on the database, and the next batch fills while the last one
commits. Past ``ALI1688_DB_WRITER_AFTER`` items that thread hands the batches to the crawl's
database writer process (``storage.writer``), so a big crawl's store work runs on another core
instead of taking turns with the reactor for the interpreter lock. The rest (opening, removals,
the run's record) runs in the worker thread.

Acknowledged means committed: a product leaves this pipeline — reaches the feed exports, the
``item_scraped`` signal and ``item_scraped_count`` — only after the transaction holding it has
committed. A crash loses at most batches that were never acknowledged; a batch is never half
written. On close everything pending is committed before the run is marked finished. A batch
that fails is not retried: its items are dropped as not stored and the crawl closes with reason
``ali1688_db_error``, because going on would crawl what can no longer be stored.

Each batch also records what changed about its products (``ALI1688_DB_CHANGES``, see
``changefeed``); at the end the crawl records which products each of its searches returned
(``search_results``, from the ledger). Removal is on proof only. When the crawl goes idle, each complete listing of a
whole shop is compared with the shop's stored products: those it lacked are suspects, and with
``ALI1688_REMOVAL_PROOF=detail`` each new suspect gets one detail call. At the end a suspect is
marked ``removed`` when its detail answered that it does not exist, or when it was a suspect of
an earlier complete listing already; a product this run saw, or that was first stored or
changed after the listing began, is never one. When more than ``ALI1688_REMOVAL_MAX_SHARE`` of
a shop's stored products is absent, the listing itself is suspect and nothing is removed.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, DropItem, NotConfigured

from ali1688spider.closing import DB_ERROR, close_crawl, closing_reason
from ali1688spider.config import DB_URL_SETTING, ConfigError, get_choice, get_float, get_int, get_str
from ali1688spider.extensions.crashguard import crash_guard_for
from ali1688spider.gateway.session import waiting_for_grant
from ali1688spider.gateway.stepping import release_in_steps
from ali1688spider.items import Category, Product
from ali1688spider.pipelines.changefeed import ChangeFeed
from ali1688spider.pipelines.validate import is_valid
from ali1688spider.reporting.ledger import ledger_for
from ali1688spider.storage.errors import describe_error
from ali1688spider.storage.records import category_row
from ali1688spider.storage.writer import WriterProcess, write_batch

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from scrapy.crawler import Crawler
    from typing_extensions import Self

    from ali1688spider.storage.store import BatchResult, Settlement, Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SqlSettings:
    batch_size: int
    flush_seconds: float
    #: Items written from the worker thread before the writer process takes over.
    writer_after: int
    detect_changes: bool
    #: Suspects get a detail call (``ALI1688_REMOVAL_PROOF=detail``).
    proof_by_detail: bool
    removal_max_share: float
    #: Observations older than this are thinned to one a day (0: never).
    daily_history_after: timedelta | None


def sql_settings(settings: Mapping[str, Any]) -> SqlSettings:
    """The SQL pipeline's settings; ConfigError naming the setting (the crawl command checks
    them before any call)."""
    url = get_str(settings, DB_URL_SETTING)
    if url:
        _check_database_url(url)
    share = get_float(settings, "ALI1688_REMOVAL_MAX_SHARE")
    history_days = get_int(settings, "ALI1688_HISTORY_DAILY_AFTER_DAYS")
    if share > 1:
        raise ConfigError(f"ALI1688_REMOVAL_MAX_SHARE must be a share between 0 and 1 (e.g. 0.2), got {share:g}")
    return SqlSettings(
        batch_size=get_int(settings, "ALI1688_DB_BATCH_SIZE", minimum=1),
        flush_seconds=get_float(settings, "ALI1688_DB_FLUSH_SECONDS", minimum=0.01),
        writer_after=get_int(settings, "ALI1688_DB_WRITER_AFTER", minimum=0),
        detect_changes=get_choice(settings, "ALI1688_DB_CHANGES", ("on", "off")) == "on",
        proof_by_detail=get_choice(settings, "ALI1688_REMOVAL_PROOF", ("detail", "listings")) == "detail",
        removal_max_share=share,
        daily_history_after=timedelta(days=history_days) if history_days else None,
    )


def _check_database_url(url: str) -> None:
    # Imported here: crawls that store nothing never load SQLAlchemy (about 0.2 s).
    from ali1688spider.storage.store import StorageError, check_database_url

    try:
        check_database_url(url)
    except StorageError as exc:
        raise ConfigError(str(exc)) from None


class SqlPipeline:
    def __init__(self, crawler: Crawler, url: str, settings: SqlSettings):
        self.crawler = crawler
        self.ledger = ledger_for(crawler)
        self.url = url
        self.batch_size = settings.batch_size
        self.flush_seconds = settings.flush_seconds
        self.settings = settings
        self.changes = ChangeFeed(crawler) if settings.detect_changes else None
        self._proofs_asked = False
        self.store: Store | None = None
        self.writer: WriterProcess | None = None
        #: Items handed to the worker thread so far (the writer process starts past
        #: ``writer_after``).
        self._handed = 0
        self.run_id: int | None = None
        self.executor: ThreadPoolExecutor | None = None
        self.error: str | None = None
        self._products: list[Any] = []
        self._categories: list[dict[str, Any]] = []
        #: One future per pending item: the batch's error, or None once it committed.
        self._waiters: list[asyncio.Future[str | None]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Future[Any]] = set()
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        if self.changes is not None and settings.proof_by_detail:
            crawler.signals.connect(self.ask_proofs, signal=signals.spider_idle)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        url = get_str(crawler.settings, DB_URL_SETTING)
        if not url:
            raise NotConfigured
        return cls(crawler, url, sql_settings(crawler.settings))

    async def open_spider(self) -> None:
        # Imported here: crawls that store nothing never load SQLAlchemy (about 0.2 s).
        from sqlalchemy.exc import SQLAlchemyError

        from ali1688spider.storage.store import StorageError, Store

        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ali1688-db")
        try:
            self.store = await self._in_thread(Store, self.url, detect_changes=self.changes is not None)
            version = await self._in_thread(self.store.open)
            spider = self.crawler.spider.name if self.crawler.spider else "?"
            self.run_id = await self._in_thread(self.store.start_run, spider, _now())
        except (StorageError, SQLAlchemyError, OSError) as exc:
            self.error = describe_error(exc)
            self.crawler.stats.set_value("ali1688/db/error", self.error)
            close_crawl(self.crawler, DB_ERROR, "%s", exc)
            return
        logger.info("Storing items in %s (schema version %d, crawl run %d)", self.store.url, version, self.run_id)
        self.crawler.stats.set_value("ali1688/db/run_id", self.run_id)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, (Product, Category)):
            return item
        if self.error is not None:
            self.crawler.stats.inc_value("ali1688/db/not_stored")
            raise DropItem(f"not stored in the database: {self.error}", log_level="DEBUG")
        if isinstance(item, Product):
            if not is_valid(item):
                # Only possible with ALI1688_VALIDATION=flag: the feed keeps it, the database,
                # whose prices feed reports and history, does not.
                self.crawler.stats.inc_value("ali1688/db/skipped_invalid")
                return item
            self._products.append(dict(item))  # whoever stores the batch makes its record
        elif item.get("category_id"):
            self._categories.append(category_row(item))
        else:
            self.crawler.stats.inc_value("ali1688/db/skipped_invalid")
            return item
        waiting = self._waiter()
        if len(self._products) + len(self._categories) >= self.batch_size:
            self._flush()
        error = await waiting
        if error is not None:
            self.crawler.stats.inc_value("ali1688/db/not_stored")
            raise DropItem(f"not stored in the database: {error}", log_level="DEBUG")
        return item

    async def close_spider(self) -> None:
        self._flush()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        if self.ledger.search_results and self.error is None and self.store is not None:
            await self._record_searches()
        if self.changes is not None and self.error is None and self.store is not None:
            await self._record_removals(self.changes)
        if self.settings.daily_history_after is not None and self.error is None and self.store is not None:
            await self._compact_history(self.settings.daily_history_after)

    def ask_proofs(self) -> None:
        """The crawl is idle: one detail call for each new suspect of each complete listing
        (the spider's ``proof_request``), once. Blocking read on the reactor thread: nothing
        else is in flight when the crawl is idle."""
        feed, spider = self.changes, self.crawler.spider
        if (self._proofs_asked or feed is None or self.store is None or self.error is not None
                or closing_reason(self.crawler) is not None or not hasattr(spider, "proof_request")):
            return
        listings = feed.complete_listings()
        if listings is None:
            return
        self._proofs_asked = True
        shared = feed.shared
        # Another worker of this run asks those of the listings it claimed.
        listings = [(target, listing) for target, listing in listings
                    if shared is None or shared.claim(self.ledger.targets[target], "proofs")]
        absences = self.executor.submit(self.store.absent_from, [listing for _, listing in listings]).result()
        requests = []
        for (target, _), absence in zip(listings, absences, strict=True):
            fresh = [product_id for product_id, suspected in absence.absent if not suspected]
            if not fresh or len(absence.absent) > self.settings.removal_max_share * absence.stored:
                continue  # the close says why nothing is removed
            for product_id in fresh:
                feed.proof_targets[product_id] = target
                requests.append(spider.proof_request(product_id, target))
            self.ledger.targets[target].extra["proof_calls"] = len(fresh)
        if not requests:
            return
        self.crawler.stats.inc_value("ali1688/removals/proof_calls", len(requests))
        logger.info("%d stored products are missing from complete listings: asking their details "
                    "whether they still exist (ALI1688_REMOVAL_PROOF=detail)", len(requests))
        for request in requests:
            self.crawler.engine.crawl(request)
        raise DontCloseSpider

    async def _record_removals(self, feed: ChangeFeed) -> None:
        """Settle complete shop listings (one transaction), then remove the products whose
        detail says they do not exist."""
        at = _now().replace(microsecond=0)  # to the second, as item times are
        try:
            listings = feed.complete_listings() or []
            settlements = await self._in_thread(
                self.store.settle_listings, self.run_id, [listing for _, listing in listings], gone=feed.gone,
                max_share=self.settings.removal_max_share, at=at,
            )
            for (target, _), settled in zip(listings, settlements, strict=True):
                feed.publish(settled.changes, target=target)
                self._report_settlement(self.ledger.targets[target].target, settled)
            if feed.gone:
                feed.publish(await self._in_thread(self.store.remove_gone, self.run_id, sorted(feed.gone), at))
        except Exception as exc:  # the products are stored; only the removals are not
            self.error = describe_error(exc)
            self.crawler.stats.set_value("ali1688/db/error", self.error)
            close_crawl(self.crawler, DB_ERROR, "Recording removed products failed (%s)", self.error)

    async def _record_searches(self) -> None:
        """Which products each search returned (for ``ali1688 report keyword``); a failure costs
        only that record: the products are stored."""
        try:
            await self._in_thread(self.store.record_search_results, self.run_id, self.ledger.search_results)
        except Exception as exc:
            logger.warning("Could not record which products the searches returned: %s", describe_error(exc))

    async def _compact_history(self, age: timedelta) -> None:
        """Thin observations older than *age* to one a day; a failure costs only the thinning."""
        try:
            deleted = await self._in_thread(self.store.compact_observations, _now() - age)
        except Exception as exc:
            logger.warning("Could not thin the observations older than %s (ALI1688_HISTORY_DAILY_AFTER_DAYS): %s",
                           age, describe_error(exc))
            return
        if deleted:
            self.crawler.stats.set_value("ali1688/db/observations_thinned", deleted)

    def _report_settlement(self, target: str, settled: Settlement) -> None:
        stats = self.crawler.stats
        if settled.withheld is not None:
            stats.inc_value("ali1688/removals/withheld")
            logger.warning(
                "No removals recorded for %s: %d of its %d stored products are missing from a listing "
                "that calls itself complete, more than ALI1688_REMOVAL_MAX_SHARE=%g; such a listing "
                "is not trusted (run the crawl again, or raise the setting if the shop really shrank)",
                target, settled.withheld, settled.stored, self.settings.removal_max_share)
            return
        if settled.suspects:
            stats.inc_value("ali1688/removals/suspects", settled.suspects)
            logger.info("%s: %d stored products are missing from its listing without proof that they "
                        "are gone; removed if the next complete listing lacks them too", target, settled.suspects)

    async def spider_closed(self, reason: str) -> None:
        """Mark the run finished (after ``close_spider`` committed everything) and let go."""
        try:
            if self.store is not None and self.run_id is not None:
                await self._in_thread(
                    self.store.finish_run, self.run_id, reason=reason,
                    calls=self.crawler.stats.get_value("ali1688/calls", 0), targets=self._spent_per_target(),
                )
        except Exception as exc:  # the crawl is over; its data is already committed
            logger.error("Could not mark crawl run %s finished: %s", self.run_id, describe_error(exc))
        finally:
            if self.changes is not None:
                self.changes.close()
            if self.writer is not None:
                await self._in_thread(self.writer.close)
            if self.store is not None:
                await self._in_thread(self.store.close)
            if self.executor is not None:
                self.executor.shutdown(wait=True)

    def _spent_per_target(self) -> list[dict[str, Any]]:
        """Each target's calls, and the shop it lists whole if it does (``run_targets``)."""
        return [
            {"target": ledger.target, "calls": ledger.calls, "listing_calls": ledger.listing_calls,
             "seller_open_id": ledger.scope[1] if ledger.scope and ledger.scope[0] == "seller_open_id" else None}
            for ledger in self.ledger.targets.values()
        ]

    def _waiter(self) -> asyncio.Future[str | None]:
        """The future the item being added to the batch waits on. The batch goes within
        ``flush_seconds``, or once the loop is done with what is ready now when no call is
        in flight (no more items can come sooner than a round trip: the crawl's last items do
        not wait for the timer)."""
        loop = asyncio.get_running_loop()
        downloading = self._downloading()
        if self._timer is None or (not downloading and self._timer.when() > loop.time()):
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_later(self.flush_seconds if downloading else 0.0, self._flush)
        waiter = loop.create_future()
        self._waiters.append(waiter)
        return waiter

    def _flush(self) -> None:
        """Hand what is pending to the worker thread as one batch."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiters, self._waiters = self._waiters, []
        products, categories = self._products, self._categories
        self._products, self._categories = [], []
        if not waiters:
            return
        if self.error is not None:
            release_in_steps(waiters, self.error, paced=self._paced)
            return
        writer = self._writer_for(len(waiters))
        write = asyncio.get_running_loop().run_in_executor(
            self.executor, writer.write if writer is not None else partial(write_batch, self.store),
            self.run_id, products, categories,
        )
        self._writes.add(write)
        ids = [product["product_id"] for product in products]
        write.add_done_callback(lambda done: self._written(done, waiters, ids, by_process=writer is not None))

    def _writer_for(self, items: int) -> WriterProcess | None:
        """The writer process that stores the next batch of *items*, started once the items
        handed over pass ``writer_after`` (None: the worker thread stores it itself). The
        worker thread takes the batches in their order, whichever stores them."""
        self._handed += items
        if self.writer is None and self._handed > self.settings.writer_after:
            logger.info("Storing through a writer process from item %d on (ALI1688_DB_WRITER_AFTER=%d)",
                        self._handed - items + 1, self.settings.writer_after)
            self.writer = WriterProcess(self.url, detect_changes=self.changes is not None)
        return self.writer

    def _written(self, done: asyncio.Future[BatchResult], waiters: list[asyncio.Future[str | None]],
                 ids: list[str], *, by_process: bool) -> None:
        """The batch committed (its items go on, a step at a time) or failed (they are dropped)."""
        self._writes.discard(done)
        exc = done.exception()
        if exc is None:
            self._count(done.result(), by_process=by_process)
            if self.changes is not None:
                self.changes.publish(done.result().changes)
            guard = crash_guard_for(self.crawler)
            if guard is not None:
                # Committed: after a crash the job need not fetch these again.
                guard.acknowledge(ids)
            release_in_steps(waiters, None, paced=self._paced)
            return
        first = self.error is None
        if first:
            self.error = describe_error(exc)
            self.crawler.stats.set_value("ali1688/db/error", self.error)
        release_in_steps(waiters, self.error, paced=self._paced)
        message = "A database batch of %d items failed and was rolled back (%s)"
        if first:
            logger.debug("The failed batch's error", exc_info=exc)
            close_crawl(self.crawler, DB_ERROR, message, len(waiters), describe_error(exc))
        else:
            # Batches already on their way when the first failed (a database gone fails them
            # all): the first's line has said it and closes the crawl; these count as not stored.
            logger.debug(message, len(waiters), describe_error(exc))

    def _downloading(self) -> bool:
        """Whether a call is in flight (or waits for its grant) in the downloader."""
        engine = self.crawler.engine
        return engine is None or bool(engine.downloader.active)

    def _paced(self) -> bool:
        """Whether committed items go on in steps (``gateway.stepping``): a call waits for its grant."""
        return waiting_for_grant(self.crawler)

    def _count(self, result: BatchResult, *, by_process: bool) -> None:
        stats = self.crawler.stats
        stats.inc_value("ali1688/db/batches")
        if by_process and result.stored:
            stats.inc_value("ali1688/db/stored_by_writer_process", result.stored)
        for name in ("stored", "new", "changed", "unchanged", "price_changes", "categories"):
            value = getattr(result, name)
            if value:
                key = name if name in ("stored", "price_changes", "categories") else f"products_{name}"
                stats.inc_value(f"ali1688/db/{key}", value)

    async def _in_thread(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: function(*args, **kwargs))


def _now() -> datetime:
    return datetime.now(timezone.utc)
