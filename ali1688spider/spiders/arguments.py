"""Spider ``-a`` arguments: declared per spider, parsed and checked before the crawl starts.

A wrong argument stops the crawl before any call with one line that says what to fix.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ali1688spider.api.china_time import CHINA_TIME

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

#: Arguments that tools pass to every spider (scrapyd's job id); accepted and ignored.
IGNORED_ARGUMENTS = frozenset({"_job"})


class SpiderArgumentError(ValueError):
    """A spider argument is unknown, missing or malformed; the message says which and why."""


@dataclass(frozen=True)
class Argument:
    """How to read one ``-a name=value`` argument."""

    parse: Callable[[str], Any]
    help: str
    default: Any = None


def has_job_arguments(raw: Mapping[str, Any]) -> bool:
    """Whether ``-a`` arguments describe a job (tools like scrapyd add ``_job`` to every run)."""
    return bool(set(raw) - IGNORED_ARGUMENTS)


def parse_arguments(
    spider_name: str, declared: Mapping[str, Argument], raw: Mapping[str, Any]
) -> dict[str, Any]:
    """Typed values of every declared argument (defaults filled in) from the raw strings."""
    unknown = sorted(set(raw) - set(declared) - IGNORED_ARGUMENTS)
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise SpiderArgumentError(
            f"spider {spider_name!r} does not take argument(s) {', '.join(unknown)}; "
            f"it takes: {known}"
        )
    values: dict[str, Any] = {}
    for name, argument in declared.items():
        if name not in raw or raw[name] is None:
            values[name] = argument.default
            continue
        try:
            values[name] = argument.parse(str(raw[name]).strip())
        except (ValueError, OSError) as exc:
            # A parser's own message may already say what it expects.
            hint = "" if "(expected" in str(exc) else f" (expected {argument.help})"
            raise SpiderArgumentError(
                f"argument {name}={raw[name]!r} of spider {spider_name!r}: {exc}{hint}"
            ) from None
    return values


def as_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("not a yes/no value")


def as_positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be > 0")
    return value


def as_non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def as_price(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not value.is_finite() or value < 0:
        raise ValueError("must be a non-negative number")
    return value


def as_datetime(text: str) -> dt.datetime:
    """An ISO date or date-time; naive values are China time (the platform's clock)."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not an ISO date such as 2026-01-31 or 2026-01-31T08:00:00+08:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA_TIME)
    return value


def as_existing_file(text: str) -> Path:
    path = Path(text).expanduser()
    if path.is_dir():
        raise ValueError(f"{path} is a directory: give the path of a file in it")
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    return path


def as_text(text: str) -> str:
    if not text:
        raise ValueError("must not be empty")
    return text
