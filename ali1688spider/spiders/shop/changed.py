"""``details=changed``: a detail call only for the listed products whose listing entry, stored
row or detail age says something may have changed (``storage/freshness.py`` decides).

The stored rows of each listing page are read with one query by primary key, blocking, on the
reactor thread: a few milliseconds per 50 products, against the detail calls it saves.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ali1688spider.config import DB_URL_SETTING, ConfigError, get_duration, get_str
from ali1688spider.spiders.arguments import SpiderArgumentError, as_bool
from ali1688spider.storage.records import product_record

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ali1688spider.reporting.ledger import TargetLedger

CHANGED = "changed"
MAX_AGE_SETTING = "ALI1688_DETAIL_MAX_AGE"


def as_details(text: str) -> bool | str:
    """``details=``: 1/0 (every product's detail, or none), or ``changed``."""
    return CHANGED if text.strip().lower() == CHANGED else as_bool(text)


def max_detail_age(settings: Mapping[str, Any]) -> timedelta | None:
    """``ALI1688_DETAIL_MAX_AGE`` (None for 0: never too old); SpiderArgumentError naming the
    setting, or ``ALI1688_DB_URL`` when there is no database to compare the listing with."""
    if not get_str(settings, DB_URL_SETTING):
        raise SpiderArgumentError(
            f"details=changed compares the listing with the stored products, but {DB_URL_SETTING} is "
            f"not set: set it (e.g. -s {DB_URL_SETTING}=sqlite:///ali1688.db) or use details=1"
        )
    try:
        seconds = get_duration(settings, MAX_AGE_SETTING)
    except ConfigError as exc:
        raise SpiderArgumentError(str(exc)) from None
    return timedelta(seconds=seconds) if seconds else None


class ChangedDetails:
    """The crawl database, read to choose which listed products get a detail call."""

    def __init__(self, url: str, max_age: timedelta | None):
        # Imported here: crawls without details=changed never load SQLAlchemy for it.
        from ali1688spider.storage.store import make_engine

        self.engine = make_engine(url, writer=False)
        self.max_age = max_age

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ChangedDetails:
        return cls(get_str(settings, DB_URL_SETTING) or "", max_detail_age(settings))

    def reasons(self, products: Sequence[dict[str, Any]]) -> dict[str, str | None]:
        """Product id -> why it needs a detail call (None: skipped as unchanged)."""
        from ali1688spider.storage.freshness import detail_reason, stored_for_listing

        now = datetime.now(timezone.utc)
        entries = [product_record(product, now=now) for product in products]
        stored = stored_for_listing(self.engine, [entry.product_id for entry in entries])
        return {
            entry.product_id: detail_reason(entry, stored.get(entry.product_id), now=now, max_age=self.max_age)
            for entry in entries
        }

    def close(self) -> None:
        self.engine.dispose()


def count_reason(ledger: TargetLedger, reason: str | None) -> None:
    """The crawl report's figures: details fetched, skipped as unchanged, fetched for age."""
    extra = ledger.extra
    for key in ("details_unchanged",) if reason is None else ("details_fetched", f"details_for_{reason}"):
        extra[key] = extra.get(key, 0) + 1
