"""``python -m MODULE ARGS`` for the commands the tests start (``scrapy crawl``, ``ali1688``),
forked from a server process that has already imported Scrapy and this package
(``fork_server.py``): the same command in a process of its own, without the half second of CPU
its imports cost each time.

A command whose environment changes how Python itself starts (a ``PYTHON*`` variable other
than the server's) runs in a fresh interpreter instead, as does anything not of the form
``[sys.executable, "-m", MODULE, …]``. (The standard library's forkserver would do, but in
Python 3.11 it ignores the test directory on ``sys.path`` and re-imports ``__main__`` in each
child.)
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

SERVER = Path(__file__).with_name("fork_server.py")


def _python_environment(env: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if key.startswith("PYTHON")}


class ForkServer:
    """One fork server for this process, started at the first command and stopped at exit."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._python_environment: dict[str, str] = {}
        self._lock = threading.Lock()

    def forkable(self, command: Sequence[str], env: Mapping[str, str]) -> bool:
        started_with = self._python_environment if self._process else _python_environment(os.environ)
        return (len(command) >= 3 and command[0] == sys.executable and command[1] == "-m"
                and _python_environment(env) == started_with)

    def run(self, command: Sequence[str], *, cwd: str | os.PathLike, env: Mapping[str, str],
            timeout: float) -> subprocess.CompletedProcess:
        """What ``subprocess.run(command, cwd=…, env=…, capture_output=True, text=True,
        timeout=…)`` returns, forked from the server."""
        with self._lock, tempfile.TemporaryDirectory(prefix="forked-") as directory:
            stdout, stderr = Path(directory, "stdout"), Path(directory, "stderr")
            request = {"module": command[2], "args": list(command[3:]), "cwd": os.fspath(cwd),
                       "env": dict(env), "stdout": str(stdout), "stderr": str(stderr)}
            server = self._server()
            server.stdin.write(json.dumps(request).encode() + b"\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            finished, _, _ = select.select([server.stdout], [], [], timeout)
            if not finished:
                os.kill(pid, signal.SIGKILL)
            code = int(server.stdout.readline())
            if not finished:
                raise subprocess.TimeoutExpired(list(command), timeout)
            return subprocess.CompletedProcess(
                list(command), code, stdout.read_text(errors="replace"), stderr.read_text(errors="replace"))

    def _server(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            self._python_environment = _python_environment(os.environ)
            self._process = subprocess.Popen([sys.executable, str(SERVER)], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, bufsize=0)
        return self._process

    def stop(self) -> None:
        if self._process is not None:
            self._process.stdin.close()
            self._process.wait(timeout=30)
            self._process.stdout.close()
            self._process = None


_SERVER = ForkServer()


def run(command: Sequence[str], *, cwd: str | os.PathLike, env: Mapping[str, str],
        timeout: float) -> subprocess.CompletedProcess:
    """``subprocess.run(command, cwd=…, env=…, capture_output=True, text=True, timeout=…)``,
    forked from the fork server when the command allows it."""
    if not _SERVER.forkable(command, env):
        return subprocess.run(list(command), cwd=cwd, env=dict(env), capture_output=True, text=True,
                              timeout=timeout)
    return _SERVER.run(command, cwd=cwd, env=env, timeout=timeout)


def stop() -> None:
    """Stop the fork server, if one was started."""
    _SERVER.stop()
