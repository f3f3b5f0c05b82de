"""Shared fixtures: a sandbox gateway in a subprocess, and real ``scrapy crawl`` runs against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO

from ali1688spider.sandbox.process import SandboxProcess
from ali1688spider.sandbox.process import start_sandbox_process as start_process

pytest_plugins = ["postgres_server", "redis_server", "product_samples"]


def start_sandbox_process(*args: str) -> SandboxProcess:
    """A sandbox subprocess started from the checkout (the code under test)."""
    return start_process(*args, cwd=str(REPO))


@pytest.fixture
def sandbox_factory():
    """Start sandboxes with given command-line options; all are stopped after the test."""
    started: list[SandboxProcess] = []

    def start(*args: str) -> SandboxProcess:
        sandbox = start_sandbox_process(*args)
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


@pytest.fixture(scope="session")
def sandbox():
    """One unlimited sandbox shared by the tests that only read from it."""
    process = start_sandbox_process("--qps", "0")
    yield process
    process.stop()


@dataclass
class CrawlResult:
    returncode: int
    log: str
    output: Path
    stats_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def items(self) -> list[dict[str, Any]]:
        if not self.output.exists():
            return []
        lines = self.output.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    @property
    def stats(self) -> dict[str, Any]:
        return json.loads(self.stats_path.read_text(encoding="utf-8"))


def run_crawl(
    spider: str,
    tmp_path: Path,
    *,
    args: dict[str, str] | None = None,
    settings: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    output_name: str = "items.jsonl",
    timeout: float = 240,
) -> CrawlResult:
    """Run ``scrapy crawl SPIDER`` in a subprocess from the project directory."""
    output = tmp_path / output_name
    stats_path = tmp_path / "stats.json"
    command = [sys.executable, "-m", "scrapy", "crawl", spider, "-O", str(output)]
    for key, value in (args or {}).items():
        command += ["-a", f"{key}={value}"]
    # Reports and sync state go to the test's directory, never into the checkout.
    all_settings = {
        "ALI1688_STATS_FILE": str(stats_path),
        "ALI1688_REPORT_FILE": str(tmp_path / "reports" / "%(spider)s-%(time)s.json"),
        "ALI1688_STATE_FILE": str(tmp_path / "state" / "sync.json"),
        "LOG_LEVEL": "INFO",
    }
    all_settings.update(settings or {})
    for key, value in all_settings.items():
        command += ["-s", f"{key}={value}"]
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("ALI1688_")}
    child_env.update(env or {})
    completed = subprocess.run(
        command, cwd=REPO, env=child_env, capture_output=True, text=True, timeout=timeout
    )
    return CrawlResult(completed.returncode, completed.stdout + completed.stderr, output, stats_path)


@pytest.fixture
def crawl(tmp_path):
    """``crawl(spider, args=…, settings=…, env=…)`` runs a real crawl in a subprocess."""

    def run(spider: str, **kwargs: Any) -> CrawlResult:
        return run_crawl(spider, tmp_path, **kwargs)

    return run
