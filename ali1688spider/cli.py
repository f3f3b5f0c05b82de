"""The ``ali1688`` command: one sub-command per module, imported only when used.

Each command module provides ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int`` (the exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, str] = {
    "sandbox": "ali1688spider.sandbox.cli",
    "auth": "ali1688spider.tools.auth",
    "call": "ali1688spider.tools.call",
    "enqueue": "ali1688spider.tools.enqueue",
    "report": "ali1688spider.tools.report",
}


class CommandError(Exception):
    """A command failed in a way the user can fix; the message is printed as one line."""


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
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # Run as a module this file is ``__main__``: call the package's copy so that its
    # CommandError is the one the commands raise.
    from ali1688spider.cli import main as package_main

    sys.exit(package_main())
