"""The ``watch`` spider: every shop, search and product list of a watchlist in one crawl.

``scrapy crawl watch -a watchlist=FILE`` (see ``watchlist`` for the file). Shops are crawled
as the shop spider crawls them (split past the paging cap, one crawl report each, removals
judged from complete listings); searches and id lists as their spiders do, with a small report
each. Each entry's ``alert`` rules apply to the changes of its products. In distributed mode
``ali1688 enqueue --watchlist FILE`` queues one seed per entry (``-a entry=JSON``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

from scrapy import signals

from ali1688spider.monitoring.rules import parse_rules
from ali1688spider.config import data_dir, get_str
from ali1688spider.files import write_json_atomically
from ali1688spider.idset import ProductIdSet
from ali1688spider.items import Product
from ali1688spider.reporting.ledger import ledger_for, now_iso
from ali1688spider.reporting.pipeline import report_path
from ali1688spider.spiders.arguments import Argument, SpiderArgumentError, as_existing_file
from ali1688spider.spiders.product import ProductDetails
from ali1688spider.spiders.search import SearchResults
from ali1688spider.spiders.shop.spider import ShopSpider
from ali1688spider.spiders.watchlist import check_entry, entry_from_seed, load_watchlist, target_key

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from scrapy import Request
    from twisted.python.failure import Failure

    from ali1688spider.spiders.watchlist import WatchEntry

logger = logging.getLogger(__name__)


def check_rules(text: str) -> object:
    return parse_rules(text, source="alert")


class WatchSpider(ShopSpider, SearchResults, ProductDetails):
    """Yields the products of every entry of a watchlist."""

    name = "watch"
    asked_for = "calls"
    #: Target key -> its entry's alert rules (read by the alerts extension, which a spider
    #: class declaring them turns on); each spider fills its own.
    alert_rules: dict[str, str] = {}  # noqa: RUF012 - replaced per instance
    arguments = {
        "watchlist": Argument(as_existing_file, "a TOML watchlist file"),
        "entry": Argument(entry_from_seed, "one watchlist entry as JSON (what `ali1688 enqueue --watchlist` queues)"),
    }

    @classmethod
    def check_combination(cls, values: dict[str, Any]) -> None:
        if (values["watchlist"] is None) == (values["entry"] is None):
            raise SpiderArgumentError("spider 'watch' needs -a watchlist=FILE (a TOML watchlist)")
        if values["watchlist"] is not None:
            values["entries"] = load_watchlist(values["watchlist"], check_rules=check_rules)
        else:
            check_entry(values["entry"])
            values["entries"] = [values["entry"]]

    @classmethod
    def check_settings(cls, values: dict[str, Any], settings: Mapping[str, Any]) -> None:
        for entry in values["entries"]:
            if entry.kind == "shop":
                ShopSpider.check_settings(check_entry(entry), settings)

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.item_scraped, signal=signals.item_scraped)
        return spider

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.alert_rules = {}
        for entry in (self.args or {}).get("entries", []):
            self.note_rules(entry, target_key(entry, check_entry(entry)))
        #: Searches' and id lists' targets -> how many products were asked for (None: a search),
        #: which were delivered (by any entry), and which no longer exist.
        self.lists: dict[str, int | None] = {}
        #: Every product the feed received; counted per search and id list at the close.
        self.delivered = ProductIdSet()
        self.gone: list[str] = []
        self.started = dt.datetime.now(dt.timezone.utc)

    def requests_for(self, args: dict[str, Any]) -> Iterator[Request]:
        for entry in args["entries"]:
            yield from self.entry_requests(entry)

    def entry_requests(self, entry: WatchEntry) -> Iterator[Request]:
        values = check_entry(entry)
        target = target_key(entry, values)
        self.note_rules(entry, target)
        logger.info("Watching %s: %s", entry.where, target)
        if entry.kind == "shop":
            yield from ShopSpider.requests_for(self, values)
        elif entry.kind == "search":
            self.lists[target] = None
            yield from self.search_requests({**values, "target": target})
        else:
            ids = list(dict.fromkeys([*(values["ids"] or []), *values.get("ids_file_ids", [])]))
            self.lists[target] = len(ids)
            yield from self.product_requests(ids, target=target)

    def note_rules(self, entry: WatchEntry, target: str) -> None:
        if entry.alert is not None:
            self.alert_rules[target] = entry.alert

    def item_scraped(self, item: Any) -> None:
        if isinstance(item, Product) and item.get("product_id"):
            self.delivered.add(item["product_id"])

    def list_deliveries(self) -> Counter[str]:
        """Products delivered for each search and id list. Counted at the close: a product
        another entry delivered before this one's search returned it counts here too."""
        counts = Counter[str]()
        # Searches and id lists keep no ledger: their products are the tagged ones.
        for product_id, targets in ledger_for(self.crawler).tagged():
            if product_id in self.delivered:
                counts.update(target for target in targets if target in self.lists)
        return counts

    def product_detail_failed(self, failure: Failure) -> None:
        """A watched product that no longer exists is a finding (recorded as removed), not a
        failed call: a daily watch goes on succeeding after a supplier delists a product."""
        error = getattr(failure.value, "error", None)
        if error is not None and error.proves_absence:
            offer_id = failure.request.cb_kwargs["offer_id"]
            self.gone.append(offer_id)
            self.note_gone(offer_id, error)
            self.crawler.stats.inc_value("ali1688/watch/gone")
            logger.info("Watched product %s no longer exists", offer_id)
            return
        super().product_detail_failed(failure)

    def closed(self, reason: str) -> None:
        """Shops have their crawl reports; write one for each search and id list too."""
        super().closed(reason)
        template = get_str(self.crawler.settings, "ALI1688_REPORT_FILE") or ""
        deliveries = self.list_deliveries()
        for target, asked in self.lists.items():
            delivered = deliveries[target]
            gone = sum(1 for offer_id in self.gone if target in ledger_for(self.crawler).targets_of(offer_id))
            report = {
                "spider": self.name,
                "target": target,
                "asked": asked,
                "delivered": delivered,
                "gone": gone,
                "verdict": None if asked is None else "complete" if delivered + gone >= asked else "incomplete",
                "started_at": self.started.astimezone().isoformat(timespec="seconds"),
                "finished_at": now_iso(),
            }
            path = report_path(template, spider=self.name, started=self.started, target=target,
                               directory=data_dir(self.crawler.settings))
            write_json_atomically(path, report)
            logger.info("Watch report of %s: %d product(s) delivered%s -> %s", target, delivered,
                        "" if asked is None else f" of {asked}", path)
