"""``ali1688 spiders [NAME]``: every spider and the ``-a`` arguments it takes.

Printed from the same declarations (``Ali1688Spider.arguments``) the argument checker reads,
so the list cannot drift from what ``scrapy crawl`` accepts.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from ali1688spider.cli.errors import CommandError

if TYPE_CHECKING:
    from ali1688spider.spiders.arguments import Argument

HELP = "list the spiders and the -a arguments each takes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="SPIDER", nargs="?", help="only this spider")


def summary(spidercls: type) -> str:
    """The first line of the spider's docstring, without markup."""
    doc = (spidercls.__doc__ or "").strip()
    return doc.splitlines()[0].replace("``", "") if doc else ""


def explain(argument: Argument) -> str:
    """What an argument expects, and its default when it has one (also the docs' wording)."""
    unset = argument.default is None or argument.default is False
    return argument.help if unset else f"{argument.help} (default {argument.default})"


def describe(spidercls: type) -> list[str]:
    """The lines of one spider: its name and summary, then one line per argument."""
    lines = [f"{spidercls.name}: {summary(spidercls)}".rstrip(": ")]
    for name, argument in getattr(spidercls, "arguments", {}).items():
        lines.append(f"  -a {name}=…  {explain(argument)}")
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
