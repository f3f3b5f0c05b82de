"""The tutorial "Watch a competitor's shop" (``docs/watch-a-shop.md``), run from its page.

Its shell blocks are taken from the page, in order, and run as one ``bash -e`` script with
``HOME`` in the test's directory; the sandbox block is started as the second terminal would,
and the crontab line is run as cron runs it. What the test changes, and only that: the
sandbox listens on a free port (the page's ``127.0.0.1:8688`` is replaced by its address) and
takes any rate (``--qps 0``, with ``ALI1688_QPS`` raised in the environment, so the suite stays
quick); the page's example webhook is replaced by a receiver of the test's; ``pip install``
lines are skipped (the ``dev`` extra holds the ``chart`` extra).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers import REPO
from markdown_it import MarkdownIt

from ali1688spider.sandbox.process import crawl_environment, start_sandbox_process

PAGE = REPO / "docs" / "watch-a-shop.md"
PAGE_SANDBOX = "127.0.0.1:8688"
PAGE_WEBHOOK = "https://hooks.example.com/ali1688"


@dataclass
class Block:
    language: str
    caption: str
    text: str


def page_blocks() -> list[Block]:
    """The page's fenced blocks, ``{code-block}`` directives with their caption."""
    blocks = []
    for token in MarkdownIt().parse(PAGE.read_text(encoding="utf-8")):
        if token.type != "fence":
            continue
        language, caption, lines = token.info.strip(), "", token.content.splitlines()
        if language.startswith("{code-block}"):
            language = language.removeprefix("{code-block}").strip()
            while lines and lines[0].startswith(":"):
                name, _, value = lines.pop(0)[1:].partition(":")
                caption = value.strip() if name == "caption" else caption
        blocks.append(Block(language, caption, "\n".join(lines).strip() + "\n"))
    return blocks


def tallies(start: str, text: str) -> list[dict[str, int]]:
    """The ``kind count`` pairs of each line of *text* that starts with *start*."""
    lines = [line for line in text.splitlines() if start in line]
    return [dict((kind, int(count)) for kind, count in re.findall(r"([a-z_]+(?::\d+)?) (\d+)\b", line.split(start)[1]))
            for line in lines]


def test_the_tutorial_runs_as_written(tmp_path, receiver_factory):
    blocks = page_blocks()
    [sandbox_block] = [b for b in blocks if b.caption == "in a second terminal"]
    [cron_block] = [b for b in blocks if b.caption == "crontab"]
    script = [b.text for b in blocks if b.language == "bash" and not b.caption]
    command = shlex.split(sandbox_block.text)
    assert command[:2] == ["ali1688", "sandbox"] and "--port" in command
    port_at = command.index("--port") + 1
    sandbox = start_sandbox_process(*command[2:port_at], "0", *command[port_at + 1:], "--qps", "0")
    receiver = receiver_factory()
    address = sandbox.base_url.removeprefix("http://")

    def as_run_here(text: str) -> str:
        lines = [line for line in text.splitlines() if not line.startswith("pip install ")]
        return "\n".join(lines).replace(PAGE_SANDBOX, address).replace(PAGE_WEBHOOK, receiver.url()) + "\n"

    home = tmp_path / "home"
    (home / "venv").mkdir(parents=True)
    (home / "venv" / "bin").symlink_to(Path(sys.executable).parent)
    env = crawl_environment({"HOME": str(home), "ALI1688_QPS": "500",
                             "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})
    try:
        ran = subprocess.run(["bash", "-e", "-c", as_run_here("\n".join(script))], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=400)
        assert ran.returncode == 0, ran.stderr[-4000:]
        watch = home / "watch-a-shop"
        # The page's tallies are the ones the commands give (in whatever order they print).
        output = ran.stdout + ran.stderr
        for start in ("Changes recorded:", "Crawl run 2:", "Alerts: 22 changes matched"):
            [shown] = tallies(start, PAGE.read_text(encoding="utf-8"))
            assert shown in tallies(start, output), start
        posted = receiver.bodies()
        assert len(posted) >= 1 and posted[0]["run_id"] == 2 and len(posted[0]["changes"]) == 22
        assert (watch / "prices.png").stat().st_size > 10_000
        assert sorted(path.name for path in (watch / "reports").glob("shop-*.json"))
        # The cron line, as cron runs it: sh, its own PATH, from the home directory.
        schedule = as_run_here(cron_block.text).split(maxsplit=5)
        assert len(schedule) == 6 and schedule[:5] == ["0", "7", "*", "*", "*"]
        daily = subprocess.run(["sh", "-c", schedule[5]], cwd=home, env={"HOME": str(home)},
                               capture_output=True, text=True, timeout=240)
        assert daily.returncode == 0, (watch / "crawl.log").read_text()[-4000:]
        assert "Spider closed (finished)" in (watch / "crawl.log").read_text()
    finally:
        sandbox.stop()
