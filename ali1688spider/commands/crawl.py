"""``scrapy crawl`` that checks settings and spider arguments first and exits non-zero on a
failed crawl.

A bad ``-a`` argument or setting ends the command with one usage line (exit 2) before anything
starts; with ``LOG_FILE`` set (scrapyd sets it) the line goes to the log too, the only output
such runners keep. A misspelt ``ALI1688_*`` setting gets a warning naming the nearest known
one, and so does a crawl that stores its items nowhere. A crawl stopped by SIGINT or SIGTERM
before it was complete exits 130 or 143 and its last line says how to resume it. A crawl that closes with an ``ali1688_*`` failure reason, or whose feed could not be
stored, exits 1.
"""

from __future__ import annotations

import difflib
import logging
import os
import sys
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.utils.project import inside_project

from urllib.parse import urlsplit

from ali1688spider.addon import Addon, listed_addons, uses_addon
from ali1688spider.monitoring.rules import WEBHOOK_SETTING
from ali1688spider.closing import FAILURE_REASONS
from ali1688spider.commands.interrupted import EXIT_CODES, SHUTDOWN_REASON, SignalWatch, resume_hint
from ali1688spider.config import DB_URL_SETTING, ConfigError, get_str, misspelt_settings
from ali1688spider.distributed.addon import check_redis
from ali1688spider.distributed.keys import is_distributed
from ali1688spider.monitoring.alerts import alert_settings
from ali1688spider.extensions.feeds import feed_not_stored
from ali1688spider.extensions.reportpage import report_page_template
from ali1688spider.gateway.cache import check_cache_settings
from ali1688spider.gateway.credentials import credential_sets_from_settings
from ali1688spider.gateway.session import check_settings
from ali1688spider.jobdir import check_jobdir
from ali1688spider.pipelines.sql import sql_settings
from ali1688spider.redact import redact_every_log_record, remember_secrets, url_secret_parts
from ali1688spider.monitoring.health import health_limits
from ali1688spider.reporting.pipeline import report_settings
from ali1688spider.reporting.progress import progress_interval
from ali1688spider.spiders.arguments import SpiderArgumentError, has_job_arguments
from ali1688spider.spiders.base import Ali1688Spider

if TYPE_CHECKING:
    import argparse

    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

#: The settings of the package's own project, which ``scrapy crawl`` runs outside any project.
PACKAGE_SETTINGS = "ali1688spider.settings"

#: Each component's check of its settings (ConfigError naming the setting), run before the
#: crawl starts so that a bad value is one line and exit 2, not a traceback mid-start.
SETTING_CHECKS = (
    check_settings, check_cache_settings, report_settings, progress_interval, check_jobdir,
    check_redis, alert_settings, health_limits, sql_settings, report_page_template,
)


def remember_setting_secrets(settings: BaseSettings) -> None:
    """Every secret the settings hold (app secrets, tokens, passwords in the database and Redis
    URLs, the webhook's userinfo, path and query), masked from here on in every log record."""
    for credentials in credential_sets_from_settings(settings):
        remember_secrets(credentials.app_secret, credentials.access_token, credentials.refresh_token)
    for name in (DB_URL_SETTING, "ALI1688_REDIS_URL", "ALI1688_TOKEN_STORE"):
        url = get_str(settings, name)
        if url:
            remember_secrets(urlsplit(url).password)
    webhook = get_str(settings, WEBHOOK_SETTING)
    if webhook:
        remember_secrets(*url_secret_parts(webhook))


def warn_misspelt_settings(settings: BaseSettings) -> None:
    """A warning for each ``ALI1688_*`` setting or environment variable nobody reads."""
    names = [name for name, _ in settings.items()] + list(os.environ)
    for name, suggestion in misspelt_settings(names):
        hint = f"did you mean {suggestion}?" if suggestion else "see docs/settings.rst for the settings"
        logger.warning("Unknown setting %s is ignored: %s", name, hint)


def warn_nothing_stored(settings: BaseSettings) -> None:
    """One warning when the crawl keeps its items nowhere: no feed and no database. The crawl
    still runs (a dry run is a fair wish); the report alone would say "complete" for products
    that went nowhere."""
    if settings.getdict("FEEDS") or get_str(settings, DB_URL_SETTING):
        return
    logger.warning("This crawl stores its items nowhere: no feed (-O FILE or FEEDS) and no %s; "
                   "add e.g. -O products.jsonl or -s %s=sqlite:///ali1688.db to keep them",
                   DB_URL_SETTING, DB_URL_SETTING)


def settings_with_addon(settings: BaseSettings) -> BaseSettings:
    """*settings* as the crawl will see them once the add-on has set its own (a copy); a
    ConfigError when the add-on is listed twice or cannot take the project as it is."""
    listed = listed_addons(settings)
    if len(listed) > 1:
        raise ConfigError(f"ADDONS lists the ali1688spider add-on {len(listed)} times ({', '.join(listed)}): "
                          'keep one line, "ali1688spider.Addon": 500')
    applied = settings.copy()
    Addon().update_settings(applied)
    return applied


def check_spider_class(spidercls: type) -> None:
    """A spider of the user's that says where its calls start (ConfigError naming the fix)."""
    if not issubclass(spidercls, Ali1688Spider) or spidercls.makes_requests():
        return
    raise ConfigError(
        f"spider {spidercls.name!r} ({spidercls.__module__}.{spidercls.__qualname__}) makes no call: "
        "define async def start(self), start_requests(self) or requests_for(self, args)"
    )


class Command(ScrapyCrawlCommand):
    """Scrapy's ``crawl``; in a project with the ali1688spider add-on, with its checks first.
    Outside any Scrapy project it runs this package's own project, so that ``scrapy crawl
    shop …`` works from any directory."""

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        if not inside_project():
            self.settings.setmodule(PACKAGE_SETTINGS, priority="project")
        super().process_options(args, opts)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1 or not uses_addon(self.settings):
            super().run(args, opts)
            return
        assert self.crawler_process
        warn_misspelt_settings(self.settings)
        redact_every_log_record()
        try:
            settings = settings_with_addon(self.settings)
            for check in SETTING_CHECKS:
                check(settings)
            remember_setting_secrets(settings)
        except ConfigError as exc:
            raise self._refuse(str(exc)) from None
        warn_nothing_stored(settings)
        loader = self.crawler_process.spider_loader
        try:
            spidercls = loader.load(args[0])
        except KeyError:
            close = difflib.get_close_matches(args[0], loader.list(), n=1)
            hint = f": did you mean {close[0]!r}?" if close else f" (the spiders: {', '.join(sorted(loader.list()))})"
            raise self._refuse(f"no spider named {args[0]!r}{hint}") from None
        try:
            check_spider_class(spidercls)
        except ConfigError as exc:
            raise self._refuse(str(exc)) from None
        check = getattr(spidercls, "check_arguments", None)
        # A distributed worker may start without a job of its own: it takes seeds from Redis.
        bare_worker = is_distributed(self.settings) and not has_job_arguments(opts.spargs)
        if check is not None and not bare_worker:
            try:
                check(opts.spargs, settings=settings)
            except SpiderArgumentError as exc:
                raise self._refuse(str(exc)) from None
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        watch = SignalWatch()
        logging.getLogger("scrapy.crawler").addFilter(watch)
        self.crawler_process.start()
        reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
        # A signal during start-up stops the crawl before the spider closes: no reason at all.
        elif watch.signame in EXIT_CODES and reason in (SHUTDOWN_REASON, None):
            self.exitcode = EXIT_CODES[watch.signame]
            logger.warning("%s", resume_hint(watch.signame, settings, args[0], sys.argv[1:]))
        elif reason in FAILURE_REASONS or (crawler.stats and feed_not_stored(crawler.stats)):
            self.exitcode = 1

    def _refuse(self, message: str) -> UsageError:
        """The usage error that ends the command; logged too when the log is a file."""
        if self.settings.get("LOG_FILE"):
            logger.error("%s", message)
        return UsageError(message, print_help=False)
