"""Shared fixtures: a sandbox gateway in a subprocess, and real ``scrapy crawl`` runs against it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import forked
import pytest
from helpers import REPO, child_environment

from ali1688spider.sandbox.process import (
    SandboxProcess,
    crawl_command,
)
from ali1688spider.sandbox.process import start_sandbox_process as start_process

pytest_plugins = ["browser", "docs_site", "postgres_server", "redis_server", "product_samples", "webhook_receiver", "listing_proxy"]

# Warnings are errors in the processes the tests start too (pyproject.toml sets the same
# filter for the test process itself).
os.environ["PYTHONWARNINGS"] = "error"


def start_sandbox_process(*args: str) -> SandboxProcess:
    """A sandbox subprocess started from the checkout (the code under test)."""
    return start_process(*args, cwd=str(REPO))


def started_sandboxes():
    """Yield ``start(*args)``, which starts a sandbox; every one started is stopped after."""
    started: list[SandboxProcess] = []

    def start(*args: str) -> SandboxProcess:
        sandbox = start_sandbox_process(*args)
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


@pytest.fixture(scope="session", autouse=True)
def fork_server():
    """The fork server of ``forked``, stopped after the session."""
    yield
    forked.stop()


@pytest.fixture
def sandbox_factory():
    """Start sandboxes with given command-line options; all are stopped after the test."""
    yield from started_sandboxes()


@pytest.fixture(scope="module")
def module_sandbox_factory():
    """``sandbox_factory`` for a module's shared fixtures: stopped after the module."""
    yield from started_sandboxes()


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
    """Run ``scrapy crawl SPIDER`` in a process of its own (``forked``) from the project directory."""
    output = tmp_path / output_name
    stats_path = tmp_path / "stats.json"
    # Reports and sync state go to the test's directory, never into the checkout.
    all_settings = {
        "ALI1688_STATS_FILE": str(stats_path),
        "ALI1688_REPORT_FILE": str(tmp_path / "reports" / "%(spider)s-%(time)s.json"),
        "ALI1688_STATE_FILE": str(tmp_path / "state" / "sync.json"),
        "LOG_LEVEL": "INFO",
        **(settings or {}),
    }
    command = crawl_command(spider, output=output, args=args, settings=all_settings)
    completed = forked.run(command, cwd=REPO, env=child_environment(env), timeout=timeout)
    return CrawlResult(completed.returncode, completed.stdout + completed.stderr, output, stats_path)


@pytest.fixture
def crawl(tmp_path):
    """``crawl(spider, args=…, settings=…, env=…)`` runs a real crawl in a process of its own."""

    def run(spider: str, **kwargs: Any) -> CrawlResult:
        return run_crawl(spider, tmp_path, **kwargs)

    return run


@pytest.fixture(scope="module")
def module_crawl(tmp_path_factory):
    """``crawl`` for a module's shared fixtures: each run in a directory of its own."""

    def run(spider: str, **kwargs: Any) -> CrawlResult:
        return run_crawl(spider, tmp_path_factory.mktemp(spider), **kwargs)

    return run
