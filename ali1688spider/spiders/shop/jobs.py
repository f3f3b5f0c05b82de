"""The jobs of a shop crawl: one per shop, what names it, how it is listed, its slices.

A job is opened from the spider's arguments (or a seed), carried in each request's meta as a
spec (no secrets) so that any process can carry on its requests (a shared queue in
distributed mode, a resumed JOBDIR), and saved in ``spider.state`` across a JOBDIR pause.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ali1688spider.api.catalogue import CATEGORY, PRICE, SHOP_LIST_API, TIME, get_api
from ali1688spider.api.urls import ShopRef
from ali1688spider.config import ConfigError
from ali1688spider.spiders.shop.slicing import Sample, Slice, SliceBook

if TYPE_CHECKING:
    from ali1688spider.reporting.ledger import TargetLedger

JOB_META_KEY = "ali1688_shop_job"
JOB_ARGS_META_KEY = "ali1688_shop_args"
STATE_KEY = "ali1688_shop_jobs"
SHOP_INPUTS = ("seller_open_id", "offer", "shop_url", "member_id", "own")
# Request priorities: resolve and split first (they decide what comes next), and finish a
# product's detail before paging on, so few partial products wait in memory.
PRIORITY_SETUP, PRIORITY_DETAIL, PRIORITY_FIRST_PAGE = 30, 20, 10


def parse_split_order(text: str | None, api_name: str) -> tuple[str, ...]:
    """The split order for *api_name*: the dimensions ``ALI1688_SPLIT_ORDER`` names (e.g.
    ``category,price``) that the API can filter by, then its other ones in default order."""
    supported = get_api(api_name).split_filters
    order = tuple(part.strip().lower() for part in (text or "").split(",") if part.strip())
    unknown = [d for d in order if d not in (CATEGORY, PRICE, TIME)]
    if unknown:
        raise ConfigError(
            f"ALI1688_SPLIT_ORDER must list some of category, price, time, got {text!r}"
        )
    preferred = tuple(dict.fromkeys(d for d in order if d in supported))
    return preferred + tuple(d for d in supported if d not in preferred)


def modified_time(product: dict[str, Any]) -> dt.datetime | None:
    text = product.get("modified_at")
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


@dataclass
class ShopJob:
    """One shop to crawl: what names it, how it is listed, and the listing's slices."""

    key: str
    args: dict[str, Any]
    ledger: TargetLedger
    api: str | None = None
    seller_open_id: str | None = None
    member_id: str | None = None
    since: dt.datetime | None = None
    root: Slice = Slice()
    book: SliceBook | None = None
    samples: dict[Slice, Sample] = field(default_factory=dict)
    page_size: int = 0

    def spec(self) -> dict[str, Any]:
        """What any process needs to carry on this job's requests (no secrets)."""
        return {
            "target": self.ledger.target,
            "api": self.api,
            "seller_open_id": self.seller_open_id,
            "member_id": self.member_id,
            "since": self.since.isoformat() if self.since else None,
            "details": self.args["details"],
            "page_size": (self.book.page_size if self.book else None) or self.page_size,
            "max_pages": self.book.max_pages if self.book else None,
        }

    def removal_scope(self) -> tuple[str, str] | None:
        """The stored products a complete listing of this job accounts for: the whole shop's,
        unless only products modified ``since`` are listed."""
        if self.since is not None:
            return None
        if self.seller_open_id:
            return ("seller_open_id", self.seller_open_id)
        return ("member_id", self.member_id) if self.member_id else None

    @property
    def state_key(self) -> str:
        return f"seller:{self.seller_open_id}" if self.api == SHOP_LIST_API else f"own:{self.member_id}"


def job_key(args: dict[str, Any]) -> str:
    """The shop input of a job as text (``seller_open_id=…``, ``own``…): its report target."""
    for name in SHOP_INPUTS:
        value = args.get(name)
        if name == "own" and value:
            return "own"
        if isinstance(value, ShopRef):
            return f"shop_url={value.domain or value.member_id}"
        if value:
            return f"{name}={value}"
    raise AssertionError("check_combination guarantees one shop input")
