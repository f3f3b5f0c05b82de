"""The sandbox gateway: an emulated 1688 Open Platform gateway serving a synthetic catalogue.

In-process use (the crawler's embedded default, tests)::

    handle = start_sandbox(SandboxOptions(port=0, seed=7, qps=5))
    handle.url          # "http://127.0.0.1:PORT/openapi"
    handle.credentials  # {"app_key", "app_secret", "access_token", "refresh_token"}
    handle.stop()

Command line: ``ali1688 sandbox …`` / ``python -m ali1688spider.sandbox …`` (see ``cli``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ali1688spider.sandbox.options import SandboxOptions

if TYPE_CHECKING:
    from ali1688spider.sandbox.app import SandboxApp

__all__ = ["SandboxHandle", "SandboxOptions", "start_sandbox"]

logger = logging.getLogger(__name__)

BANNER = ("ALI1688 SANDBOX gateway at %s: a development and test tool serving SYNTHETIC data "
          "(seed %d), not 1688.com")


def url_host(host: str) -> str:
    """The host to put in URLs for a listening address."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def connection_info(options: SandboxOptions, port: int) -> dict[str, Any]:
    """Where the sandbox listens and its public credentials (the command's first line)."""
    base_url = f"http://{url_host(options.host)}:{port}"
    return {"url": f"{base_url}/openapi", **options.credentials[0].as_dict(),
            "base_url": base_url, "router_url": f"{base_url}/router/rest", "seed": options.seed}


class SandboxHandle:
    """A sandbox running on a background thread with its own event loop."""

    def __init__(self, app: SandboxApp, port: int, loop: asyncio.AbstractEventLoop,
                 thread: threading.Thread):
        self.app, self.port = app, port
        self._loop, self._thread = loop, thread
        info = connection_info(app.options, port)
        self.base_url, self.url, self.router_url = info["base_url"], info["url"], info["router_url"]

    @property
    def options(self) -> SandboxOptions:
        return self.app.options

    @property
    def credentials(self) -> dict[str, str]:
        return self.app.options.credentials[0].as_dict()

    def info(self) -> dict[str, Any]:
        return connection_info(self.options, self.port)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SandboxHandle(url={self.url!r})"


def start_sandbox(options: SandboxOptions | None = None, **overrides: Any) -> SandboxHandle:
    """Start a sandbox in this process; returns once it accepts connections."""
    # Imported here: a crawl that only needs the sandbox's public credentials (options) does
    # not load the server and aiohttp.
    from ali1688spider.sandbox.app import SandboxApp
    from ali1688spider.sandbox.server import HttpServer

    options = replace(options or SandboxOptions(), **overrides)
    app = SandboxApp(options)
    server = HttpServer(app.handle, options.host, options.port)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:  # reported to the caller of start_sandbox
            failure.append(exc)
            started.set()
            loop.close()
            return
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(server.stop())
            loop.close()

    thread = threading.Thread(target=run, name="ali1688-sandbox", daemon=True)
    thread.start()
    started.wait()
    if failure:
        raise failure[0]
    handle = SandboxHandle(app, server.port, loop, thread)
    if not options.quiet:
        logger.warning(BANNER, handle.url, options.seed)
    return handle
