"""Watchlists: one ``scrapy crawl watch`` over the shops, searches and ids of a TOML file, a
report per target, per-entry alert rules; wrong files stop before any call with one line; the
same file seeds a distributed run through ``ali1688 enqueue --watchlist``."""

from __future__ import annotations

import json

import pytest
from helpers import recorded_changes
from test_distributed import enqueue, run_workers


FAST = {"ALI1688_QPS": "500"}


def write_watchlist(tmp_path, text: str):
    path = tmp_path / "watch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def watchlist_of(sandbox) -> tuple[str, dict, list[str]]:
    shop = sandbox.shop(60)
    other = sandbox.shop(100)
    ids = sandbox.ids(other)[:3]
    text = f'''
alert = "price_drop:5"

[[shop]]
seller_open_id = "{shop['seller_open_id']}"
details = true
alert = ["removed", "new"]

[[search]]
keyword = "饼干"
max_pages = 1

[[products]]
name = "favourites"
ids = {json.dumps(ids)}
'''
    return text, shop, ids


def reports(tmp_path) -> dict[str, dict]:
    found = {}
    for path in (tmp_path / "reports").glob("*.json"):
        report = json.loads(path.read_text(encoding="utf-8"))
        found[report["target"]] = report
    return found


def test_one_crawl_watches_every_entry_with_a_report_each(sandbox, crawl, tmp_path):
    text, shop, ids = watchlist_of(sandbox)
    result = crawl("watch", args={"watchlist": str(write_watchlist(tmp_path, text))},
                   env=sandbox.env(ALI1688_DB_URL=f"sqlite:///{tmp_path / 'w.db'}", **FAST))
    assert result.returncode == 0, result.log[-3000:]
    found = {item["product_id"] for item in result.items}
    assert set(sandbox.ids(shop)) <= found and set(ids) <= found
    by_target = reports(tmp_path)
    shop_report = by_target[f"seller_open_id={shop['seller_open_id']}"]
    assert shop_report["verdict"] == "complete" and shop_report["delivered"] == shop["products"]
    assert by_target["products:favourites"]["delivered"] == 3
    assert by_target["products:favourites"]["verdict"] == "complete"
    search = next(r for key, r in by_target.items() if key.startswith("search:"))
    assert search["target"] == "search:keyword=饼干 max_pages=1" and search["delivered"] > 0
    assert result.stats["ali1688/changes/new"] == len(found)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[shop]]\nseller_id = "x"\n', "[[shop]] #1: unknown key(s) seller_id; a [[shop]] entry takes: alert, details,"),
        ('[[products]]\nids = ["12ab"]\n', "[[products]] #1: argument ids='12ab' of spider 'product'"),
        ('[[search]]\nkeyword = "a"\nalert = "price_drop:abc"\n', "[[search]] #1: alert: 'price_drop:abc' needs"),
        ('alert = "sometimes"\n[[search]]\nkeyword = "a"\n', "alert: 'sometimes' is not a rule"),
        ('[shop]\nseller_open_id = "x"\n', "write [[shop]] (an array of tables), not [shop]"),
        ('shops = 1\n', "unknown key(s) shops; it takes alert"),
        ('[[search]]\nkeyword = "a"\n[[search]]\nkeyword = "a"\n', "[[search]] #2 watches search:keyword=a again"),
        ('', "names nothing to watch"),
        ('[[shop\n', "is not valid TOML"),
        ('[[shop]]\ndetails = true\n', "[[shop]] #1: spider 'shop' needs exactly one of"),
        ("x = " + "[" * 2000 + "]" * 2000 + "\n", "nests tables or arrays too deeply to be a watchlist"),
    ],
)
def test_a_wrong_watchlist_stops_before_any_call(sandbox_factory, crawl, tmp_path, text, message):
    sandbox = sandbox_factory("--qps", "0")
    path = write_watchlist(tmp_path, text)
    result = crawl("watch", args={"watchlist": str(path)}, env=sandbox.env(**FAST))
    assert result.returncode == 2, result.log[-2000:]
    assert message in result.log and f"watchlist {path}" in result.log
    assert "Traceback" not in result.log
    assert sandbox.stats()["total_calls"] == 0


def test_enqueue_watchlist_seeds_a_distributed_run(tmp_path, sandbox_factory, redis_url):
    sandbox = sandbox_factory("--qps", "0")
    text, shop, ids = watchlist_of(sandbox)
    env = sandbox.env(ALI1688_REDIS_URL=redis_url, ALI1688_REDIS_IDLE_TIMEOUT="2", **FAST)
    path = write_watchlist(tmp_path, text)
    queued = enqueue(env, "--watchlist", str(path))
    assert queued.returncode == 0, queued.stderr
    assert "queued 3 jobs of watch in ali1688:watch:seeds" in queued.stdout
    results = run_workers(tmp_path, 2, "watch", {}, env)
    for result in results:
        assert result.returncode == 0, result.log[-3000:]
    found = {item["product_id"] for result in results for item in result.items}
    assert set(sandbox.ids(shop)) <= found and set(ids) <= found
    assert sum(r.stats.get("ali1688/seeds/taken", 0) for r in results) == 3

    bad = write_watchlist(tmp_path, '[[products]]\nids = ["x"]\n')
    refused = enqueue(env, "--watchlist", str(bad))
    assert refused.returncode == 1 and "[[products]] #1" in refused.stderr
    assert "queued" not in refused.stdout


def test_each_entry_alerts_on_its_own_rules_with_real_changes(sandbox_factory, crawl, tmp_path, receiver_factory):
    """The shop entry alerts on new (and removed) products, the id list on price drops of 5 %
    or more (the file's default rule): real changes from the database, one POST per target."""
    sandbox = sandbox_factory("--qps", "0")
    text, shop, ids = watchlist_of(sandbox)
    receiver = receiver_factory()
    path = write_watchlist(tmp_path, text)
    settings = {"ALI1688_ALERT_WEBHOOK": receiver.url()}
    env = sandbox.env(ALI1688_DB_URL=f"sqlite:///{tmp_path / 'w.db'}", **FAST)
    first = crawl("watch", args={"watchlist": str(path)}, env=env, settings=settings)
    assert first.returncode == 0, first.log[-3000:]
    shop_target = f"seller_open_id={shop['seller_open_id']}"
    assert [(b["target"], len(b["changes"])) for b in receiver.bodies()] == [(shop_target, shop["products"])]
    assert {c["kind"] for c in receiver.bodies()[0]["changes"]} == {"new"}

    repriced = sandbox.post("/sandbox/reprice", {"seller_open_id": sandbox.shop(100)["seller_open_id"],
                                                 "fraction": 1.0, "seed": 5})["changed"]
    assert set(ids) <= set(repriced)
    second = crawl("watch", args={"watchlist": str(path)}, env=env, settings=settings)
    assert second.returncode == 0, second.log[-3000:]
    changes = recorded_changes(f"sqlite:///{tmp_path / 'w.db'}")
    drops = sorted(c["product_id"] for c in changes if c["kind"] == "price" and float(c["change_pct"]) <= -5)
    assert drops and set(drops) <= set(ids), "the seed must drop a watched price by 5 % or more"
    posted = receiver.bodies()[1:]
    assert [b["target"] for b in posted] == ["products:favourites"]
    assert sorted(c["product_id"] for c in posted[0]["changes"]) == drops
    assert second.stats.get("ali1688/alerts/matched", 0) == len(drops)


def test_entries_that_share_products_each_get_them(sandbox_factory, crawl, tmp_path):
    """A search and an id list whose products the shop entry lists too: every entry counts
    them, the shop stays complete (so removals are judged), the details win over the search's
    list entries, and a real stock change of a shared product is found, with no false one."""
    sandbox = sandbox_factory("--qps", "0")
    shop = sandbox.shop(100)
    ids = sandbox.ids(shop)
    shared = sandbox.get(f"/sandbox/products/{ids[0]}")
    path = write_watchlist(tmp_path, f'''
[[shop]]
seller_open_id = "{shop['seller_open_id']}"
details = true

[[search]]
keyword = "{shared['title']}"
max_pages = 1

[[products]]
name = "two"
ids = ["{ids[0]}", "{ids[1]}"]
''')
    db = tmp_path / "w.db"
    env = sandbox.env(ALI1688_DB_URL=f"sqlite:///{db}", **FAST)
    first = crawl("watch", args={"watchlist": str(path)}, env=env)
    assert first.returncode == 0, first.log[-3000:]
    details = {item["product_id"] for item in first.items if item["skus"] is not None}
    assert set(ids) <= details
    by_target = reports(tmp_path)
    assert by_target[f"seller_open_id={shop['seller_open_id']}"]["verdict"] == "complete"
    assert (by_target["products:two"]["delivered"], by_target["products:two"]["verdict"]) == (2, "complete")
    assert by_target[f"search:keyword={shared['title']} max_pages=1"]["delivered"] >= 1

    sandbox.post("/sandbox/restock", {"seller_open_id": shop["seller_open_id"], "fraction": 1.0, "seed": 1,
                                      "stock": 7})
    second = crawl("watch", args={"watchlist": str(path)}, env=env)
    assert second.returncode == 0, second.log[-3000:]
    changes = recorded_changes(f"sqlite:///{db}")
    kinds = {c["kind"] for c in changes if c["product_id"] == ids[0] and c["sku_id"] is None}
    assert kinds & {"stock", "back_in_stock", "out_of_stock"}, changes
    assert not [c for c in changes if c["kind"] == "price"], "a list entry made a false price change"


def test_a_watched_product_that_is_gone_is_removed_and_the_watch_succeeds(sandbox_factory, crawl, tmp_path):
    sandbox = sandbox_factory("--qps", "0")
    shop = sandbox.shop(100)
    ids = sandbox.ids(shop)
    gone = set(sandbox.post("/sandbox/delist", {"seller_open_id": shop["seller_open_id"], "fraction": 0.5,
                                                "seed": 4})["changed"])
    watched = [ids[n] for n in range(len(ids)) if ids[n] in gone][:1] + [i for i in ids if i not in gone][:2]
    path = write_watchlist(tmp_path, f'[[products]]\nname = "three"\nids = {json.dumps(watched)}\n')
    result = crawl("watch", args={"watchlist": str(path)}, env=sandbox.env(**FAST))
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["finish_reason"] == "finished" and result.stats["ali1688/watch/gone"] == 1
    report = reports(tmp_path)["products:three"]
    assert (report["delivered"], report["gone"], report["verdict"]) == (2, 1, "complete")
    assert f"Watched product {watched[0]} no longer exists" in result.log


def test_a_directory_as_the_watchlist_is_named_as_one(sandbox_factory, crawl, tmp_path):
    sandbox = sandbox_factory("--qps", "0")
    result = crawl("watch", args={"watchlist": str(tmp_path)}, env=sandbox.env(**FAST))
    assert result.returncode == 2
    assert f"{tmp_path} is a directory: give the path of a file in it" in result.log
    assert "Traceback" not in result.log and sandbox.stats()["total_calls"] == 0
