"""The ``ali1688`` command: one sub-command per module, imported only when used.

Each command module provides ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int`` (the exit code).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ali1688spider.cli.errors import CommandError

COMMANDS: dict[str, str] = {
    # The sandbox keeps its command line to itself: it also runs as `python -m ali1688spider.sandbox`.
    "sandbox": "ali1688spider.sandbox.cli",
    "auth": "ali1688spider.cli.auth",
    "call": "ali1688spider.cli.call",
    "enqueue": "ali1688spider.cli.enqueue",
    "report": "ali1688spider.cli.report",
    "spiders": "ali1688spider.cli.spiders",
}


def build_parser(commands: dict[str, str] = COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ali1688", description="ali1688spider tools")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_path in commands.items():
        module = importlib.import_module(module_path)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CommandError as exc:
        print(f"ali1688 {args.command}: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (`| head`) has what it wanted; say nothing more on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0

