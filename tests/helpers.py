"""Helpers the tests share (fixtures are conftest.py's): the ``ali1688`` command, OAuth steps,
running a coroutine."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import forked
import requests

from ali1688spider.sandbox.process import crawl_environment

REPO = Path(__file__).resolve().parents[1]
REDIRECT_URI = "http://127.0.0.1:1/callback"
CLI = [sys.executable, "-m", "ali1688spider.cli"]
#: The SQL pipeline's batches written after 50 ms, half the default wait: the tests' shops are
#: small, so the wait is a good part of each crawl's time. A test may set its own.
FAST_BATCHES = {"ALI1688_DB_FLUSH_SECONDS": "0.05"}


def child_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a crawl or command the tests start: ``crawl_environment`` with
    ``FAST_BATCHES``, then *env*."""
    return crawl_environment(FAST_BATCHES, env)


def ali1688(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return forked.run([*CLI, *args], cwd=REPO, env=child_environment(env), timeout=60)


def report_changes(db_url: str, *args: str) -> subprocess.CompletedProcess:
    """``ali1688 report changes --db DB_URL ARGS…``."""
    return ali1688("report", "changes", "--db", db_url, *args, env={})


def recorded_changes(db_url: str, *args: str) -> list[dict[str, Any]]:
    """The changes ``ali1688 report changes --json`` prints (of the last finished run, unless
    *args* say otherwise)."""
    done = report_changes(db_url, "--json", *args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def app_env(sandbox, store: Path) -> dict[str, str]:
    """The app's key and secret, no tokens: those come from the store."""
    creds = sandbox.credentials
    return {
        "ALI1688_GATEWAY_URL": sandbox.url,
        "ALI1688_APP_KEY": creds["app_key"],
        "ALI1688_APP_SECRET": creds["app_secret"],
        "ALI1688_TOKEN_STORE": str(store),
    }


def authorize(sandbox, env: dict[str, str]) -> str:
    """`auth url`, then what the browser does: the URL 1688 redirects back to."""
    printed = ali1688("auth", "url", "--redirect-uri", REDIRECT_URI, "--state", "st-42", env=env)
    assert printed.returncode == 0, printed.stderr
    url = printed.stdout.strip()
    assert url.startswith(sandbox.base_url + "/oauth/authorize?")
    assert parse_qs(urlsplit(url).query)["client_id"] == [sandbox.credentials["app_key"]]
    answer = requests.get(url, allow_redirects=False, timeout=30)
    assert answer.status_code == 302
    return answer.headers["Location"]


def exchange(sandbox, env: dict[str, str]) -> subprocess.CompletedProcess:
    redirected = authorize(sandbox, env)
    done = ali1688("auth", "exchange", redirected, "--redirect-uri", REDIRECT_URI, "--state", "st-42", env=env)
    assert done.returncode == 0, done.stderr
    return done


def product_ids(sandbox, count: int) -> list[str]:
    shop = sandbox.shop(100)
    return sandbox.get(f"/sandbox/shops/{shop['seller_open_id']}/ids")[:count]


def run_async(coroutine: Any) -> Any:
    """Run *coroutine* to its end on an event loop of its own, and return its result.

    In a thread: the test process runs the reactor's asyncio loop (pytest-twisted, for the
    in-process crawls), and a thread may run one loop at a time.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def sandbox_apps(*numbers: int) -> list[dict[str, str]]:
    """The sandbox's public credentials of apps *numbers* (see ``ali1688spider.sandbox.options``)."""
    from ali1688spider.sandbox.options import app_credentials

    return [app_credentials(n).as_dict() for n in numbers]
