"""Crawl health judged from a closing crawl's stats: what the Spidermon monitors of
``ali1688spider.monitoring`` check, as plain functions (no Spidermon needed to import them).

Each judgement is a ``Finding``: ``pass``, ``fail`` with the line that says why, or ``skip``
when the crawl gave nothing to judge (no calls, no crawl report, no earlier run).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ali1688spider.config import ConfigError, get_bool, get_float, get_path
from ali1688spider.files import write_json_atomically
from ali1688spider.reporting.ledger import COMPLETE, PARTIAL, ledger_for, now_iso

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy import Spider
    from scrapy.crawler import Crawler

CALLS = "ali1688/calls"
#: Answers refusing a call for rate (the middleware counts every one, retried or not).
QPS_REFUSALS = "ali1688/errors/qps_limit"
#: ``ali1688/errors/<kind>`` (and ``…/network``) count error answers by kind.
ERRORS_PREFIX = "ali1688/errors/"
#: Error kinds that are no failed call: QPS refusals have a monitor of their own, and a
#: not-found answer tells what the platform holds (a delisted product).
NOT_FAILURES = frozenset({"qps_limit", "not_found"})
VERDICT = "ali1688/report/verdict"
ITEMS = "item_scraped_count"
#: History keys longer than this (a ``product`` crawl of many ids) end in a digest instead.
MAX_TARGET_KEY = 160

PASS, FAIL, SKIP = "pass", "fail", "skip"
#: Each monitor's finding, ``ali1688/health/<check>`` = ``pass``, ``fail`` or ``skip``.
STATS_PREFIX = "ali1688/health/"


@dataclass(frozen=True)
class Finding:
    status: str
    text: str = ""


@dataclass(frozen=True)
class HealthLimits:
    max_qps_refusals: float
    max_error_rate: float
    accept_partial: bool
    history: Path
    min_item_ratio: float


def _share_setting(settings: Mapping[str, Any], name: str) -> float:
    value = get_float(settings, name)
    if value > 1:
        raise ConfigError(f"{name} must be a share between 0 and 1, got {value:g}")
    return value


def health_limits(settings: Mapping[str, Any]) -> HealthLimits:
    """The monitors' ``ALI1688_MONITOR_*`` settings; ConfigError naming the one that is
    unusable (the crawl command checks this before any call)."""
    history = get_path(settings, "ALI1688_MONITOR_HISTORY")
    if not history:
        raise ConfigError("ALI1688_MONITOR_HISTORY must be a file path")
    if history.is_dir():
        raise ConfigError(f"ALI1688_MONITOR_HISTORY {history} is a directory: give a file path in it, "
                          f"such as {history / 'monitor-history.json'}")
    return HealthLimits(
        max_qps_refusals=_share_setting(settings, "ALI1688_MONITOR_MAX_QPS_REFUSALS"),
        max_error_rate=_share_setting(settings, "ALI1688_MONITOR_MAX_ERROR_RATE"),
        accept_partial=get_bool(settings, "ALI1688_MONITOR_ACCEPT_PARTIAL"),
        history=history,
        min_item_ratio=_share_setting(settings, "ALI1688_MONITOR_MIN_ITEM_RATIO"),
    )


def failed_calls(stats: Mapping[str, Any]) -> int:
    """Calls answered with an error (QPS refusals and not-found aside) or lost to the network."""
    return sum(
        value for key, value in stats.items()
        if key.startswith(ERRORS_PREFIX) and "/" not in key[len(ERRORS_PREFIX):]
        and key[len(ERRORS_PREFIX):] not in NOT_FAILURES
    )


def _judge_share(part: int, calls: int, limit: float, setting: str, what: str) -> Finding:
    if not calls:
        return Finding(SKIP, "no call was made")
    share = part / calls
    text = f"{part} of {calls} calls ({share:.1%}) {what}"
    if share > limit:
        return Finding(FAIL, f"{text}, above {setting}={limit:g}")
    return Finding(PASS, text)


def judge_qps_refusals(stats: Mapping[str, Any], limits: HealthLimits) -> Finding:
    return _judge_share(stats.get(QPS_REFUSALS, 0), stats.get(CALLS, 0), limits.max_qps_refusals,
                        "ALI1688_MONITOR_MAX_QPS_REFUSALS", "were refused for rate")


def judge_error_rate(stats: Mapping[str, Any], limits: HealthLimits) -> Finding:
    return _judge_share(failed_calls(stats), stats.get(CALLS, 0), limits.max_error_rate,
                        "ALI1688_MONITOR_MAX_ERROR_RATE", "failed")


def judge_completeness(stats: Mapping[str, Any], limits: HealthLimits) -> Finding:
    verdict = stats.get(VERDICT)
    if verdict is None:
        return Finding(SKIP, "the crawl wrote no crawl report (only shop crawls do)")
    accepted = (COMPLETE, PARTIAL) if limits.accept_partial else (COMPLETE,)
    if verdict in accepted:
        return Finding(PASS, f"the crawl report says {verdict}")
    hint = "" if limits.accept_partial or verdict != PARTIAL else " (ALI1688_MONITOR_ACCEPT_PARTIAL accepts it)"
    return Finding(FAIL, f"the crawl report says {verdict}, not {' or '.join(accepted)}{hint}")


def judge_item_count(count: int, previous: Mapping[str, Any] | None, limits: HealthLimits) -> Finding:
    """*count* items against the last run's (*previous*: its history entry, or None)."""
    if previous is None:
        return Finding(SKIP, "no earlier run of this spider and target in ALI1688_MONITOR_HISTORY")
    last = previous.get(ITEMS)
    if isinstance(last, bool) or not isinstance(last, int) or last < 0:
        return Finding(SKIP, f"the last run's entry in ALI1688_MONITOR_HISTORY holds no item count "
                             f"({ITEMS}: {last!r}); this run's count replaces it")
    text = f"{count} items, the last run ({previous.get('recorded_at', 'unknown time')}) {last}"
    if last and count < limits.min_item_ratio * last:
        return Finding(FAIL, f"{text}: below ALI1688_MONITOR_MIN_ITEM_RATIO={limits.min_item_ratio:g} of it")
    return Finding(PASS, text)


def crawl_target(crawler: Crawler, spider: Spider) -> str:
    """What the item-count history is kept by, with the spider's name: the crawl report's
    target keys (``seller_open_id=…``), else the spider's arguments that differ from their
    defaults (``ids=1,2,3``), else ``-``."""
    targets = sorted(ledger_for(crawler).targets)
    key = ",".join(targets) if targets else _arguments_key(spider)
    if len(key) > MAX_TARGET_KEY:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        key = f"{key[:MAX_TARGET_KEY - 20]}…{digest}"
    return key or "-"


def _arguments_key(spider: Spider) -> str:
    args = getattr(spider, "args", None) or {}
    declared = getattr(spider, "arguments", {})
    parts = []
    for name, value in sorted(args.items()):
        argument = declared.get(name)
        if value in (None, False, "", [], ()) or (argument is not None and value == argument.default):
            continue
        parts.append(f"{name}={_text(value)}")
    return " ".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    if value is True:
        return "1"
    return str(value)


class ItemHistory:
    """The JSON file of item counts per spider and target: ``{spider: {target: {
    "item_scraped_count", "finish_reason", "recorded_at"}}}``, the last run of each."""

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The history (empty when there is no file yet); ValueError naming the file when it
        is not the history's JSON."""
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"ALI1688_MONITOR_HISTORY {self.path} is unreadable ({exc})") from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise ValueError(f"ALI1688_MONITOR_HISTORY {self.path} is not a history file")
        return data

    def last(self, spider: str, target: str) -> dict[str, Any] | None:
        return self.read().get(spider, {}).get(target)

    def record(self, spider: str, target: str, count: int, finish_reason: str | None) -> None:
        """Make this run the last one of *spider* and *target* (an unreadable file is replaced)."""
        try:
            data = self.read()
        except ValueError:
            data = {}
        data.setdefault(spider, {})[target] = {
            ITEMS: count, "finish_reason": finish_reason, "recorded_at": now_iso(),
        }
        write_json_atomically(self.path, data)
