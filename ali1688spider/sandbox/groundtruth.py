"""The ``/sandbox/`` endpoints: ground truth and test controls, outside the 1688 protocol.

They are never rate limited, faulted or counted in the stats.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qs

from ali1688spider.sandbox.changelog import entry
from ali1688spider.sandbox.messages import BadRequest, json_reply
from ali1688spider.sandbox.timefmt import CHINA
from ali1688spider.sandbox.views import detail_url, price_text

if TYPE_CHECKING:
    from ali1688spider.sandbox.catalog import Catalog, Shop
    from ali1688spider.sandbox.drift import Drift
    from ali1688spider.sandbox.faults import Faults
    from ali1688spider.sandbox.gateway import Gateway
    from ali1688spider.sandbox.messages import Reply, Request
    from ali1688spider.sandbox.options import SandboxOptions


#: The fields every change endpoint (reprice, delist, restock) takes.
CHANGE_FIELDS = ("seller_open_id", "fraction", "seed")
REPRICE_FRACTION = 0.05
DELIST_FRACTION = RESTOCK_FRACTION = 0.02
#: ``amountOnSale`` is a Java Integer in the APIs (reference §6.4).
MAX_STOCK = 2**31 - 1
#: The longest one advance may move the clock: ten years of drift is more than any benchmark.
MAX_HOURS = 10 * 365 * 24


class Share(NamedTuple):
    """Which products a change endpoint changes: a share of one shop's, or of every shop's."""

    shop: Shop | None      # None: every shop
    fraction: float
    seed: int


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, CHINA).isoformat()


class GroundTruth:
    def __init__(self, options: SandboxOptions, catalog: Catalog, gateway: Gateway, faults: Faults,
                 drift: Drift):
        self.options, self.catalog, self.gateway, self.faults = options, catalog, gateway, faults
        self.drift = drift

    def handle(self, request: Request) -> Reply:
        parts = request.path.strip("/").split("/")[1:]
        route = (request.method, *parts)
        try:
            match route:
                case ("GET", "shops"):
                    return json_reply([self.shop_entry(s) for s in self.catalog.shops])
                case ("GET", "shops", open_id, "ids"):
                    return json_reply(self.catalog.shop_ids(self._shop(open_id)))
                case ("GET", "products", offer_id):
                    return json_reply(self.product(offer_id))
                case ("GET", "categories"):
                    return json_reply(self.catalog.tree.ground_truth())
                case ("GET", "credentials"):
                    return json_reply([app.as_dict() for app in self.options.credentials])
                case ("GET", "stats"):
                    return json_reply(self.gateway.stats.snapshot(self.gateway.quota.used))
                case ("POST", "stats", "reset"):
                    self.gateway.stats.reset()
                    return json_reply(self.gateway.stats.snapshot(self.gateway.quota.used))
                case ("POST", "reprice"):
                    return json_reply(self.reprice(_body(request)))
                case ("POST", "delist"):
                    return json_reply(self.delist(_body(request)))
                case ("POST", "restock"):
                    return json_reply(self.restock(_body(request)))
                case ("POST", "advance"):
                    return json_reply(self.advance(_body(request)))
                case ("GET", "changes"):
                    return json_reply(self.changes(request.query))
                case ("POST", "expire-tokens"):
                    return json_reply({"expired": self.gateway.tokens.expire_all(time.time())})
                case ("POST", "faults"):
                    self.faults.update(_body(request))
                    return json_reply(self.faults.settings())
        except LookupError as exc:
            return json_reply({"error": str(exc.args[0])}, 404)
        except (BadRequest, ValueError, TypeError) as exc:
            return json_reply({"error": str(exc)}, 400)
        return json_reply({"error": f"no such sandbox endpoint: {request.method} {request.path}"}, 404)

    def _shop(self, open_id: str) -> Shop:
        shop = self.catalog.by_open_id.get(open_id)
        if shop is None:
            raise LookupError(f"no shop with seller_open_id {open_id!r}")
        return shop

    def shop_entry(self, shop: Shop) -> dict[str, Any]:
        categories = self.catalog.shop_categories(shop)
        listed = self.catalog.listed(shop)
        return {
            "seller_open_id": shop.seller_open_id,
            "member_id": shop.member_id,
            "login_id": shop.login_id,
            "user_id": shop.user_id,
            "domain": shop.domain,
            "shop_url": shop.shop_url,
            "name": shop.name,
            "company_name": shop.company_name,
            "products": len(listed),
            "categories": len(categories),
            "category_ids": [str(c) for c in categories],
            "sample_offer_id": str(self.catalog.offer_id(shop, listed[0])) if listed else None,
            "owner": shop is self.catalog.owner,
        }

    def product(self, offer_id: str) -> dict[str, Any]:
        """The truth about one product, in the crawler's Product field names."""
        found = self.catalog.locate(int(offer_id)) if offer_id.isdigit() else None
        if found is None:
            raise LookupError(f"no product {offer_id}")
        offer = self.catalog.offer(*found)
        brief = offer.brief
        return {
            "product_id": str(brief.offer_id),
            "seller_open_id": brief.shop.seller_open_id,
            "member_id": brief.shop.member_id,
            "title": brief.title.zh,
            "category_id": str(brief.leaf.category_id),
            "status": "published",
            "price_min": price_text(brief.price),
            "price_max": price_text(offer.price_max),
            "price_tiers": [{"min_quantity": q, "price": price_text(c)} for q, c in offer.tiers],
            "moq": brief.moq,
            "unit": brief.unit.zh,
            "stock": offer.stock,
            "skus": [
                {"sku_id": str(s.sku_id), "spec_id": s.spec_id,
                 "attributes": {d.name.zh: v.zh for d, v in s.attributes},
                 "price": price_text(s.price), "stock": s.stock, "sku_code": s.sku_code}
                for s in offer.skus
            ],
            "images": [f"https://cbu01.alicdn.com/{path}" for path in offer.images],
            "detail_url": detail_url(brief.offer_id),
            "created_at": iso(brief.created),
            "modified_at": iso(brief.modified),
        }

    def reprice(self, payload: dict[str, Any]) -> dict[str, Any]:
        shop, fraction, seed = self.share(payload, REPRICE_FRACTION)
        return {"changed": self.catalog.reprice(fraction, seed, shop, int(time.time()))}

    def delist(self, payload: dict[str, Any]) -> dict[str, Any]:
        shop, fraction, seed = self.share(payload, DELIST_FRACTION)
        return {"changed": self.catalog.delist(fraction, seed, shop)}

    def restock(self, payload: dict[str, Any]) -> dict[str, Any]:
        stock = _integer(payload, "stock", minimum=0, maximum=MAX_STOCK)
        shop, fraction, seed = self.share(payload, RESTOCK_FRACTION, also=("stock",))
        return {"changed": self.catalog.restock(fraction, seed, shop, int(time.time()), stock)}

    def advance(self, payload: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(payload) - {"hours"})
        if unknown:
            raise BadRequest(f"unknown field(s) {', '.join(map(repr, unknown))}; known: hours")
        hours = payload.get("hours")
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) \
                or not math.isfinite(hours) or not 0 <= hours <= MAX_HOURS:
            raise BadRequest(f"hours must be a number from 0 to {MAX_HOURS}, got {hours!r}")
        made = self.drift.advance(round(hours * 3600))
        return {"now": iso(self.drift.now), "changes": made}

    def changes(self, query: str) -> list[dict[str, Any]]:
        try:
            params = parse_qs(query, strict_parsing=bool(query), errors="strict")
        except ValueError:
            raise BadRequest(f"cannot read the query {query!r}") from None
        unknown = sorted(set(params) - {"since", "seller_open_id"})
        if unknown or any(len(v) > 1 for v in params.values()):
            raise BadRequest("the query takes since=ISO (once) and seller_open_id=ID (once)")
        since = params.get("since", [None])[0]
        if since is None:
            raise BadRequest("since=ISO is required, e.g. since=2026-01-01T00:00:00+08:00")
        try:
            moment = datetime.fromisoformat(since)
        except ValueError:
            raise BadRequest(f"since must be an ISO 8601 time, got {since!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=CHINA)   # the catalogue's own zone
        open_id = params.get("seller_open_id", [None])[0]
        if open_id is not None:
            self._shop(open_id)
        found = self.drift.log.since(math.floor(moment.timestamp()), open_id)
        return [entry(c, iso(c.at)) for c in found]

    def share(self, payload: dict[str, Any], fraction: float, *, also: tuple[str, ...] = ()) -> Share:
        """The fields of a change endpoint's body that every one of them takes (*also*: the
        endpoint's own ones, checked by it); a null field is an absent one."""
        known = (*CHANGE_FIELDS, *also)
        unknown = sorted(set(payload) - set(known))
        if unknown:
            raise BadRequest(f"unknown field(s) {', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(known)}")
        open_id = payload.get("seller_open_id")
        if open_id is not None and not (isinstance(open_id, str) and open_id):
            raise BadRequest("seller_open_id must be a shop's seller_open_id (a string); "
                             "leave it out for every shop")
        value = payload.get("fraction")
        if value is None:
            value = fraction
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise BadRequest(f"fraction must be a number between 0 and 1, got {value!r}")
        seed = _integer(payload, "seed", default=0)
        return Share(self._shop(open_id) if open_id is not None else None, float(value), seed)


def _integer(payload: dict[str, Any], name: str, *, default: int | None = None,
             minimum: int | None = None, maximum: int | None = None) -> int:
    """Field *name* of *payload*, a JSON integer (*default* when absent; without one it is
    required)."""
    value = payload.get(name)
    if value is None:
        if default is None:
            raise BadRequest(f"{name} is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be an integer, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise BadRequest(f"{name} must be an integer {bounds}, got {value}")
    return value


def _body(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body
