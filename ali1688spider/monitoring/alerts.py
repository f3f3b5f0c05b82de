"""Alerts: the changes that match ``ALI1688_ALERT_RULES``, posted to ``ALI1688_ALERT_WEBHOOK``.

The extension listens to ``change_recorded`` (sent once per committed change) and keeps the
changes that match the rules, per crawl target. A spider may give a target rules of its own
(``alert_rules = {target key: rules text}``), which replace the global ones for it. When the
spider closes, every pipeline has committed its last batch: one line sums up what matched
(per rule), and with a webhook each target with matching changes gets one JSON POST
``{"spider", "target", "run_id", "changes": [...]}``, sent from a daemon thread, retried on
network errors, timeouts, 5xx and 429 answers (``WEBHOOK_ATTEMPTS`` attempts, waiting
``ALI1688_ALERT_BACKOFF`` seconds, then twice that, …). Each attempt must be over within
``ALI1688_ALERT_TIMEOUT`` seconds (connect, send and read together) and reads no body of the
answer, so a slow or huge receiver never holds the close. A delivery that fails is one
error line and ``ali1688/alerts/failed``; it never changes the crawl's close reason.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import logging
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured

from ali1688spider.monitoring.rules import (
    RULES_SETTING,
    WEBHOOK_SETTING,
    check_webhook_url,
    json_ready,
    matching,
    parse_rules,
)
from ali1688spider.monitoring.changes import change_recorded
from ali1688spider.config import DB_URL_SETTING, ConfigError, get_float, get_str
from ali1688spider.redact import redact, url_secret_parts

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from scrapy.crawler import Crawler
    from typing_extensions import Self

    from ali1688spider.monitoring.rules import Rule

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
    #: Seconds one attempt may take: connecting, sending and reading the answer together.
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
    exponential back-off. Each attempt has one overall deadline, *timeout* seconds for
    connecting, sending and reading the status and headers together (a receiver that trickles
    its answer is cut off); the answer's body is never read: its status is all that counts.
    Blocking: run it in a thread.

    A redirect is not followed (a client would repeat a POST as a GET, without the body).
    """
    body = json.dumps(payload, ensure_ascii=False).encode()
    problem = None
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            sleep(backoff * 2 ** (attempt - 2))
        try:
            status, reason = _post_once(url, body, timeout)
        except (OSError, http.client.HTTPException) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            continue
        if status < 300:
            return Delivery(attempt)
        problem = f"HTTP {status} {reason}".rstrip()
        if status not in RETRIED_STATUS:
            return Delivery(attempt, problem)
    return Delivery(attempts, problem)


class DeadlinePassed(OSError):
    """The receiver did not answer within the attempt's deadline."""


def _post_once(url: str, body: bytes, deadline: float) -> tuple[int, str]:
    """One POST within *deadline* seconds overall: ``(status, reason)``."""
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=deadline)
    expired = threading.Event()

    def cut_off() -> None:
        expired.set()
        if connection.sock is not None:
            connection.sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(deadline, cut_off)
    watchdog.daemon = True
    watchdog.start()
    headers = {"Content-Type": "application/json", "User-Agent": "ali1688spider-alerts"}
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
    try:
        connection.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body, headers)
        answer = connection.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        # A socket timeout is the same deadline, passed without a byte: whichever of the two
        # notices first, the attempt took too long.
        if not (expired.is_set() or isinstance(exc, TimeoutError)):
            raise
        answer = None
    finally:
        watchdog.cancel()
        connection.close()
    # Cut off mid-headers, http.client may take the end of the stream for their end.
    if answer is None or expired.is_set():
        raise DeadlinePassed(f"no complete answer within {deadline:g} s (ALI1688_ALERT_TIMEOUT)")
    return answer.status, answer.reason


def in_daemon_thread(function: Callable[[], Delivery]) -> asyncio.Future[Delivery]:
    """*function*'s result on the running event loop. A daemon thread, not the reactor's pool,
    whose threads a stopping reactor (a second Ctrl-C) would wait for."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Delivery] = loop.create_future()

    def run() -> None:
        try:
            result = function()
        except Exception as exc:  # reported like a failed delivery, never raised into the close
            result = Delivery(1, f"{type(exc).__name__}: {exc}")
        loop.call_soon_threadsafe(lambda: future.done() or future.set_result(result))

    threading.Thread(target=run, name="ali1688-webhook", daemon=True).start()
    return future


def url_origin(url: str) -> str:
    """``scheme://host:port`` of *url*: what a log line may show of a webhook, whose path,
    query and userinfo often hold its secret."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


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
        deliveries = [in_daemon_thread(partial(post_webhook, url, payload, backoff=settings.backoff,
                                               timeout=settings.timeout)) for payload in batches]
        # Every attempt has its deadline; this bound only guards against a stuck resolver.
        longest = WEBHOOK_ATTEMPTS * settings.timeout + settings.backoff * (2 ** (WEBHOOK_ATTEMPTS - 1)) + 1
        await asyncio.wait(deliveries, timeout=longest)
        for payload, delivery in zip(batches, deliveries):
            late = Delivery(WEBHOOK_ATTEMPTS, f"no answer within {longest:g} s")
            self._account(url, payload, delivery.result() if delivery.done() else late)

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
            WEBHOOK_SETTING, url_origin(url), what, delivery.attempts, redact(delivery.problem, url_secret_parts(url)),
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
