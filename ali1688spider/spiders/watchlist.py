"""Watchlists: a TOML file naming the shops, searches and product ids to watch.

    alert = "price_drop:5,out_of_stock"     # rules of every entry without its own (optional)

    [[shop]]                                 # the arguments of the shop spider
    seller_open_id = "4l18wsf53ns2fplfiuc96"
    details = true
    alert = ["price_drop:10", "removed", "new"]

    [[search]]                               # the arguments of the search spider
    keyword = "饼干"
    max_pages = 2

    [[products]]                             # the arguments of the product spider
    name = "bestsellers"                     # (optional) names the target in reports
    ids = ["646942518819", "https://detail.1688.com/offer/610000000001.html"]

Every entry is checked with its spider's own argument rules when the file is read, so a wrong
key, a bad id or a malformed rule stops the crawl before any call, with one line naming the
entry. Each entry is one target: one crawl report, and its own alert rules.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ali1688spider.spiders.arguments import SpiderArgumentError
from ali1688spider.spiders.shop.jobs import job_key

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from ali1688spider.spiders.base import Ali1688Spider

KINDS = ("shop", "search", "products")
#: Keys of an entry that are not spider arguments.
ENTRY_KEYS = ("alert", "name")


class WatchlistError(SpiderArgumentError):
    """A watchlist cannot be used; the message names the file, the entry and the fix."""


@dataclass(frozen=True)
class WatchEntry:
    """One thing to watch: its kind, its spider arguments (as ``-a`` strings), its rules."""

    kind: str
    number: int
    arguments: dict[str, str]
    alert: str | None = None
    name: str | None = None

    @property
    def where(self) -> str:
        return f"[[{self.kind}]] #{self.number}" + (f" ({self.name})" if self.name else "")

    def to_seed(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)


def spider_class(kind: str) -> type[Ali1688Spider]:
    """The spider whose arguments an entry of *kind* takes."""
    from ali1688spider.spiders.product import ProductSpider
    from ali1688spider.spiders.search import SearchSpider
    from ali1688spider.spiders.shop.spider import ShopSpider

    return {"shop": ShopSpider, "search": SearchSpider, "products": ProductSpider}[kind]


def target_key(entry: WatchEntry, values: dict[str, Any]) -> str:
    """The target an entry's products, report and alert rules are known by."""
    if entry.kind == "shop":
        return job_key(values)
    if entry.kind == "search":
        return "search:" + " ".join(f"{k}={v}" for k, v in sorted(entry.arguments.items()))
    return f"products:{entry.name or entry.number}"


def _argument_text(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if key == "ids" and isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return ",".join(str(v) for v in value)
    raise ValueError(f"{key} must be text, a number or true/false, not {type(value).__name__}")


def _rules_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise ValueError('alert must be a text like "price_drop:5,removed" or a list of such rules')


def parse_entry(kind: str, number: int, table: Any, *, default_alert: str | None,
                check_rules: Callable[[str], object]) -> WatchEntry:
    """One entry of *kind*: known keys, *check_rules* (alert rules); its spider arguments are
    checked by ``check_entry``."""
    if not isinstance(table, dict):
        raise ValueError(f"[[{kind}]] entries are tables of key = value lines")
    spider = spider_class(kind)
    unknown = sorted(set(table) - set(spider.arguments) - set(ENTRY_KEYS))
    if unknown:
        known = ", ".join(sorted([*spider.arguments, *ENTRY_KEYS]))
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; a [[{kind}]] entry takes: {known}")
    alert = _rules_text(table["alert"]) if "alert" in table else default_alert
    if alert is not None:
        check_rules(alert)
    name = table.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError("name must be text")
    arguments = {key: _argument_text(value, key) for key, value in table.items() if key not in ENTRY_KEYS}
    return WatchEntry(kind, number, arguments, alert, name)


def check_entry(entry: WatchEntry) -> dict[str, Any]:
    """The parsed spider arguments of *entry* (SpiderArgumentError when they are wrong)."""
    return spider_class(entry.kind).check_arguments(entry.arguments)


def load_watchlist(path: Path, *, check_rules: Callable[[str], object]) -> list[WatchEntry]:
    """Every entry of the watchlist at *path*, in file order by kind; WatchlistError naming the
    entry and what to fix."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WatchlistError(f"watchlist {path}: cannot read it ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WatchlistError(f"watchlist {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise WatchlistError(f"watchlist {path} nests tables or arrays too deeply to be a watchlist: "
                             "a watchlist holds [[shop]], [[search]] and [[products]] tables of plain values") from None
    unknown = sorted(set(data) - set(KINDS) - {"alert"})
    if unknown:
        raise WatchlistError(
            f"watchlist {path}: unknown key(s) {', '.join(unknown)}; it takes alert = \"RULES\" "
            f"and [[shop]], [[search]], [[products]] entries"
        )
    entries: list[WatchEntry] = []
    targets: dict[str, str] = {}
    try:
        default_alert = _rules_text(data["alert"]) if "alert" in data else None
        if default_alert is not None:
            check_rules(default_alert)
    except ValueError as exc:
        raise WatchlistError(f"watchlist {path}: {exc}") from None
    for kind in KINDS:
        tables = data.get(kind, [])
        if not isinstance(tables, list):
            raise WatchlistError(f"watchlist {path}: write [[{kind}]] (an array of tables), not [{kind}]")
        for number, table in enumerate(tables, start=1):
            where = f"[[{kind}]] #{number}"
            try:
                entry = parse_entry(kind, number, table, default_alert=default_alert, check_rules=check_rules)
                key = target_key(entry, check_entry(entry))
            except ValueError as exc:
                raise WatchlistError(f"watchlist {path}: {where}: {exc}") from None
            if key in targets:
                raise WatchlistError(f"watchlist {path}: {where} watches {key} again (as {targets[key]}): drop one")
            targets[key] = where
            entries.append(entry)
    if not entries:
        raise WatchlistError(f"watchlist {path} names nothing to watch: add [[shop]], [[search]] or [[products]] entries")
    return entries


def entry_from_seed(text: str) -> WatchEntry:
    """The entry ``ali1688 enqueue --watchlist`` queued (already checked when queued)."""
    data = json.loads(text)
    return WatchEntry(data["kind"], data["number"], dict(data["arguments"]), data.get("alert"), data.get("name"))
