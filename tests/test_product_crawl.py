"""The product spider against the sandbox gateway: signed calls, QPS limits, bad credentials."""

from __future__ import annotations

import re

import pytest

DETAIL_FIELDS = [
    "product_id", "seller_open_id", "member_id", "title", "category_id", "status", "price_min",
    "price_max", "price_tiers", "moq", "unit", "stock", "sales", "skus", "images", "detail_url",
    "created_at", "modified_at", "source_api", "crawled_at",
]
DECIMAL = re.compile(r"^\d+(\.\d+)?$")


def shop_ids(sandbox, max_products: int, count: int) -> list[str]:
    shop = sandbox.shop(max_products)
    return sandbox.get(f"/sandbox/shops/{shop['seller_open_id']}/ids")[:count]


def assert_no_secrets(sandbox, *texts: str) -> None:
    creds = sandbox.credentials
    for secret in (creds["app_secret"], creds["access_token"], creds["refresh_token"]):
        for text in texts:
            assert secret not in text


def test_product_crawl_yields_every_product_with_normalized_fields(sandbox, crawl):
    ids = shop_ids(sandbox, 100, 12)
    result = crawl("product", args={"ids": ",".join(ids)}, env=sandbox.env())

    assert result.returncode == 0, result.log[-3000:]
    items = result.items
    assert sorted(i["product_id"] for i in items) == sorted(ids)
    for item in items:
        assert list(item) == [f for f in DETAIL_FIELDS if f in item]
        assert DECIMAL.match(item["price_min"]) and DECIMAL.match(item["price_max"])
        assert item["price_tiers"] == sorted(item["price_tiers"], key=lambda t: t["min_quantity"])
        assert all(DECIMAL.match(t["price"]) for t in item["price_tiers"])
        assert item["detail_url"] == f"https://detail.1688.com/offer/{item['product_id']}.html"
        # queryProductDetail documents createDate only (reference §6.4): no modified_at here.
        assert item["created_at"].endswith("+08:00")
    assert result.stats["ali1688/calls"] == len(ids)
    assert_no_secrets(sandbox, result.log, result.output.read_text(), result.stats_path.read_text())


def test_offer_urls_and_ids_file_are_accepted(sandbox, crawl, tmp_path):
    ids = shop_ids(sandbox, 100, 4)
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(
        f"# offers\nhttps://detail.1688.com/offer/{ids[0]}.html\n\n{ids[1]}\n", encoding="utf-8"
    )
    result = crawl(
        "product",
        args={"ids": f"{ids[2]},https://detail.1688.com/offer/{ids[0]}.html", "ids_file": str(ids_file)},
        env=sandbox.env(),
    )
    assert result.returncode == 0, result.log[-3000:]
    assert sorted(i["product_id"] for i in result.items) == sorted(ids[:3])


def test_a_ceiling_above_the_gateway_limit_is_learned(sandbox_factory, crawl):
    """ALI1688_QPS=20 against a gateway that allows 5: every refusal teaches the pacer.

    How many calls the gateway refuses depends on how fast this machine is right now; that
    the crawl is complete, every refusal is counted and one lowered the pace does not
    (the figures are bench/rate_utilization.py's; the rule is tests/test_pacing.py's).
    """
    sandbox = sandbox_factory("--qps", "5")
    ids = shop_ids(sandbox, 100, 30)
    result = crawl("product", args={"ids": ",".join(ids)}, env=sandbox.env(ALI1688_QPS="20"))

    assert result.returncode == 0, result.log[-3000:]
    assert sorted(i["product_id"] for i in result.items) == sorted(ids)
    refused = sandbox.stats()["errors"].get("gw.QosAppFrequencyLimit", 0)
    stats = result.stats
    assert stats.get("ali1688/rate/refused", 0) == refused
    if refused:
        assert stats["ali1688/rate/lowered"] >= 1
        assert stats["ali1688/rate/current"] < 20


def test_qps_errors_are_retried_and_counted(sandbox_factory, crawl):
    sandbox = sandbox_factory("--qps", "3")
    ids = shop_ids(sandbox, 100, 10)
    result = crawl(
        "product",
        args={"ids": ",".join(ids)},
        env=sandbox.env(ALI1688_QPS="50"),
        settings={"ALI1688_BACKOFF_BASE": "0.2"},
    )
    assert result.returncode == 0, result.log[-3000:]
    assert sorted(i["product_id"] for i in result.items) == sorted(ids)
    stats = result.stats
    gateway_errors = sandbox.stats()["errors"].get("gw.QosAppFrequencyLimit", 0)
    assert gateway_errors > 0
    assert stats["ali1688/errors/qps_limit"] == gateway_errors
    assert stats["ali1688/retries/qps"] == gateway_errors


def test_bad_secret_closes_with_one_clear_line(sandbox, crawl):
    ids = shop_ids(sandbox, 100, 5)
    result = crawl(
        "product", args={"ids": ",".join(ids)}, env=sandbox.env(ALI1688_APP_SECRET="wrong-secret")
    )
    assert result.returncode == 1
    assert result.stats["finish_reason"] == "ali1688_bad_credentials"
    assert "Traceback" not in result.log
    errors = [line for line in result.log.splitlines() if "ALI1688_APP_SECRET" in line]
    assert len(errors) == 1 and "gw.SignatureInvalid" in errors[0]
    assert result.items == []
    assert "wrong-secret" not in result.log


def test_a_wrong_secret_costs_only_the_calls_on_the_wire_when_the_first_answer_came(sandbox_factory, crawl):
    # The pacer lets one call go per second: every other call waits for its grant when the
    # first answer (a signature refusal) comes back, and none of them may be sent.
    sandbox = sandbox_factory("--qps", "0")
    ids = shop_ids(sandbox, 100, 20)
    result = crawl("product", args={"ids": ",".join(ids)},
                   env=sandbox.env(ALI1688_APP_SECRET="wrong-secret", ALI1688_QPS="1"))
    assert result.returncode == 1
    assert result.stats["finish_reason"] == "ali1688_bad_credentials"
    gateway = sandbox.stats()
    assert gateway["total_calls"] == gateway["errors"]["gw.SignatureInvalid"] == result.stats["ali1688/calls"]
    assert gateway["total_calls"] <= 2, gateway
    assert "Traceback" not in result.log


def test_expired_token_is_refreshed_once_and_the_crawl_continues(sandbox_factory, crawl):
    sandbox = sandbox_factory("--qps", "0")
    ids = shop_ids(sandbox, 100, 6)
    sandbox.post("/sandbox/expire-tokens")
    result = crawl("product", args={"ids": ",".join(ids)}, env=sandbox.env())

    assert result.returncode == 0, result.log[-3000:]
    assert sorted(i["product_id"] for i in result.items) == sorted(ids)
    stats = result.stats
    assert stats["ali1688/errors/token_invalid"] >= 1
    assert stats["ali1688/tokens/refreshed"] == 1
    assert sandbox.stats()["calls"].get("getToken", 0) == 1
    assert_no_secrets(sandbox, result.log, result.stats_path.read_text())


def test_an_unknown_product_is_reported_and_the_crawl_exits_1(sandbox, crawl):
    ids = shop_ids(sandbox, 100, 2)
    result = crawl("product", args={"ids": ",".join([*ids, "999999999999"])}, env=sandbox.env())
    assert result.returncode == 1
    assert len(result.items) == 2
    assert result.stats["ali1688/errors/not_found"] == 1
    assert result.stats["finish_reason"] == "ali1688_calls_failed"
    summary = [line for line in result.log.splitlines() if "failed for good" in line]
    assert len(summary) == 1 and "1 of 3 products failed for good" in summary[0]
    assert any("999999999999" in line and "failed" in line for line in result.log.splitlines())


def test_every_unknown_product_is_one_summary_line_and_exit_1(sandbox, crawl):
    result = crawl("product", args={"ids": "999999999998,999999999999"}, env=sandbox.env())
    assert result.returncode == 1 and result.items == []
    assert "2 of 2 products failed for good" in result.log


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"ids": "1,2", "colour": "red"}, "does not take argument(s) colour"),
        ({"ids": "detail.1688.com/offer/abc.html"}, "argument ids="),
        ({}, "needs -a ids="),
        ({"ids_file": "/nonexistent/ids.txt"}, "no such file"),
    ],
)
def test_bad_arguments_fail_before_any_call(sandbox, crawl, args, message):
    result = crawl("product", args=args, env=sandbox.env())
    assert result.returncode == 2
    assert message in result.log
    assert "Traceback" not in result.log
    assert not result.stats_path.exists()


def test_a_standalone_sandbox_is_named_in_the_crawl_log(sandbox, crawl):
    """With its public credentials set, a crawl of a running `ali1688 sandbox` says too that its
    data is synthetic."""
    result = crawl("product", args={"ids": shop_ids(sandbox, 100, 1)[0]}, env=sandbox.env())
    assert result.returncode == 0, result.log[-3000:]
    banner = [line for line in result.log.splitlines() if "ALI1688 SANDBOX" in line]
    assert len(banner) == 1 and "SYNTHETIC" in banner[0] and sandbox.url in banner[0]
    assert result.stats["ali1688/sandbox"] == 1


def test_no_credentials_runs_the_embedded_sandbox_loudly(sandbox, crawl):
    ids = shop_ids(sandbox, 100, 3)  # the embedded sandbox uses the same default seed
    result = crawl("product", args={"ids": ",".join(ids)})
    assert result.returncode == 0, result.log[-3000:]
    assert "ALI1688 SANDBOX" in result.log and "SYNTHETIC" in result.log
    assert sorted(i["product_id"] for i in result.items) == sorted(ids)
    assert result.stats["ali1688/sandbox"] == 1
