"""A user's own Scrapy project: the package built as a wheel, installed into a fresh virtual
environment outside this checkout, ``scrapy startproject``, the add-on line; then the tutorial's
spider, the shipped ``shop`` spider, the user's own pipeline, feed and download handler, a user
setting over an add-on default, the add-on's refusals, and the project deployed to a real scrapyd.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest
import requests
from conftest import REPO
from filelock import FileLock

from ali1688spider.sandbox.process import free_port

TUTORIAL = REPO / "docs" / "tutorial" / "cheap_products.py"

USER_CODE = {
    "pipelines.py": '''
import json


class CountingPipeline:
    """The user's own pipeline: counts items, notes one setting the add-on also sets."""

    def open_spider(self, spider):
        self.count = 0
        self.concurrent_items = spider.crawler.settings.getint("CONCURRENT_ITEMS")

    def process_item(self, item, spider):
        self.count += 1
        return item

    def close_spider(self, spider):
        with open("pipeline.json", "w") as out:
            json.dump({"items": self.count, "concurrent_items": self.concurrent_items}, out)
''',
    "handlers.py": '''
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.http import TextResponse


class EchoHandler(BaseDownloadHandler):
    """The user's own handler of the echo: scheme."""

    async def download_request(self, request):
        return TextResponse(request.url, body=b"echoed", encoding="utf-8", request=request)
''',
    "spiders/echo.py": '''
import scrapy


class EchoSpider(scrapy.Spider):
    name = "echo"

    async def start(self):
        yield scrapy.Request("echo://anything")

    def parse(self, response):
        yield {"echo": response.text}
''',
}
SETTINGS = '''
ADDONS = {"ali1688spider.Addon": 500}
SPIDER_MODULES = ["myshop.spiders", "ali1688spider.spiders"]
ITEM_PIPELINES = {"myshop.pipelines.CountingPipeline": 900}
DOWNLOAD_HANDLERS = {"echo": "myshop.handlers.EchoHandler"}
FEEDS = {"feed.jsonl": {"format": "jsonlines"}}
CONCURRENT_ITEMS = 7
'''


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600):
    """*command* in the user's environment (not this suite's, whose warnings are errors)."""
    return subprocess.run(command, cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=timeout)


def clean_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("ALI1688_", "PYTHON", "SCRAPY_")) and key != "VIRTUAL_ENV"}


@pytest.fixture(scope="module")
def user_project(tmp_path_factory):
    """``myshop``: a fresh venv with the wheel of this checkout, a new Scrapy project in it."""
    root = tmp_path_factory.mktemp("user")
    base = tmp_path_factory.getbasetemp()
    # The run's directory: an xdist worker's base is a directory of it; a plain run's is it.
    dist = built_distributions(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
    venv.create(root / "venv", with_pip=True)
    python = root / "venv" / "bin" / "python"
    [wheel] = dist.glob("*.whl")
    # --no-compile: byte-compiling every installed module would cost a third of the install;
    # what the user's commands import is compiled as they import it.
    installed = run([str(python), "-m", "pip", "install", "-q", "--no-compile", str(wheel), "scrapyd>=1.4",
                     "scrapyd-client>=1.2"], root)
    assert installed.returncode == 0, installed.stderr[-3000:]
    made = run([str(root / "venv" / "bin" / "scrapy"), "startproject", "myshop"], root)
    assert made.returncode == 0, made.stderr
    project = root / "myshop"
    package = project / "myshop"
    for name, code in USER_CODE.items():
        (package / name).write_text(code, encoding="utf-8")
    shutil.copy(TUTORIAL, package / "spiders" / TUTORIAL.name)
    with (package / "settings.py").open("a", encoding="utf-8") as settings:
        settings.write(SETTINGS)
    return project


def built_distributions(shared: Path) -> Path:
    """The wheel and sdist of this checkout, checked as PyPI would, built once for every
    xdist worker of the run (two builds at once in one checkout trip over each other's
    ``build/`` directory)."""
    dist = shared / "dist"
    with FileLock(shared / "dist.lock"):
        if not dist.exists():
            shutil.rmtree(shared / "dist.tmp", ignore_errors=True)
            built = run([sys.executable, "-m", "build", "--wheel", "--sdist", "-o", str(shared / "dist.tmp"),
                         str(REPO)], shared)
            assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
            shutil.rmtree(REPO / "build", ignore_errors=True)  # setuptools' leftovers in the checkout
            checked = run([sys.executable, "-m", "twine", "check", *map(str, (shared / "dist.tmp").iterdir())], shared)
            assert checked.returncode == 0 and "PASSED" in checked.stdout, checked.stdout + checked.stderr
            (shared / "dist.tmp").rename(dist)
    return dist


def user_env(project: Path, **extra: str) -> dict[str, str]:
    """The user's shell: the venv first on PATH, nothing of this checkout, no credentials."""
    env = clean_env()
    env["PATH"] = f"{project.parent / 'venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def scrapy(project: Path, *words: str, **extra: str) -> subprocess.CompletedProcess:
    return run(["scrapy", *words], project, user_env(project, **extra))


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_wheel_holds_what_a_crawl_needs(user_project):
    python = user_project.parent / "venv" / "bin" / "python"
    shown = run([str(python), "-c", "import ali1688spider, ali1688spider.sandbox.catalog as c, pathlib; "
                                   "print(ali1688spider.__version__, ali1688spider.__file__)"], user_project.parent)
    assert shown.returncode == 0, shown.stderr
    version, location = shown.stdout.split()
    assert str(REPO) not in location and "site-packages" in location
    assert (Path(location).parent / "py.typed").exists()
    assert version == __import__("ali1688spider").__version__


def test_the_tutorial_spider_crawls_the_embedded_sandbox(user_project, sandbox):
    sellers = [shop["seller_open_id"] for shop in sorted(sandbox.shops(), key=lambda s: s["products"])[:3]]
    (user_project / "feed.jsonl").unlink(missing_ok=True)
    result = scrapy(user_project, "crawl", "cheap_products", "-a", "sellers=" + ",".join(sellers),
                    "-s", "ALI1688_QPS=500")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "embedded sandbox" in result.stderr.lower()
    items = jsonl(user_project / "feed.jsonl")
    assert items and all(float(item["price_min"]) < 10 and item["moq"] <= 5 for item in items)
    # Signed, paced, normalized: details with SKUs and tiers, from the shops named.
    assert all(isinstance(item["skus"], list) and item["seller_open_id"] in sellers for item in items)
    # The user's pipeline ran on every item, and the user's CONCURRENT_ITEMS beat the add-on's.
    assert json.loads((user_project / "pipeline.json").read_text()) == {"items": len(items), "concurrent_items": 7}


def test_the_shipped_shop_spider_completes_a_shop_with_its_report(user_project, sandbox):
    shop = sandbox.shop(100)
    (user_project / "feed.jsonl").unlink(missing_ok=True)
    result = scrapy(user_project, "crawl", "shop", "-a", f"seller_open_id={shop['seller_open_id']}",
                    "-s", "ALI1688_QPS=500", "-s", "ALI1688_REPORT_FILE=reports/shop.json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(jsonl(user_project / "feed.jsonl")) == shop["products"]
    report = json.loads((user_project / "reports" / "shop.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "complete" and report["delivered"] == shop["products"]


def test_the_users_handler_for_another_scheme_stays(user_project):
    (user_project / "feed.jsonl").unlink(missing_ok=True)
    result = scrapy(user_project, "crawl", "echo")
    assert result.returncode == 0, result.stderr[-3000:]
    assert jsonl(user_project / "feed.jsonl") == [{"echo": "echoed"}]


@pytest.mark.parametrize(("setting", "message"), [
    ('ADDONS = {"ali1688spider.Addon": 500, "ali1688spider.addon.Addon": 600}',
     "ADDONS lists the ali1688spider add-on 2 times"),
    ('DOWNLOAD_HANDLERS = {"https": None}',
     "DOWNLOAD_HANDLERS disables 'https', which the 1688 API is called over"),
])
def test_an_addon_it_cannot_work_with_is_one_line_and_exit_2(user_project, setting, message):
    settings = user_project / "myshop" / "settings.py"
    original = settings.read_text(encoding="utf-8")
    settings.write_text(original + setting + "\n", encoding="utf-8")
    try:
        result = scrapy(user_project, "crawl", "shop", "-a", "seller_open_id=x")
    finally:
        settings.write_text(original, encoding="utf-8")
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_spider_that_makes_no_call_is_refused_before_any(user_project):
    spider = user_project / "myshop" / "spiders" / "idle.py"
    spider.write_text("from ali1688spider import Ali1688Spider\n\n\nclass IdleSpider(Ali1688Spider):\n"
                      "    name = 'idle'\n", encoding="utf-8")
    try:
        result = scrapy(user_project, "crawl", "idle")
    finally:
        spider.unlink()
    assert result.returncode == 2
    assert "spider 'idle' (myshop.spiders.idle.IdleSpider) makes no call: define async def start(self), " \
           "start_requests(self) or requests_for(self, args)" in result.stderr


def test_the_users_project_runs_the_shop_spider_under_scrapyd(user_project, sandbox, tmp_path):
    port = free_port()
    (tmp_path / "scrapyd.conf").write_text(
        f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\neggs_dir = {tmp_path / 'eggs'}\n"
        f"logs_dir = {tmp_path / 'logs'}\nitems_dir = {tmp_path / 'items'}\ndbs_dir = {tmp_path / 'dbs'}\n"
        "max_proc = 1\npoll_interval = 0.5\n", encoding="utf-8")
    # The job keeps its files in the test's directory, not in the home of scrapyd's user.
    env = user_env(user_project, **sandbox.env(), ALI1688_DATA_DIR=str(tmp_path / "data"))
    server = subprocess.Popen(["scrapyd"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                requests.get(f"{url}/daemonstatus.json", timeout=2).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.1)
        config = user_project / "scrapy.cfg"
        config.write_text(config.read_text().replace("#url = http://localhost:6800/", f"url = {url}/"))
        deployed = run(["scrapyd-deploy"], user_project, env)
        assert deployed.returncode == 0 and '"status": "ok"' in deployed.stdout, deployed.stdout + deployed.stderr
        shop = sandbox.shop(60)
        job = requests.post(f"{url}/schedule.json", data={
            "project": "myshop", "spider": "shop", "seller_open_id": shop["seller_open_id"],
            "setting": ["ALI1688_QPS=500", f"ALI1688_REPORT_FILE={tmp_path / 'report.json'}"],
        }, timeout=10).json()
        assert job["status"] == "ok", job
        for _ in range(1200):
            finished = requests.get(f"{url}/listjobs.json", params={"project": "myshop"}, timeout=5).json()["finished"]
            if finished:
                break
            time.sleep(0.1)
        log = next((tmp_path / "logs").rglob("*.log")).read_text(encoding="utf-8", errors="replace")
        assert "Spider closed (finished)" in log, log[-3000:]
        report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
        assert report["verdict"] == "complete" and report["delivered"] == shop["products"]
    finally:
        server.terminate()
        server.wait(timeout=30)
