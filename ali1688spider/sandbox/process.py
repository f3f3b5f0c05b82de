"""The sandbox as a child process, and crawls against it: what tests, benchmarks and scripts
share.

``start_sandbox_process(*cli_args)`` runs ``python -m ali1688spider.sandbox --port 0 …``, reads
its first stdout line (URL and public credentials) and returns a handle with the
ground-truth endpoints and the environment that points a crawl at it. ``crawl_command`` and
``crawl_environment`` are the one way to run ``scrapy crawl`` against it in a subprocess.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

CREDENTIAL_SETTINGS = {
    "app_key": "ALI1688_APP_KEY",
    "app_secret": "ALI1688_APP_SECRET",
    "access_token": "ALI1688_ACCESS_TOKEN",
    "refresh_token": "ALI1688_REFRESH_TOKEN",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for servers tests start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate *process*, killing it if it does not stop within *timeout* seconds, and close
    the pipes to it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


@dataclass
class SandboxProcess:
    """A running sandbox child process and what its first line said."""

    process: subprocess.Popen
    info: dict[str, Any]

    @property
    def url(self) -> str:
        return self.info["url"]

    @property
    def base_url(self) -> str:
        return self.info["base_url"]

    @property
    def credentials(self) -> dict[str, str]:
        return {key: self.info[key] for key in CREDENTIAL_SETTINGS}

    def get(self, path: str) -> Any:
        response = requests.get(self.base_url + path, timeout=60)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = requests.post(self.base_url + path, json=payload or {}, timeout=60)
        response.raise_for_status()
        return response.json()

    def shops(self) -> list[dict[str, Any]]:
        return self.get("/sandbox/shops")

    def shop(self, max_products: int) -> dict[str, Any]:
        """The largest shop with at most *max_products* products."""
        fitting = [s for s in self.shops() if s["products"] <= max_products]
        return max(fitting, key=lambda s: s["products"])

    def ids(self, shop: dict[str, Any]) -> list[str]:
        """Every product id of *shop* (ground truth)."""
        return self.get(f"/sandbox/shops/{shop['seller_open_id']}/ids")

    def stats(self) -> dict[str, Any]:
        return self.get("/sandbox/stats")

    def env(self, **overrides: Any) -> dict[str, str]:
        """Environment that points a crawl at this sandbox with its public credentials."""
        values = {"ALI1688_GATEWAY_URL": self.url}
        values.update({name: self.info[key] for key, name in CREDENTIAL_SETTINGS.items()})
        values.update({key: str(value) for key, value in overrides.items()})
        return values

    def stop(self) -> None:
        stop_process(self.process)


def start_sandbox_process(*args: str, cwd: str | None = None) -> SandboxProcess:
    """Start ``ali1688 sandbox --port 0 --quiet *args`` and wait for its first line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ali1688spider.sandbox", "--port", "0", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        stop_process(process)
        raise RuntimeError(f"the sandbox did not start (arguments {list(args)})")
    return SandboxProcess(process, json.loads(line))


def crawl_command(
    spider: str,
    *,
    output: Path | None = None,
    overwrite: bool = True,
    args: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> list[str]:
    """``python -m scrapy crawl SPIDER [-O|-o OUTPUT] -a K=V… -s K=V…``."""
    command = [sys.executable, "-m", "scrapy", "crawl", spider]
    if output is not None:
        command += ["-O" if overwrite else "-o", str(output)]
    for key, value in (args or {}).items():
        command += ["-a", f"{key}={value}"]
    for key, value in (settings or {}).items():
        command += ["-s", f"{key}={value}"]
    return command


def crawl_environment(*overlays: Mapping[str, str] | None) -> dict[str, str]:
    """This process's environment without any ``ALI1688_*`` variable, then *overlays* (for
    example ``SandboxProcess.env()``): a crawl sees only the settings it is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALI1688_")}
    for overlay in overlays:
        env.update(overlay or {})
    return env
