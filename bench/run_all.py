"""Run every benchmark one after another, then print the summary as a Markdown table.

    python bench/run_all.py              # run all, then print the table (the README's)
    python bench/run_all.py --table      # only print the table from bench/results/*.json
    python bench/run_all.py --only overhead memory

Benchmarks share the machine with nothing else while they run: each starts its own sandbox
and crawls in subprocesses, one at a time. ``distributed`` (``bench/distributed.py``) needs
``redis-server`` and is skipped without it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys

from _common import REPO, RESULTS, format_value

BENCHMARKS = (
    "rate_utilization", "pacing", "call_economy", "overhead", "memory", "faults", "cache", "changes",
    "false_removals", "analysis", "monitoring_economy", "planner_bound", "distributed", "sqlite_writer",
)
#: Benchmarks that write more than one results file (``analysis.py`` writes the history
#: overhead apart, as ``--skip-space-speed`` measures it alone; ``memory.py`` the
#: million-product run apart, which ``run_all`` does not start: it takes about 20 minutes).
RESULT_FILES = {"analysis": ("analysis", "analysis-overhead"), "memory": ("memory", "memory-1m")}
#: The distributed goal: the workers' combined rate at least 97 % of Q, never over it (the
#: sandbox's peak in any sliding second), and no QPS-limit refusal.
DISTRIBUTED_GOAL = 0.97


def distributed_rows(data: dict) -> list[dict]:
    """``bench/distributed.py`` writes its own shape: one summary row per worker count."""
    rows = []
    for run in data.get("runs", []):
        rows.append({
            "measure": f"distributed, {run['workers']} workers under one {run['qps_limit']:g} calls/s "
                       "limit: combined rate / Q",
            "value": f"{run['rate_vs_limit']:.3f} ({run['combined_rate']:g} calls/s, peak "
                     f"{run['peak_qps']}, {run['qps_errors']} QPS errors, {run['missing']} missing, "
                     f"{run['duplicates']} duplicates)",
            "unit": "",
            "goal": f">= {DISTRIBUTED_GOAL:.2f}, peak <= Q, 0 QPS errors",
            "met": run["rate_vs_limit"] >= DISTRIBUTED_GOAL and run["peak_qps"] <= run["qps_limit"]
            and not run["qps_errors"] and not run["missing"] and not run["duplicates"],
        })
    return rows


def table() -> str:
    lines = ["| benchmark | measure | value | goal | met |", "|---|---|---|---|---|"]
    machines = set()
    for name in (result for benchmark in BENCHMARKS for result in RESULT_FILES.get(benchmark, (benchmark,))):
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["summary"] if "summary" in data else distributed_rows(data)
        if "machine" in data:
            m = data["machine"]
            machines.add(f"{m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, "
                         f"Python {m['python']}, Scrapy {m['scrapy']}")
        for row in rows:
            met = {True: "yes", False: "**no**", None: ""}[row["met"]]
            value = format_value(row["value"], row.get("unit", ""))
            lines.append(f"| {name} | {row['measure']} | {value} | {row['goal']} | {met} |")
    lines.append("")
    lines.extend(f"Measured on: {m}" for m in sorted(machines))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="only print the table")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    options = parser.parse_args()
    if not options.table:
        failed = []
        for name in options.only or BENCHMARKS:
            if name == "distributed" and not shutil.which("redis-server"):
                print("skipping distributed: no redis-server on PATH")
                continue
            print(f"\n=== {name} ===", flush=True)
            if subprocess.run([sys.executable, str(REPO / "bench" / f"{name}.py")], cwd=REPO).returncode:
                failed.append(name)
        if failed:
            print(f"\nbenchmarks that failed to run: {', '.join(failed)}")
    print("\n" + table())


if __name__ == "__main__":
    main()
