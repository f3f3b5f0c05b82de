"""Alerts: the changes that match ``ALI1688_ALERT_RULES``, posted to ``ALI1688_ALERT_WEBHOOK``.

The extension listens to ``change_recorded`` (sent once per committed change) and keeps the
changes that match the rules, per crawl target. A spider may give a target rules of its own
(``alert_rules = {target key: rules text}``), which replace the global ones for it. When the
spider closes, every pipeline has committed its last batch: one line sums up what matched
(per rule), and with a webhook each target with matching changes gets one JSON POST
``{"spider", "target", "run_id", "changes": [...]}``, sent from a thread, retried on network
errors, timeouts, 5xx and 429 answers (``WEBHOOK_ATTEMPTS`` attempts, waiting
``ALI1688_ALERT_BACKOFF`` seconds, then twice that, …). A delivery that fails is one error
line and ``ali1688/alerts/failed``; it never changes the crawl's close reason.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import requests
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import DeferredList
from twisted.internet.threads import deferToThread

from ali1688spider.alerts import (
    RULES_SETTING,
    WEBHOOK_SETTING,
    check_webhook_url,
    json_ready,
    matching,
    parse_rules,
)
from ali1688spider.changes import change_recorded
from ali1688spider.config import DB_URL_SETTING, ConfigError, get_float, get_str
from ali1688spider.redact import redact

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from scrapy.crawler import Crawler
    from typing_extensions import Self

    from ali1688spider.alerts import Rule

logger = logging.getLogger(__name__)

#: Tries of one POST: the first and three retries (after 1, 2 and 4 s by default).
WEBHOOK_ATTEMPTS = 4
#: Answers worth another try: the receiver is overloaded or briefly broken.
RETRIED_STATUS = frozenset({429, *range(500, 600)})


@dataclass(frozen=True)
class AlertSettings:
    rules: tuple[Rule, ...]
    webhook: str | None
    #: Seconds before the first retry; each later one waits twice as long.
    backoff: float
    #: Seconds to connect, and to wait for each read of the answer.
    timeout: float


def alert_settings(settings: Mapping[str, Any]) -> AlertSettings:
    """The alert settings; ConfigError naming the one that is unusable (the crawl command
    checks this before any call)."""
    timeout = get_float(settings, "ALI1688_ALERT_TIMEOUT")
    if timeout <= 0:
        raise ConfigError(f"ALI1688_ALERT_TIMEOUT must be > 0, got {timeout:g}")
    return AlertSettings(
        rules=parse_rules(get_str(settings, RULES_SETTING)),
        webhook=check_webhook_url(get_str(settings, WEBHOOK_SETTING)),
        backoff=get_float(settings, "ALI1688_ALERT_BACKOFF"),
        timeout=timeout,
    )


@dataclass(frozen=True)
class Delivery:
    """How one POST went: *attempts* made, and why the last one failed (None: delivered)."""

    attempts: int
    problem: str | None = None

    @property
    def delivered(self) -> bool:
        return self.problem is None


def post_webhook(
    url: str, payload: Mapping[str, Any], *, attempts: int = WEBHOOK_ATTEMPTS, backoff: float = 1.0,
    timeout: float = 10.0, sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST *payload* as JSON to *url*, retried on network errors, timeouts, 5xx and 429 with
    exponential back-off. Blocking: the extension runs it in a thread.

    A redirect is not followed (requests would repeat a POST as a GET, without the body).
    """
    problem = None
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            sleep(backoff * 2 ** (attempt - 2))
        try:
            response = requests.post(url, json=payload, timeout=timeout, allow_redirects=False)
        except (requests.ConnectionError, requests.Timeout) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            continue
        except requests.RequestException as exc:
            return Delivery(attempt, f"{type(exc).__name__}: {exc}")
        response.close()
        if response.status_code < 300:
            return Delivery(attempt)
        problem = f"HTTP {response.status_code} {response.reason}".rstrip()
        if response.status_code not in RETRIED_STATUS:
            return Delivery(attempt, problem)
    return Delivery(attempts, problem)


def url_origin(url: str) -> str:
    """``scheme://host:port`` of *url*: what a log line may show of a webhook, whose path,
    query and userinfo often hold its secret."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def url_secrets(url: str) -> list[str]:
    """The parts of *url* an error message must not show: userinfo, path and query."""
    parts = urlsplit(url)
    secrets = [parts.password, parts.username, parts.query, parts.path if parts.path != "/" else None]
    if parts.query:
        secrets.append(f"{parts.path}?{parts.query}")
        secrets += [value for _, value in parse_qsl(parts.query) if len(value) >= 3]
    return [secret for secret in secrets if secret]


class Alerts:
    """Collects the changes that match the alert rules and delivers them at the close."""

    def __init__(self, crawler: Crawler, settings: AlertSettings):
        self.crawler = crawler
        self.settings = settings
        #: Matching changes (JSON-ready) per target key, in the order they were recorded.
        self.matched: dict[str | None, list[dict[str, Any]]] = {}
        self.rule_counts: Counter[str] = Counter()
        self._target_rules: dict[str, tuple[Rule, ...]] = {}
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.change_recorded, signal=change_recorded)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = alert_settings(crawler.settings)
        if not settings.rules and settings.webhook is None and not hasattr(crawler.spidercls, "alert_rules"):
            raise NotConfigured
        return cls(crawler, settings)

    def _per_target(self) -> Mapping[str, str]:
        return getattr(self.crawler.spider, "alert_rules", None) or {}

    def spider_opened(self) -> None:
        if not get_str(self.crawler.settings, DB_URL_SETTING):
            logger.warning("Alerts are on but %s is not set: changes are found only by crawls that store "
                           "into a database, so none will match", DB_URL_SETTING)
        elif self.settings.webhook and not self.settings.rules and not self._per_target():
            logger.warning("%s is set but %s is not: no change will be posted", WEBHOOK_SETTING, RULES_SETTING)

    def rules_for(self, target: str | None) -> tuple[Rule, ...]:
        """The spider's own rules of *target*, else the global ones."""
        per_target = self._per_target()
        if target is None or target not in per_target:
            return self.settings.rules
        if target not in self._target_rules:
            spider = self.crawler.spidercls.name
            try:
                rules = parse_rules(per_target[target], source=f"alert_rules[{target!r}] of spider {spider!r}")
            except ConfigError as exc:
                logger.error("%s; the changes of %s match no rule", exc, target)
                rules = ()
            self._target_rules[target] = rules
        return self._target_rules[target]

    def change_recorded(
        self, change: Mapping[str, Any], target: str | None = None, targets: tuple[str, ...] = ()
    ) -> None:
        """Keep *change* for each of its *targets* (or its one *target*) whose rules it matches."""
        for key in targets or (target,):
            rules = matching(self.rules_for(key), change)
            if not rules:
                continue
            self.matched.setdefault(key, []).append(json_ready(dict(change)))
            stats = self.crawler.stats
            stats.inc_value("ali1688/alerts/matched")
            for rule in rules:
                self.rule_counts[str(rule)] += 1
                stats.inc_value(f"ali1688/alerts/matched/{rule}")

    async def spider_closed(self) -> None:
        self._log_summary()
        url = self.settings.webhook
        if url is None or not self.matched:
            return
        batches = [self._payload(target, changes) for target, changes in self.matched.items()]
        settings = self.settings
        results = await maybe_deferred_to_future(DeferredList(
            [deferToThread(post_webhook, url, payload, backoff=settings.backoff, timeout=settings.timeout)
             for payload in batches],
            consumeErrors=True,
        ))
        for payload, (succeeded, result) in zip(batches, results):
            delivery = result if succeeded else Delivery(1, f"{type(result.value).__name__}: {result.value}")
            self._account(url, payload, delivery)

    def _payload(self, target: str | None, changes: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "spider": self.crawler.spidercls.name,
            "target": target,
            "run_id": changes[0].get("run_id"),
            "changes": changes,
        }

    def _account(self, url: str, payload: dict[str, Any], delivery: Delivery) -> None:
        stats = self.crawler.stats
        if delivery.attempts > 1:
            stats.inc_value("ali1688/alerts/retries", delivery.attempts - 1)
        what = f"the {len(payload['changes'])} matching changes of {payload['target'] or 'no target'}"
        if delivery.delivered:
            stats.inc_value("ali1688/alerts/sent")
            logger.info("Alerts: %s posted to %s", what, url_origin(url))
            return
        stats.inc_value("ali1688/alerts/failed")
        assert delivery.problem is not None
        logger.error(
            "Alerts: the webhook %s (%s) did not take %s after %d attempt(s): %s",
            WEBHOOK_SETTING, url_origin(url), what, delivery.attempts, redact(delivery.problem, url_secrets(url)),
        )

    def _log_summary(self) -> None:
        if not self.settings.rules and not self._per_target():
            return
        if not self.rule_counts:
            logger.info("Alerts: no change matched the alert rules")
            return
        counts = ", ".join(f"{rule} {count}" for rule, count in sorted(self.rule_counts.items()))
        total = sum(len(changes) for changes in self.matched.values())
        targets = "" if list(self.matched) == [None] else f" in {len(self.matched)} target(s)"
        logger.info("Alerts: %d changes matched the alert rules (%s)%s", total, counts, targets)
