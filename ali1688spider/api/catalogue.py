"""The APIs ali1688spider calls: where each lives and how it pages (reference §6)."""

from __future__ import annotations

from dataclasses import dataclass

PRODUCT_NS = "com.alibaba.product"
CROSSBORDER_NS = "com.alibaba.fenxiao.crossborder"
ACCOUNT_NS = "com.alibaba.account"


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

    @property
    def doc_id(self) -> str:
        """The documentation's identifier, e.g. ``com.alibaba.product:alibaba.product.get-1``."""
        return f"{self.namespace}:{self.name}-{self.version}"


_SPECS = (
    ApiSpec("alibaba.product.get", PRODUCT_NS),
    ApiSpec("alibaba.product.simple.get", PRODUCT_NS),
    ApiSpec(
        "alibaba.product.getList",
        PRODUCT_NS,
        page_field="pageNo",
        page_size_field="pageSize",
        max_page_size=30,
    ),
    ApiSpec("alibaba.category.get", PRODUCT_NS, needs_token=False),
    ApiSpec("category.translation.getById", CROSSBORDER_NS),
    ApiSpec(
        "product.search.keywordQuery",
        CROSSBORDER_NS,
        wrapper_param="offerQueryParam",
        page_field="beginPage",
        page_size_field="pageSize",
    ),
    ApiSpec(
        "product.search.querySellerOfferList",
        CROSSBORDER_NS,
        wrapper_param="offerQueryParam",
        page_field="beginPage",
        page_size_field="pageSize",
    ),
    ApiSpec("product.search.queryProductDetail", CROSSBORDER_NS, wrapper_param="offerDetailParam"),
    ApiSpec("alibaba.account.basic", ACCOUNT_NS),
    ApiSpec("alibaba.account.agent.crossBasic", ACCOUNT_NS),
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
