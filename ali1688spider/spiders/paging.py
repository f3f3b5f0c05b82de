"""Paging of the list APIs: where the page fields go, what one page says, when to stop.

Shared by the spiders that page through lists (search, shop). The platform answers pages
past its reachable depth with an empty list while still reporting the full total (reference
§7), so "results end" means: an empty page, the last page the answer announces, or the cap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ali1688spider.api.catalogue import get_api
from ali1688spider.api.errors import unwrap_result
from ali1688spider.api.normalize import list_entries, list_total
from ali1688spider.config import get_int

if TYPE_CHECKING:
    from collections.abc import Mapping


#: Page size where the API documents no maximum: the cap of the legacy offer lists
#: (reference §6.6). Gateways that clamp it say so in the answer's ``pageSize``.
DEFAULT_PAGE_SIZE = 50


def page_size_for(settings: Mapping[str, Any], api_name: str) -> int:
    """``ALI1688_PAGE_SIZE`` (0 = the API's default), never above the API's documented cap."""
    spec = get_api(api_name)
    size = get_int(settings, "ALI1688_PAGE_SIZE") or spec.max_page_size or DEFAULT_PAGE_SIZE
    return min(size, spec.max_page_size) if spec.max_page_size else size


def page_cap(settings: Mapping[str, Any], requested: int | None = None) -> int:
    """How many pages to read at most: ``ALI1688_MAX_PAGES``, lowered by *requested*."""
    cap = get_int(settings, "ALI1688_MAX_PAGES", minimum=1)
    return min(cap, requested) if requested else cap


def with_page(
    api_name: str, params: Mapping[str, Any], page: int, page_size: int
) -> dict[str, Any]:
    """*params* of *api_name* with the page number and size in the API's own fields.

    Cross-border APIs take them inside their single JSON parameter, the others flat.
    """
    spec = get_api(api_name)
    if spec.page_field is None or spec.page_size_field is None:
        raise ValueError(f"API {api_name!r} does not page")
    paging = {spec.page_field: page, spec.page_size_field: page_size}
    if spec.wrapper_param is None:
        return {**params, **paging}
    return {**params, spec.wrapper_param: {**params.get(spec.wrapper_param, {}), **paging}}


@dataclass(frozen=True)
class Page:
    """What one page answer says (entries are raw API entries, not yet normalized)."""

    number: int
    entries: list[dict[str, Any]]
    total: int | None
    total_pages: int | None
    #: The page count the answer itself announced (``totalPage``), None when it gave none.
    announced_pages: int | None = None
    #: The page size the answer itself reported (``pageSize``).
    page_size: int | None = None

    @property
    def is_last(self) -> bool:
        """No page after this one holds results."""
        if not self.entries:
            return True
        return self.total_pages is not None and self.number >= self.total_pages


def read_page(api_name: str, payload: Any, number: int) -> Page:
    """The *number*-th page of a list answer of *api_name*."""
    total = list_total(api_name, payload)
    data = unwrap_result(payload)
    data = data if isinstance(data, dict) else {}
    announced = total_pages = _whole(data.get("totalPage"))
    page_size = _whole(data.get("pageSize"))
    if total_pages is None and total is not None and page_size:
        # getList reports only the count and the page size.
        total_pages = math.ceil(total / page_size)
    return Page(number, list_entries(api_name, payload), total, total_pages, announced, page_size or None)


def count_doubt(page: Page, *, first_total: int | None, page_size: int) -> str | None:
    """Why *page*'s own counts cannot be trusted (None: they agree with themselves and with
    *first_total*, what the first page of the same listing counted): no total, a total that
    changed between pages, or more pages announced than the total fills."""
    if page.total is None:
        return "answered no total"
    if first_total is not None and page.total != first_total:
        return f"counted {page.total} products where its first page counted {first_total}"
    size = page.page_size or page_size
    if page.announced_pages is not None and size and page.announced_pages > math.ceil(page.total / size):
        return f"announced {page.announced_pages} pages, more than its {page.total} products fill"
    return None


def next_page(page: Page, cap: int) -> int | None:
    """The page to ask for after *page*, or None when the results end or *cap* is reached."""
    if page.is_last or page.number >= cap:
        return None
    return page.number + 1


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number >= 0 else None
