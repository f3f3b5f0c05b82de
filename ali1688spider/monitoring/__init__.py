"""Monitoring: everything that turns crawls into findings a user acts on.

- ``changes``: the change feed's vocabulary and the signals that carry each change;
- ``rules``: ``ALI1688_ALERT_RULES`` parsed and matched against changes;
- ``alerts``: the extension that collects matching changes and posts them to the webhook;
- ``health``: crawl-health judgements from a closing crawl's stats (plain functions);
- ``monitors``: those judgements as Spidermon monitors (the ``monitoring`` extra);
- ``planner``: which details a watch run spends its calls on.

``ali1688spider.monitoring.CrawlHealthMonitorSuite`` is the Spidermon suite; it is imported on
first use, so nothing but that name needs Spidermon.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "CrawlHealthMonitorSuite":
        from ali1688spider.monitoring.monitors import CrawlHealthMonitorSuite

        return CrawlHealthMonitorSuite
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
