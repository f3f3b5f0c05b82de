"""The shared base of the ali1688 spiders: arguments, API requests, payload decoding."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import scrapy
from scrapy import signals

from ali1688spider.api.catalogue import DETAIL_API
from ali1688spider.api.errors import unwrap_result
from ali1688spider.api.normalize import fill_missing, normalize_product
from ali1688spider.monitoring.changes import offer_gone
from ali1688spider.closing import CALLS_FAILED, close_crawl
from ali1688spider.config import get_str
from ali1688spider.distributed.keys import is_distributed
from ali1688spider.gateway.endpoint import resolve_endpoint
from ali1688spider.gateway.middleware import ApiRequestError
from ali1688spider.gateway.request import build_api_request
from ali1688spider.items import Product
from ali1688spider.reporting.ledger import ledger_for, now_iso
from ali1688spider.spiders.arguments import Argument, has_job_arguments, parse_arguments

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Mapping

    from scrapy.http import Response
    from twisted.python.failure import Failure

    from ali1688spider.api.errors import ApiError


class Ali1688Spider(scrapy.Spider):
    """Base spider: declares ``arguments``, builds API calls, counts normalization anomalies,
    and closes with ``ali1688_calls_failed`` when some of what was asked for failed for good."""

    arguments: ClassVar[dict[str, Argument]] = {}
    #: What ``asked``/``failed`` count, for the closing summary ("products", "pages").
    asked_for: ClassVar[str] = "calls"

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Any:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.judge_failures, signal=signals.spider_idle)
        return spider

    def __init__(self, name: str | None = None, **kwargs: Any):
        super().__init__(name)
        #: The spider's own job; None when started without arguments, which only a
        #: distributed worker may be (its jobs are the seeds it takes from Redis).
        self.args: dict[str, Any] | None = None
        #: How many of what the user asked for were asked of the gateway, and which failed
        #: for good (ids, pages).
        self.asked = 0
        self.failed: list[str] = []
        if has_job_arguments(kwargs):
            self.args = self.check_arguments(kwargs)
            for key, value in self.args.items():
                setattr(self, key, value)

    async def start(self) -> AsyncIterator[Any]:
        """The spider's first calls: ``requests_for`` its ``-a`` job, or, in a spider that
        defines ``start_requests`` instead, what that yields."""
        if not self.takes_jobs():
            for request in self.start_requests():
                yield request
            return
        if self.args is None and not is_distributed(self.settings):
            self.args = self.check_arguments({})  # no job: the one-line "needs -a …" error
        if self.args is not None:
            for request in self.requests_for(self.args):
                yield request

    @classmethod
    def makes_requests(cls) -> bool:
        """Whether the spider says where its calls start (``start``, ``start_requests`` or
        ``requests_for`` of its own); the crawl command refuses one that does not."""
        return any(cls._overrides(name) for name in ("start", "start_requests", "requests_for"))

    @classmethod
    def takes_jobs(cls) -> bool:
        """Whether jobs (``-a`` arguments, Redis seeds) turn into calls: ``requests_for``."""
        return cls._overrides("requests_for")

    @classmethod
    def _overrides(cls, name: str) -> bool:
        return getattr(cls, name) is not getattr(Ali1688Spider, name)

    def start_requests(self) -> Iterable[scrapy.Request]:
        """Override to make a spider's first calls the way Scrapy spiders used to."""
        return ()

    def requests_for(self, args: dict[str, Any]) -> Iterable[scrapy.Request]:
        """The first calls for one job given by parsed arguments *args*.

        The spider's own ``-a`` arguments are one job; in distributed mode each seed taken
        from Redis is another, parsed with ``check_arguments`` the same way.
        """
        raise NotImplementedError(f"spider {self.name!r} must define requests_for(self, args)")

    @classmethod
    def check_arguments(cls, raw: Mapping[str, Any], *, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Parse *raw* ``-a`` arguments (and, given the crawl's *settings*, check those the
        arguments need); raises SpiderArgumentError with a one-line reason."""
        values = parse_arguments(cls.name, cls.arguments, raw)
        cls.check_combination(values)
        if settings is not None:
            cls.check_settings(values, settings)
        return values

    @classmethod
    def check_settings(cls, values: dict[str, Any], settings: Mapping[str, Any]) -> None:
        """Hook for arguments that need a setting (``details=changed``, a database)."""

    @classmethod
    def check_combination(cls, values: dict[str, Any]) -> None:
        """Hook for rules across arguments (one of, min <= max…)."""

    @property
    def country(self) -> str:
        """Language code the cross-border APIs require (``ALI1688_COUNTRY``)."""
        return get_str(self.crawler.settings, "ALI1688_COUNTRY") or "en"

    @cached_property
    def gateway_origin(self) -> str:
        """The gateway as the queued requests name it (``Endpoint.origin``)."""
        return resolve_endpoint(self.crawler.settings).origin

    def api_request(self, api_name: str, params: Mapping[str, Any], **kwargs: Any) -> scrapy.Request:
        """An unsigned request for one call of *api_name*; see ``build_api_request``."""
        return build_api_request(self.gateway_origin, api_name, params, **kwargs)

    def payload(self, response: Response) -> Any:
        """The business payload of a successful API answer, whatever its envelope."""
        return unwrap_result(response.json())

    def detail_request(self, offer_id: str, *, callback: Any, **kwargs: Any) -> scrapy.Request:
        """One detail call for *offer_id* (the detail API also names the offer's seller,
        reference §6.4) answered to *callback*; *kwargs* go to ``api_request``."""
        params = {"offerDetailParam": {"offerId": int(offer_id), "country": self.country}}
        return self.api_request(DETAIL_API, params, callback=callback, **kwargs)

    def proof_request(self, product_id: str, target: str) -> scrapy.Request:
        """The detail call that tells whether *product_id*, missing from a complete listing of
        *target*, still exists (the SQL pipeline asks it for each new suspect)."""
        return self.detail_request(
            product_id, callback=self.parse_proof, errback=self.proof_failed,
            cb_kwargs={"product_id": product_id, "target": target},
            # Never filtered: an earlier run of a shared (Redis) dupefilter may have seen it.
            dont_filter=True,
        )

    def parse_proof(self, response: Response, product_id: str, target: str) -> Iterable[Product]:
        """It exists: stored like any detail, and seen, so it is no suspect."""
        ledger_for(self.crawler).tag(product_id, target)
        self.crawler.stats.inc_value("ali1688/removals/proof_exists")
        yield self.detail_item(response)

    def proof_failed(self, failure: Failure) -> None:
        """Gone when the API says so; any other failure proves nothing (it stays a suspect)."""
        if isinstance(failure.value, ApiRequestError):
            self.note_gone(failure.request.cb_kwargs["product_id"], failure.value.error)

    def note_gone(self, offer_id: str, error: ApiError) -> None:
        """A detail that answered "does not exist": the offer is offline or deleted."""
        if error.proves_absence:
            self.crawler.signals.send_catch_log(offer_gone, product_id=offer_id)

    def detail_item(self, response: Response, listing: dict[str, Any] | None = None) -> Product:
        """The ``Product`` of a detail answer, completed by its *listing* entry, stamped now."""
        product = self.detail_product(response, listing)
        product["crawled_at"] = self.now_iso()
        return Product(product)

    def detail_product(self, response: Response, listing: dict[str, Any] | None = None) -> dict[str, Any]:
        """The normalized product of a detail answer, completed by its *listing* entry if any."""
        product, anomalies = normalize_product(DETAIL_API, self.payload(response))
        self.count_anomalies(anomalies)
        return fill_missing(product, listing)

    def judge_failures(self) -> None:
        """All work is done: one summary line, and a failure close, when some of it failed."""
        if not self.failed:
            return
        close_crawl(
            self.crawler,
            CALLS_FAILED,
            "%d of %d %s failed for good (each failure is logged above)",
            len(self.failed), self.asked, self.asked_for,
        )

    def count_anomalies(self, anomalies: Iterable[str]) -> None:
        for field in anomalies:
            self.crawler.stats.inc_value(f"ali1688/normalize/anomaly/{field}")

    now_iso = staticmethod(now_iso)
