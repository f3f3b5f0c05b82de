"""``ali1688 spiders [NAME]``: every spider and the ``-a`` arguments it takes.

Printed from the same declarations (``Ali1688Spider.arguments``) the argument checker reads,
so the list cannot drift from what ``scrapy crawl`` accepts.
"""

from __future__ import annotations

import argparse
import os

from ali1688spider.cli.errors import CommandError

HELP = "list the spiders and the -a arguments each takes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="SPIDER", nargs="?", help="only this spider")


def describe(spidercls: type) -> list[str]:
    """The lines of one spider: its name and summary, then one line per argument."""
    doc = (spidercls.__doc__ or "").strip()
    summary = doc.splitlines()[0].replace("``", "") if doc else ""
    lines = [f"{spidercls.name}: {summary}".rstrip(": ")]
    for name, argument in getattr(spidercls, "arguments", {}).items():
        unset = argument.default is None or argument.default is False
        default = "" if unset else f" (default {argument.default})"
        lines.append(f"  -a {name}=…  {argument.help}{default}")
    return lines


def run(args: argparse.Namespace) -> int:
    from scrapy.spiderloader import get_spider_loader
    from scrapy.utils.project import get_project_settings

    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "ali1688spider.settings")
    loader = get_spider_loader(get_project_settings())
    names = [args.name] if args.name else sorted(loader.list())
    for number, name in enumerate(names):
        try:
            spidercls = loader.load(name)
        except KeyError:
            raise CommandError(f"no spider named {name!r}; spiders: {', '.join(sorted(loader.list()))}") from None
        if number:
            print()
        print("\n".join(describe(spidercls)))
    return 0
