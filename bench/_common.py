"""Shared pieces of the benchmarks: sandboxes and crawls in subprocesses, tables, result files.

Every benchmark starts its own sandbox gateway (``python -m ali1688spider.sandbox``) and runs
real ``scrapy crawl`` processes against it, so the figures include everything a user's crawl
pays for: process start, signing, rate limiting, pipelines and feed export.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

REPO = Path(__file__).resolve().parents[1]
# The benchmarks run as ``python bench/NAME.py`` from a checkout, installed or not.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results"

from ali1688spider.sandbox.process import (  # noqa: E402
    SandboxProcess,
    crawl_command,
    crawl_environment,
    free_port,
    start_sandbox_process,
)

QPS_LIMIT_CODE = "gw.QosAppFrequencyLimit"


# -- the sandbox -------------------------------------------------------------------------------


class Sandbox(SandboxProcess):
    """A sandbox gateway in a subprocess, with what the benchmarks ask of it besides."""

    def nearest_shop(self, size: int) -> dict[str, Any]:
        """The shop whose product count is closest to *size*."""
        return min(self.shops(), key=lambda s: abs(s["products"] - size))

    def reset_stats(self) -> None:
        self.post("/sandbox/stats/reset")


@contextmanager
def sandbox(*args: str) -> Iterator[Sandbox]:
    process = start_sandbox_process(*args, cwd=str(REPO))
    started = Sandbox(process.process, process.info)
    try:
        yield started
    finally:
        started.stop()


def start_redis(root: Path, *, persistent: bool = False, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """A redis-server on a free port (or *port*); its process and URL. *persistent*: every
    write in an append-only file, fsynced, so that a restart finds what a SIGKILL left."""
    import redis

    port = port or free_port()
    persistence = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no"]
    process = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--dir", str(root), "--save", "", *persistence],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(200):
        try:
            redis.Redis.from_url(url).ping()
            return process, url
        except redis.RedisError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def enqueue_seed(box: Sandbox, redis_url: str, spider: str, *words: str) -> None:
    """``ali1688 enqueue --fresh SPIDER key=value…`` into *redis_url*."""
    env = crawl_environment(box.env(ALI1688_REDIS_URL=redis_url))
    subprocess.run(
        [sys.executable, "-m", "ali1688spider.cli", "enqueue", "--fresh", spider, *words],
        cwd=REPO, env=env, check=True, capture_output=True, timeout=60,
    )


def worker(box: Sandbox, redis_url: str, directory: Path, spider: str, **settings: Any) -> Crawl:
    """A bare distributed worker of *spider* (its job comes from a seed), not started yet."""
    run = crawl(spider, directory, sandbox=box, settings=settings)
    run.env.update(ALI1688_REDIS_URL=redis_url, ALI1688_REDIS_IDLE_TIMEOUT="3")
    return run


@contextmanager
def workdir(name: str) -> Iterator[Path]:
    """A temporary directory for one benchmark's feeds, logs, reports and databases."""
    with tempfile.TemporaryDirectory(prefix=f"ali1688-bench-{name}-") as path:
        yield Path(path)


# -- crawls ------------------------------------------------------------------------------------


@dataclass
class Crawl:
    """One ``scrapy crawl`` subprocess: how to start it and, once ended, what came out."""

    spider: str
    directory: Path
    command: list[str]
    env: dict[str, str]
    cwd: Path = REPO
    process: subprocess.Popen | None = None
    returncode: int | None = None
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    cpu_seconds: float = 0.0
    _started: float = field(default=0.0, repr=False)

    @property
    def output(self) -> Path:
        return self.directory / "items.jsonl"

    @property
    def log_path(self) -> Path:
        return self.directory / "crawl.log"

    @property
    def stats_path(self) -> Path:
        return self.directory / "stats.json"

    @property
    def report_path(self) -> Path:
        return self.directory / "report.json"

    def start(self) -> Crawl:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._started = time.monotonic()
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def wait(self, timeout: float = 1800) -> Crawl:
        """Wait for the process. Its peak RSS is the sum of its own high-water mark
        (``VmHWM``) and its children's (the database writer), read while they run: ``wait4``'s
        ``ru_maxrss`` would include the RSS this benchmark process had when it started the
        child (Linux keeps the pre-exec mark), e.g. a parsed feed. Its CPU time includes its
        children's (``wait4`` counts those it waited for)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        peaks: dict[int, int] = {}
        while True:
            _note_high_water(self.process.pid, peaks)
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"crawl did not end within {timeout:.0f} s: see {self.log_path}")
            time.sleep(0.05)
        self.seconds = time.monotonic() - self._started
        self.returncode = os.waitstatus_to_exitcode(status)
        self.process.returncode = self.returncode
        self.peak_rss_mb = (sum(peaks.values()) or usage.ru_maxrss) / 1024  # kilobytes on Linux
        self.cpu_seconds = usage.ru_utime + usage.ru_stime
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (no queue flush, no close handlers)."""
        assert self.process is not None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.returncode = self.process.returncode

    def run(self, timeout: float = 1800) -> Crawl:
        return self.start().wait(timeout)

    def items(self) -> list[dict[str, Any]]:
        if not self.output.exists():
            return []
        with self.output.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def product_ids(self) -> list[str]:
        """Product ids of the feed, one per whole line (a killed crawl's last may be cut)."""
        ids = []
        if self.output.exists():
            for line in self.output.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    ids.append(json.loads(line)["product_id"])
                except (ValueError, KeyError):
                    continue
        return ids

    def stats(self) -> dict[str, Any]:
        return json.loads(self.stats_path.read_text(encoding="utf-8"))

    def report(self) -> dict[str, Any] | None:
        if not self.report_path.exists():
            return None
        return json.loads(self.report_path.read_text(encoding="utf-8"))

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def crawl_seconds(self) -> float:
        """Engine start to spider close, from the crawl's own stats (no interpreter start-up)."""
        stats = self.stats()
        started = dt.datetime.fromisoformat(str(stats["start_time"]))
        finished = dt.datetime.fromisoformat(str(stats["finish_time"]))
        return (finished - started).total_seconds()

    def check(self) -> Crawl:
        if self.returncode != 0:
            tail = "\n".join(self.log().splitlines()[-30:])
            raise RuntimeError(f"{self.spider} crawl exited {self.returncode}:\n{tail}")
        return self


def _high_water_kb(pid: int) -> int:
    """The peak resident set size of a running process, in kB (0 when unknown)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    """The running children of *pid* (those of every thread)."""
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def _note_high_water(pid: int, peaks: dict[int, int]) -> None:
    """Raise *peaks* to the high-water marks of *pid* and its descendants (a crawl's database
    writer process counts toward the crawl's memory)."""
    for process in [pid, *_children(pid)]:
        peaks[process] = max(peaks.get(process, 0), _high_water_kb(process))
        if process != pid:
            _note_high_water(process, peaks)


def crawl(
    spider: str,
    directory: Path,
    *,
    sandbox: Sandbox | None,
    args: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    feed: bool = True,
) -> Crawl:
    """A ``scrapy crawl SPIDER`` against *sandbox* (None: the embedded one), not started yet,
    writing into *directory*.

    The feed goes to ``items.jsonl``, the final stats to ``stats.json``, the crawl report to
    ``report.json`` and the incremental state to ``state.json`` of *directory*.
    """
    directory.mkdir(parents=True, exist_ok=True)
    all_settings = {
        "LOG_LEVEL": "INFO",
        "ALI1688_STATS_FILE": directory / "stats.json",
        "ALI1688_REPORT_FILE": directory / "report.json",
        "ALI1688_STATE_FILE": directory / "state.json",
        **(settings or {}),
    }
    command = crawl_command(
        spider, output=directory / "items.jsonl" if feed else None, overwrite=False,
        args=args, settings=all_settings,
    )
    env = crawl_environment(sandbox.env() if sandbox is not None else None)
    return Crawl(spider, directory, command, env)


def pages(count: int, page_size: int) -> int:
    return math.ceil(count / page_size)


# -- results -----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pages_total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        pages_total = 0
    import scrapy

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(pages_total / 2**30, 1),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "scrapy": scrapy.__version__,
        "platform": platform.platform(),
    }


def goal_row(measure: str, value: float, goal: str, met: bool | None, unit: str = "") -> dict[str, Any]:
    """One line of a benchmark's summary (also what the README table is built from)."""
    return {"measure": measure, "value": value, "unit": unit, "goal": goal, "met": met}


def write_results(name: str, summary: list[dict[str, Any]], details: dict[str, Any]) -> Path:
    """``bench/results/NAME.json`` with the summary rows, details, machine and command."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {
        "benchmark": name,
        "command": "python " + shlex.join([f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]]),
        "measured_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "machine": machine(),
        "summary": summary,
        "details": details,
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def format_value(value: Any, unit: str = "") -> str:
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def print_table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """A plain-text table of *rows* (dicts) with the given *columns*."""
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c)
              for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))


def print_summary(name: str, summary: Sequence[dict[str, Any]], path: Path) -> None:
    rows = [{**row, "value": format_value(row["value"], row["unit"]),
             "met": {True: "yes", False: "NO", None: "-"}[row["met"]]} for row in summary]
    print_table(f"{name}: goals", rows, ["measure", "value", "goal", "met"])
    print(f"\nwritten: {path.relative_to(REPO)}")
