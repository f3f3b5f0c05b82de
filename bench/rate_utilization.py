"""Benchmark: how fully a shop crawl uses a gateway limited to Q calls/s.

A sandbox limited to ``--qps`` Q calls/s per app key (with ``--latency-ms`` of round trip, as
a gateway far away has) is crawled twice in the same run:

1. ``scrapy crawl shop -a seller_open_id=… -a details=1`` with ``ALI1688_QPS=Q``;
2. the loop 1688 tutorials publish: ``requests.post`` one call after another (each signed
   with ``ali1688spider.api.wire``), a fixed ``time.sleep`` between calls (default 1/Q, the
   shortest fixed sleep that can never exceed the limit), listing pages then details.

Rate = calls that reached the gateway / seconds of the crawl (engine start to close, from
the crawl's stats; for the loop, first call to last answer). Goal: rate / Q >= 0.95 with
QPS-limit errors <= 1 % of the calls. Prints a table and writes
``bench/results/rate_utilization.json``.

    python bench/rate_utilization.py --qps 20 --shop-size 640 --latency-ms 100
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import requests
from _common import (
    QPS_LIMIT_CODE,
    Sandbox,
    crawl,
    goal_row,
    print_summary,
    print_table,
    sandbox,
    workdir,
    write_results,
)

from ali1688spider.api.catalogue import get_api
from ali1688spider.api.errors import classify_response, unwrap_result
from ali1688spider.api.signing import encode_params
from ali1688spider.api.wire import aop_call

LIST_API = "product.search.querySellerOfferList"
DETAIL_API = "product.search.queryProductDetail"
GOAL_UTILIZATION = 0.95
GOAL_QPS_ERRORS = 0.01


def framework_crawl(box: Sandbox, shop: dict[str, Any], qps: float, directory: Path) -> dict[str, Any]:
    box.reset_stats()
    run = crawl(
        "shop", directory, sandbox=box,
        args={"seller_open_id": shop["seller_open_id"], "details": 1},
        settings={"ALI1688_QPS": qps},
    ).run().check()
    seconds = run.crawl_seconds()
    gateway = box.stats()
    ids = run.product_ids()
    return {
        "crawler": "ali1688spider (scrapy crawl shop, details=1)",
        "calls": gateway["total_calls"],
        "qps_errors": gateway["errors"].get(QPS_LIMIT_CODE, 0),
        "peak_calls_in_1s": max(gateway["peak_qps"].values(), default=0),
        "seconds": seconds,
        "process_seconds": run.seconds,
        "products": len(set(ids)),
        "complete": sorted(set(ids)) == sorted(box.ids(shop)),
    }


class TutorialLoop:
    """The sequential loop of the tutorials: sign, POST, parse, ``time.sleep``, next."""

    def __init__(self, box: Sandbox, sleep: float):
        self.box, self.sleep = box, sleep
        self.calls = self.errors = 0

    def call(self, api_name: str, params: dict[str, Any]) -> Any:
        info = self.box.info
        while True:
            wire = aop_call(info["url"], get_api(api_name), encode_params(params),
                            app_key=info["app_key"], app_secret=info["app_secret"],
                            access_token=info["access_token"])
            response = requests.post(wire.url, data=wire.body, timeout=30, headers={
                "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
            self.calls += 1
            time.sleep(self.sleep)
            if classify_response(response.status_code, response.content) is None:
                return unwrap_result(response.json())
            # What the tutorials do on an error: wait, then try the same call again.
            self.errors += 1

    def crawl_shop(self, seller_open_id: str) -> set[str]:
        ids: set[str] = set()
        page = 1
        while True:
            data = self.call(LIST_API, {"offerQueryParam": {
                "sellerOpenId": seller_open_id, "beginPage": page, "pageSize": 50, "country": "en"}})
            entries = data.get("data") or []
            ids.update(str(e["offerId"]) for e in entries)
            if not entries or page >= int(data.get("totalPage") or 0):
                break
            page += 1
        for offer_id in sorted(ids):
            self.call(DETAIL_API, {"offerDetailParam": {"offerId": int(offer_id), "country": "en"}})
        return ids


def tutorial_crawl(box: Sandbox, shop: dict[str, Any], sleep: float) -> dict[str, Any]:
    box.reset_stats()
    loop = TutorialLoop(box, sleep)
    started = time.monotonic()
    ids = loop.crawl_shop(shop["seller_open_id"])
    seconds = time.monotonic() - started
    gateway = box.stats()
    return {
        "crawler": f"tutorial loop (requests, sleep {sleep:.3f} s)",
        "calls": gateway["total_calls"],
        "qps_errors": gateway["errors"].get(QPS_LIMIT_CODE, 0),
        "peak_calls_in_1s": max(gateway["peak_qps"].values(), default=0),
        "seconds": seconds,
        "process_seconds": seconds,
        "products": len(ids),
        "complete": sorted(ids) == sorted(box.ids(shop)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qps", type=float, default=20.0, help="gateway limit Q (calls/s)")
    parser.add_argument("--shop-size", type=int, default=640, help="products of the shop crawled")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="gateway round trip")
    parser.add_argument("--tutorial-sleep", type=float, default=None,
                        help="fixed sleep of the tutorial loop (default 1/Q)")
    options = parser.parse_args()
    sleep = options.tutorial_sleep if options.tutorial_sleep is not None else 1.0 / options.qps

    with sandbox("--qps", str(options.qps), "--latency-ms", str(options.latency_ms)) as box, \
            workdir("rate") as tmp:
        shop = box.nearest_shop(options.shop_size)
        runs = [framework_crawl(box, shop, options.qps, tmp / "crawl"), tutorial_crawl(box, shop, sleep)]
    for run in runs:
        run["calls_per_s"] = run["calls"] / run["seconds"]
        run["utilization"] = run["calls_per_s"] / options.qps
        run["qps_error_share"] = run["qps_errors"] / run["calls"] if run["calls"] else 0.0
    ours, tutorial = runs
    print_table(
        f"Shop of {shop['products']} products with details, gateway limited to {options.qps:g} "
        f"calls/s, {options.latency_ms:g} ms round trip",
        runs,
        ["crawler", "calls", "seconds", "calls_per_s", "utilization", "qps_errors",
         "peak_calls_in_1s", "products", "complete"],
    )
    summary = [
        goal_row("rate utilization (achieved calls/s / Q)", ours["utilization"],
                 f">= {GOAL_UTILIZATION}", ours["utilization"] >= GOAL_UTILIZATION),
        goal_row("QPS-limit errors / calls", ours["qps_error_share"], f"<= {GOAL_QPS_ERRORS}",
                 ours["qps_error_share"] <= GOAL_QPS_ERRORS),
        goal_row("every product fetched", ours["complete"], "all", ours["complete"]),
        goal_row("tutorial loop utilization (same run)", tutorial["utilization"], "-", None),
        goal_row("shop crawl time, ours vs tutorial loop",
                 f"{ours['seconds']:.1f} s vs {tutorial['seconds']:.1f} s", "-", None),
    ]
    path = write_results("rate_utilization", summary, {
        "qps": options.qps, "latency_ms": options.latency_ms, "tutorial_sleep": sleep,
        "shop": {"seller_open_id": shop["seller_open_id"], "products": shop["products"]},
        "runs": runs,
    })
    print_summary("rate_utilization", summary, path)


if __name__ == "__main__":
    main()
