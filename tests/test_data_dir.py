"""One data directory for what a crawl keeps between runs (reports, sync state, tokens, the
monitor history), and ``scrapy crawl`` from any directory.

The crawls run as a new user runs them: ``python -m scrapy crawl shop …`` in a subprocess whose
working directory is a temporary one, outside the checkout, with ``HOME`` and
``XDG_DATA_HOME`` pointing into the test's directory.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import ali1688spider
from ali1688spider.config import data_dir
from ali1688spider.api.oauth import TokenSet
from ali1688spider.gateway.tokenstore import token_store_from_settings
from ali1688spider.monitoring.health import health_limits
from ali1688spider.sandbox.process import crawl_command, crawl_environment

PACKAGE = Path(ali1688spider.__file__).resolve().parent


def crawl_from(cwd: Path, sandbox, shop: dict, *, env: dict[str, str], args: dict[str, str] | None = None):
    """``scrapy crawl shop`` of *shop* started in *cwd*, with no report or state setting."""
    command = crawl_command("shop", output=cwd / "products.jsonl",
                            args={"seller_open_id": shop["seller_open_id"], **(args or {})})
    return subprocess.run(command, cwd=cwd, env=crawl_environment(sandbox.env(), env),
                          capture_output=True, text=True, timeout=240)


def files_under(directory: Path) -> list[str]:
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file())


def package_files() -> set[Path]:
    return {path for path in PACKAGE.rglob("*") if "__pycache__" not in path.parts}


def test_a_crawl_outside_any_project_runs_and_keeps_its_files_in_the_user_data_directory(sandbox, tmp_path):
    shop = sandbox.shop(60)
    workdir, home = tmp_path / "anywhere", tmp_path / "home"
    workdir.mkdir()
    before = package_files()
    done = crawl_from(workdir, sandbox, shop, env={"HOME": str(home), "XDG_DATA_HOME": str(home / "data")})
    assert done.returncode == 0, done.stderr[-3000:]
    delivered = [json.loads(line) for line in (workdir / "products.jsonl").read_text().splitlines()]
    assert {item["product_id"] for item in delivered} == set(sandbox.ids(shop))
    # Only the feed the user asked for lands where the command ran.
    assert files_under(workdir) == ["products.jsonl"]
    reports = list((home / "data" / "ali1688spider" / "reports").glob("shop-*.json"))
    assert len(reports) == 1, files_under(home)
    assert json.loads(reports[0].read_text())["verdict"] == "complete"
    assert str(reports[0]) in done.stderr
    assert package_files() == before


def test_inside_a_project_the_defaults_are_relative_to_the_project_directory(sandbox, tmp_path):
    """DESIGN.md's defaults (``reports/…``, ``state/…``) keep working for scripts that run in
    a project directory, and land there even when the command runs from a subdirectory."""
    shop = sandbox.shop(60)
    project = tmp_path / "project"
    (project / "deeper").mkdir(parents=True)
    (project / "scrapy.cfg").write_text("[settings]\ndefault = ali1688spider.settings\n")
    done = crawl_from(project / "deeper", sandbox, shop, args={"incremental": "1"},
                      env={"HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr[-3000:]
    kept = files_under(project)
    assert "state/ali1688-sync.json" in kept
    assert [name for name in kept if name.startswith("reports/shop-")], kept
    assert not (tmp_path / "home" / ".local" / "share" / "ali1688spider").exists()


def test_relative_paths_of_every_file_setting_resolve_against_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = {"ALI1688_DATA_DIR": "kept", "ALI1688_TOKEN_STORE": "tokens.json",
                "ALI1688_MONITOR_HISTORY": "history/monitor.json"}
    assert data_dir(settings) == tmp_path / "kept"
    store = token_store_from_settings(settings)
    store.save("app-key", TokenSet(access_token="a", refresh_token="r"))
    assert (tmp_path / "kept" / "tokens.json").is_file()
    assert health_limits(settings).history == tmp_path / "kept" / "history" / "monitor.json"
    # An absolute path, or a Redis URL, is taken as given.
    assert health_limits({**settings, "ALI1688_MONITOR_HISTORY": str(tmp_path / "h.json")}).history == tmp_path / "h.json"
    assert "redis" in token_store_from_settings({**settings, "ALI1688_TOKEN_STORE": "redis://127.0.0.1:1/0"}).describe()


def test_the_default_data_directory_is_never_inside_the_installed_package(tmp_path, monkeypatch):
    monkeypatch.delenv("ALI1688_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(PACKAGE)
    assert PACKAGE != data_dir({}) and PACKAGE not in data_dir({}).parents
