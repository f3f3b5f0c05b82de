"""The APIs the sandbox answers: their catalogue entry, parameter checks and answers.

This is the sandbox's own small catalogue (independent of ``ali1688spider.api``). A handler
gets the received parameters and returns the API's HTTP-200 body; it raises ``GatewayError``
for missing/malformed parameters and ``BusinessError`` for API-level errors (not found).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Callable

from ali1688spider.sandbox import views
from ali1688spider.sandbox.catalog import ListFilter
from ali1688spider.sandbox.errors import BusinessError, param_invalid, param_missing
from ali1688spider.sandbox.timefmt import parse_day

if TYPE_CHECKING:
    from ali1688spider.sandbox.catalog import Catalog, Shop

FENXIAO = "com.alibaba.fenxiao.crossborder"
PRODUCT = "com.alibaba.product"
ACCOUNT = "com.alibaba.account"
GETLIST_MAX_PAGE_SIZE = 30        # documented cap of alibaba.product.getList
GETLIST_DEFAULT_PAGE_SIZE = 20
SORT_KEYS = ("price", "monthSold", "rePurchaseRate")


@dataclass
class CallContext:
    catalog: Catalog
    page_cap: int
    page_size_cap: int
    owner: Shop | None          # the seller who authorized the access token (token APIs)


Handler = Callable[[CallContext, dict[str, str]], dict[str, Any]]


@dataclass(frozen=True)
class ApiSpec:
    name: str
    namespace: str
    handler: Handler
    version: int = 1
    needs_token: bool = True
    required: tuple[str, ...] = ()

    @property
    def doc_id(self) -> str:
        return f"{self.namespace}:{self.name}-{self.version}"


# -- parameter parsing ---------------------------------------------------------------------------

def json_object(params: dict[str, str], name: str) -> dict[str, Any]:
    try:
        value = json.loads(params[name])
    except ValueError:
        raise param_invalid(name, "not a JSON object") from None
    if not isinstance(value, dict):
        raise param_invalid(name, "not a JSON object")
    return value


def require(obj: dict[str, Any], path: str, *names: str) -> None:
    for name in names:
        if obj.get(name) in (None, ""):
            raise param_missing(f"{path}.{name}")


def as_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool):
        raise param_invalid(name, "not an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise param_invalid(name, "not an integer") from None
    if minimum is not None and number < minimum:
        raise param_invalid(name, f"must be >= {minimum}")
    return number


def as_cents(value: Any, name: str, rounding: Callable[[Decimal], int]) -> int | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value)) * 100
    except InvalidOperation:
        raise param_invalid(name, "not a price") from None
    if not amount.is_finite() or amount < 0:
        raise param_invalid(name, "not a price")
    return rounding(amount)


def as_sort(value: Any, name: str) -> tuple[str, bool] | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise param_invalid(name, 'expected JSON like {"price":"asc"}') from None
    if not isinstance(value, dict) or len(value) != 1:
        raise param_invalid(name, 'expected JSON like {"price":"asc"}')
    (key, direction), = value.items()
    if key not in SORT_KEYS or str(direction).lower() not in ("asc", "desc"):
        raise param_invalid(name, f"sort by one of {', '.join(SORT_KEYS)}, asc or desc")
    return key, str(direction).lower() == "desc"


def category_ids(query: dict[str, Any], path: str) -> tuple[int, ...] | None:
    listed = query.get("categoryIdList")
    if listed not in (None, ""):
        parts = listed.split(",") if isinstance(listed, str) else list(listed)
        return tuple(as_int(p, f"{path}.categoryIdList") for p in parts if str(p).strip())
    single = query.get("categoryId")
    if single in (None, "", 0, "0"):
        return None
    return (as_int(single, f"{path}.categoryId"),)


def listing_filter(query: dict[str, Any], path: str) -> ListFilter:
    return ListFilter(
        category_ids=category_ids(query, path),
        price_min=as_cents(query.get("priceStart"), f"{path}.priceStart", math.ceil),
        price_max=as_cents(query.get("priceEnd"), f"{path}.priceEnd", math.floor),
        keyword=str(query.get("keyword") or "").strip() or None,
        sort=as_sort(query.get("sort"), f"{path}.sort"),
    )


def page_slice(ctx: CallContext, total: int, page: int, size: int, api_max: int | None = None
               ) -> tuple[int, int, int]:
    """(real page size, start, stop) of *page*; pages past the cap are empty."""
    size = min(size, ctx.page_size_cap, api_max or size)
    if page > ctx.page_cap:
        return size, 0, 0
    start = (page - 1) * size
    return size, start, min(total, start + size)


# -- cross-border APIs ---------------------------------------------------------------------------

def query_product_detail(ctx: CallContext, params: dict[str, str]) -> dict[str, Any]:
    query = json_object(params, "offerDetailParam")
    require(query, "offerDetailParam", "offerId", "country")
    offer_id = as_int(query["offerId"], "offerDetailParam.offerId")
    found = ctx.catalog.locate(offer_id)
    if found is None:
        message = f"商品[{offer_id}]不存在"
        raise BusinessError("not_found", message, views.wrapped_error("404", message))
    return views.wrapped(views.fenxiao_detail(ctx.catalog.offer(*found), ctx.catalog.tree))


def _paged_query(params: dict[str, str], *required: str) -> tuple[dict[str, Any], int, int]:
    query = json_object(params, "offerQueryParam")
    require(query, "offerQueryParam", *required, "beginPage", "pageSize", "country")
    page = as_int(query["beginPage"], "offerQueryParam.beginPage", minimum=1)
    size = as_int(query["pageSize"], "offerQueryParam.pageSize", minimum=1)
    return query, page, size


def query_seller_offer_list(ctx: CallContext, params: dict[str, str]) -> dict[str, Any]:
    query, page, size = _paged_query(params, "sellerOpenId")
    open_id = str(query["sellerOpenId"])
    shop = ctx.catalog.by_open_id.get(open_id)
    if shop is None:
        message = f"店铺[{open_id}]不存在"
        raise BusinessError("not_found", message, views.wrapped_error("404", message))
    matched = ctx.catalog.shop_list(shop, listing_filter(query, "offerQueryParam"))
    size, start, stop = page_slice(ctx, len(matched), page, size)
    brief = ctx.catalog.brief
    data = [views.seller_offer(brief(shop, i)) for i in matched[start:stop]]
    return views.wrapped(views.paging(len(matched), size, page, data))


def keyword_query(ctx: CallContext, params: dict[str, str]) -> dict[str, Any]:
    query, page, size = _paged_query(params, "keyword")
    catalog = ctx.catalog
    matched = catalog.search(listing_filter(query, "offerQueryParam"))
    size, start, stop = page_slice(ctx, len(matched), page, size)
    data = [views.search_offer(catalog.brief(*catalog.locate_key(k)), catalog.tree)
            for k in matched[start:stop]]
    return views.wrapped(views.paging(len(matched), size, page, data))


def translation_get_by_id(ctx: CallContext, params: dict[str, str]) -> dict[str, Any]:
    category_id = as_int(params["categoryId"], "categoryId", minimum=0)
    language = params["language"]
    tree = ctx.catalog.tree
    category = tree.get(category_id)
    if category_id and category is None:
        message = f"类目[{category_id}]不存在"
        body = {"result": None, "success": False, "code": "E0001", "message": message}
        raise BusinessError("not_found", message, body)
    return {"result": views.translated_category(category, language, tree),
            "success": True, "code": "S0000", "message": "成功"}


# -- classic product APIs ------------------------------------------------------------------------

def _classic_offer(ctx: CallContext, params: dict[str, str]):
    offer_id = as_int(params["productID"], "productID")
    found = ctx.catalog.locate(offer_id)
    if found is None:
        message = f"商品[{offer_id}]不存在"
        raise BusinessError("not_found", message, {"errMsg": message})
    return ctx.catalog.offer(*found)


def product_get(ctx: CallContext, params: dict[str, str]) -> dict[str, Any]:
    offer = _classic_offer(ctx, params)
    info = views.classic_product(offer)
    return {"productInfo": info, "bizGroupInfos": views.biz_groups(),
            "createTime": info["createTime"], "lastUpdateTime": info["lastUpdateTime"]}


def product_simple_get(ctx: CallContext, params: dict[str, str]) -> dict[str, Any]:
    offer = _classic_offer(ctx, params)
    return {"productInfo": views.classic_product(offer, simple=True),
            "bizGroupInfos": views.biz_groups()}


def product_get_list(ctx: CallContext, params: dict[str, str]) -> dict[str, Any]:
    """The authorizing seller's own products; time filters at day precision (reference §6.6)."""
    shop = ctx.owner
    assert shop is not None, "token APIs always have an owner"
    page = as_int(params.get("pageNo") or 1, "pageNo", minimum=1)
    size = as_int(params.get("pageSize") or GETLIST_DEFAULT_PAGE_SIZE, "pageSize", minimum=1)
    category = as_int(params.get("categoryID") or -1, "categoryID")
    flt = ListFilter(
        category_ids=None if category in (-1, 0) else (category,),
        modified_from=_day_start(params, "timeStamp"),
        modified_until=_day_start(params, "endTimeStamp", next_day=True),
    )
    matched = ctx.catalog.shop_list(shop, flt)
    size, start, stop = page_slice(ctx, len(matched), page, size, GETLIST_MAX_PAGE_SIZE)
    infos = [views.classic_product(ctx.catalog.offer(shop, i)) for i in matched[start:stop]]
    return {"productInfos": infos, "count": len(matched), "currentPage": page, "pageSize": size}


def _day_start(params: dict[str, str], name: str, *, next_day: bool = False) -> int | None:
    text = params.get(name)
    if not text:
        return None
    try:
        day = parse_day(text)
    except ValueError as exc:
        raise param_invalid(name, str(exc)) from None
    return int(day.timestamp()) + (86400 if next_day else 0)


def category_get(ctx: CallContext, params: dict[str, str]) -> dict[str, Any]:
    category_id = as_int(params["categoryID"], "categoryID", minimum=0)
    tree = ctx.catalog.tree
    category = tree.get(category_id)
    if category_id and category is None:
        message = f"类目[{category_id}]不存在"
        body = {"categoryInfo": [], "errorMsg": message, "errorCode": "500_1", "succes": False}
        raise BusinessError("not_found", message, body)
    return {"categoryInfo": [views.category_info(category, tree)], "succes": True}


# -- accounts ------------------------------------------------------------------------------------

def account_basic(ctx: CallContext, params: dict[str, str]) -> dict[str, Any]:
    assert ctx.owner is not None, "token APIs always have an owner"
    return {"result": views.account_basic(ctx.owner, ctx.catalog.tree), "success": True}


def account_cross_basic(ctx: CallContext, params: dict[str, str]) -> dict[str, Any]:
    login_id, domain = params.get("loginId") or "", params.get("domain") or ""
    if not login_id and not domain:
        raise param_missing("loginId|domain")
    wanted_domain = domain.lower().removeprefix("https://").removeprefix("http://").strip("/")
    for shop in ctx.catalog.shops:
        if (login_id and shop.login_id == login_id) or (domain and shop.domain == wanted_domain):
            return {"result": views.cross_basic(shop, ctx.catalog.tree), "success": True}
    message = f"用户[{login_id or domain}]不存在"
    raise BusinessError("not_found", message,
                        {"success": False, "errorCode": "404", "errorMessage": message})


APIS: dict[str, ApiSpec] = {
    spec.name: spec
    for spec in (
        ApiSpec("product.search.queryProductDetail", FENXIAO, query_product_detail,
                required=("offerDetailParam",)),
        ApiSpec("product.search.querySellerOfferList", FENXIAO, query_seller_offer_list,
                required=("offerQueryParam",)),
        ApiSpec("product.search.keywordQuery", FENXIAO, keyword_query,
                required=("offerQueryParam",)),
        ApiSpec("category.translation.getById", FENXIAO, translation_get_by_id,
                required=("language", "categoryId")),
        ApiSpec("alibaba.product.get", PRODUCT, product_get, required=("productID", "webSite")),
        ApiSpec("alibaba.product.simple.get", PRODUCT, product_simple_get,
                required=("productID", "webSite")),
        ApiSpec("alibaba.product.getList", PRODUCT, product_get_list),
        ApiSpec("alibaba.category.get", PRODUCT, category_get, needs_token=False,
                required=("categoryID",)),
        ApiSpec("alibaba.account.basic", ACCOUNT, account_basic),
        ApiSpec("alibaba.account.agent.crossBasic", ACCOUNT, account_cross_basic),
    )
}


def find_api(namespace: str, name: str, version: str) -> ApiSpec | None:
    spec = APIS.get(name)
    if spec is None or spec.namespace != namespace or str(spec.version) != version:
        return None
    return spec
