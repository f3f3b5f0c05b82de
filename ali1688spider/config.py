"""The ``ALI1688_*`` settings: defaults, environment fallback and typed, validated getters.

Every setting may come from the Scrapy settings (``-s``, ``settings.py``, ``custom_settings``)
or, when not set there, from the environment variable of the same name.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

DEFAULT_GATEWAY_URL = "https://gw.open.1688.com/openapi"
PREFIX = "ALI1688_"
#: The database of the SQL pipeline; also read by the crash guard, which must not import
#: SQLAlchemy for crawls that store nothing.
DB_URL_SETTING = "ALI1688_DB_URL"


@dataclass(frozen=True)
class Setting:
    """One ``ALI1688_*`` setting; the docs' settings reference is generated from these."""

    name: str
    default: Any
    #: What it means, in reStructuredText (the reference renders it; ``ALI1688_*`` names in
    #: double backquotes become links).
    doc: str
    #: The heading the settings reference files it under.
    topic: str = ""


def topic(title: str, *settings: Setting) -> tuple[Setting, ...]:
    """*settings* filed under the reference's heading *title*."""
    return tuple(replace(setting, topic=title) for setting in settings)


SETTINGS: tuple[Setting, ...] = (
    *topic("Credentials and the gateway",
        Setting("ALI1688_APP_KEY", None,
                "The app key of your 1688 application. Unset (and no ``ALI1688_CREDENTIALS``): "
                "calls go to a sandbox gateway, see ``ALI1688_SANDBOX``."),
        Setting("ALI1688_APP_SECRET", None,
                "The app secret every call is signed with. The ``ali1688`` commands read it from "
                "here or the environment only, never from a flag (flags end up in shell history)."),
        Setting("ALI1688_ACCESS_TOKEN", None,
                "The OAuth access token calls are made with; tokens in ``ALI1688_TOKEN_STORE`` win "
                "over it. An expired token is refreshed once, then the call is retried."),
        Setting("ALI1688_REFRESH_TOKEN", None,
                "The OAuth refresh token that gets a new access token when the gateway refuses the "
                "current one or it is about to expire."),
        Setting("ALI1688_CREDENTIALS", None,
                "Several credential sets: a JSON list of objects with ``app_key``, ``app_secret``, "
                "``access_token`` and ``refresh_token``, or the path of a JSON file holding that "
                "list. Calls go round robin over them (and ``ALI1688_APP_KEY``, if set too), each "
                "within its own ``ALI1688_QPS`` and ``ALI1688_DAILY_QUOTA``."),
        Setting("ALI1688_GATEWAY_URL", DEFAULT_GATEWAY_URL,
                "Where calls go. With no credentials set, any other URL than 1688's names a "
                "running ``ali1688 sandbox``, called with its public credentials."),
        Setting("ALI1688_SANDBOX", "auto",
                "``auto``: the embedded sandbox gateway (synthetic data) when no app key is set; "
                "``on``: always the embedded sandbox; ``off``: never a sandbox, so credentials "
                "must be set."),
        Setting("ALI1688_PROTOCOL", "aop",
                "``aop`` (param2 URLs, HMAC-SHA1 signatures) or ``top`` (router/rest, signed as "
                "``ALI1688_TOP_SIGN_METHOD`` says)."),
        Setting("ALI1688_TOP_SIGN_METHOD", "hmac-sha256",
                "How ``top`` calls are signed: ``md5``, ``hmac`` or ``hmac-sha256``."),
        Setting("ALI1688_COUNTRY", "en",
                "The language code the cross-border APIs require (their ``country`` parameter)."),
        Setting("ALI1688_REDIRECT_URI", None,
                "The redirect URI registered for the app: the default of ``ali1688 auth``'s "
                "``--redirect-uri``."),
    ),
    *topic("Tokens",
        Setting("ALI1688_TOKEN_STORE", None,
                "Where tokens are kept, per app key: a JSON file (replaced atomically) or a "
                "``redis://`` URL; unset with ``ALI1688_REDIS_URL`` set, tokens live in that Redis. "
                "Crawls start from the stored tokens and write every refreshed token back."),
        Setting("ALI1688_TOKEN_STORE_MODE", "0600",
                "File mode (octal) a token store file is written with; a file other users may "
                "read is reported."),
        Setting("ALI1688_TOKEN_REFRESH_MARGIN", 300.0,
                "Seconds before the access token expires at which it is refreshed."),
    ),
    *topic("Pacing, budgets and retries",
        Setting("ALI1688_QPS", 10.0,
                "The most calls per second per app key, counted across all workers of a "
                "distributed crawl: a ceiling, below which the pacer learns the gateway's real "
                "limit."),
        Setting("ALI1688_DAILY_QUOTA", 0,
                "Calls per app key per China day (0: no quota); counted in Redis in distributed "
                "mode, else in the process. Once spent the crawl closes with "
                "``ali1688_quota_exhausted``."),
        Setting("ALI1688_MAX_REQUESTS", 0,
                "The crawl's call budget (0: none); once spent the crawl closes with "
                "``ali1688_budget_spent``."),
        Setting("ALI1688_RETRY_TIMES", 8,
                "Retries of a call after server errors, broken answers and network errors."),
        Setting("ALI1688_QPS_RETRY_TIMES", 20,
                "Retries of a call after QPS-limit answers (the pacer decides when each goes)."),
        Setting("ALI1688_BACKOFF_BASE", 0.5,
                "Seconds of the first back-off before a retry; it grows exponentially, with "
                "jitter."),
        Setting("ALI1688_BACKOFF_MAX", 30.0, "The longest back-off before a retry, in seconds."),
    ),
    *topic("Listings",
        Setting("ALI1688_PAGE_SIZE", 0,
                "Entries per listing page; 0: the API's maximum (getList 30), else 50."),
        Setting("ALI1688_MAX_PAGES", 50,
                "Pages a listing serves at most (50 in the field, undocumented): the shop spider "
                "keeps every slice within it, and a search reads no more pages."),
        Setting("ALI1688_SPLIT_ORDER", None,
                "Preferred dimensions to split an oversized shop listing by, among ``category``, "
                "``price`` and ``time`` (e.g. ``category``: the category tree first); the API's "
                "other dimensions follow, the ones it cannot filter by are skipped. Unset: price, "
                "then category for the seller listing; modification day, then category for "
                "getList."),
        Setting("ALI1688_STATE_FILE", "state/ali1688-sync.json",
                "The high-water marks of complete shop crawls, for ``-a incremental=1``."),
    ),
    *topic("Reports and stats",
        Setting("ALI1688_DATA_DIR", None,
                "The directory that relative paths of ``ALI1688_REPORT_FILE``, "
                "``ALI1688_STATE_FILE``, ``ALI1688_MONITOR_HISTORY`` and ``ALI1688_TOKEN_STORE`` "
                "are resolved against. Unset: the Scrapy project's directory (the one holding "
                "the nearest ``scrapy.cfg``, as for Scrapy's own ``.scrapy``) when the command "
                "runs inside a project, else the user's data directory "
                "(``$XDG_DATA_HOME/ali1688spider``, by default ``~/.local/share/ali1688spider``)."),
        Setting("ALI1688_COMPLETENESS_MIN", 0.97,
                "Below this share of the platform's total a shop crawl closes with "
                "``ali1688_incomplete``."),
        Setting("ALI1688_REPORT_FILE", "reports/%(spider)s-%(time)s.json",
                "Where each shop's crawl report goes; ``%(target)s`` is the shop. Several shops "
                "without it: one file each, suffixed."),
        Setting("ALI1688_PROGRESS_INTERVAL", 10.0, "Seconds between progress lines; 0: none."),
        Setting("ALI1688_STATS_FILE", None,
                "Write the crawl's final stats as JSON there (for monitors and tests)."),
    ),
    *topic("Validation and the database",
        Setting("ALI1688_VALIDATION", "drop",
                "``drop`` invalid products, or ``flag`` them: kept in the feed with a warning, "
                "never stored."),
        Setting(DB_URL_SETTING, None,
                "The database products and categories are stored in: ``sqlite:///PATH`` or "
                "``postgresql+psycopg://…`` (plain ``postgresql://`` uses psycopg 3). Unset: "
                "nothing is stored."),
        Setting("ALI1688_DB_BATCH_SIZE", 500,
                "Items per transaction; items reach the feed once their transaction committed."),
        Setting("ALI1688_DB_FLUSH_SECONDS", 0.1,
                "Commit what arrived within this many seconds even if the batch is not full. Keep it "
                "short: a response's items wait for their commit, and Scrapy hands the downloader "
                "new requests as responses finish, so a long wait leaves the call rate unused."),
        Setting("ALI1688_DB_WRITER_AFTER", 1000,
                "Items a crawl stores from its own worker thread at most: the batch that passes it "
                "and the rest go to a writer process the crawl then starts (``storage.writer``: the "
                "store's work on another core). A small crawl "
                "spares that process's start (about 0.4 s of CPU); 0 starts it for the first batch."),
        Setting("ALI1688_DB_CHANGES", "on",
                "``on``: each batch also records what changed about its products (the change feed, "
                "``product_changes``); ``off``: products and price history only."),
        Setting("ALI1688_REMOVAL_PROOF", "detail",
                "What proves that a stored product absent from a complete listing of its shop (a "
                "suspect) is gone. ``detail``: one detail call per suspect at the end of the crawl; "
                "it is removed when the API answers that it does not exist, and also when the next "
                "complete listing still lacks it. ``listings``: no call; removed only when two "
                "consecutive complete listings lack it."),
        Setting("ALI1688_HISTORY_DAILY_AFTER_DAYS", 30,
                "Each crawl that stores records a product's sales, stock and lowest price "
                "(``observations``) when one of them moved; at the end of a crawl, points older "
                "than this many days are thinned to one a day per product (the day's last). 0: "
                "every point is kept."),
        Setting("ALI1688_REPORT_HTML", None,
                "After each crawl that stores into ``ALI1688_DB_URL`` (a daily ``watch`` run, say), "
                "write one self-contained HTML page there: the keyword report of each search the "
                "crawl made (unit prices at 1 piece) and the shop report of each whole shop it listed "
                "(the last 30 days). ``%(spider)s`` and ``%(time)s`` (the crawl's start, UTC) make "
                "one file per run, e.g. ``reports/%(spider)s-%(time)s.html``. Needs the ``chart`` extra."),
        Setting("ALI1688_DETAIL_MAX_AGE", "7d",
                "With ``details=changed``: a product whose stored detail is older than this gets "
                "a detail call even when its listing entry shows no change (stock and SKUs are "
                "not in listings); seconds, or ``12h``, ``7d``; ``0``: never for age alone."),
        Setting("ALI1688_REMOVAL_MAX_SHARE", 0.2,
                "When more than this share of a shop's stored products is missing from its listing, "
                "the listing is suspect itself: nothing is removed and one warning says so."),
    ),
    *topic("Distributed mode",
        Setting("ALI1688_REDIS_URL", None,
                "``redis://…``: distributed mode. The request queue and dupefilter, the pace, the "
                "daily quota and the tokens are shared in that Redis."),
        Setting("ALI1688_REDIS_PREFIX", "ali1688",
                "Prefix of every Redis key: ``{prefix}:{spider}:seeds``, ``:requests`` (and its "
                "``:leases``), "
                "``:dupefilter``, ``{prefix}:rate:{app key}``, ``{prefix}:quota:{app key}:{day}``, "
                "``{prefix}:tokens:{app key}``, ``{prefix}:httpcache:{spider}:{fingerprint}``."),
        Setting("ALI1688_REDIS_IDLE_TIMEOUT", 30.0,
                "Seconds a worker waits with no job, no queued request and no call in flight "
                "before it stops (0: it never stops)."),
        Setting("ALI1688_REDIS_LEASE_SECONDS", 60.0,
                "A request a worker takes from the shared queue is leased to it for this long, "
                "renewed while the worker lives; the lease of a worker that died returns the "
                "request to the queue after at most this many seconds."),
        Setting("ALI1688_REDIS_OUTAGE_SECONDS", 300.0,
                "How long a worker waits for an unreachable Redis (holding new requests, "
                "pausing calls) before it closes with ``ali1688_redis_unavailable``."),
    ),
    *topic("The HTTP cache",
        Setting("ALI1688_CACHE_EXPIRY", None,
                "With Scrapy's ``HTTPCACHE_ENABLED`` on: how long each kind of answer is served "
                "from the cache, as ``kind=duration`` pairs (``details=2h,listings=30m``; "
                "durations in seconds or with ``s``, ``m``, ``h``, ``d``; ``0``: not cached) over "
                "the defaults ``categories=3d,details=1h,listings=1h,own=0``. ``own`` is the "
                "authorizing seller's own catalogue and account, whose answers depend on the "
                "token, which no cache key names."),
    ),
    *topic("Alerts on the change feed",
        Setting("ALI1688_ALERT_RULES", None,
                "Which recorded changes are alerts: a comma list of ``price_drop:PCT`` (a price "
                "change whose lowest price fell by PCT percent or more), ``price_rise:PCT``, "
                "``out_of_stock``, ``back_in_stock`` (SKU-level ones too), ``removed`` and ``new``; "
                "e.g. ``price_drop:5,out_of_stock``. A spider's ``alert_rules`` (target key -> "
                "rules) replace them for its targets. The matches are summed up in one line at "
                "the end, and posted to ``ALI1688_ALERT_WEBHOOK`` when set."),
        Setting("ALI1688_ALERT_WEBHOOK", None,
                "An ``http://`` or ``https://`` URL that gets, at the end of a crawl, one JSON POST "
                "per target with matching changes: ``{\"spider\", \"target\", \"run_id\", "
                "\"changes\": [...]}``. Retried on network errors, timeouts, 5xx and 429 answers "
                "(4 attempts); a failed delivery is logged and counted, and never fails the crawl. "
                "Logs show only its scheme, host and port."),
        Setting("ALI1688_ALERT_BACKOFF", 1.0,
                "Seconds before the first retry of a webhook POST; each later retry waits twice "
                "as long (1, 2, 4 s)."),
        Setting("ALI1688_ALERT_TIMEOUT", 10.0,
                "Seconds one attempt of a webhook POST may take in all: connecting, sending and "
                "reading the answer (of which a few KB are read). A receiver still answering then "
                "is cut off and the attempt counts as failed."),
    ),
    *topic("Crawl-health monitors (Spidermon, the ``monitoring`` extra)",
        Setting("ALI1688_MONITOR_MAX_QPS_REFUSALS", 0.2,
                "The crawl-health monitors fail when more than this share of the calls was "
                "refused for rate (``ali1688/errors/qps_limit`` over ``ali1688/calls``)."),
        Setting("ALI1688_MONITOR_MAX_ERROR_RATE", 0.1,
                "The crawl-health monitors fail when more than this share of the calls failed: "
                "error answers other than QPS refusals and not-found, plus network errors."),
        Setting("ALI1688_MONITOR_ACCEPT_PARTIAL", False,
                "Whether the completeness monitor accepts a ``partial`` crawl report verdict; "
                "otherwise only ``complete`` passes."),
        Setting("ALI1688_MONITOR_HISTORY", "reports/monitor-history.json",
                "The JSON file where the item-count monitor keeps each (spider, target)'s item "
                "count of its last run (replaced atomically)."),
        Setting("ALI1688_MONITOR_MIN_ITEM_RATIO", 0.9,
                "The item-count monitor fails when a crawl delivered fewer items than this share "
                "of the last run of the same spider and target."),
    ),
    *topic("The add-on in your own project",
        Setting("ALI1688_FALLBACK_HTTP_HANDLER", None,
                "Set by the add-on: the download handler the project had for ``http`` before the "
                "add-on took its place; it gets every ``http`` request that is not an API call. "
                "Unset: Scrapy's HTTP/1.1 handler."),
        Setting("ALI1688_FALLBACK_HTTPS_HANDLER", None,
                "The same for ``https``."),
    ),
)
DEFAULTS: dict[str, Any] = {setting.name: setting.default for setting in SETTINGS}


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the setting."""


def get_setting(settings: Mapping[str, Any], name: str) -> Any:
    """Value of *name*: Scrapy settings first, then the environment, then the default."""
    value = settings.get(name)
    if value is None or value == "":
        value = os.environ.get(name) or None
    if value is None:
        value = DEFAULTS.get(name)
    return value


def get_str(settings: Mapping[str, Any], name: str) -> str | None:
    value = get_setting(settings, name)
    return None if value is None else str(value).strip() or None


def data_dir(settings: Mapping[str, Any]) -> Path:
    """``ALI1688_DATA_DIR``; unset, the project's directory (where the nearest ``scrapy.cfg``
    is) or, outside any project, the user's data directory: never the installed package, never
    wherever the command happened to run."""
    # Imported here: the database writer process reads settings names from this module
    # without loading Scrapy.
    from scrapy.utils.conf import closest_scrapy_cfg

    configured = get_str(settings, "ALI1688_DATA_DIR")
    if configured:
        return Path(configured).expanduser().absolute()
    project_cfg = closest_scrapy_cfg()
    if project_cfg:
        return Path(project_cfg).parent
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "ali1688spider"


def in_data_dir(settings: Mapping[str, Any], path: str | Path) -> Path:
    """*path* as given when absolute (``~`` expanded), else under ``data_dir(settings)``."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else data_dir(settings) / path


def get_path(settings: Mapping[str, Any], name: str) -> Path | None:
    """The file a path setting names (``in_data_dir``), or None when it is unset."""
    value = get_str(settings, name)
    return None if value is None else in_data_dir(settings, value)


def get_float(settings: Mapping[str, Any], name: str, *, minimum: float = 0.0) -> float:
    raw = get_setting(settings, name)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum:g}, got {raw!r}")
    return value


def get_int(settings: Mapping[str, Any], name: str, *, minimum: int = 0) -> int:
    raw = get_setting(settings, name)
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {raw!r}")
    return value


#: How ``get_bool`` reads text (settings from ``-s`` and the environment are strings).
BOOLEAN_WORDS = {"1": True, "true": True, "yes": True, "on": True,
                 "0": False, "false": False, "no": False, "off": False}


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(text: Any) -> float:
    """Seconds of ``"90"``, ``"90s"``, ``"30m"``, ``"1h"`` or ``"3d"``; ValueError otherwise."""
    match = _DURATION.match(str(text))
    if match is None:
        raise ValueError(text)
    number, unit = match.groups()
    return float(number) * _UNITS[unit or "s"]


def get_duration(settings: Mapping[str, Any], name: str) -> float:
    """Seconds of a duration setting (``parse_duration``); ConfigError naming it."""
    raw = get_setting(settings, name)
    try:
        return parse_duration(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a duration (seconds, or 30m, 12h, 7d), got {raw!r}") from None


def get_bool(settings: Mapping[str, Any], name: str) -> bool:
    value = get_setting(settings, name)
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word not in BOOLEAN_WORDS:
        raise ConfigError(f"{name} must be 1/0, true/false, yes/no or on/off, got {value!r}")
    return BOOLEAN_WORDS[word]


def get_choice(settings: Mapping[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = (get_str(settings, name) or "").lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def misspelt_settings(names: Iterable[str]) -> list[tuple[str, str | None]]:
    """Each ``ALI1688_*`` name among *names* that no component reads, with the known setting
    it most looks like (or None)."""
    found = []
    for name in sorted(set(names)):
        if name.startswith(PREFIX) and name not in DEFAULTS:
            close = difflib.get_close_matches(name, DEFAULTS, n=1, cutoff=0.6)
            found.append((name, close[0] if close else None))
    return found
