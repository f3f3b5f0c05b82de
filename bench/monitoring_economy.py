"""Benchmark: monitoring at a fraction of the calls, against the sandbox's drifting catalogue.

1. Listing-visible changes: one shop, crawled daily with ``details=changed`` and no budget
   after its first full crawl. Each day: the calls spent against the floor (the listing pages
   plus one detail per product the day's ground truth changed in a way a listing shows), the
   share of those products found changed by the day's run, and false changes (a change
   recorded for a product the ground truth never changed). Goal: 100 % found at <= 1.05 x the
   floor, 0 false.
2. Planner against a careful user's baseline, same catalogue, same quota: shops watched with a
   daily call quota over simulated days (one run a day). The planner: a watchlist run with
   ``details=changed`` and ``ALI1688_MAX_REQUESTS`` = the quota (listings, the details they
   ask for, then the spare calls where changes are likeliest). The baseline: the same listings
   with ``details=0`` and the rest of the quota on details in round robin (an id-list entry of
   the same watchlist). Scored on the sandbox's ground truth, per change kind: the share found
   within 24 hours of happening, the mean delay of every change (one still not found counts
   until the last run: a lower bound of its delay) and the mean delay of those found (simulated
   hours; a side that finds fewer, only the easy ones, looks better by this one). Goals: at
   least 2 x the baseline's stock-outs found within 24 h, a mean stock-out delay (every
   stock-out) at most half the baseline's, 0 false changes; the planner's CPU <= 5 % of its
   crawls'.

Prints tables and writes ``bench/results/monitoring_economy.json``.

    python bench/monitoring_economy.py            # 10 shops x 5,000 products, 3,000 calls a day, 30 days
    python bench/monitoring_economy.py --quick    # 4 shops x 500, 300 calls a day, 8 days
"""

from __future__ import annotations

import argparse
import math
import shutil
import sqlite3
import statistics
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from _common import crawl, goal_row, print_summary, print_table, sandbox, workdir, write_results

PAGE = 50
DAY_HOURS = 24
FAST = {"ALI1688_QPS": "1000", "ALI1688_DETAIL_MAX_AGE": "0", "CONCURRENT_REQUESTS": "32"}
GOAL_LISTING_RATIO, GOAL_STOCKOUT_GAIN, GOAL_DELAY_RATIO, GOAL_PLANNER_CPU = 1.05, 2.0, 0.5, 0.05


def changes_since(box: Any, since: str, seller: str | None = None) -> list[dict[str, Any]]:
    query = f"/sandbox/changes?since={quote(since)}" + (f"&seller_open_id={seller}" if seller else "")
    return box.get(query)


def recorded(db: Path) -> list[tuple[str, str, int]]:
    """(product id, kind, run id) of every change the crawls recorded."""
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT product_id, kind, run_id FROM product_changes").fetchall()


def watch(box: Any, directory: Path, entries: str, db: Path, **settings: Any) -> Any:
    watchlist = directory / "watchlist.toml"
    directory.mkdir(parents=True, exist_ok=True)
    watchlist.write_text(entries, encoding="utf-8")
    run = crawl("watch", directory, sandbox=box, args={"watchlist": watchlist}, feed=False,
                settings={"ALI1688_DB_URL": f"sqlite:///{db}", **FAST, **settings})
    return run.run()


def shop_entries(sellers: list[str], details: str) -> str:
    return "".join(f'[[shop]]\nseller_open_id = "{seller}"\ndetails = "{details}"\n\n' for seller in sellers)


# -- 1. listing-visible changes ------------------------------------------------------------------


def listing_visible(root: Path, *, products: int, days: int) -> dict[str, Any]:
    with sandbox("--qps", "0", "--shops", str(products)) as box:
        shop = box.shops()[0]
        seller, db = shop["seller_open_id"], root / "visible.db"
        entries = shop_entries([seller], "changed")
        watch(box, root / "visible-0", entries, db).check()
        clock = box.post("/sandbox/advance", {"hours": 0})["now"]
        rows = []
        for day in range(1, days + 1):
            now = box.post("/sandbox/advance", {"hours": DAY_HOURS})["now"]
            truth = changes_since(box, clock, seller)
            run = watch(box, root / f"visible-{day}", entries, db).check()
            shown = {c["product_id"] for c in truth if c["in_listing"]}
            changed = {c["product_id"] for c in truth}
            run_id = day + 1
            found = {p for p, _, r in recorded(db) if r == run_id}
            floor = math.ceil(len(box.ids(shop)) / PAGE) + len(shown)
            rows.append({"day": day, "calls": run.stats()["ali1688/calls"], "floor": floor,
                         "ratio": round(run.stats()["ali1688/calls"] / floor, 4), "shown": len(shown),
                         "found": round(len(shown & found) / len(shown), 4) if shown else 1.0,
                         "false": len(found - changed)})
            clock = now
    return {"rows": rows, "worst_ratio": max(r["ratio"] for r in rows), "worst_found": min(r["found"] for r in rows),
            "false": sum(r["false"] for r in rows)}


# -- 2. planner against the baseline ---------------------------------------------------------------


def planner_against_baseline(root: Path, *, shops: int, products: int, quota: int, days: int) -> dict[str, Any]:
    with sandbox("--qps", "0", "--shops", ",".join([str(products)] * shops)) as box:
        sellers = [shop["seller_open_id"] for shop in box.shops()][:shops]
        planner_db, baseline_db = root / "planner.db", root / "baseline.db"
        watch(box, root / "fill", shop_entries(sellers, "changed"), planner_db).check()
        shutil.copy(planner_db, baseline_db)
        start = box.post("/sandbox/advance", {"hours": 0})["now"]
        run_times = {1: start}             # run id -> simulated time (the same in both databases)
        cursor, cpu = 0, {"planner": 0.0, "crawls": 0.0}
        spent = {"planner": [], "baseline": []}
        for day in range(1, days + 1):
            run_times[day + 1] = box.post("/sandbox/advance", {"hours": DAY_HOURS})["now"]
            planned = watch(box, root / f"planner-{day}", shop_entries(sellers, "changed"), planner_db,
                            ALI1688_MAX_REQUESTS=str(quota))
            stats = planned.stats()
            cpu["planner"] += stats.get("ali1688/planner/cpu_seconds", 0.0)
            cpu["crawls"] += planned.cpu_seconds
            spent["planner"].append(stats["ali1688/calls"])
            ids = stored_ids(baseline_db)
            chunk = max(0, quota - sum(math.ceil(n / PAGE) for n in listed_counts(baseline_db)))
            picked = [ids[(cursor + n) % len(ids)] for n in range(min(chunk, len(ids)))]
            cursor = (cursor + len(picked)) % max(1, len(ids))
            round_robin = '[[products]]\nname = "round-robin"\nids = [' + ",".join(f'"{i}"' for i in picked) + "]\n"
            baseline = watch(box, root / f"baseline-{day}", shop_entries(sellers, "0") + round_robin, baseline_db,
                             ALI1688_MAX_REQUESTS=str(quota))
            spent["baseline"].append(baseline.stats()["ali1688/calls"])
        truth = [c for c in changes_since(box, start) if c["product_id"]]
    times = {run: datetime.fromisoformat(at) for run, at in run_times.items()}
    return {
        "calls_per_day": {name: statistics.mean(values) for name, values in spent.items()},
        "planner": score(truth, recorded(planner_db), times),
        "baseline": score(truth, recorded(baseline_db), times),
        "planner_cpu_share": round(cpu["planner"] / cpu["crawls"], 5) if cpu["crawls"] else None,
    }


def stored_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute(
            "SELECT product_id FROM products WHERE removed_at IS NULL ORDER BY product_id")]


def listed_counts(db: Path) -> list[int]:
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute(
            "SELECT count(*) FROM products WHERE removed_at IS NULL GROUP BY seller_open_id")]


def score(truth: list[dict[str, Any]], found: list[tuple[str, str, int]], times: dict[int, datetime]) -> dict:
    """Per kind: changes, the share found within 24 h, the mean delay (hours) of every change
    (one not found counted until the last run) and of those found, and false changes
    (recorded for a product the ground truth never changed before)."""
    seen: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for product_id, kind, run in found:
        if run in times and run > 1:
            seen[(product_id, kind)].append(times[run])
    last_run = max(times.values())
    first_change: dict[str, datetime] = {}
    for change in truth:
        at = datetime.fromisoformat(change["at"])
        first_change[change["product_id"]] = min(at, first_change.get(change["product_id"], at))
    false = sum(1 for product_id, _, run in found
                if run > 1 and run in times and not (first_change.get(product_id, times[run]) < times[run]))
    kinds: dict[str, dict[str, Any]] = {}
    for kind in sorted({c["kind"] for c in truth}):
        delays, every = [], []
        happened = [c for c in truth if c["kind"] == kind]
        for change in happened:
            at = datetime.fromisoformat(change["at"])
            later = [t for t in seen.get((change["product_id"], kind), []) if t >= at]
            if later:
                delays.append((min(later) - at).total_seconds() / 3600)
            every.append(delays[-1] if later else max(0.0, (last_run - at).total_seconds() / 3600))
        within = sum(1 for d in delays if d <= DAY_HOURS)
        kinds[kind] = {"changes": len(happened), "found_within_24h": within,
                       "share_within_24h": round(within / len(happened), 4),
                       "mean_delay_hours": round(statistics.mean(every), 2) if every else None,
                       "mean_delay_hours_found": round(statistics.mean(delays), 2) if delays else None}
    return {"kinds": kinds, "false_changes": false}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run (minutes)")
    args = parser.parse_args()
    size = dict(shops=4, products=500, quota=300, days=8) if args.quick else dict(
        shops=10, products=5000, quota=3000, days=30)
    with workdir("monitoring") as root:
        visible = listing_visible(root, products=2000, days=3 if args.quick else 5)
        versus = planner_against_baseline(root, **size)
    print_table("Listing-visible changes, details=changed, no budget", visible["rows"],
                ["day", "calls", "floor", "ratio", "shown", "found", "false"])
    kinds = sorted(versus["planner"]["kinds"])
    rows = [{"kind": kind, **{f"{side} {figure}": versus[side]["kinds"][kind][key]
                              for side in ("planner", "baseline")
                              for figure, key in (("24h", "share_within_24h"), ("delay h", "mean_delay_hours"),
                                                  ("found delay h", "mean_delay_hours_found"))},
             "changes": versus["planner"]["kinds"][kind]["changes"]} for kind in kinds]
    print_table(f"Planner against round robin: {size}", rows,
                ["kind", "changes", "planner 24h", "baseline 24h", "planner delay h", "baseline delay h",
                 "planner found delay h", "baseline found delay h"])
    planner_out, baseline_out = (versus[side]["kinds"].get("out_of_stock", {}) for side in ("planner", "baseline"))
    gain = (planner_out.get("found_within_24h", 0) / baseline_out["found_within_24h"]
            if baseline_out.get("found_within_24h") else None)
    delay, found_delay = (
        planner_out[key] / baseline_out[key] if planner_out.get(key) and baseline_out.get(key) else None
        for key in ("mean_delay_hours", "mean_delay_hours_found"))
    false = visible["false"] + versus["planner"]["false_changes"]
    summary = [
        goal_row("listing-visible changes: calls / (listing pages + changed products), worst day",
                 visible["worst_ratio"], f"<= {GOAL_LISTING_RATIO}", visible["worst_ratio"] <= GOAL_LISTING_RATIO),
        goal_row("listing-visible changes found by the next run, worst day", visible["worst_found"], "1.0",
                 visible["worst_found"] == 1.0),
        goal_row("stock-outs found within 24 h: planner / baseline", gain, f">= {GOAL_STOCKOUT_GAIN}",
                 None if gain is None else gain >= GOAL_STOCKOUT_GAIN, "x"),
        goal_row("mean stock-out detection delay, every stock-out: planner / baseline", delay,
                 f"<= {GOAL_DELAY_RATIO}", None if delay is None else delay <= GOAL_DELAY_RATIO, "x"),
        goal_row("mean stock-out detection delay, those found: planner / baseline", found_delay, "-", None, "x"),
        goal_row("false changes (both parts)", false, "0", false == 0),
        goal_row("planner CPU / its crawls' CPU", versus["planner_cpu_share"], f"<= {GOAL_PLANNER_CPU}",
                 None if versus["planner_cpu_share"] is None else versus["planner_cpu_share"] <= GOAL_PLANNER_CPU),
    ]
    path = write_results("monitoring_economy", summary, {"size": size, "listing_visible": visible, **versus})
    print_summary("monitoring_economy", summary, path)


if __name__ == "__main__":
    main()
