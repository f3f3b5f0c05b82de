"""A rewriting proxy in front of a sandbox: shop listings that lie the ways real ones can.

Crawls point ``ALI1688_GATEWAY_URL`` at it (``proxy.env(sandbox)``); every call is forwarded as
it came (AOP signs the path and parameters, not the host) and the answers of
``querySellerOfferList`` are rewritten as ``proxy.mode`` says:

- ``"no_total"``: no ``totalRecords`` or ``totalPage`` on any page;
- ``"smaller_total"``: page 1 claims ``proxy.claimed`` products (and the pages that fill);
- ``"lose_page"``: page ``proxy.page`` answers HTTP 503 every time;
- ``"hide"``: the products in ``proxy.hidden`` are not listed and not counted (a listing
  taken just before they were published).
Used by the tests (fixture ``proxied``) and by ``bench/false_removals.py``.
"""

from __future__ import annotations

import json
import math
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from http_servers import serve, stop

LISTING_API = "product.search.querySellerOfferList"


class ListingProxy:
    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        self.upstream = f"{parts.scheme}://{parts.netloc}"
        self.path = parts.path
        self.mode: str | None = None
        self.claimed = 50
        self.page = 2
        self.hidden: set[str] = set()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                proxy._forward(self, self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def do_GET(self) -> None:
                proxy._forward(self, None)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = serve(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def env(self, sandbox: Any, **overrides: Any) -> dict[str, str]:
        return sandbox.env(ALI1688_GATEWAY_URL=self.url, **overrides)

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        headers = {k: v for k, v in handler.headers.items() if k.lower() in ("content-type",)}
        answer = requests.request(handler.command, self.upstream + handler.path, data=body, headers=headers,
                                  timeout=60)
        status, content = answer.status_code, answer.content
        if LISTING_API in handler.path and status == 200 and self.mode:
            page = _page_of(handler.path, body)
            if self.mode == "lose_page" and page == self.page:
                status, content = 503, b'{"error_code": "gw.ServiceUnavailable", "error_message": "busy"}'
            else:
                content = json.dumps(self._rewrite(json.loads(content), page), ensure_ascii=False).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json;charset=UTF-8")
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    def _rewrite(self, payload: dict[str, Any], page: int) -> dict[str, Any]:
        listing = payload["result"]["result"]
        if self.mode == "no_total":
            listing.pop("totalRecords", None)
            listing.pop("totalPage", None)
        elif self.mode == "smaller_total" and page == 1:
            listing["totalRecords"] = self.claimed
            listing["totalPage"] = math.ceil(self.claimed / listing["pageSize"])
        elif self.mode == "hide":
            kept = [entry for entry in listing["data"] if str(entry["offerId"]) not in self.hidden]
            listing["totalRecords"] -= len(self.hidden)
            listing["totalPage"] = math.ceil(listing["totalRecords"] / listing["pageSize"])
            listing["data"] = kept
        return payload

    def close(self) -> None:
        stop(self.server)


@pytest.fixture
def proxied(sandbox_factory):
    """A sandbox (no rate limit) and a listing proxy in front of it."""
    sandbox = sandbox_factory("--qps", "0")
    proxy = ListingProxy(sandbox.url)
    yield sandbox, proxy
    proxy.close()


def _page_of(path: str, body: bytes | None) -> int:
    """``beginPage`` of a listing call, from its form body or its query."""
    fields = parse_qs(body.decode()) if body else parse_qs(urlsplit(path).query)
    query = json.loads(fields["offerQueryParam"][0])
    return int(query.get("beginPage", 1))
