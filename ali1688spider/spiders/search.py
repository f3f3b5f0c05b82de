"""The ``search`` spider: keyword search over all of 1688 (``product.search.keywordQuery``).

Pages are read one after another so that the feed keeps the platform's order (the order of
``sort=``); with ``details=1`` each result's full detail is fetched in parallel, and the feed
follows the order in which details arrive.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from ali1688spider.api.catalogue import SEARCH_API
from ali1688spider.api.normalize import normalize_product
from ali1688spider.gateway.middleware import ApiRequestError
from ali1688spider.items import Product
from ali1688spider.reporting.ledger import ledger_for
from ali1688spider.spiders.arguments import (
    Argument,
    SpiderArgumentError,
    as_bool,
    as_positive_int,
    as_price,
    as_text,
)
from ali1688spider.spiders.base import Ali1688Spider
from ali1688spider.spiders.paging import (
    next_page,
    page_cap,
    page_size_for,
    read_page,
    with_page,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from scrapy import Request
    from scrapy.http import Response
    from twisted.python.failure import Failure

    from ali1688spider.spiders.paging import Page

logger = logging.getLogger(__name__)

# The sort keys keywordQuery documents (reference §6.2), by their lower-case spelling.
SORT_KEYS = {"price": "price", "monthsold": "monthSold", "repurchaserate": "rePurchaseRate"}
SORT_CHOICES = ", ".join(f"{key}_{way}" for key in SORT_KEYS.values() for way in ("asc", "desc"))


def parse_sort(text: str) -> tuple[str, str]:
    """``price_asc``, ``monthSold_desc``… (any case, ``_``/``-``/``:`` between), or the API's
    own ``{"price":"asc"}``, as (API key, direction)."""
    if text.startswith("{"):
        try:
            (key, way), = json.loads(text).items()
        except (ValueError, AttributeError):
            raise ValueError("unknown sort order") from None
    else:
        key, _, way = text.replace("-", "_").replace(":", "_").rpartition("_")
    api_key = SORT_KEYS.get(str(key).replace("_", "").lower())
    way = str(way).lower()
    if api_key is None or way not in ("asc", "desc"):
        raise ValueError("unknown sort order")
    return api_key, way


def sort_param(sort: tuple[str, str]) -> str:
    """keywordQuery's ``sort`` field: a JSON object *in a string*, e.g. ``{"price":"asc"}``."""
    key, way = sort
    return json.dumps({key: way}, separators=(",", ":"))


class SearchResults(Ali1688Spider):
    """The calls of one keyword search (parsed arguments *args*): result pages one after
    another, and details. An ``args["target"]`` (a watchlist entry) is noted on each product
    the search yields, so that the change feed knows whose alert rules apply."""

    def search_requests(self, args: dict[str, Any]) -> Iterator[Request]:
        yield self.page_request(args, 1)

    def query(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ``offerQueryParam`` of a search without its paging fields: only the filters
        that are set (the JSON object carries no ``null`` members)."""
        price_min, price_max, sort = args["price_min"], args["price_max"], args["sort"]
        query = {
            "keyword": args["keyword"],
            "country": self.country,
            "priceStart": None if price_min is None else format(price_min, "f"),
            "priceEnd": None if price_max is None else format(price_max, "f"),
            "categoryId": args["category_id"],
            "sort": None if sort is None else sort_param(sort),
        }
        return {key: value for key, value in query.items() if value is not None}

    def page_request(self, args: dict[str, Any], page: int) -> Request:
        size = page_size_for(self.crawler.settings, SEARCH_API)
        self.asked += 1
        params = with_page(SEARCH_API, {"offerQueryParam": self.query(args)}, page, size)
        return self.api_request(
            SEARCH_API,
            params,
            callback=self.parse_page,
            errback=self.page_failed,
            cb_kwargs={"args": args, "page": page},
        )

    def parse_page(self, response: Response, args: dict[str, Any], page: int) -> Iterator[Any]:
        answer = read_page(SEARCH_API, self.payload(response), page)
        stats = self.crawler.stats
        stats.inc_value("ali1688/search/pages")
        if page == 1 and answer.total is not None:
            stats.set_value("ali1688/search/total", answer.total)
            logger.info("Search %r: %d results in %s pages", args["keyword"], answer.total,
                        answer.total_pages)
        ledger = ledger_for(self.crawler)
        for entry in answer.entries:
            product, anomalies = normalize_product(SEARCH_API, entry)
            self.count_anomalies(anomalies)
            stats.inc_value("ali1688/search/results")
            if product["product_id"]:
                ledger.note_search_result(args["keyword"], product["product_id"])
            if args.get("target") and product["product_id"]:
                ledger.tag(product["product_id"], args["target"])
            if args["details"] and product["product_id"]:
                yield self.detail_request(
                    product["product_id"], callback=self.parse_search_detail, cb_kwargs={"listing": product}
                )
            elif not args["details"]:
                product["crawled_at"] = self.now_iso()
                yield Product(product)
        cap = page_cap(self.crawler.settings, args["max_pages"])
        following = next_page(answer, cap)
        if following is not None:
            yield self.page_request(args, following)
        else:
            self.note_end(args, answer, cap)

    def parse_search_detail(self, response: Response, listing: dict[str, Any]) -> Iterator[Product]:
        """The full detail, completed by the search entry (the detail has no modification date)."""
        yield self.detail_item(response, listing)

    def note_end(self, args: dict[str, Any], answer: Page, cap: int) -> None:
        """Say when results exist beyond the last page read (the cap, or the platform's depth)."""
        if answer.total_pages is None or answer.number >= answer.total_pages:
            return
        self.crawler.stats.set_value("ali1688/search/cut_short", 1)
        if answer.entries and answer.number >= cap:
            why = f"the page cap ({cap}; raise max_pages= or ALI1688_MAX_PAGES)"
        else:
            why = "the last page the platform serves"
        logger.warning(
            "Search %r stopped at page %d of %d (%s results): %s. Narrow it with "
            "price_min=/price_max=/category_id= to reach the rest.",
            args["keyword"], answer.number, answer.total_pages, answer.total, why,
        )

    def page_failed(self, failure: Failure) -> None:
        if not isinstance(failure.value, ApiRequestError) or failure.value.closes_crawl:
            return
        error = failure.value.error
        self.crawler.stats.inc_value("ali1688/search/failed_pages")
        kwargs = failure.request.cb_kwargs
        self.failed.append(f"page {kwargs['page']}")
        logger.error(
            "Search %r: page %d failed (%s); the results after it are missing",
            kwargs["args"]["keyword"], kwargs["page"], error.describe(),
        )


class SearchSpider(SearchResults):
    """Yields the products a keyword search finds: list entries, or full details (``details=1``)."""

    name = "search"
    asked_for = "result pages"
    arguments = {
        "keyword": Argument(as_text, "the words to search for, e.g. 饼干"),
        "price_min": Argument(as_price, "a price in yuan such as 10 or 9.50"),
        "price_max": Argument(as_price, "a price in yuan such as 10 or 9.50"),
        "category_id": Argument(as_positive_int, "a 1688 category id (see the categories spider)"),
        "sort": Argument(parse_sort, f"one of {SORT_CHOICES}"),
        "max_pages": Argument(as_positive_int, "a number of result pages > 0"),
        "details": Argument(as_bool, "1 to fetch each result's full detail, 0 not to", False),
    }

    @classmethod
    def check_combination(cls, values: dict[str, Any]) -> None:
        if values["keyword"] is None:
            raise SpiderArgumentError(
                "spider 'search' needs -a keyword=WORDS (e.g. -a keyword=饼干)"
            )
        low, high = values["price_min"], values["price_max"]
        if low is not None and high is not None and low > high:
            raise SpiderArgumentError(
                f"spider 'search': price_min={low} is above price_max={high}; swap them"
            )

    def requests_for(self, args: dict[str, Any]) -> Iterator[Request]:
        return self.search_requests(args)
