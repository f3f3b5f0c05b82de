"""``ali1688 enqueue SPIDER key=value…``: give the workers of a distributed crawl one job.

The arguments are what ``scrapy crawl SPIDER -a key=value…`` takes; they are checked with the
spider's own rules first, then pushed as one JSON seed onto the spider's Redis list, where
the next free worker (``scrapy crawl SPIDER`` with ``ALI1688_REDIS_URL`` set) takes it.
A path argument (``ids_file=…``) must exist on the workers too.

``ali1688 enqueue --watchlist FILE`` queues every entry of a watchlist as one seed of the
``watch`` spider (checked first, all or none queued).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ali1688spider.cli.errors import CommandError

HELP = "queue one job (spider arguments) for the workers of a distributed crawl in Redis"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spider", metavar="SPIDER", nargs="?", help="spider name (product, shop, …)")
    parser.add_argument(
        "args", metavar="KEY=VALUE", nargs="*", help="spider arguments, as given to -a"
    )
    parser.add_argument(
        "--redis-url", default=None,
        help="Redis of the crawl (default: ALI1688_REDIS_URL from the project settings or environment)",
    )
    parser.add_argument(
        "--watchlist", metavar="FILE", type=Path,
        help="queue every entry of this TOML watchlist as a job of the watch spider",
    )
    parser.add_argument(
        "--fresh", action="store_true",
        help="start a new run: forget the spider's queued requests, leases, seen-request "
        "fingerprints and waiting seeds first (without it the job joins the running run, or "
        "starts a new one when the last run finished)",
    )


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"argument {pair!r} is not KEY=VALUE")
        if key in values:
            raise CommandError(f"argument {key} is given twice")
        values[key] = value
    return values


def run(args: argparse.Namespace) -> int:
    import redis
    from scrapy.spiderloader import get_spider_loader
    from scrapy.utils.project import get_project_settings

    from ali1688spider.config import ConfigError
    from ali1688spider.distributed.keys import (
        dupefilter_key,
        encode_seed,
        key_prefix,
        lease_keys,
        redis_url,
        requests_key,
        seeds_key,
    )
    from ali1688spider.distributed.runs import join_or_start, run_key, start_run
    from ali1688spider.redact import url_without_password
    from ali1688spider.spiders.arguments import SpiderArgumentError

    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "ali1688spider.settings")
    settings = get_project_settings()
    if args.redis_url:
        settings.set("ALI1688_REDIS_URL", args.redis_url, priority="cmdline")
    try:
        url = redis_url(settings)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    if url is None:
        raise CommandError("no Redis to queue into: set ALI1688_REDIS_URL or give --redis-url")
    if args.watchlist is not None:
        if args.args or args.spider not in (None, "watch"):
            raise CommandError("--watchlist queues jobs of the watch spider: give no other spider or arguments")
        args.spider = "watch"
    elif args.spider is None:
        raise CommandError("name the SPIDER to queue a job for, or give --watchlist FILE")
    try:
        spidercls = get_spider_loader(settings).load(args.spider)
    except KeyError:
        raise CommandError(f"no spider named {args.spider!r}") from None
    if not getattr(spidercls, "takes_jobs", lambda: False)():
        raise CommandError(f"spider {args.spider!r} takes no seeds")
    try:
        seeds = _seeds(spidercls, args)
    except SpiderArgumentError as exc:
        raise CommandError(str(exc)) from None
    prefix = key_prefix(settings)
    key = seeds_key(prefix, spidercls.name)
    client = redis.Redis.from_url(url)
    runs = run_key(prefix, spidercls.name)
    try:
        if args.fresh:
            queue = requests_key(prefix, spidercls.name)
            client.delete(key, queue, *lease_keys(queue), dupefilter_key(prefix, spidercls.name))
            run_id, started = start_run(client, runs), True
        else:
            run_id, started = join_or_start(client, runs)
            if started:
                # A new run crawls again what earlier runs crawled.
                client.delete(dupefilter_key(prefix, spidercls.name))
        waiting = client.rpush(key, *(encode_seed(seed) for seed in seeds))
    except redis.RedisError as exc:
        raise CommandError(f"cannot queue into {url_without_password(url)}: {type(exc).__name__}: {exc}") from None
    finally:
        client.close()
    jobs = "a job" if len(seeds) == 1 else f"{len(seeds)} jobs"
    run = f"new run {run_id}" if started else f"joined run {run_id}"
    print(f"queued {jobs} of {spidercls.name} in {key} ({waiting} waiting; {run})")
    return 0


def _seeds(spidercls: type, args: argparse.Namespace) -> list[dict[str, str]]:
    """The checked seeds to queue: the KEY=VALUE job, or one per watchlist entry."""
    if args.watchlist is None:
        raw = parse_pairs(args.args)
        spidercls.check_arguments(raw)
        return [raw]
    from ali1688spider.spiders.arguments import as_existing_file
    from ali1688spider.spiders.watch import check_rules
    from ali1688spider.spiders.watchlist import load_watchlist

    try:
        as_existing_file(str(args.watchlist))
    except ValueError as exc:
        raise CommandError(f"--watchlist: {exc}") from None
    return [{"entry": entry.to_seed()} for entry in load_watchlist(args.watchlist, check_rules=check_rules)]
