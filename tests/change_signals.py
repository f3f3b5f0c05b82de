"""A test-only item pipeline that records made-up changes: ``change_recorded`` for each product,
as the SQL pipeline sends it for real ones, so that the alerts can be tested in a real crawl
before (and apart from) the database's change detection.

Crawls load it as ``tests.change_signals.ChangeSignalPipeline`` (``with_change_signals``);
``CHANGE_SIGNAL_TEMPLATES`` (JSON) is a list of change fields, and a product gets template
``int(product_id) % len(templates)``, so a test knows from the feed which changes were sent.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ali1688spider import settings as project_settings
from ali1688spider.changes import change_recorded
from ali1688spider.items import Product, ProductChange
from ali1688spider.reporting.ledger import ledger_for, now_iso

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

PIPELINE = "tests.change_signals.ChangeSignalPipeline"
RUN_ID = 7


def with_change_signals(templates: list[dict[str, Any]]) -> dict[str, str]:
    """Crawl settings that add the pipeline (after the project's own) and its templates."""
    pipelines = {**project_settings.ITEM_PIPELINES, PIPELINE: 450}
    return {"ITEM_PIPELINES": json.dumps(pipelines), "CHANGE_SIGNAL_TEMPLATES": json.dumps(templates)}


def template_for(product_id: str, templates: list[dict[str, Any]]) -> dict[str, Any]:
    return templates[int(product_id) % len(templates)]


class ChangeSignalPipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.templates = json.loads(crawler.settings.get("CHANGE_SIGNAL_TEMPLATES") or "[]")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ChangeSignalPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Product) and self.templates:
            product_id = item["product_id"]
            change = ProductChange(
                product_id=product_id, run_id=RUN_ID, detected_at=now_iso(),
                seller_open_id=item.get("seller_open_id"), title=item.get("title"),
                **template_for(product_id, self.templates),
            )
            self.crawler.signals.send_catch_log(change_recorded, change=change, target=self._target(product_id))
        return item

    def _target(self, product_id: str) -> str | None:
        for key, target in ledger_for(self.crawler).targets.items():
            if product_id in target.listed:
                return key
        return None
