"""The ali1688spider add-on: ``ADDONS = {"ali1688spider.Addon": 500}`` in any Scrapy project.

It wires everything a crawl of the 1688 API needs, at add-on priority so that the project's own
settings win, and leaves in place what the project already has:

- the signing download handler for ``http``/``https``; the handlers the project had for them
  stay in charge of every request that is not an API call (``ALI1688_FALLBACK_HTTP_HANDLER``,
  ``ALI1688_FALLBACK_HTTPS_HANDLER``);
- the error middleware and the call-safe HTTP cache (in place of Scrapy's cache middleware),
  the spider middleware that hands output on in steps the pacer's timers fit between, the
  feed exporter that closes on a failed write, progress, alerts, the stats file and the crash
  guard, and the validation, dedupe, completeness and SQL pipelines; each only where the
  project does not list it already (its own order, or ``None``, wins);
- the cache policy, the guarded scheduler, the JSON exporters and the CSV exporter with JSON
  cells, UTF-8 feeds, a log formatter that builds no line below ``LOG_LEVEL``, and the
  concurrency an API crawl needs; and distributed mode when ``ALI1688_REDIS_URL`` is set.

Which of the optional parts do anything follows the ``ALI1688_*`` settings, as each component
decides in ``from_crawler``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.misc import load_object

from ali1688spider.config import ConfigError
from ali1688spider.distributed.addon import DistributedAddon
from ali1688spider.exporters import EXPORTERS
from ali1688spider.gateway.request import API_DOWNLOAD_SLOT

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

HANDLER = "ali1688spider.gateway.handler.SigningDownloadHandler"
#: The project's own handler of each scheme, kept for the requests that are not API calls.
FALLBACK_SETTINGS = {"http": "ALI1688_FALLBACK_HTTP_HANDLER", "https": "ALI1688_FALLBACK_HTTPS_HANDLER"}

DOWNLOADER_MIDDLEWARES = {
    # After HttpCompression (590) has decoded the body, before Scrapy's RetryMiddleware (550).
    "ali1688spider.gateway.middleware.ApiErrorMiddleware": 560,
    # HTTPCACHE_ENABLED: between the two, where answers are decoded and every one of them,
    # errors included, passes through it before the error middleware retries.
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware": None,
    "ali1688spider.gateway.cache.ApiCacheMiddleware": 565,
}
EXTENSIONS = {
    # A failed feed write closes the crawl (ali1688_feed_failed) instead of a log line per item.
    "scrapy.extensions.feedexport.FeedExporter": None,
    "ali1688spider.extensions.feeds.CheckedFeedExporter": 0,
    "ali1688spider.reporting.progress.Progress": 120,
    # Full garbage collections would hold up the pacer's grants for tens of milliseconds.
    "ali1688spider.extensions.heap.FrozenStartupHeap": 130,
    "ali1688spider.monitoring.alerts.Alerts": 800,
    "ali1688spider.extensions.reportpage.ReportPage": 850,
    "ali1688spider.extensions.statsfile.StatsFile": 900,
    # After SpiderState (0): its marker goes on a clean close only once spider.state is written.
    "ali1688spider.extensions.crashguard.CrashGuard": 950,
}
SPIDER_MIDDLEWARES = {
    # Closest to the engine: it steps the output every other middleware has handed on.
    "ali1688spider.gateway.stepping.SteppedOutputMiddleware": 10,
}
ITEM_PIPELINES = {
    "ali1688spider.pipelines.validate.ValidationPipeline": 100,
    "ali1688spider.pipelines.dedupe.DedupePipeline": 200,
    "ali1688spider.reporting.pipeline.CompletenessPipeline": 300,
    "ali1688spider.pipelines.sql.SqlPipeline": 400,
}
SETTINGS: dict[str, Any] = {
    # Pacing is the pacer's job (ALI1688_QPS): the downloader only needs enough room to keep
    # calls in flight while earlier ones wait for their answers (their own slot: _add_api_slot).
    "CONCURRENT_REQUESTS": 32,
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_TIMEOUT": 60,
    # API answers are a few MB at most: a larger one (or a gzip bomb) is refused.
    "DOWNLOAD_MAXSIZE": 16 * 1024 * 1024,
    "DOWNLOAD_WARNSIZE": 4 * 1024 * 1024,
    # Callbacks yield one item per detail answer, at most a page (50) per listing answer.
    "CONCURRENT_ITEMS": 32,
    "HTTPCACHE_POLICY": "ali1688spider.gateway.cache.ApiCachePolicy",
    # A full disk under JOBDIR closes the crawl (ali1688_jobdir_failed) instead of stalling it.
    "SCHEDULER": "ali1688spider.jobdir.GuardedScheduler",
    "FEED_EXPORT_ENCODING": "utf-8",
    # Scrapy's per-response and per-item lines, not even built below LOG_LEVEL.
    "LOG_FORMATTER": "ali1688spider.logformatter.LevelLogFormatter",
}
#: Marks settings the add-on has been applied to (listed twice, it would wrap itself).
APPLIED = "_ALI1688_ADDON_APPLIED"


class Addon:
    """Scrapy add-on that turns a project into one that crawls the 1688 Open Platform API."""

    def update_settings(self, settings: BaseSettings) -> None:
        if settings.getbool(APPLIED):
            raise ConfigError("ADDONS lists the ali1688spider add-on twice: keep one line, "
                              '{"ali1688spider.Addon": 500}')
        settings.set(APPLIED, True, priority="addon")
        handlers = settings["DOWNLOAD_HANDLERS"]
        for scheme, fallback in FALLBACK_SETTINGS.items():
            current = settings.getwithbase("DOWNLOAD_HANDLERS").get(scheme)
            if current is None:
                raise ConfigError(f"DOWNLOAD_HANDLERS disables {scheme!r}, which the 1688 API is called "
                                  f"over: remove DOWNLOAD_HANDLERS[{scheme!r}] = None")
            if _path(current) != HANDLER:
                settings.set(fallback, current, priority="addon")
            handlers[scheme] = HANDLER
        for name, components in (("DOWNLOADER_MIDDLEWARES", DOWNLOADER_MIDDLEWARES),
                                 ("SPIDER_MIDDLEWARES", SPIDER_MIDDLEWARES),
                                 ("EXTENSIONS", EXTENSIONS), ("ITEM_PIPELINES", ITEM_PIPELINES)):
            for component, order in components.items():
                settings.setdefault_in_component_priority_dict(name, load_object(component), order)
        for name, value in SETTINGS.items():
            settings.set(name, value, priority="addon")
        _add_api_slot(settings)
        exporters = settings["FEED_EXPORTERS"]
        for feed_format, exporter in EXPORTERS.items():
            if feed_format not in exporters:
                exporters[feed_format] = exporter
        DistributedAddon().update_settings(settings)


def _add_api_slot(settings: BaseSettings) -> None:
    """The download slot of API calls (``API_DOWNLOAD_SLOT``) in ``DOWNLOAD_SLOTS``, unless the
    project sets that slot itself: no delay, as many calls in flight as ``CONCURRENT_REQUESTS``."""
    slots = dict(settings.getdict("DOWNLOAD_SLOTS"))
    slots.setdefault(API_DOWNLOAD_SLOT, {"concurrency": settings.getint("CONCURRENT_REQUESTS"), "delay": 0, "jitter": 0})
    priority = max(settings.getpriority("DOWNLOAD_SLOTS") or 0, SETTINGS_PRIORITIES["addon"])
    settings.set("DOWNLOAD_SLOTS", slots, priority=priority)


def _path(handler: Any) -> str:
    """The import path of a handler given as a path or a class."""
    return handler if isinstance(handler, str) else f"{handler.__module__}.{handler.__qualname__}"


def uses_addon(settings: BaseSettings) -> bool:
    """Whether the project's ``ADDONS`` lists this add-on (under any import path)."""
    return any(_is_addon(entry) for entry in settings.getdict("ADDONS"))


def listed_addons(settings: BaseSettings) -> list[str]:
    """The ``ADDONS`` entries that name this add-on."""
    return [str(entry if isinstance(entry, str) else _path(entry))
            for entry in settings.getdict("ADDONS") if _is_addon(entry)]


def _is_addon(entry: Any) -> bool:
    try:
        return load_object(entry) is Addon if isinstance(entry, str) else entry is Addon
    except (ImportError, NameError, ValueError, AttributeError):
        return False
