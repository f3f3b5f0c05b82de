""""Removed" and "complete" only on proof. A shop is stored, then crawled again through a proxy
whose listings lie the ways real ones can (no total, a smaller total, a page lost, a product
missing from the listing while a watchlist asks for it): no product the shop still has is ever
removed, while real delistings are found, on the detail's word or by a second complete listing."""

from __future__ import annotations

import json



FAST = {"ALI1688_QPS": "500", "ALI1688_RETRY_TIMES": "1"}


def shop_crawl(crawl, env, seller, **settings):
    return crawl("shop", args={"seller_open_id": seller}, env=env, settings=settings)


def stored_shop(crawl, sandbox, db_url, size=100):
    """A shop of about *size* products, crawled once into *db_url*."""
    shop = sandbox.shop(size)
    first = shop_crawl(crawl, sandbox.env(ALI1688_DB_URL=db_url, **FAST), shop["seller_open_id"])
    assert first.returncode == 0, first.log[-3000:]
    return shop


def removed(result) -> int:
    return result.stats.get("ali1688/changes/removed", 0)


def delist(sandbox, shop, fraction=0.05) -> set[str]:
    return set(sandbox.post("/sandbox/delist", {"seller_open_id": shop["seller_open_id"], "fraction": fraction,
                                                "seed": 7})["changed"])


def test_a_listing_without_totals_is_unknown_and_removes_nothing(proxied, crawl, db_url):
    sandbox, proxy = proxied
    shop = stored_shop(crawl, sandbox, db_url)
    gone = delist(sandbox, shop)
    proxy.mode = "no_total"
    lied = shop_crawl(crawl, proxy.env(sandbox, ALI1688_DB_URL=db_url, **FAST), shop["seller_open_id"])
    assert lied.returncode == 1, lied.log[-3000:]
    assert lied.stats["ali1688/report/verdict"] == "unknown"
    assert "page 1 of slice all answered no total; its completeness is unknown" in lied.log
    assert removed(lied) == 0 and "ali1688/removals/proof_calls" not in lied.stats
    proxy.mode = None
    honest = shop_crawl(crawl, proxy.env(sandbox, ALI1688_DB_URL=db_url, **FAST), shop["seller_open_id"])
    assert honest.returncode == 0, honest.log[-3000:]
    # Every real delisting found, each proved by one detail call.
    assert removed(honest) == len(gone) == honest.stats["ali1688/removals/proof_calls"]


def test_a_page_claiming_a_smaller_total_removes_nothing(proxied, crawl, db_url):
    sandbox, proxy = proxied
    shop = stored_shop(crawl, sandbox, db_url)
    proxy.mode, proxy.claimed = "smaller_total", 50
    lied = shop_crawl(crawl, proxy.env(sandbox, ALI1688_DB_URL=db_url, **FAST), shop["seller_open_id"])
    assert removed(lied) == 0 and "ali1688/removals/proof_calls" not in lied.stats
    assert (f"No removals recorded for seller_open_id={shop['seller_open_id']}: {shop['products'] - 50} of its "
            f"{shop['products']} stored products are missing") in lied.log
    assert "more than ALI1688_REMOVAL_MAX_SHARE=0.2" in lied.log


def test_a_lost_page_is_incomplete_and_removes_nothing(proxied, crawl, db_url):
    sandbox, proxy = proxied
    shop = stored_shop(crawl, sandbox, db_url)
    delist(sandbox, shop)
    proxy.mode, proxy.page = "lose_page", 2
    lied = shop_crawl(crawl, proxy.env(sandbox, ALI1688_DB_URL=db_url, **FAST), shop["seller_open_id"])
    assert lied.returncode == 1
    assert lied.stats["ali1688/report/verdict"] in ("partial", "incomplete")
    assert removed(lied) == 0


def test_without_detail_calls_two_complete_listings_prove_a_removal(sandbox_factory, crawl, db_url):
    sandbox = sandbox_factory("--qps", "0")
    shop = stored_shop(crawl, sandbox, db_url)
    gone = delist(sandbox, shop)
    env = sandbox.env(ALI1688_DB_URL=db_url, ALI1688_REMOVAL_PROOF="listings", **FAST)
    once = shop_crawl(crawl, env, shop["seller_open_id"])
    assert once.returncode == 0, once.log[-3000:]
    assert removed(once) == 0 and once.stats["ali1688/removals/suspects"] == len(gone)
    assert "ali1688/removals/proof_calls" not in once.stats
    twice = shop_crawl(crawl, env, shop["seller_open_id"])
    assert removed(twice) == len(gone)


def test_a_watched_product_missing_from_its_shops_listing_is_not_removed(proxied, crawl, db_url, tmp_path,
                                                                         receiver_factory):
    """A watchlist names a shop (alert on removals) and one of its products; the listing, taken
    just before that product was published, lacks it. It is seen, not removed; the real
    delistings are, and their alert names the shop entry."""
    sandbox, proxy = proxied
    shop = stored_shop(crawl, sandbox, db_url)
    gone = delist(sandbox, shop)
    watched = next(pid for pid in sandbox.ids(shop) if pid not in gone)
    proxy.mode, proxy.hidden = "hide", {watched}
    path = tmp_path / "watch.toml"
    path.write_text(f'[[shop]]\nseller_open_id = "{shop["seller_open_id"]}"\nalert = ["removed"]\n\n'
                    f'[[products]]\nname = "mine"\nids = ["{watched}"]\n', encoding="utf-8")
    receiver = receiver_factory()
    result = crawl("watch", args={"watchlist": str(path)},
                   env=proxy.env(sandbox, ALI1688_DB_URL=db_url, ALI1688_ALERT_WEBHOOK=receiver.url(), **FAST))
    assert result.returncode == 0, result.log[-3000:]
    assert removed(result) == len(gone)
    [body] = receiver.bodies()
    assert body["target"] == f"seller_open_id={shop['seller_open_id']}"
    assert {change["product_id"] for change in body["changes"]} == gone
    assert all(change["kind"] == "removed" for change in body["changes"])
    assert json.dumps(body).count(watched) == 0
