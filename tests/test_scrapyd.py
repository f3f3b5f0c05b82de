"""scrapyd deployment: ``scrapyd-deploy`` builds an egg of this project, a real scrapyd runs a job."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import REPO

from ali1688spider.sandbox.process import crawl_environment, free_port

PROJECT = "ali1688spider"


def copy_project(target: Path, scrapyd_url: str) -> None:
    """The project files scrapyd-deploy packs, with the deploy target pointing at *scrapyd_url*.

    Building in a copy keeps build/ and *.egg-info out of the working tree.
    """
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, target / name)
    shutil.copytree(REPO / PROJECT, target / PROJECT, ignore=shutil.ignore_patterns("__pycache__"))
    config = (REPO / "scrapy.cfg").read_text(encoding="utf-8")
    lines = [f"url = {scrapyd_url}/" if line.startswith("url") else line for line in config.splitlines()]
    (target / "scrapy.cfg").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def scrapyd(tmp_path, sandbox):
    """A scrapyd on a free port whose jobs reach the sandbox (``ALI1688_*`` in its environment)."""
    root = tmp_path / "scrapyd"
    root.mkdir()
    port = free_port()
    (root / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        f"bind_address = 127.0.0.1\nhttp_port = {port}\n"
        f"eggs_dir = {root / 'eggs'}\nlogs_dir = {root / 'logs'}\n"
        f"items_dir = {root / 'items'}\ndbs_dir = {root / 'dbs'}\n"
        "max_proc = 1\npoll_interval = 0.5\n",
        encoding="utf-8",
    )
    # Jobs keep their reports and state in the test's directory, not scrapyd's user's home.
    env = crawl_environment(sandbox.env(), {"ALI1688_DATA_DIR": str(root / "data")})
    process = subprocess.Popen(
        [sys.executable, "-m", "scrapyd"], cwd=root, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{url}/daemonstatus.json", timeout=2).raise_for_status()
            break
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("scrapyd did not start")
            time.sleep(0.2)
    yield url, root
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def deployed(tmp_path, scrapyd):
    """scrapyd with this project deployed by ``scrapyd-deploy``: (url, scrapyd's root)."""
    url, root = scrapyd
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    copy_project(project_dir, url)
    # Building the egg is setuptools' business (its `setup.py` commands warn by design).
    build_env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    deploy = subprocess.run(
        ["scrapyd-deploy", "default", "-p", PROJECT, "--version", "r1"],
        cwd=project_dir, env=build_env, capture_output=True, text=True, timeout=180,
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert '"status": "ok"' in deploy.stdout
    return url, root


def run_job(url: str, root: Path, spider: str, **data: str) -> tuple[str, list[dict]]:
    """Schedule a job through ``schedule.json``, wait for it; its log and items."""
    scheduled = requests.post(
        f"{url}/schedule.json", data={"project": PROJECT, "spider": spider, **data}, timeout=10
    ).json()
    assert scheduled["status"] == "ok", scheduled
    job = scheduled["jobid"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        jobs = requests.get(f"{url}/listjobs.json", params={"project": PROJECT}, timeout=10).json()
        if any(j["id"] == job for j in jobs["finished"]):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the scrapyd job did not finish: {jobs}")
    log = (root / "logs" / PROJECT / spider / f"{job}.log").read_text(encoding="utf-8")
    items_path = root / "items" / PROJECT / spider / f"{job}.jl"
    items = [json.loads(line) for line in items_path.read_text(encoding="utf-8").splitlines() if line]
    return log, items


def test_scrapyd_deploy_and_run_a_product_job(deployed, sandbox):
    url, root = deployed
    spiders = requests.get(f"{url}/listspiders.json", params={"project": PROJECT}, timeout=30).json()
    assert {"product", "watch"} <= set(spiders["spiders"]), spiders

    ids = sandbox.get(f"/sandbox/shops/{sandbox.shop(60)['seller_open_id']}/ids")[:5]
    log, items = run_job(url, root, "product", ids=",".join(ids))
    assert "Spider closed (finished)" in log, log[-3000:]
    assert "Traceback" not in log
    assert sandbox.credentials["app_secret"] not in log
    assert sorted(item["product_id"] for item in items) == sorted(ids)


def test_a_scheduled_watchlist_records_changes(tmp_path, deployed, sandbox):
    """What docs/scrapyd.md shows: a watchlist on the scrapyd machine, scheduled with
    ``schedule.json`` (and a cron line calling it), storing into a database."""
    url, root = deployed
    shop = sandbox.shop(60)
    watchlist = tmp_path / "watch.toml"
    seller = shop["seller_open_id"]
    watchlist.write_text(f'[[shop]]\nseller_open_id = "{seller}"\n', encoding="utf-8")
    db = tmp_path / "watch.db"
    log, items = run_job(url, root, "watch", watchlist=str(watchlist), setting=f"ALI1688_DB_URL=sqlite:///{db}")
    assert "Spider closed (finished)" in log, log[-3000:]
    assert len(items) == shop["products"]
    assert f"'ali1688/changes/new': {shop['products']}" in log
