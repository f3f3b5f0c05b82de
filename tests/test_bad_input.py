"""Bad input: wrong arguments and settings, and gateway answers that are not what 1688 sends.

Each case ends with one clear log or usage line that names the problem, a bounded number of
calls (no crash loop) and no traceback.
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

import pytest
import requests
from conftest import start_sandbox_process
from http_servers import serve, stop

# -- arguments and settings ------------------------------------------------------------------

BAD_ARGUMENTS = [
    ("shop", {"seller_open_id": "x", "since": "last tuesday"}, "argument since='last tuesday'"),
    ("shop", {"seller_open_id": "x", "details": "maybe"}, "argument details='maybe'"),
    ("shop", {"seller_open_id": "x", "colour": "red"}, "does not take argument(s) colour"),
    ("shop", {}, "needs exactly one of"),
    ("shop", {"seller_open_id": "x", "offer": "123456789012"}, "needs exactly one of"),
    ("product", {"ids": "12ab,https://example.com/x"}, "argument ids="),
    ("product", {"ids_file": "/nonexistent/ids.txt"}, "no such file"),
    ("product", {}, "needs -a ids="),
    ("search", {"keyword": "饼干", "price_min": "cheap"}, "argument price_min='cheap'"),
    ("shops", {"seller_open_id": "x"}, "no spider named 'shops'"),
]

BAD_SETTINGS = [
    ({"ALI1688_QPS": "fast"}, "ALI1688_QPS must be a number"),
    ({"ALI1688_QPS": "0"}, "ALI1688_QPS must be > 0"),
    ({"ALI1688_PROTOCOL": "soap"}, "ALI1688_PROTOCOL must be one of"),
    ({"ALI1688_RETRY_TIMES": "many"}, "ALI1688_RETRY_TIMES must be a whole number"),
    ({"ALI1688_QPS": "nan"}, "ALI1688_QPS must be a finite number"),
    ({"ALI1688_QPS": "inf"}, "ALI1688_QPS must be a finite number"),
    ({"ALI1688_PROGRESS_INTERVAL": "nan"}, "ALI1688_PROGRESS_INTERVAL must be a finite number"),
    ({"ALI1688_COMPLETENESS_MIN": "2"}, "ALI1688_COMPLETENESS_MIN must be a share between 0 and 1"),
    ({"ALI1688_REPORT_FILE": "reports/100%.json"}, "ALI1688_REPORT_FILE 'reports/100%.json' is not a valid name template"),
    ({"ALI1688_REPORT_FILE": "reports/%(shop)s.json"}, "ALI1688_REPORT_FILE 'reports/%(shop)s.json' is not a valid name template"),
    ({"HTTPCACHE_ENABLED": "1", "ALI1688_CACHE_EXPIRY": "details=forever"}, "ALI1688_CACHE_EXPIRY: details='forever'"),
    ({"ALI1688_DB_URL": "sqlite:///never.db", "ALI1688_DB_CHANGES": "maybe"},
     "ALI1688_DB_CHANGES must be one of on, off, got 'maybe'"),
    ({"ALI1688_DB_BATCH_SIZE": "0"}, "ALI1688_DB_BATCH_SIZE must be >= 1"),
    ({"ALI1688_DB_URL": "ali1688.db"},
     "ALI1688_DB_URL is not a database URL: 'ali1688.db' (e.g. sqlite:///ali1688.db"),
    ({"ALI1688_DB_URL": "mysql://localhost/x"},
     "ALI1688_DB_URL must be a SQLite or PostgreSQL URL (e.g. sqlite:///ali1688.db"),
    ({"ALI1688_DB_URL": "sqlite://"},
     "ALI1688_DB_URL 'sqlite://' is an in-memory database: name a file (e.g. sqlite:///ali1688.db"),
]


def assert_one_line_usage_error(result, expected: str) -> None:
    assert result.returncode == 2, result.log[-2000:]
    assert "Traceback" not in result.log
    error_lines = [line for line in result.log.splitlines() if "error:" in line]
    assert len(error_lines) == 1, result.log[-2000:]
    assert expected in error_lines[0]


@pytest.fixture(scope="module")
def quiet_sandbox():
    """A private sandbox: these tests count its calls (there must be none)."""
    process = start_sandbox_process("--qps", "0")
    yield process
    process.stop()


@pytest.mark.parametrize(("spider", "args", "expected"), BAD_ARGUMENTS,
                         ids=[f"{s}-{'-'.join(a) or 'none'}" for s, a, _ in BAD_ARGUMENTS])
def test_bad_spider_arguments_stop_before_any_call(quiet_sandbox, crawl, spider, args, expected):
    result = crawl(spider, args=args, env=quiet_sandbox.env())
    assert_one_line_usage_error(result, expected)
    assert quiet_sandbox.stats()["total_calls"] == 0


@pytest.mark.parametrize(("settings", "expected"), BAD_SETTINGS,
                         ids=[f"{next(reversed(s))}={next(reversed(s.values()))}" for s, _ in BAD_SETTINGS])
def test_bad_settings_stop_before_any_call(quiet_sandbox, crawl, settings, expected):
    result = crawl("product", args={"ids": "123456789012"}, settings=settings, env=quiet_sandbox.env())
    assert_one_line_usage_error(result, expected)
    assert quiet_sandbox.stats()["total_calls"] == 0


def test_a_database_without_its_driver_names_the_extra_to_install(quiet_sandbox, crawl, tmp_path):
    # The crawl runs as if the postgres extra were not installed: a module that is None in
    # sys.modules is one that neither import nor importlib.util.find_spec can find.
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['psycopg'] = None\n")
    env = quiet_sandbox.env(PYTHONPATH=str(tmp_path), ALI1688_DB_URL="postgresql://me@localhost/ali1688")
    result = crawl("product", args={"ids": "123456789012"}, env=env)
    assert_one_line_usage_error(
        result, "needs the psycopg driver: pip install 'ali1688spider[postgres]'")
    assert quiet_sandbox.stats()["total_calls"] == 0


# -- answers that are not the gateway's JSON -------------------------------------------------

LOGIN_PAGE = "<!DOCTYPE html><html><head><title>登录</title></head><body>请登录</body></html>"
#: What a misbehaving gateway (or a proxy / captive portal in front of it) answers, by mode.
BAD_ANSWERS = {
    "plain_text": (200, "text/plain", "OK"),
    "html_error_page": (502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "html_login_page": (200, "text/html;charset=UTF-8", LOGIN_PAGE),
    "json_array": (200, "application/json", "[]"),
    "empty_body": (200, "application/json", ""),
    "binary": (200, "application/octet-stream", "\x89PNG\r\n\x1a\n\x00\x00"),
    "redirect": (302, "text/html", "<html><body>Moved</body></html>"),
}
#: A good answer under a wrong content type is still the gateway's answer: it is used.
WRONG_TYPE_GOOD_BODY = ("json_as_octet_stream", "application/octet-stream")


def _oversized_counts(offer: dict) -> None:
    offer["minOrderQuantity"] = 2**63


def _exponent_price(offer: dict) -> None:
    offer["productSaleInfo"]["priceRangeList"][0]["price"] = "1e400"


#: An error whose message quotes the signed request back, token and signature included.
ECHO_REQUEST = "echo_request"
#: The sandbox's real answer with values no database column holds, by mode.
HOSTILE_VALUES = {"oversized_counts": _oversized_counts, "exponent_price": _exponent_price}


class BadGateway:
    """A proxy in front of the sandbox (*upstream*: its base URL) answering chosen offers badly
    (*answers*: mode -> (status, content type, body))."""

    def __init__(self, upstream: str, modes: dict[str, str], answers: dict[str, tuple] = BAD_ANSWERS):
        self.upstream, self.modes, self.answers = upstream, modes, answers
        self.calls: dict[str, int] = {}
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                param = parse_qs(body.decode()).get("offerDetailParam", ["{}"])[0]
                offer = str(json.loads(param).get("offerId"))
                gateway.calls[offer] = gateway.calls.get(offer, 0) + 1
                mode = gateway.modes.get(offer)
                if mode == ECHO_REQUEST:
                    status, content_type = 400, "application/json"
                    payload = json.dumps({"error_code": "gw.ParamInvalid",
                                          "error_message": f"bad request: {body.decode()}"}).encode()
                elif mode in gateway.answers:
                    status, content_type, text = gateway.answers[mode]
                    payload = text.encode("latin-1" if mode == "binary" else "utf-8")
                else:
                    real = requests.post(gateway.upstream + self.path, data=body, timeout=30,
                                         headers={"Content-Type": self.headers["Content-Type"]})
                    status, payload = real.status_code, real.content
                    if mode in HOSTILE_VALUES:
                        answer = real.json()
                        HOSTILE_VALUES[mode](answer["result"]["result"])
                        payload = json.dumps(answer).encode()
                    content_type = WRONG_TYPE_GOOD_BODY[1] if mode == WRONG_TYPE_GOOD_BODY[0] \
                        else real.headers["Content-Type"]
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", "https://login.1688.com/member/signin.htm")
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = serve(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/openapi"

    def close(self) -> None:
        stop(self.server)


def test_answers_that_are_not_gateway_json_fail_with_one_line_each(sandbox, crawl):
    shop = sandbox.shop(100)
    ids = sandbox.get(f"/sandbox/shops/{shop['seller_open_id']}/ids")
    modes = dict(zip(ids, [*BAD_ANSWERS, WRONG_TYPE_GOOD_BODY[0]]))
    good = ids[len(modes)]
    proxy = BadGateway(sandbox.base_url, modes)
    retries = 2
    try:
        result = crawl(
            "product",
            args={"ids": ",".join([*modes, good])},
            settings={"ALI1688_RETRY_TIMES": str(retries), "ALI1688_BACKOFF_BASE": "0.01"},
            env=sandbox.env(ALI1688_GATEWAY_URL=proxy.url),
            timeout=120,
        )
    finally:
        proxy.close()

    assert "Traceback" not in result.log, result.log[-4000:]
    assert "Spider error" not in result.log
    fetched = {item["product_id"] for item in result.items}
    wrong_type_id = next(i for i, m in modes.items() if m == WRONG_TYPE_GOOD_BODY[0])
    assert fetched == {good, wrong_type_id}
    errors = [line for line in result.log.splitlines() if re.search(r"\] ERROR: ", line)]
    for offer, mode in modes.items():
        if mode not in BAD_ANSWERS:
            continue
        # No crash loop: the first try and the configured retries, then it gives up.
        assert proxy.calls[offer] <= 1 + retries, (mode, proxy.calls[offer])
        lines = [line for line in errors if offer in line]
        assert len(lines) == 1, (mode, errors)
        assert "product.search.queryProductDetail" in lines[0]
    describe = {offer: next(line for line in errors if offer in line) for offer in modes
                if modes[offer] in BAD_ANSWERS}
    by_mode = {modes[offer]: line for offer, line in describe.items()}
    assert "HTTP 502" in by_mode["html_error_page"] and "HTML" in by_mode["html_error_page"]
    assert "not valid JSON" in by_mode["plain_text"]
    assert "HTML" in by_mode["html_login_page"]
    assert "not a JSON object" in by_mode["json_array"]
    assert "empty body" in by_mode["empty_body"]
    assert "redirected to https://login.1688.com/member/signin.htm" in by_mode["redirect"]
    # Those calls failed for good: the crawl says how many, and exits 1.
    assert result.returncode == 1
    assert f"{len(BAD_ANSWERS)} of {len(BAD_ANSWERS) + 2} products failed for good" in result.log


def test_values_no_column_holds_drop_that_product_not_the_batch(sandbox, crawl, db_url):
    ids = sandbox.ids(sandbox.shop(60))[:8]
    modes = dict(zip(ids, HOSTILE_VALUES))
    proxy = BadGateway(sandbox.base_url, modes)
    try:
        result = crawl("product", args={"ids": ",".join(ids)}, env=sandbox.env(ALI1688_GATEWAY_URL=proxy.url),
                       settings={"ALI1688_DB_URL": db_url})
    finally:
        proxy.close()
    assert result.returncode == 0, result.log[-3000:]
    assert "ali1688_db_error" not in result.log
    stats = result.stats
    assert stats["ali1688/validation/invalid/moq"] == 1
    assert stats["ali1688/validation/invalid/price_tiers.price"] == 1
    assert stats["ali1688/validation/dropped"] == 2
    good = set(ids) - set(modes)
    assert {item["product_id"] for item in result.items} == good
    assert stats["ali1688/db/stored"] == len(good)


def test_a_gateway_error_quoting_the_request_shows_no_secret(sandbox, crawl):
    offer = sandbox.ids(sandbox.shop(60))[0]
    proxy = BadGateway(sandbox.base_url, {offer: ECHO_REQUEST})
    try:
        result = crawl("product", args={"ids": offer}, env=sandbox.env(ALI1688_GATEWAY_URL=proxy.url))
    finally:
        proxy.close()
    assert result.returncode == 1, result.log[-3000:]
    assert "bad request:" in result.log and "access_token=***" in result.log
    assert "_aop_signature=***" in result.log
    for secret in (sandbox.info["access_token"], sandbox.info["app_secret"]):
        assert secret not in result.log
        assert secret not in result.stats_path.read_text()


def test_every_spider_lists_its_arguments_from_their_declarations():
    from ali1688spider.cli.spiders import describe
    from ali1688spider.spiders.search import SearchSpider

    lines = describe(SearchSpider)
    assert lines[0].startswith("search: ")
    assert [line.split("=")[0].strip() for line in lines[1:]] == [f"-a {n}" for n in SearchSpider.arguments]


def test_a_misspelt_setting_is_named_with_the_nearest_known_one(sandbox, crawl):
    from ali1688spider.config import misspelt_settings

    assert misspelt_settings(["ALI1688_QSP", "ALI1688_QPS", "OTHER"]) == [("ALI1688_QSP", "ALI1688_QPS")]
    result = crawl(
        "categories", args={"root": "1031910", "depth": "1"}, env=sandbox.env(),
        settings={"ALI1688_QSP": "5"},
    )
    assert result.returncode == 0, result.log[-2000:]
    assert "Unknown setting ALI1688_QSP is ignored: did you mean ALI1688_QPS?" in result.log
