"""``scrapy crawl`` that checks spider arguments first and exits non-zero on a failed crawl.

A bad ``-a`` argument ends the command with one usage line (exit 2) before anything starts;
a crawl that closes with an ``ali1688_*`` failure reason exits 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from ali1688spider.closing import FAILURE_REASONS
from ali1688spider.config import ConfigError
from ali1688spider.distributed.keys import is_distributed
from ali1688spider.gateway.session import check_settings
from ali1688spider.spiders.arguments import SpiderArgumentError, has_job_arguments

if TYPE_CHECKING:
    import argparse

class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            super().run(args, opts)
            return
        assert self.crawler_process
        try:
            check_settings(self.settings)
        except ConfigError as exc:
            raise UsageError(str(exc), print_help=False) from None
        try:
            spidercls = self.crawler_process.spider_loader.load(args[0])
        except KeyError:
            raise UsageError(f"no spider named {args[0]!r}", print_help=False) from None
        check = getattr(spidercls, "check_arguments", None)
        # A distributed worker may start without a job of its own: it takes seeds from Redis.
        bare_worker = is_distributed(self.settings) and not has_job_arguments(opts.spargs)
        if check is not None and not bare_worker:
            try:
                check(opts.spargs)
            except SpiderArgumentError as exc:
                raise UsageError(str(exc), print_help=False) from None
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
        elif crawler.stats and crawler.stats.get_value("finish_reason") in FAILURE_REASONS:
            self.exitcode = 1
