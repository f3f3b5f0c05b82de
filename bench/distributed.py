"""Benchmark: N distributed workers against a sandbox limited to Q calls/s per app key.

Starts a redis-server and a sandbox gateway (``--qps Q``), then for each worker count crawls
the products of one sandbox shop with that many ``scrapy crawl`` workers sharing one Redis
queue and rate limit. Reports the combined call rate (steady state, measured at the sandbox)
against Q, the sandbox's peak calls in any sliding second, and QPS-limit errors. Prints a
table and writes ``bench/results/distributed.json``.

    python bench/distributed.py --qps 20 --workers 2 4 --shop-size 640
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from _common import start_redis  # noqa: E402

from ali1688spider.sandbox.process import (  # noqa: E402  (needs the checkout on sys.path)
    crawl_environment,
    start_sandbox_process,
)

RESULTS = REPO / "bench" / "results" / "distributed.json"
QPS_LIMIT_CODE = "gw.QosAppFrequencyLimit"


def run(workers: int, qps: float, ids: list[str], sandbox: dict, redis_url: str, tmp: Path) -> dict:
    base = sandbox["base_url"]
    redis.Redis.from_url(redis_url).flushall()
    requests.post(f"{base}/sandbox/stats/reset", timeout=10).raise_for_status()
    ids_file = tmp / "ids.txt"
    ids_file.write_text("\n".join(ids), encoding="utf-8")
    env = crawl_environment()
    env.update({
        "ALI1688_GATEWAY_URL": sandbox["url"],
        "ALI1688_APP_KEY": sandbox["app_key"],
        "ALI1688_APP_SECRET": sandbox["app_secret"],
        "ALI1688_ACCESS_TOKEN": sandbox["access_token"],
        "ALI1688_REFRESH_TOKEN": sandbox["refresh_token"],
        "ALI1688_REDIS_URL": redis_url,
        "ALI1688_QPS": str(qps),
        "ALI1688_REDIS_IDLE_TIMEOUT": "2",
    })
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "scrapy", "crawl", "product", "-a", f"ids_file={ids_file}",
             "-O", str(tmp / f"w{workers}-{n}.jsonl"), "-s", "LOG_LEVEL=WARNING"],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for n in range(workers)
    ]
    # Sample the sandbox's call counter: the steady rate runs from the first to the last call.
    samples: list[tuple[float, int]] = []
    while any(p.poll() is None for p in processes):
        calls = requests.get(f"{base}/sandbox/stats", timeout=10).json()["total_calls"]
        samples.append((time.monotonic(), calls))
        time.sleep(0.25)
    stats = requests.get(f"{base}/sandbox/stats", timeout=10).json()
    moving = [(t, c) for t, c in samples if 0 < c < stats["total_calls"]]
    (t0, c0), (t1, c1) = moving[0], moving[-1]
    rate = (c1 - c0) / (t1 - t0) if t1 > t0 else float("nan")
    items = []
    for n in range(workers):
        path = tmp / f"w{workers}-{n}.jsonl"
        items.append([json.loads(line)["product_id"] for line in path.read_text().splitlines() if line])
    crawled = [i for per_worker in items for i in per_worker]
    return {
        "workers": workers,
        "qps_limit": qps,
        "products": len(ids),
        "calls": stats["total_calls"],
        "combined_rate": round(rate, 2),
        "rate_vs_limit": round(rate / qps, 3),
        "peak_qps": max(stats["peak_qps"].values()),
        "qps_errors": stats["errors"].get(QPS_LIMIT_CODE, 0),
        "items_per_worker": [len(per_worker) for per_worker in items],
        "missing": len(set(ids) - set(crawled)),
        "duplicates": len(crawled) - len(set(crawled)),
        "exit_codes": [p.returncode for p in processes],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qps", type=float, default=20.0, help="sandbox limit Q (calls/s per app key)")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--shop-size", type=int, default=640, help="crawl the largest shop up to this size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ali1688-bench-") as root:
        tmp = Path(root)
        redis_process, redis_url = start_redis(tmp)
        started = start_sandbox_process("--qps", str(args.qps), cwd=str(REPO))
        sandbox = started.info
        try:
            shops = requests.get(f"{sandbox['base_url']}/sandbox/shops", timeout=10).json()
            shop = max((s for s in shops if s["products"] <= args.shop_size), key=lambda s: s["products"])
            ids = requests.get(
                f"{sandbox['base_url']}/sandbox/shops/{shop['seller_open_id']}/ids", timeout=30
            ).json()
            rows = [run(n, args.qps, ids, sandbox, redis_url, tmp) for n in args.workers]
        finally:
            started.stop()
            redis_process.terminate()
    header = ("workers", "Q", "calls", "rate/s", "rate/Q", "peak", "QPS errors", "missing", "dupes")
    print(" | ".join(f"{h:>10}" for h in header))
    for r in rows:
        values = (r["workers"], r["qps_limit"], r["calls"], r["combined_rate"], r["rate_vs_limit"],
                  r["peak_qps"], r["qps_errors"], r["missing"], r["duplicates"])
        print(" | ".join(f"{v:>10}" for v in values))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": rows}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
