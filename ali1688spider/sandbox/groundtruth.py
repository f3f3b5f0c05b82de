"""The ``/sandbox/`` endpoints: ground truth and test controls, outside the 1688 protocol.

They are never rate limited, faulted or counted in the stats.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ali1688spider.sandbox.messages import BadRequest, json_reply
from ali1688spider.sandbox.timefmt import CHINA
from ali1688spider.sandbox.views import detail_url, price_text

if TYPE_CHECKING:
    from ali1688spider.sandbox.catalog import Catalog, Shop
    from ali1688spider.sandbox.faults import Faults
    from ali1688spider.sandbox.gateway import Gateway
    from ali1688spider.sandbox.messages import Reply, Request
    from ali1688spider.sandbox.options import SandboxOptions


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, CHINA).isoformat()


class GroundTruth:
    def __init__(self, options: SandboxOptions, catalog: Catalog, gateway: Gateway, faults: Faults):
        self.options, self.catalog, self.gateway, self.faults = options, catalog, gateway, faults

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
        return {
            "seller_open_id": shop.seller_open_id,
            "member_id": shop.member_id,
            "login_id": shop.login_id,
            "user_id": shop.user_id,
            "domain": shop.domain,
            "shop_url": shop.shop_url,
            "name": shop.name,
            "company_name": shop.company_name,
            "products": shop.size,
            "categories": len(categories),
            "category_ids": [str(c) for c in categories],
            "sample_offer_id": str(self.catalog.offer_id(shop, 0)),
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
        fraction = float(payload.get("fraction", 0.05))
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be between 0 and 1")
        shop = self._shop(payload["seller_open_id"]) if payload.get("seller_open_id") else None
        changed = self.catalog.reprice(fraction, int(payload.get("seed", 0)), shop, int(time.time()))
        return {"changed": changed}


def _body(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body
