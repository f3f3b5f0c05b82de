"""``ali1688 sandbox`` / ``python -m ali1688spider.sandbox``: run the sandbox gateway.

The first line on stdout is one JSON object with the gateway URL and the public sandbox
credentials; then it serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from typing import TYPE_CHECKING

from ali1688spider.sandbox import BANNER, connection_info
from ali1688spider.sandbox.app import SandboxApp
from ali1688spider.sandbox.options import DEFAULT_SEED, SandboxOptions, parse_shops
from ali1688spider.sandbox.server import HttpServer

if TYPE_CHECKING:
    from collections.abc import Sequence

HELP = "run the sandbox gateway (synthetic 1688 catalogue, for development and tests)"
logger = logging.getLogger("ali1688spider.sandbox")


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a rate between 0 and 1, not {text}")
    return value


def _shops(text: str) -> tuple[int, ...]:
    try:
        return parse_shops(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = SandboxOptions()
    add = parser.add_argument
    add("--host", default=defaults.host, help="address to listen on (default %(default)s)")
    add("--port", type=int, default=defaults.port, help="port; 0 picks a free one (default %(default)s)")
    add("--seed", type=int, default=DEFAULT_SEED, help="catalogue seed (default %(default)s)")
    add("--qps", type=float, default=defaults.qps,
        help="calls per second per app key, 0 = no limit (default %(default)s)")
    add("--daily-quota", type=int, default=0, help="calls per app key per day, 0 = none")
    add("--page-cap", type=int, default=defaults.page_cap,
        help="pages past this answer empty lists (default %(default)s)")
    add("--page-size-cap", type=int, default=defaults.page_size_cap,
        help="larger pageSize values are clamped to this (default %(default)s)")
    add("--latency-ms", type=float, default=0.0, help="delay before every API answer")
    add("--fail-5xx", type=_rate, default=0.0, help="share of calls answered 502/503")
    add("--fail-qps", type=_rate, default=0.0, help="share of calls answered the QoS error")
    add("--fail-truncate", type=_rate, default=0.0, help="share of answers cut in half")
    add("--fail-drop", type=_rate, default=0.0, help="share of calls whose connection is dropped")
    add("--token-ttl", type=float, default=defaults.token_ttl,
        help="access token lifetime in seconds (default %(default)s)")
    add("--deny-api", action="append", default=[], metavar="NAME",
        help="answer gw.APIACLDecline for this API (repeatable)")
    add("--shops", type=_shops, default=defaults.shops, metavar="COUNTS",
        help="product counts of the shops, e.g. 50,5000,100000 (default %s)"
        % ",".join(map(str, defaults.shops)))
    add("--apps", type=int, default=1, help="number of sandbox apps (credential sets)")
    add("--quiet", action="store_true", help="no banner, warnings only")
    add("--sales-move-modified", action="store_true",
        help="sales in the drifting catalogue move the product's modifyDate (default: only "
             "seller edits do)")


def options_from_args(args: argparse.Namespace) -> SandboxOptions:
    return SandboxOptions(
        host=args.host, port=args.port, seed=args.seed, qps=args.qps,
        daily_quota=args.daily_quota, page_cap=args.page_cap, page_size_cap=args.page_size_cap,
        latency_ms=args.latency_ms, fail_5xx=args.fail_5xx, fail_qps=args.fail_qps,
        fail_truncate=args.fail_truncate, fail_drop=args.fail_drop, token_ttl=args.token_ttl,
        deny_api=tuple(args.deny_api), shops=tuple(args.shops), apps=args.apps, quiet=args.quiet,
        sales_move_modified=args.sales_move_modified,
    )


async def serve(options: SandboxOptions) -> None:
    app = SandboxApp(options)
    server = HttpServer(app.handle, options.host, options.port)
    port = await server.start()
    info = connection_info(options, port)
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    if not options.quiet:
        logger.warning(BANNER, info["url"], options.seed)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()
    await server.stop()


def run(args: argparse.Namespace) -> int:
    try:
        options = options_from_args(args)
    except ValueError as exc:
        print(f"ali1688 sandbox: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING if options.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(options))
    except OSError as exc:
        print(f"ali1688 sandbox: cannot listen on {options.host}:{options.port}: {exc}",
              file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ali1688spider.sandbox", description=HELP)
    add_arguments(parser)
    return run(parser.parse_args(argv))
