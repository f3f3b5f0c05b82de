"""A crawl stopped by SIGINT or SIGTERM before it was complete: real processes, real signals.

The exit code tells a wrapper it was stopped (130, 143), and the last line says how to resume.
The crawl is paced at 5 calls a second over a shop of about 5,000 products with details, so it
is far from complete when the signal is sent, right after the spider opened.
"""

from __future__ import annotations

import shlex
import signal
import subprocess

import pytest
from conftest import REPO

from ali1688spider.sandbox.process import crawl_command, crawl_environment


def stopped_crawl(sandbox, tmp_path, signum: int, **settings: str) -> tuple[int, list[str], list[str]]:
    """The exit code, log lines and command of a shop crawl sent *signum* once it opened."""
    command = crawl_command("shop", output=tmp_path / "items.jsonl",
                            args={"seller_open_id": sandbox.shop(5000)["seller_open_id"], "details": "1"},
                            settings={"ALI1688_QPS": "5", "ALI1688_REPORT_FILE": str(tmp_path / "report.json"),
                                      "ALI1688_STATE_FILE": str(tmp_path / "state.json"), **settings})
    lines = []
    with subprocess.Popen(command, cwd=REPO, env=crawl_environment(sandbox.env()), stderr=subprocess.PIPE,
                          stdout=subprocess.DEVNULL, text=True) as process:
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if "Spider opened" in line:
                process.send_signal(signum)
                break
        lines += process.stderr.read().splitlines()
        return process.wait(timeout=120), lines, command


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_crawl_with_a_jobdir_exits_with_the_signals_code_and_names_the_resuming_command(
        sandbox, tmp_path, signum, code):
    jobdir = tmp_path / "job"
    returncode, lines, command = stopped_crawl(sandbox, tmp_path, signum, JOBDIR=str(jobdir))
    assert returncode == code, "\n".join(lines[-30:])
    name = signal.Signals(signum).name
    assert lines[-1].endswith(
        f"Stopped by {name} before the crawl was complete; to resume it from JOBDIR {jobdir}, run the same "
        f"command: scrapy {shlex.join(command[3:])}")


def test_a_stopped_crawl_without_a_jobdir_names_the_option_that_makes_it_resumable(sandbox, tmp_path):
    returncode, lines, _ = stopped_crawl(sandbox, tmp_path, signal.SIGTERM)
    assert returncode == 143, "\n".join(lines[-30:])
    assert lines[-1].endswith("Stopped by SIGTERM before the crawl was complete, with no JOBDIR to resume from: "
                              "run it again with -s JOBDIR=crawls/shop added, and a later stop resumes with "
                              "that same command")
