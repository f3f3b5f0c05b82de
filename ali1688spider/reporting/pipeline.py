"""Completeness accounting: each delivered product counts toward its shop's crawl report.

At the end every target the spider opened (one per shop) becomes a ``CrawlReport``: written
as JSON to ``ALI1688_REPORT_FILE`` (default ``reports/%(spider)s-%(time)s.json``; with several
shops in one crawl and no ``%(target)s`` in the name, one file per shop with the shop's key
appended), its figures put in the stats under ``ali1688/report/…``. It is never yielded into
the product feed. When the spider goes idle with a shop below ``ALI1688_COMPLETENESS_MIN``
(default 0.97 of the platform's total), the crawl closes with reason ``ali1688_incomplete``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals

from ali1688spider.closing import INCOMPLETE, REDIS_DATA_LOST, close_crawl
from ali1688spider.config import ConfigError, data_dir, get_float, get_str
from ali1688spider.distributed.signals import leases_acknowledging
from ali1688spider.files import write_json_atomically
from ali1688spider.items import CrawlReport, Product
from ali1688spider.reporting.ledger import COMPLETE, PARTIAL, UNKNOWN, ledger_for, worst_verdict
from ali1688spider.reporting.shared import SharedLedger

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from typing_extensions import Self

    from ali1688spider.reporting.ledger import TargetLedger

logger = logging.getLogger(__name__)

ACCEPTED = (COMPLETE, PARTIAL)
STATS_PREFIX = "ali1688/report/"
#: Report figures that add up across shops; the rates are recomputed from them.
SUMMED = (
    "official_total", "unique_fetched", "missing_count", "slices_used", "emitted", "delivered",
    "listing_calls", "minimum_listing_calls", "leaked", "truncated", "cache_hits",
)


def report_path(template: str, *, spider: str, started: dt.datetime, target: str | None,
                directory: Path, setting: str = "ALI1688_REPORT_FILE") -> Path:
    """*template* (the value of *setting*) with ``%(spider)s``, ``%(time)s`` (UTC, like feed
    URIs) and ``%(target)s``, under *directory* when relative (the data directory:
    ``ALI1688_DATA_DIR``)."""
    values = {
        "spider": spider,
        "time": started.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat()
        .replace("+00:00", "").replace(":", "-"),
        "target": _file_safe(target or "all"),
    }
    try:
        path = template % values
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"{setting} {template!r} is not a valid name template ({type(exc).__name__}: "
            f"{exc}): use %(spider)s, %(time)s and %(target)s, and %% for a literal %"
        ) from None
    base = directory / Path(path).expanduser()
    if target is not None and "%(target)s" not in template:
        return base.with_name(f"{base.stem}-{values['target']}{base.suffix}")
    return base


def report_settings(settings: Mapping[str, Any]) -> tuple[float, str]:
    """``ALI1688_COMPLETENESS_MIN`` and ``ALI1688_REPORT_FILE``; ConfigError naming the
    setting when either is unusable (the crawl command checks this before any call)."""
    minimum = get_float(settings, "ALI1688_COMPLETENESS_MIN")
    if minimum > 1:
        raise ConfigError(f"ALI1688_COMPLETENESS_MIN must be a share between 0 and 1, got {minimum}")
    template = get_str(settings, "ALI1688_REPORT_FILE") or ""
    report_path(template, spider="x", started=dt.datetime.now(dt.timezone.utc), target="x", directory=Path())
    return minimum, template


def _file_safe(text: str) -> str:
    return re.sub(r"[^\w.=-]+", "_", text)[:120]


def delivered_text(delivered: int, total: int | None, missing: int | None) -> str:
    """What reached the feed, for the closing line; an unresolved shop has no total to miss."""
    if total is None:
        return f"{delivered:,} products delivered (the platform gave no total)"
    return f"{delivered:,} of {total:,} products delivered ({'unknown' if missing is None else f'{missing:,}'} missing)"


class CompletenessPipeline:
    """Counts emitted products per shop and writes the crawl reports at the end."""

    def __init__(self, crawler: Crawler, *, minimum: float, template: str, directory: Path):
        self.crawler = crawler
        self.ledger = ledger_for(crawler)
        self.minimum = minimum
        self.template = template
        self.directory = directory
        self.started = dt.datetime.now(dt.timezone.utc)
        self.judged = False
        self.shared = SharedLedger.for_crawler(crawler, crawler.spidercls.name)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        if self.shared is not None:
            crawler.signals.connect(self.record_shared, signal=leases_acknowledging)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        minimum, template = report_settings(crawler.settings)
        return cls(crawler, minimum=minimum, template=template, directory=data_dir(crawler.settings))

    def item_scraped(self, item: Any) -> None:
        """A product counts once every pipeline passed it (the SQL pipeline only passes
        committed ones), not when it enters this one."""
        if isinstance(item, Product):
            self.ledger.note_emitted(item)

    def record_shared(self) -> bool:
        """Distributed: add what this worker delivered to the shared ledger; False when Redis
        did not take it (the scheduler then holds its acknowledgements)."""
        if self.shared is None or not self.ledger.targets:
            return True
        return self.shared.write(list(self.ledger.targets.values()))

    def spider_idle(self) -> None:
        """All work is done: close with ``ali1688_incomplete`` when a shop fell short (in
        distributed mode: short in the shared ledger, once no worker has work left)."""
        if self.judged or not self.ledger.targets:
            return
        if self.shared is not None:
            self.record_shared()
            if not self.shared.crawl_done():
                logger.info("This worker is done; the shared crawl goes on in other workers")
                return
            lost = self.shared.lost()
            if lost is not None:
                self.judged = True
                close_crawl(self.crawler, REDIS_DATA_LOST, "%s; nothing of it is judged. Queue the "
                            "jobs again: ali1688 enqueue --fresh %s KEY=VALUE…", lost, self.crawler.spidercls.name)
                return
            verdicts = {t.target: self.shared.figures(t).verdict(self.minimum) for t in self.ledger.targets.values()}
        else:
            verdicts = {t.target: t.verdict(self.minimum) for t in self.ledger.targets.values()}
        short = [f"{target} ({verdict})" for target, verdict in verdicts.items() if verdict not in ACCEPTED]
        if not short:
            return
        self.judged = True
        close_crawl(
            self.crawler,
            INCOMPLETE,
            "Crawl incomplete: %s below ALI1688_COMPLETENESS_MIN=%s or its counts unknown (see the crawl report)",
            ", ".join(short),
            self.minimum,
        )

    def spider_closed(self) -> None:
        """Distributed: the worker that ends a done shared crawl ends its run, so the next
        ``ali1688 enqueue`` starts a new one instead of joining this one's listing."""
        if self.shared is None or not self.ledger.targets:
            return
        try:
            if self.shared.crawl_done() and self.shared.lost() is None:
                self.shared.finish()
        except self.shared.outage as exc:
            logger.warning("Could not mark the shared run finished in Redis (%s: %s)", type(exc).__name__, exc)

    def close_spider(self, spider: Spider | None = None) -> None:
        targets = list(self.ledger.targets.values())
        if not targets:
            return
        stats = self.crawler.stats
        single = len(targets) == 1
        reports = []
        shared_recorded = self.record_shared()
        for ledger in targets:
            report = self._report(ledger, whole_crawl=single)
            if self.shared is not None and shared_recorded:
                report["shared"] = self._shared_report(ledger)
            path = report_path(
                self.template,
                spider=ledger.spider,
                started=self.started,
                target=None if single and "%(target)s" not in self.template else ledger.key,
                directory=self.directory,
            )
            write_json_atomically(path, report)
            reports.append(report)
            logger.info(
                "Crawl report of %s: %s, %s, %s calls, %s cache hits, %s slices -> %s",
                report["target"], report["verdict"],
                delivered_text(report["delivered"], report["official_total"], report["missing_count"]),
                report["calls_spent"],
                report["cache_hits"], report["slices_used"], path,
            )
            stats.set_value(f"{STATS_PREFIX}file" if single else f"{STATS_PREFIX}file/{ledger.key}", str(path))
        for name, value in self._summary(reports).items():
            stats.set_value(STATS_PREFIX + name, value)

    def _shared_report(self, ledger: TargetLedger) -> dict[str, Any]:
        """What all workers together delivered of a target so far (this report's other
        figures are this worker's part)."""
        assert self.shared is not None
        figures = self.shared.figures(ledger)
        lost = self.shared.lost()
        shared = {**figures._asdict(), "crawl_done": self.shared.crawl_done(), "run_id": self.shared.run_id,
                  "verdict": UNKNOWN if lost else figures.verdict(self.minimum), "lost": lost}
        logger.info("Shared crawl of %s, all workers: %s of %s products delivered (%s)%s",
                    ledger.target, figures.delivered, figures.official_total, shared["verdict"],
                    "" if shared["crawl_done"] else "; other workers go on")
        return shared

    def _report(self, ledger: TargetLedger, *, whole_crawl: bool) -> dict[str, Any]:
        """The report of one target; with *whole_crawl* its calls and cache hits are the
        crawl's (every call of a one-target crawl is spent on it)."""
        stats = self.crawler.stats
        figures = ledger.report(
            self.minimum,
            calls_spent=stats.get_value("ali1688/calls", 0) if whole_crawl else None,
            cache_hits=stats.get_value("ali1688/cache/hit", 0) if whole_crawl else None,
        )
        declared = CrawlReport({k: v for k, v in figures.items() if k in CrawlReport.fields})
        # The declared CrawlReport fields first, then the figures they come from.
        return {**dict(declared), **{k: v for k, v in figures.items() if k not in declared}}

    @staticmethod
    def _summary(reports: list[dict[str, Any]]) -> dict[str, Any]:
        if len(reports) == 1:
            return {k: v for k, v in reports[0].items() if isinstance(v, (int, float, str))}
        summary: dict[str, Any] = {
            name: sum(r[name] or 0 for r in reports) for name in SUMMED
        }
        total, delivered, emitted = summary["official_total"], summary["delivered"], summary["emitted"]
        summary["completeness"] = round(min(1.0, delivered / total), 6) if total else 1.0
        if emitted:
            summary["sku_completeness"] = round(
                sum((r["sku_completeness"] or 0) * r["emitted"] for r in reports) / emitted, 6)
            summary["price_completeness"] = round(
                sum((r["price_completeness"] or 0) * r["emitted"] for r in reports) / emitted, 6)
        summary["calls_spent"] = sum(r["calls_spent"] or 0 for r in reports)
        summary["verdict"] = worst_verdict([r["verdict"] for r in reports])
        summary["targets"] = len(reports)
        return summary
