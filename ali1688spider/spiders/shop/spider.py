"""The ``shop`` spider: every product of one shop, complete past the listing's paging cap.

Shops of any seller are listed with ``product.search.querySellerOfferList`` (by
``sellerOpenId``); the authorizing seller's own catalogue (``own=1``) with
``alibaba.product.getList``. A listing answers only ``ALI1688_MAX_PAGES`` pages (the cap is
also detected from the answers), so a listing whose total is larger is cut into slices that
each fit (``spiders/shop/slicing.py``): by price band, then category, for other shops (that API
has no time filter); by modification-day window, then category, for the own catalogue.
Entries are deduplicated across slices; the platform's total, the ids fetched, the slices
and calls spent go to the crawl report (``reporting/pipeline.py``).

How a shop is named (one of): ``seller_open_id=``; ``offer=`` (any product of the shop: its
detail gives the ``sellerOpenId``, reference §6.1); ``shop_url=``/``member_id=`` (no
documented API maps those to a ``sellerOpenId``: they work when they name the authorizing
seller, whose catalogue ``getList`` lists, and otherwise fail with one line saying what to
pass); ``own=1``. Options: ``details=1`` (full detail per product), ``since=`` (only products
modified since), ``incremental=1`` (since the last complete crawl of the shop).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals

from ali1688spider.api.catalogue import (
    ACCOUNT_API,
    CATEGORY_API,
    DETAIL_API,
    OWN_LIST_API,
    SHOP_LIST_API,
)
from ali1688spider.api.china_time import CHINA_TIME
from ali1688spider.api.errors import ErrorKind
from ali1688spider.api.normalize import normalize_categories, normalize_product
from ali1688spider.api.urls import parse_offer_id, parse_shop_ref
from ali1688spider.config import get_path, get_str
from ali1688spider.extensions.crashguard import crash_guard_for
from ali1688spider.gateway.middleware import ApiRequestError
from ali1688spider.gateway.request import PARAMS_META_KEY, is_cache_hit
from ali1688spider.idset import ProductIdSet
from ali1688spider.items import Product
from ali1688spider.reporting.ledger import COMPLETE, ledger_for
from ali1688spider.spiders.arguments import (
    Argument,
    SpiderArgumentError,
    as_bool,
    as_datetime,
    as_text,
    parse_arguments,
)
from ali1688spider.spiders.base import Ali1688Spider
from ali1688spider.spiders.paging import count_doubt, page_cap, page_size_for, read_page, with_page
from ali1688spider.spiders.shop.jobs import (
    JOB_ARGS_META_KEY,
    JOB_META_KEY,
    PRIORITY_DETAIL,
    PRIORITY_FIRST_PAGE,
    PRIORITY_SETUP,
    SHOP_INPUTS,
    STATE_KEY,
    ShopJob,
    job_key,
    modified_time,
    parse_split_order,
)
from ali1688spider.spiders.shop.changed import (
    CHANGED,
    ChangedDetails,
    RefreshPlanning,
    as_details,
    count_reason,
    max_detail_age,
)
from ali1688spider.spiders.shop.resolve import ShopResolution
from ali1688spider.spiders.shop.slicing import (
    CategoryNode,
    Sample,
    Slice,
    SliceBook,
    SplitPlan,
)
from ali1688spider.spiders.shop.syncstate import Mark, SyncState

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

    from scrapy import Request
    from scrapy.http import Response
    from twisted.python.failure import Failure

    from ali1688spider.reporting.ledger import CompletenessLedger
    from ali1688spider.spiders.paging import Page

logger = logging.getLogger(__name__)

class ShopSpider(ShopResolution, RefreshPlanning, Ali1688Spider):
    """Yields every product of a shop (list entries, or full details with ``details=1``)."""

    name = "shop"
    arguments = {
        "seller_open_id": Argument(as_text, "the shop's sellerOpenId"),
        "offer": Argument(parse_offer_id, "an offer id or detail.1688.com URL of any product of the shop"),
        "shop_url": Argument(parse_shop_ref, "a shop URL such as https://NAME.1688.com/"),
        "member_id": Argument(as_text, "a memberId such as b2b-1234567890"),
        "own": Argument(as_bool, "1 to crawl the authorizing seller's own catalogue", False),
        "details": Argument(as_details, "1 to fetch each product's full detail, 0 not to, changed for "
                            "only those whose listing entry or detail age calls for it (needs "
                            "ALI1688_DB_URL)", False),
        "since": Argument(as_datetime, "an ISO date: only products modified since then"),
        "incremental": Argument(
            as_bool, "1 to crawl only what changed since the last complete crawl", False
        ),
    }

    @classmethod
    def check_combination(cls, values: dict[str, Any]) -> None:
        given = [name for name in SHOP_INPUTS if values[name]]
        if len(given) != 1:
            what = "got " + ", ".join(given) if given else "got none"
            raise SpiderArgumentError(
                "spider 'shop' needs exactly one of -a seller_open_id=ID, -a offer=ID_OR_URL, "
                f"-a shop_url=URL, -a member_id=ID, -a own=1 ({what})"
            )
        if values["since"] is not None and values["incremental"]:
            raise SpiderArgumentError(
                "spider 'shop': give either since= or incremental=1 (which starts from the "
                "last complete crawl), not both"
            )

    @classmethod
    def check_settings(cls, values: dict[str, Any], settings: Mapping[str, Any]) -> None:
        if values.get("details") == CHANGED:
            max_detail_age(settings)

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        for api_name in (SHOP_LIST_API, OWN_LIST_API):
            parse_split_order(get_str(crawler.settings, "ALI1688_SPLIT_ORDER"), api_name)
        spider = super().from_crawler(crawler, *args, **kwargs)
        # Connected once the pipelines are: their idle work (removal proofs) is queued first.
        crawler.signals.connect(spider.connect_planner, signal=signals.spider_opened)
        return spider

    def connect_planner(self) -> None:
        self.crawler.signals.connect(self.plan_refreshes, signal=signals.spider_idle)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.jobs: dict[str, ShopJob] = {}
        # Category children by parent id ("0" = the level-1 list), shared by every job.
        self.category_children: dict[str, list[CategoryNode]] = {}
        self._unsaved: dict[str, dict[str, Any]] = {}
        self._changed: ChangedDetails | None = None
        #: Products detailed since then, or whose detail this crawl asked for, count as fresh
        #: for the refresh planner. Item times are whole seconds: one detailed in the second
        #: the crawl started counts as before it, so the previous run's last details are never
        #: taken for this run's.
        self.planning_since = dt.datetime.now(dt.timezone.utc)
        self.details_asked = ProductIdSet()

    # -- jobs ------------------------------------------------------------------------------

    @property
    def ledger(self) -> CompletenessLedger:
        return ledger_for(self.crawler)

    def open_job(self, args: dict[str, Any], *, key: str | None = None) -> ShopJob:
        key = key or job_key(args)
        job = self.jobs.get(key)
        if job is None:
            ledger = self.ledger.open(key, spider=self.name, target=key)
            job = self.jobs[key] = ShopJob(key=key, args=args, ledger=ledger)
            self.saved_jobs().setdefault(key, {"ledger": ledger, "spec": None})
        return job

    def job(self, key: str, meta: dict[str, Any]) -> ShopJob:
        """The job of a request; rebuilt from the request's job spec when this process did not
        start it (a shared queue in distributed mode, or a resumed JOBDIR)."""
        job = self.jobs.get(key)
        if job is None and JOB_ARGS_META_KEY in meta:
            job = self.open_job(meta[JOB_ARGS_META_KEY], key=key)
        elif job is None:
            job = self.resume_job(key, meta[JOB_META_KEY])
        return job

    def answered(self, key: str, response: Response) -> ShopJob:
        """The job of an answered call, which counts toward its report (as a call, or as a
        cache hit)."""
        job = self.job(key, response.meta)
        if is_cache_hit(response):
            job.ledger.cache_hits += 1
        else:
            job.ledger.calls += 1
        return job

    def resume_job(self, key: str, spec: dict[str, Any], saved: dict[str, Any] | None = None) -> ShopJob:
        """A job that is past resolving, from its spec (and what a JOBDIR pause saved of it:
        its ledger, and its listing's slices, which the queued pages of a split need)."""
        saved = saved or {}
        ledger = saved.get("ledger")
        args = {name: None for name in ShopSpider.arguments}
        args.update(own=False, incremental=False, details=spec["details"])
        if ledger is not None:
            self.ledger.adopt(ledger)
        job = self.open_job(args, key=key)
        job.api, job.seller_open_id, job.member_id = spec["api"], spec["seller_open_id"], spec["member_id"]
        job.since = dt.datetime.fromisoformat(spec["since"]) if spec["since"] else None
        job.page_size = spec["page_size"]
        order = parse_split_order(get_str(self.crawler.settings, "ALI1688_SPLIT_ORDER"), job.api)
        job.book = saved.get("book") or SliceBook(max_pages=spec["max_pages"], order=order)
        job.samples = saved.get("samples") or {}
        job.ledger.target = spec["target"]
        job.ledger.scope = job.removal_scope()
        return job

    def saved_jobs(self) -> dict[str, dict[str, Any]]:
        """Where the jobs' ledgers and specs live across a JOBDIR pause (``spider.state``,
        which Scrapy keeps in JOBDIR on a clean stop); a throwaway dict without JOBDIR."""
        state = getattr(self, "state", None)
        return state.setdefault(STATE_KEY, {}) if isinstance(state, dict) else self._unsaved

    async def start(self) -> AsyncIterator[Any]:
        for key, saved in list(self.saved_jobs().items()):
            if key not in self.jobs and saved.get("spec"):
                self.resume_job(key, saved["spec"], saved)
                logger.info("Resuming shop %s: %d products listed before the pause",
                            key, len(saved["ledger"].listed))
        async for request in super().start():
            yield request

    def shop_requests(self, seller_open_id: str, *, details: bool = False) -> Iterator[Request]:
        """The calls that list one whole shop: a job of its own, with its crawl report (for
        spiders that name their shops themselves, several in one crawl)."""
        raw = {"seller_open_id": seller_open_id, "details": "1" if details else "0"}
        return self.requests_for(parse_arguments(ShopSpider.name, ShopSpider.arguments, raw))

    def requests_for(self, args: dict[str, Any]) -> Iterator[Request]:
        job = self.open_job(args)
        if job.book is not None:
            # Resumed from JOBDIR: its listing goes on from the queue and the saved slices.
            return
        if args["seller_open_id"]:
            yield from self.start_listing(job, SHOP_LIST_API, seller_open_id=args["seller_open_id"])
        elif args["offer"]:
            params = {"offerDetailParam": {"offerId": int(args["offer"]), "country": self.country}}
            yield self.setup_request(job, DETAIL_API, params, self.parse_offer_seller)
        else:
            yield self.setup_request(job, ACCOUNT_API, {}, self.parse_account)

    # -- listing ---------------------------------------------------------------------------

    def start_listing(
        self,
        job: ShopJob,
        api_name: str,
        *,
        seller_open_id: str | None = None,
        member_id: str | None = None,
    ) -> Iterator[Request]:
        settings = self.crawler.settings
        job.api, job.seller_open_id, job.member_id = api_name, seller_open_id, member_id
        job.ledger.target = (
            f"seller_open_id={seller_open_id}" if api_name == SHOP_LIST_API else f"own member_id={member_id}"
        )
        job.since = job.args["since"]
        if job.args["incremental"]:
            job.since = self.resume_mark(job)
        order = parse_split_order(get_str(settings, "ALI1688_SPLIT_ORDER"), api_name)
        job.book = SliceBook(max_pages=page_cap(settings), order=order)
        job.page_size = page_size_for(settings, api_name)
        if api_name == OWN_LIST_API and job.since is not None:
            # getList filters by day: list from the day of `since`, then keep the exact ones.
            job.root = Slice(day_from=job.since.astimezone(CHINA_TIME).date())
        job.book.open(job.root)
        job.ledger.scope = job.removal_scope()
        job.ledger.max_pages = job.book.max_pages
        self.saved_jobs()[job.key].update(spec=job.spec(), book=job.book, samples=job.samples)
        if job.since is not None:
            job.ledger.extra["since"] = job.since.isoformat()
        logger.info("Listing shop %s with %s (page size %d, cap %d pages%s)", job.ledger.target,
                    api_name, job.page_size, job.book.max_pages,
                    f", modified since {job.since.isoformat()}" if job.since else "")
        yield self.listing_request(job, job.root, 1)

    def resume_mark(self, job: ShopJob) -> dt.datetime | None:
        mark = self.sync_state().get(job.state_key)
        if mark is None:
            logger.info("No complete crawl of %s recorded in %s: crawling everything",
                        job.state_key, self.sync_state().path)
            return None
        logger.info("Incremental crawl of %s: products modified since %s (last complete crawl "
                    "%s, %d products)", job.state_key, mark.high_water.isoformat(),
                    mark.crawled_at, mark.products)
        return mark.high_water

    def sync_state(self) -> SyncState:
        return SyncState(get_path(self.crawler.settings, "ALI1688_STATE_FILE") or Path())

    def listing_params(self, job: ShopJob, piece: Slice) -> dict[str, Any]:
        if job.api == SHOP_LIST_API:
            query = {
                "sellerOpenId": job.seller_open_id,
                "country": self.country,
                "categoryId": int(piece.category_id) if piece.category_id else None,
                "priceStart": _price(piece.price_low),
                "priceEnd": _price(piece.price_high),
            }
            return {"offerQueryParam": {k: v for k, v in query.items() if v is not None}}
        return {
            "categoryID": int(piece.category_id) if piece.category_id else -1,
            "webSite": "1688",
            # Day precision (reference §6.6): whole days, both ends included.
            "timeStamp": f"{piece.day_from:%Y-%m-%d} 00:00:00" if piece.day_from else None,
            "endTimeStamp": f"{piece.day_until:%Y-%m-%d} 23:59:59" if piece.day_until else None,
        }

    def listing_request(self, job: ShopJob, piece: Slice, page: int, *, probe: bool = False) -> Request:
        assert job.api is not None and job.book is not None
        size = job.book.page_size or job.page_size
        return self.api_request(
            job.api,
            with_page(job.api, self.listing_params(job, piece), page, size),
            callback=self.parse_listing,
            errback=self.listing_failed,
            cb_kwargs={"key": job.key, "piece": piece, "page": page, "probe": probe},
            meta={JOB_META_KEY: job.spec()},
            priority=PRIORITY_FIRST_PAGE if page == 1 or probe else 0,
        )

    def parse_listing(
        self, response: Response, key: str, piece: Slice, page: int, probe: bool = False
    ) -> Iterator[Any]:
        job = self.answered(key, response)
        book, ledger = job.book, job.ledger
        assert job.api is not None and book is not None
        ledger.listing_calls += 1
        payload = self.payload(response)
        answer = read_page(job.api, payload, page)
        products = [self.list_product(job, entry) for entry in answer.entries]
        yield from self.take(job, products)
        self.check_counts(job, piece, answer)
        # Without a total only the entries at hand are known to exist (the verdict is unknown).
        total = answer.total if answer.total is not None else len(answer.entries)
        if page == 1:
            page_size = answer.page_size or job.page_size
            sample = Sample(
                prices=tuple(Decimal(p["price_min"]) for p in products if p["price_min"]),
                days=tuple(m.astimezone(CHINA_TIME).date() for m in map(modified_time, products) if m),
            )
            job.samples[piece] = sample
            if piece == job.root:
                ledger.official_total, ledger.page_size = answer.total, page_size
                logger.info("Shop %s: %s products on the platform", ledger.target,
                            "unknown (no total)" if answer.total is None else answer.total)
            decision = book.first_page(piece, total=total, page_size=page_size, sample=sample,
                                       children_of=self.children_of)
            if decision.plan is None:
                for number in decision.pages:
                    yield self.listing_request(job, piece, number, probe=decision.probe)
            else:
                yield from self.carry_out(job, piece, decision.plan, read_rest=True)
        elif probe and answer.entries:
            for number in book.probed(page):
                yield self.listing_request(job, piece, number)
        elif not answer.entries and answer.total_pages and page <= answer.total_pages:
            self.crawler.stats.inc_value("ali1688/shop/empty_pages")
            if book.empty_page(piece, page, total=answer.total, page_size=job.page_size):
                logger.info("Shop %s: page %d of slice %s came back empty: the platform serves "
                            "%d pages at most; splitting the slice", ledger.target, page,
                            piece.describe(), book.max_pages)
                plan = book.plan(piece, sample=job.samples.get(piece, Sample()),
                                 children_of=self.children_of)
                # After a probe the pages between were never asked for.
                yield from self.carry_out(job, piece, plan, read_rest=probe)
        self.sync_ledger(job)

    def check_counts(self, job: ShopJob, piece: Slice, answer: Page) -> None:
        """Doubt the listing's completeness where a page's counts disagree with themselves or
        with the first page of its slice (one warning per doubt)."""
        assert job.book is not None
        state = job.book.states.get(piece)
        first_total = state.total if state is not None and answer.number > 1 else None
        problem = count_doubt(answer, first_total=first_total, page_size=job.page_size)
        if problem is None:
            return
        self.crawler.stats.inc_value("ali1688/shop/count_doubts")
        reason = f"page {answer.number} of slice {piece.describe()} {problem}"
        if job.ledger.doubt(reason):
            logger.warning("Shop %s: %s; its completeness is unknown", job.ledger.target, reason)

    def children_of(self, category_id: str | None) -> list[CategoryNode] | None:
        return self.category_children.get(category_id or "0")

    def carry_out(self, job: ShopJob, piece: Slice, plan: SplitPlan, *, read_rest: bool) -> Iterator[Request]:
        book = job.book
        assert book is not None
        if plan.needs_categories is not None:
            yield self.api_request(
                CATEGORY_API,
                {"categoryID": int(plan.needs_categories)},
                callback=self.parse_categories,
                errback=self.categories_failed,
                cb_kwargs={"key": job.key, "piece": piece, "read_rest": read_rest},
                meta={JOB_META_KEY: job.spec()},
                priority=PRIORITY_SETUP,
                dont_filter=True,
            )
            return
        total = book.states[piece].total or 0
        if plan.unsplittable:
            logger.warning(
                "Shop %s: slice %s holds %d products, more than %d pages show, and no filter "
                "splits it further; only the first %d pages are read",
                job.ledger.target, piece.describe(), total, book.max_pages, book.max_pages,
            )
            if read_rest:
                for number in range(2, book.pages_allowed(total) + 1):
                    yield self.listing_request(job, piece, number)
            return
        children = book.split(piece, plan.children)
        self.crawler.stats.inc_value("ali1688/shop/splits")
        self.crawler.stats.inc_value(f"ali1688/shop/splits/{plan.dimension}")
        logger.debug("Shop %s: slice %s (%d products) split by %s into %d", job.ledger.target,
                     piece.describe(), total, plan.dimension, len(children))
        for child in children:
            yield self.listing_request(job, child, 1)

    def parse_categories(self, response: Response, key: str, piece: Slice, read_rest: bool) -> Iterator[Request]:
        job = self.answered(key, response)
        wanted = response.meta[PARAMS_META_KEY]["categoryID"]
        categories, anomalies = normalize_categories(CATEGORY_API, self.payload(response))
        self.count_anomalies(anomalies)
        self.category_children[wanted] = [
            CategoryNode(c["category_id"], bool(c["is_leaf"]))
            for c in categories
            if c["parent_id"] == wanted and c["category_id"] not in (None, wanted)
        ]
        yield from self.replan(job, piece, read_rest=read_rest)

    def categories_failed(self, failure: Failure) -> Iterator[Request]:
        """Without the category tree a slice is still cut by the other filters."""
        if not isinstance(failure.value, ApiRequestError):
            return
        kwargs = failure.request.cb_kwargs
        wanted = failure.request.meta[PARAMS_META_KEY]["categoryID"]
        logger.warning("Category %s could not be read (%s); splitting without it", wanted,
                       failure.value.error.describe())
        self.category_children[wanted] = []
        yield from self.replan(self.job(kwargs["key"], failure.request.meta), kwargs["piece"],
                               read_rest=kwargs["read_rest"])

    def replan(self, job: ShopJob, piece: Slice, *, read_rest: bool) -> Iterator[Request]:
        assert job.book is not None
        plan = job.book.plan(piece, sample=job.samples.get(piece, Sample()), children_of=self.children_of)
        if plan.needs_categories is not None:
            # The answer did not describe the category asked for: cut by the other filters.
            self.category_children[plan.needs_categories] = []
            plan = job.book.plan(piece, sample=job.samples.get(piece, Sample()),
                                 children_of=self.children_of)
        yield from self.carry_out(job, piece, plan, read_rest=read_rest)
        self.sync_ledger(job)

    def listing_failed(self, failure: Failure) -> None:
        """A page that failed for good: its products are missing (the report counts them)."""
        if not isinstance(failure.value, ApiRequestError):
            return
        kwargs = failure.request.cb_kwargs
        job, error = self.job(kwargs["key"], failure.request.meta), failure.value.error
        if failure.value.closes_crawl:
            return
        if kwargs["piece"] == job.root and kwargs["page"] == 1 and error.kind is ErrorKind.NOT_FOUND:
            # The platform knows no such shop: nothing of it can be listed.
            self.unresolved(job, f"the listing answered {error.describe()}")
            return
        self.crawler.stats.inc_value("ali1688/shop/failed_pages")
        logger.error("Shop %s: page %d of slice %s failed (%s); its products are missing",
                     kwargs["key"], kwargs["page"], kwargs["piece"].describe(), error.describe())

    @staticmethod
    def sync_ledger(job: ShopJob) -> None:
        book, ledger = job.book, job.ledger
        assert book is not None
        if book.leaked > ledger.leaked:
            logger.warning(
                "Shop %s: the slices of a split hold %d products fewer than the listing they "
                "were cut from (products no filter value matches?); those are not reachable "
                "this way and count as missing", ledger.target, book.leaked - ledger.leaked,
            )
        if book.excess and ledger.doubt("the slices of a split counted more products than the "
                                        "listings they were cut from"):
            logger.warning("Shop %s: %s; its completeness is unknown", ledger.target, ledger.doubts[-1])
        ledger.slices_used = book.slices_used
        ledger.leaked = book.leaked
        ledger.truncated = book.truncated
        ledger.max_pages = book.max_pages

    # -- products --------------------------------------------------------------------------

    def list_product(self, job: ShopJob, entry: dict[str, Any]) -> dict[str, Any]:
        assert job.api is not None
        product, anomalies = normalize_product(job.api, entry)
        self.count_anomalies(anomalies)
        return product

    def take(self, job: ShopJob, products: Sequence[dict[str, Any]]) -> Iterator[Any]:
        """New products of the listing: emitted, or their detail asked for (``details=1``, or
        with ``details=changed`` where the stored rows call for it)."""
        stats = self.crawler.stats
        reasons = self.changed_details().reasons(products) if job.args["details"] == CHANGED else None
        for product in products:
            product_id = product["product_id"]
            if product_id is None:
                continue
            modified = modified_time(product)
            if not self.ledger.note_listed(job.ledger, product_id, modified):
                stats.inc_value("ali1688/shop/duplicates")
                continue
            if job.since is not None and modified is not None and modified < job.since:
                stats.inc_value("ali1688/shop/unchanged")
                job.ledger.note_skipped(product_id)
                continue
            if not self.keep(product):
                self.left_out(job, product_id)
                continue
            # getList entries are the full product model already; list entries of other
            # shops lack SKUs, tiers and stock.
            if self.wants_detail(product, asked=bool(job.args["details"])) and product["skus"] is None:
                if product_id in self.stored_before_crash:
                    # Listed (the report counts it); its detail is in the database already.
                    stats.inc_value("ali1688/shop/stored_before_crash")
                    job.ledger.note_skipped(product_id)
                    extra = job.ledger.extra
                    extra["stored_before_crash"] = extra.get("stored_before_crash", 0) + 1
                    continue
                if reasons is not None:
                    reason = reasons[product_id]
                    count_reason(job.ledger, reason)
                    stats.inc_value(f"ali1688/details/{reason or 'unchanged'}")
                    if reason is None:
                        # Listed, and nothing a detail would add is known to have moved.
                        yield self.finish(job, product)
                        continue
                self.details_asked.add(product_id)
                yield self.shop_detail_request(job, product)
            else:
                yield self.finish(job, product)

    def keep(self, product: dict[str, Any]) -> bool:
        """Hook: whether a product (a normalized listing entry, then its detail) is wanted;
        one left out counts as delivered in the crawl report. Every product by default."""
        return True

    def wants_detail(self, product: dict[str, Any], *, asked: bool) -> bool:
        """Hook: whether a kept listing entry gets a detail call; *asked* is the job's
        ``details=`` argument, the default answer."""
        return asked

    def left_out(self, job: ShopJob, product_id: str) -> None:
        self.crawler.stats.inc_value("ali1688/shop/left_out")
        job.ledger.note_skipped(product_id)

    def changed_details(self) -> ChangedDetails:
        """The stored rows ``details=changed`` compares listings with, opened on first use (a
        method, not a property: feed exports read every attribute of the spider)."""
        if self._changed is None:
            self._changed = ChangedDetails.from_settings(self.crawler.settings)
        return self._changed

    @cached_property
    def stored_before_crash(self) -> frozenset[str]:
        """Products earlier runs of this JOBDIR job stored (``extensions/crashguard.py``); only
        a crash restart lists them again."""
        guard = crash_guard_for(self.crawler)
        return guard.stored if guard is not None else frozenset()

    def finish(self, job: ShopJob, product: dict[str, Any]) -> Product:
        self.ledger.claim(job.ledger, product["product_id"])
        if product.get("seller_open_id") is None:
            product["seller_open_id"] = job.seller_open_id
        if product.get("member_id") is None:
            product["member_id"] = job.member_id
        product["crawled_at"] = self.now_iso()
        return Product(product)

    def shop_detail_request(self, job: ShopJob, listing: dict[str, Any]) -> Request:
        return self.detail_request(
            listing["product_id"],
            callback=self.parse_detail,
            errback=self.detail_failed,
            cb_kwargs={"key": job.key, "listing": listing},
            meta={JOB_META_KEY: job.spec()},
            priority=PRIORITY_DETAIL,
        )

    def parse_detail(self, response: Response, key: str, listing: dict[str, Any]) -> Iterator[Product]:
        job = self.answered(key, response)
        product = self.detail_product(response, listing)
        if self.keep(product):
            yield self.finish(job, product)
        else:
            self.left_out(job, listing["product_id"])

    def detail_failed(self, failure: Failure) -> Iterator[Product]:
        """A product listed but gone (or failing) at detail time: emit what the list said."""
        kwargs = failure.request.cb_kwargs
        if not isinstance(failure.value, ApiRequestError):
            return
        self.crawler.stats.inc_value("ali1688/shop/detail_failed")
        self.note_gone(kwargs["listing"]["product_id"], failure.value.error)
        logger.warning("Detail of %s failed (%s); emitting its list entry", kwargs["listing"]["product_id"],
                       failure.value.error.describe())
        yield self.finish(self.job(kwargs["key"], failure.request.meta), kwargs["listing"])

    # -- end -------------------------------------------------------------------------------

    def closed(self, reason: str) -> None:
        """Store each complete shop's high-water mark for ``incremental=1``."""
        if self._changed is not None:
            self._changed.close()
        if reason != "finished":
            return
        marks = {
            job.state_key: Mark(job.ledger.high_water, job.ledger.started_at, len(job.ledger.listed))
            for job in self.jobs.values()
            if job.api is not None and job.ledger.high_water is not None and job.ledger.verdict(1.0) == COMPLETE
        }
        if not marks:
            return
        state = self.sync_state()
        state.put(marks)
        for key, mark in marks.items():
            logger.info("Stored the high-water mark %s of %s in %s", mark.high_water.isoformat(), key, state.path)


def _price(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")
