"""The APIs ali1688spider calls: where each lives and how it pages (reference §6)."""

from __future__ import annotations

from dataclasses import dataclass

PRODUCT_NS = "com.alibaba.product"
CROSSBORDER_NS = "com.alibaba.fenxiao.crossborder"
ACCOUNT_NS = "com.alibaba.account"

# The APIs the spiders call, by name.
DETAIL_API = "product.search.queryProductDetail"
SEARCH_API = "product.search.keywordQuery"
SHOP_LIST_API = "product.search.querySellerOfferList"
OWN_LIST_API = "alibaba.product.getList"
CATEGORY_API = "alibaba.category.get"
ACCOUNT_API = "alibaba.account.basic"
CROSS_ACCOUNT_API = "alibaba.account.agent.crossBasic"

# The filters a listing can be cut by (the shop splitter's dimensions).
CATEGORY, PRICE, TIME = "category", "price", "time"


@dataclass(frozen=True)
class ApiSpec:
    """One API of the gateway, identified by its name."""

    name: str
    namespace: str
    version: int = 1
    needs_token: bool = True
    # getToken is the one call made without a signature.
    needs_signature: bool = True
    # Cross-border APIs take one JSON object parameter holding every business field.
    wrapper_param: str | None = None
    page_field: str | None = None
    page_size_field: str | None = None
    # Documented page-size cap; None where the platform documents none.
    max_page_size: int | None = None
    # Where a list answer's entries and the platform's total count live (after unwrapping).
    entries_field: str | None = None
    total_field: str | None = None
    # The filters the listing takes, in the default split order: querySellerOfferList has
    # price filters but no time filter; getList has time filters (day precision) but no
    # price filter (reference §6.3, §6.6). Both filter by category.
    split_filters: tuple[str, ...] = ()
    # The business parameters the API refuses a call without (inside ``wrapper_param`` when it
    # has one). The gateway names one missing parameter per answer; knowing them all lets a
    # caller name every missing one before any call.
    required: tuple[str, ...] = ()

    @property
    def doc_id(self) -> str:
        """The documentation's identifier, e.g. ``com.alibaba.product:alibaba.product.get-1``."""
        return f"{self.namespace}:{self.name}-{self.version}"


_SPECS = (
    ApiSpec("alibaba.product.get", PRODUCT_NS, required=("productID", "webSite")),
    ApiSpec("alibaba.product.simple.get", PRODUCT_NS, required=("productID", "webSite")),
    ApiSpec(
        OWN_LIST_API,
        PRODUCT_NS,
        page_field="pageNo",
        page_size_field="pageSize",
        max_page_size=30,
        entries_field="productInfos",
        total_field="count",
        split_filters=(TIME, CATEGORY),
    ),
    ApiSpec(CATEGORY_API, PRODUCT_NS, needs_token=False, required=("categoryID",)),
    ApiSpec("category.translation.getById", CROSSBORDER_NS, required=("language", "categoryId")),
    ApiSpec(
        SEARCH_API,
        CROSSBORDER_NS,
        wrapper_param="offerQueryParam",
        page_field="beginPage",
        page_size_field="pageSize",
        entries_field="data",
        total_field="totalRecords",
        required=("keyword", "beginPage", "pageSize", "country"),
    ),
    ApiSpec(
        SHOP_LIST_API,
        CROSSBORDER_NS,
        wrapper_param="offerQueryParam",
        page_field="beginPage",
        page_size_field="pageSize",
        entries_field="data",
        total_field="totalRecords",
        split_filters=(PRICE, CATEGORY),
        required=("sellerOpenId", "beginPage", "pageSize", "country"),
    ),
    ApiSpec(DETAIL_API, CROSSBORDER_NS, wrapper_param="offerDetailParam", required=("offerId", "country")),
    ApiSpec(ACCOUNT_API, ACCOUNT_NS),
    ApiSpec(CROSS_ACCOUNT_API, ACCOUNT_NS),
    ApiSpec("getToken", "system.oauth2", needs_token=False, needs_signature=False),
)

CATALOGUE: dict[str, ApiSpec] = {spec.name: spec for spec in _SPECS}


def get_api(name: str) -> ApiSpec:
    """The spec of API *name*; KeyError naming the known APIs otherwise."""
    try:
        return CATALOGUE[name]
    except KeyError:
        known = ", ".join(sorted(CATALOGUE))
        raise KeyError(f"unknown 1688 API {name!r}; known APIs: {known}") from None


# Which solution (permission package) grants a namespace's APIs, where the reference names one
# (§6.1; its documentation dump is of solution 1703167397970). Namespaces are not permission
# boundaries in general (reference §9.9), so elsewhere we only say how to find out.
PERMISSION_PACKAGES = {
    CROSSBORDER_NS: "the cross-border sourcing solution 跨境大客户寻源通 "
    "(solution 1703167397970)",
}


def permission_advice(spec: ApiSpec) -> str:
    """What to subscribe to in the 1688 console so the app may call *spec*."""
    package = PERMISSION_PACKAGES.get(spec.namespace)
    if package:
        return (
            f"This API belongs to {package}: add that solution to the app in the 1688 Open "
            "Platform console (open.1688.com), or use an app key that has it."
        )
    return (
        f"Add the solution (permission package) that includes {spec.doc_id} to the app in the "
        "1688 Open Platform console (open.1688.com; the API's documentation page names its "
        "solution), or use an app key that has it."
    )
