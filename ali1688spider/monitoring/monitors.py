"""Crawl-health monitors on Spidermon (install the ``monitoring`` extra).

Enable them in your settings::

    SPIDERMON_ENABLED = True
    EXTENSIONS = {**EXTENSIONS, "spidermon.contrib.scrapy.extensions.Spidermon": 500}
    SPIDERMON_SPIDER_CLOSE_MONITORS = ("ali1688spider.monitoring.CrawlHealthMonitorSuite",)

At the close the suite checks the share of calls refused for rate, the share of calls that
failed, the crawl report's verdict, and the item count against the last run of the same spider
and target (kept in ``ALI1688_MONITOR_HISTORY``). The judgements are
``ali1688spider.monitoring.health``'s; these classes hand them to Spidermon, whose actions
(Slack, e-mail, file reports…) deliver the results: subclass the suite and set
``monitors_failed_actions``. Nothing else in the package imports Spidermon.
"""

from __future__ import annotations

from spidermon import Monitor, MonitorSuite, monitors

from ali1688spider.monitoring.health import (
    FAIL,
    ITEMS,
    SKIP,
    STATS_PREFIX,
    Finding,
    HealthLimits,
    ItemHistory,
    crawl_target,
    health_limits,
    judge_completeness,
    judge_error_rate,
    judge_item_count,
    judge_qps_refusals,
)


class HealthMonitor(Monitor):
    """Base of the crawl-health monitors: the limits, and a finding turned into a result (and
    into the stat ``ali1688/health/<check>``: ``pass``, ``fail`` or ``skip``)."""

    check_name = ""

    @property
    def limits(self) -> HealthLimits:
        return health_limits(self.data.crawler.settings)

    def check(self, finding: Finding) -> None:
        self.data.crawler.stats.set_value(f"{STATS_PREFIX}{self.check_name}", finding.status)
        if finding.status == SKIP:
            self.skipTest(finding.text)
        if finding.status == FAIL:
            self.fail(finding.text)


@monitors.name("QPS refusals")
class QpsRefusalMonitor(HealthMonitor):
    check_name = "qps_refusals"

    @monitors.name("Share of calls refused for rate")
    def test_qps_refusal_share(self) -> None:
        """At most ALI1688_MONITOR_MAX_QPS_REFUSALS of the calls were refused for rate."""
        self.check(judge_qps_refusals(self.data.stats, self.limits))


@monitors.name("Failed calls")
class ErrorRateMonitor(HealthMonitor):
    check_name = "error_rate"

    @monitors.name("Share of calls that failed")
    def test_error_rate(self) -> None:
        """At most ALI1688_MONITOR_MAX_ERROR_RATE of the calls failed."""
        self.check(judge_error_rate(self.data.stats, self.limits))


@monitors.name("Completeness")
class CompletenessMonitor(HealthMonitor):
    check_name = "completeness"

    @monitors.name("Crawl report verdict")
    def test_verdict(self) -> None:
        """The crawl report says complete (or partial, with ALI1688_MONITOR_ACCEPT_PARTIAL)."""
        self.check(judge_completeness(self.data.stats, self.limits))


@monitors.name("Item count")
class ItemCountMonitor(HealthMonitor):
    check_name = "item_count"

    @monitors.name("Items against the last run")
    def test_item_count(self) -> None:
        """At least ALI1688_MONITOR_MIN_ITEM_RATIO of the last run's items; this run becomes
        the last one in ALI1688_MONITOR_HISTORY whatever the outcome."""
        limits = self.limits
        spider = self.data.spider
        target = crawl_target(self.data.crawler, spider)
        history = ItemHistory(limits.history)
        count = self.data.stats.get(ITEMS, 0)
        try:
            previous = history.last(spider.name, target)
        except ValueError as exc:
            history.record(spider.name, target, count, self.data.stats.get("finish_reason"))
            self.check(Finding(FAIL, f"{exc}: replaced, with this run's count"))
        history.record(spider.name, target, count, self.data.stats.get("finish_reason"))
        self.check(judge_item_count(count, previous, limits))


@monitors.name("ali1688 crawl health")
class CrawlHealthMonitorSuite(MonitorSuite):
    """The four crawl-health monitors; subclass it to add ``monitors_failed_actions``."""

    monitors = [QpsRefusalMonitor, ErrorRateMonitor, CompletenessMonitor, ItemCountMonitor]  # noqa: RUF012
