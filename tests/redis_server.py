"""Fixtures: a real redis-server for the session and ``redis_url``, an empty database per test.

The server (``REDIS_SERVER``, else ``redis-server`` on PATH; ``scripts/test`` installs the
Debian package) runs in a temporary directory on a free port, without persistence.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ali1688spider.sandbox.process import free_port, stop_process


@dataclass
class RedisServer:
    process: subprocess.Popen
    port: int
    root: Path
    persistent: bool = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        stop_process(self.process)

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing saved but what the append-only file holds."""
        self.process.kill()
        self.process.wait()

    def restart(self) -> RedisServer:
        """The same server again (port, directory, append-only file)."""
        return start_redis_server(self.root, persistent=self.persistent, port=self.port)


def start_redis_server(root: Path, *, persistent: bool = False, port: int | None = None) -> RedisServer:
    """A redis-server in *root*; *persistent*: every write in an append-only file, fsynced."""
    binary = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (scripts/test installs it)")
    persistence = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no"]
    for _ in range(5):
        chosen = port or free_port()
        process = subprocess.Popen(
            [binary, "--port", str(chosen), "--bind", "127.0.0.1", "--dir", str(root),
             "--save", "", *persistence, "--daemonize", "no", "--loglevel", "warning",
             "--logfile", str(root / "redis.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = RedisServer(process, chosen, root, persistent)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if server.client().ping():
                    return server
            except Exception:  # noqa: BLE001 - not accepting connections yet
                time.sleep(0.05)
        server.stop()  # the port was taken meanwhile, or the server failed: try another
    log = (root / "redis.log").read_text(errors="replace") if (root / "redis.log").exists() else ""
    raise RuntimeError(f"redis-server did not start: {log[-500:]}")


@pytest.fixture(scope="session")
def redis_server():
    with tempfile.TemporaryDirectory(prefix="ali1688-redis-") as root:
        server = start_redis_server(Path(root))
        yield server
        server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    """The URL of an empty Redis database for this test."""
    client = redis_server.client()
    client.flushall()
    client.close()
    return redis_server.url
