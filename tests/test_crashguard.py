"""The crash guard: a JOBDIR left by a killed run is started over, a cleanly closed one is not.

The end-to-end case (a shop crawl SIGKILLed half-way and resumed) is in test_faults.py.
"""

from __future__ import annotations

import logging

import pytest
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from ali1688spider.extensions.crashguard import (
    MARKER,
    STORED,
    CrashGuard,
    crash_guard_for,
)


def scrapy_state(jobdir) -> None:
    (jobdir / "requests.queue").mkdir(parents=True)
    (jobdir / "requests.queue" / "active.json").write_text("[]")
    (jobdir / "requests.seen").write_text("f" * 40 + "\n")
    (jobdir / "spider.state").write_bytes(b"state")


def guard(jobdir, **settings) -> tuple[CrashGuard, object]:
    crawler = get_crawler(settings_dict={"JOBDIR": str(jobdir), **settings})
    return CrashGuard.from_crawler(crawler), crawler


def test_a_cleanly_closed_job_is_left_alone_and_the_marker_lives_while_it_runs(tmp_path):
    jobdir = tmp_path / "job"
    scrapy_state(jobdir)
    found, crawler = guard(jobdir, ALI1688_DB_URL="sqlite:///x.db")
    assert not found.crashed and found.stored == frozenset()
    assert crash_guard_for(crawler) is found
    assert not (jobdir / MARKER).exists()  # written once the spider opens, not before

    crawler.signals.send_catch_log(signals.spider_opened, spider=None)
    assert (jobdir / MARKER).exists()
    found.acknowledge(["1", "2"])
    crawler.signals.send_catch_log(signals.spider_closed, spider=None, reason="shutdown")

    assert not (jobdir / MARKER).exists()
    assert (jobdir / STORED).read_text() == "1\n2\n"
    assert sorted(p.name for p in jobdir.iterdir()) == sorted(
        ["requests.queue", "requests.seen", "spider.state", STORED]
    )
    resumed, _ = guard(jobdir, ALI1688_DB_URL="sqlite:///x.db")
    assert not resumed.crashed and resumed.stored == {"1", "2"}


def test_a_killed_run_is_started_over_keeping_what_was_stored(tmp_path, caplog):
    jobdir = tmp_path / "job"
    scrapy_state(jobdir)
    (jobdir / MARKER).write_text("pid 1\n")
    (jobdir / STORED).write_text("11\n12\n13")  # the last line was cut by the kill

    with caplog.at_level(logging.WARNING):
        found, _ = guard(jobdir, ALI1688_DB_URL="sqlite:///x.db")

    assert found.crashed and found.stored == {"11", "12"}
    found.spider_opened()
    found.acknowledge(["14"])
    assert (jobdir / STORED).read_text() == "11\n12\n14\n"
    found.spider_closed("finished")
    aside = [p for p in jobdir.iterdir() if p.name.startswith("crashed-")]
    assert len(aside) == 1
    assert sorted(p.name for p in aside[0].iterdir()) == ["requests.queue", "requests.seen", "spider.state"]
    assert not (jobdir / "requests.seen").exists() and not (jobdir / "spider.state").exists()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "starts over" in warnings[0] and "2 products" in warnings[0]


def test_without_a_database_nothing_counts_as_stored(tmp_path, monkeypatch):
    monkeypatch.delenv("ALI1688_DB_URL", raising=False)
    jobdir = tmp_path / "job"
    scrapy_state(jobdir)
    (jobdir / MARKER).write_text("pid 1\n")
    (jobdir / STORED).write_text("11\n")  # from an earlier run that had ALI1688_DB_URL
    found, crawler = guard(jobdir)
    assert found.crashed and found.stored == frozenset()
    crawler.signals.send_catch_log(signals.spider_opened, spider=None)
    found.acknowledge(["12"])
    assert (jobdir / STORED).read_text() == "11\n"


def test_off_without_jobdir():
    with pytest.raises(NotConfigured):
        CrashGuard.from_crawler(get_crawler(settings_dict={}))
