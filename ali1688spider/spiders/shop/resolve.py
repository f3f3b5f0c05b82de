"""How the shop spider finds the shop a job names (``offer=``, ``shop_url=``, ``member_id=``, ``own=1``).

``offer=``: the offer's detail names its ``sellerOpenId`` (reference §6.1). No documented API
maps a memberId or shop domain to a ``sellerOpenId``: those work when they name the
authorizing seller (``alibaba.account.basic``; a domain through
``alibaba.account.agent.crossBasic``), whose own catalogue ``getList`` lists, and otherwise
the job ends with one line saying what to pass instead.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ali1688spider.api.catalogue import CROSS_ACCOUNT_API, OWN_LIST_API, SHOP_LIST_API
from ali1688spider.closing import SHOP_UNRESOLVED, close_crawl
from ali1688spider.distributed.keys import is_distributed
from ali1688spider.gateway.middleware import ApiRequestError
from ali1688spider.spiders.shop.jobs import JOB_ARGS_META_KEY, PRIORITY_SETUP

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from scrapy import Request
    from scrapy.http import Response
    from twisted.python.failure import Failure

    from ali1688spider.api.urls import ShopRef
    from ali1688spider.spiders.shop.jobs import ShopJob

logger = logging.getLogger(__name__)

class ShopResolution:
    """The shop spider's first calls of a job: from what the job names to its listing."""

    crawler: Any

    # Provided by the spider.
    answered: Callable[..., ShopJob]
    payload: Callable[[Response], Any]
    api_request: Callable[..., Request]
    start_listing: Callable[..., Iterator[Request]]

    def setup_request(
        self, job: ShopJob, api_name: str, params: dict, callback: Callable[..., Any], **kwargs: Any
    ) -> Request:
        return self.api_request(
            api_name,
            params,
            callback=callback,
            errback=self.setup_failed,
            cb_kwargs={"key": job.key, **kwargs},
            meta={JOB_ARGS_META_KEY: job.args},
            priority=PRIORITY_SETUP,
            dont_filter=True,
        )

    def parse_offer_seller(self, response: Response, key: str) -> Iterator[Request]:
        job = self.answered(key, response)
        detail = self.payload(response)
        seller = detail.get("sellerOpenId") if isinstance(detail, dict) else None
        if not seller:
            self.unresolved(job, f"the detail of offer {job.args['offer']} names no sellerOpenId")
            return
        logger.info("Offer %s belongs to shop sellerOpenId=%s (%s)", job.args["offer"], seller,
                    detail.get("companyName") or "no name")
        yield from self.start_listing(job, SHOP_LIST_API, seller_open_id=str(seller))

    def parse_account(self, response: Response, key: str) -> Iterator[Request]:
        """The authorizing seller: the only shop a memberId or shop domain can be mapped to."""
        job = self.answered(key, response)
        owner = self.payload(response)
        owner = owner if isinstance(owner, dict) else {}
        member_id = str(owner.get("memberId") or "") or None
        args = job.args
        ref: ShopRef | None = args["shop_url"]
        wanted_member = args["member_id"] or (ref.member_id if ref else None)
        if args["own"] or (wanted_member and wanted_member == member_id) or (
            ref and ref.domain and ref.domain in owner_domains(owner)
        ):
            if not args["own"]:
                logger.info("%s is the authorizing seller (%s): crawling its own catalogue "
                            "with %s", job.key, owner.get("loginId"), OWN_LIST_API)
            yield from self.start_listing(job, OWN_LIST_API, member_id=member_id)
        elif ref and ref.domain:
            yield self.setup_request(job, CROSS_ACCOUNT_API, {"domain": ref.domain},
                                     self.parse_cross_account, owner=owner)
        else:
            self.unresolved(job, f"member {wanted_member} is not the authorizing seller")

    def parse_cross_account(self, response: Response, key: str, owner: dict) -> Iterator[Request]:
        job = self.answered(key, response)
        shop = self.payload(response)
        shop = shop if isinstance(shop, dict) else {}
        login_id = shop.get("loginId")
        if login_id and login_id == owner.get("loginId"):
            yield from self.start_listing(job, OWN_LIST_API, member_id=str(owner.get("memberId")))
            return
        self.unresolved(job, f"the shop is {login_id or 'unknown'} "
                             f"({shop.get('companyName') or 'no company name'}), not the "
                             "authorizing seller")

    def setup_failed(self, failure: Failure) -> None:
        job = self.job(failure.request.cb_kwargs["key"], failure.request.meta)
        if isinstance(failure.value, ApiRequestError) and not failure.value.closes_crawl:
            self.unresolved(job, failure.value.error.describe())

    def unresolved(self, job: ShopJob, why: str) -> None:
        if job.args["offer"]:
            hint = "pass -a seller_open_id=ID, or -a offer= with another product of the shop"
        elif job.args["seller_open_id"]:
            hint = ("check seller_open_id, or pass -a offer=<id or URL of any product of the "
                    "shop> instead: its detail names the shop's sellerOpenId")
        else:
            hint = ("no documented 1688 API maps a memberId or shop domain to the sellerOpenId "
                    "the shop listing needs (reference §6.1): pass -a offer=<id or URL of any "
                    "product of the shop> or -a seller_open_id=ID")
        job.ledger.unresolved = why
        message, args = "Cannot crawl shop %s: %s; %s", (job.key, why, hint)
        if is_distributed(self.crawler.settings):
            # Other workers' shops go on; this shop's report says why it is missing.
            logger.error(message, *args)
        else:
            close_crawl(self.crawler, SHOP_UNRESOLVED, message, *args)


def owner_domains(owner: dict[str, Any]) -> set[str]:
    """The shop domains of an ``alibaba.account.basic`` answer, lower case, no scheme."""
    found = set()
    for value in [owner.get("shopUrl"), owner.get("homepageUrl"), *(owner.get("domainInPlatforms") or [])]:
        if isinstance(value, str) and value.strip():
            found.add(value.strip().lower().split("://")[-1].strip("/"))
    return found
