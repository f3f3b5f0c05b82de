"""Alert rules on the change feed: parsing ``ALI1688_ALERT_RULES`` and matching changes.

A rule is ``price_drop:PCT``, ``price_rise:PCT`` (PCT a positive number, percent),
``out_of_stock``, ``back_in_stock``, ``removed`` or ``new``. ``price_drop:5`` matches a
``price`` change whose ``change_pct`` (the relative change of the lowest price, negative =
cheaper) is -5 or lower, ``price_rise:5`` one of +5 or higher; the other rules match the
changes of their kind, SKU-level ones included. Plain Python: the alerts extension and the
spiders that set per-target rules (``alert_rules``) parse with the same function.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ali1688spider.config import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable

RULES_SETTING = "ALI1688_ALERT_RULES"
WEBHOOK_SETTING = "ALI1688_ALERT_WEBHOOK"
#: Rules with a percent threshold, and the direction of the price change each one watches.
PRICE_RULES = {"price_drop": -1, "price_rise": 1}
#: Rules that match every change of the kind they are named after.
KIND_RULES = ("out_of_stock", "back_in_stock", "removed", "new")
VALID_FORMS = "price_drop:PCT, price_rise:PCT (PCT a positive number, percent), " + ", ".join(KIND_RULES)


@dataclass(frozen=True)
class Rule:
    """One alert rule; ``str(rule)`` is its text (``price_drop:5``), the name stats and
    summaries use."""

    name: str
    threshold: Decimal | None = None

    def __str__(self) -> str:
        return self.name if self.threshold is None else f"{self.name}:{self.threshold}"

    def matches(self, change: Mapping[str, Any]) -> bool:
        kind = change.get("kind")
        if self.threshold is None:
            return kind == self.name
        if kind != "price":
            return False
        pct = _decimal(change.get("change_pct"))
        if pct is None:
            return False
        direction = PRICE_RULES[self.name]
        return pct * direction >= self.threshold


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_rules(text: str | None, *, source: str = RULES_SETTING) -> tuple[Rule, ...]:
    """The rules of a comma list (empty entries and repeats ignored); ConfigError naming
    *source*, the bad entry and the valid forms."""
    rules: list[Rule] = []
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        rule = _parse_rule(entry, source)
        if rule not in rules:
            rules.append(rule)
    return tuple(rules)


def _parse_rule(entry: str, source: str) -> Rule:
    name, colon, value = (part.strip() for part in entry.partition(":"))
    name = name.lower()
    if name in PRICE_RULES:
        threshold = _decimal(value) if colon else None
        if threshold is None or threshold <= 0:
            why = "needs a percent" if not colon or not value else "needs a positive number of percent"
            raise ConfigError(f"{source}: {entry!r} {why}; valid rules: {VALID_FORMS}")
        # ``5``, ``5.0`` and ``05`` are one rule, named ``price_drop:5``.
        threshold = threshold.normalize()
        if threshold == threshold.to_integral_value():
            threshold = threshold.quantize(Decimal(1))
        return Rule(name, threshold)
    if name in KIND_RULES and not colon:
        return Rule(name)
    why = "takes no value" if name in KIND_RULES else "is not a rule"
    raise ConfigError(f"{source}: {entry!r} {why}; valid rules: {VALID_FORMS}")


def matching(rules: Iterable[Rule], change: Mapping[str, Any]) -> list[Rule]:
    """The rules among *rules* that *change* matches."""
    return [rule for rule in rules if rule.matches(change)]


def check_webhook_url(url: str | None) -> str | None:
    """*url* when it is an http(s) URL with a host; ConfigError naming the setting (without the
    URL, which may hold a secret) otherwise."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a malformed port raises here, not at the first POST
    except ValueError as exc:
        raise ConfigError(f"{WEBHOOK_SETTING} is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError(
            f"{WEBHOOK_SETTING} must be an http:// or https:// URL, got scheme {parts.scheme or 'none'!r}"
        )
    if not host:
        raise ConfigError(f"{WEBHOOK_SETTING} must name a host (http://HOST/…)")
    return url


def json_ready(value: Any) -> Any:
    """*value* with decimals as strings and times in ISO 8601, for a JSON body."""
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_ready(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
