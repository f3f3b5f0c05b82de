"""Writes one HTML report page per crawl to ``ALI1688_REPORT_HTML`` (a daily watch run leaves a
page to open): the keyword report of each search the crawl made and the shop report of each
whole shop it listed, read back from ``ALI1688_DB_URL`` once the SQL pipeline has committed
everything (``spider_closed`` comes after the pipelines closed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from ali1688spider.config import DB_URL_SETTING, ConfigError, data_dir, get_str
from ali1688spider.reporting.ledger import ledger_for
from ali1688spider.reporting.pipeline import report_path

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from scrapy.crawler import Crawler
    from typing_extensions import Self

    from ali1688spider.reporting.html import Section

logger = logging.getLogger(__name__)

SETTING = "ALI1688_REPORT_HTML"
#: The period of each shop's section, and the quantity each keyword's unit prices are for.
SHOP_DAYS = 30
QUANTITY = 1


def report_page_template(settings: Mapping[str, Any]) -> str | None:
    """``ALI1688_REPORT_HTML``, checked (the crawl command runs this before any call):
    ConfigError naming what to fix."""
    template = get_str(settings, SETTING)
    if not template:
        return None
    if not get_str(settings, DB_URL_SETTING):
        raise ConfigError(f"{SETTING} reads the crawl's results from the database: set {DB_URL_SETTING} too")
    try:
        import matplotlib  # noqa: F401  (only whether it imports)
    except ImportError:
        raise ConfigError(f"{SETTING} draws its charts with matplotlib: pip install 'ali1688spider[chart]'") from None
    report_path(template, spider="x", started=dt.datetime.now(dt.timezone.utc), target=None, directory=Path(),
                setting=SETTING)
    return template


class ReportPage:
    def __init__(self, crawler: Crawler, template: str, url: str):
        self.crawler = crawler
        self.template = template
        self.url = url
        self.started = dt.datetime.now(dt.timezone.utc)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        template = report_page_template(crawler.settings)
        if template is None:
            raise NotConfigured
        return cls(crawler, template, get_str(crawler.settings, DB_URL_SETTING))

    async def spider_closed(self, reason: str) -> None:
        spider = self.crawler.spider.name if self.crawler.spider else "crawl"
        path = report_path(self.template, spider=spider, started=self.started, target=None,
                           directory=data_dir(self.crawler.settings), setting=SETTING)
        try:
            written = await asyncio.to_thread(self.write, path, spider)
        except Exception as exc:  # the crawl's data is stored; only the page is missing
            from ali1688spider.storage.errors import describe_error

            logger.error("Could not write the report page %s (%s): %s", path, SETTING, describe_error(exc))
            return
        if written:
            self.crawler.stats.set_value("ali1688/report_page", str(path))
            logger.info("Report page of this crawl: %s", path)

    def write(self, path: Path, spider: str) -> bool:
        """Read the reports, draw them, write the page; False when the crawl stored no search
        and listed no whole shop."""
        from ali1688spider.reporting.html import write_page
        from ali1688spider.storage.store import make_engine

        engine = make_engine(self.url, writer=False)
        try:
            with engine.connect() as connection:
                sections = self.sections(connection)
        finally:
            engine.dispose()
        if not sections:
            return False
        title = f"{spider} {self.started.astimezone():%Y-%m-%d %H:%M}"
        write_page(path, title, sections)
        return True

    def sections(self, connection: Any) -> list[Section]:
        from ali1688spider.reporting.analysis_pages import keyword_section, shop_section
        from ali1688spider.storage.analysis import NoRuns, UnknownShop, shop_report
        from ali1688spider.storage.suppliers import UnknownKeyword, keyword_report

        ledger = ledger_for(self.crawler)
        sections = []
        for keyword in ledger.search_results:
            try:
                sections.append(keyword_section(keyword_report(connection, keyword, quantity=QUANTITY)))
            except UnknownKeyword:
                logger.warning("Report page: the search for %r stored nothing", keyword)
        since = self.started - dt.timedelta(days=SHOP_DAYS)
        shops = sorted({target.scope[1] for target in ledger.targets.values()
                        if target.scope is not None and target.scope[0] == "seller_open_id"})
        for seller in shops:
            try:
                sections.append(shop_section(shop_report(connection, seller, since=since)))
            except (UnknownShop, NoRuns):
                logger.warning("Report page: nothing of shop %s is stored", seller)
        return sections
