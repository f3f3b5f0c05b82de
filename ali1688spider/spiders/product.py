"""The ``product`` spider: full detail of given offers (``-a ids=…`` and/or ``-a ids_file=…``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ali1688spider.api.urls import parse_offer_id
from ali1688spider.gateway.middleware import ApiRequestError
from ali1688spider.items import Product
from ali1688spider.reporting.ledger import ledger_for
from ali1688spider.spiders.arguments import (
    Argument,
    SpiderArgumentError,
    as_existing_file,
)
from ali1688spider.spiders.base import Ali1688Spider

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from scrapy import Request
    from scrapy.http import Response
    from twisted.python.failure import Failure

def parse_id_list(text: str) -> list[str]:
    """Offer ids or detail URLs, comma separated."""
    return [parse_offer_id(part) for part in text.split(",") if part.strip()]


def read_ids_file(path: Path) -> list[str]:
    """One offer id or detail URL per line; blank lines and ``#`` comments skipped."""
    ids = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            ids.append(parse_offer_id(text))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {exc}") from None
    return ids


class ProductDetails(Ali1688Spider):
    """Detail calls for given offer ids; a *target* (a watchlist entry) is noted on each, so
    that the change feed knows whose alert rules apply."""

    def product_requests(self, ids: list[str], *, target: str | None = None) -> Iterator[Request]:
        for offer_id in dict.fromkeys(ids):
            self.asked += 1
            if target is not None:
                ledger_for(self.crawler).tag(offer_id, target)
            yield self.detail_request(
                offer_id,
                callback=self.parse_product_detail,
                errback=self.product_detail_failed,
                cb_kwargs={"offer_id": offer_id},
            )

    def product_detail_failed(self, failure: Failure) -> None:
        """A product whose detail failed for good (the middleware logged why)."""
        if isinstance(failure.value, ApiRequestError) and not failure.value.closes_crawl:
            offer_id = failure.request.cb_kwargs["offer_id"]
            self.failed.append(offer_id)
            self.note_gone(offer_id, failure.value.error)

    def parse_product_detail(self, response: Response, offer_id: str) -> Iterator[Product]:
        yield self.detail_item(response)


class ProductSpider(ProductDetails):
    """Yields one ``Product`` with SKUs, tiered prices, MOQ and stock per requested offer."""

    name = "product"
    asked_for = "products"
    arguments = {
        "ids": Argument(parse_id_list, "a comma list of offer ids or detail.1688.com URLs"),
        "ids_file": Argument(as_existing_file, "a path to a file with one offer id or URL per line"),
    }

    @classmethod
    def check_combination(cls, values: dict[str, Any]) -> None:
        if not values["ids"] and values["ids_file"] is None:
            raise SpiderArgumentError(
                "spider 'product' needs -a ids=ID,ID… or -a ids_file=PATH (offer ids or URLs)"
            )
        if values["ids_file"] is not None:
            try:
                values["ids_file_ids"] = read_ids_file(values["ids_file"])
            except (ValueError, OSError) as exc:
                raise SpiderArgumentError(f"argument ids_file of spider 'product': {exc}") from None

    def requests_for(self, args: dict[str, Any]) -> Iterator[Request]:
        return self.product_requests(list(args["ids"] or []) + list(args.get("ids_file_ids", [])))
