"""Fixture ``receiver_factory``: real HTTP receivers of webhook POSTs, in a thread of the test
process (alerts tests)."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from http_servers import serve, stop


#: Answers of a hostile receiver: ``slow_body``, 100,000 bytes announced and one sent every
#: 2 s; ``huge``, 300 MB as fast as the socket takes them; ``slow_headers``, a status line, then
#: one byte of a header every 2 s, never ending the answer.
HOSTILE_BODIES = ("slow_body", "huge", "slow_headers")


class Receiver:
    """An HTTP server that records every POST and answers the statuses of *answers* in turn
    (then 200), with an empty body or a *body* of ``HOSTILE_BODIES``."""

    def __init__(self, answers: list[int] | None = None, body: str | None = None):
        self.answers = list(answers or [])
        self.answer_body = body
        self.posts: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.answers.pop(0) if receiver.answers else 200
                hostile = receiver.answer_body
                if hostile == "slow_headers":
                    self._trickle(b"HTTP/1.1 200 OK\r\nX-Slow: ", b"x" * 100_000)
                    return
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", "/elsewhere")
                size = {"slow_body": 100_000, "huge": 300 * 2**20}.get(hostile or "", 0)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                if hostile == "slow_body":
                    self._trickle(b"", b"x" * size)
                elif hostile == "huge":
                    try:
                        for _ in range(300):
                            self.wfile.write(b"x" * 2**20)
                    except OSError:  # the client hung up, as a careful one does
                        pass

            def _trickle(self, start: bytes, rest: bytes) -> None:
                """*start*, then one byte of *rest* every 2 s, until the client hangs up."""
                try:
                    self.wfile.write(start)
                    for byte in rest:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(2)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = serve(Handler)

    def url(self, userinfo: str = "", path: str = "/hook") -> str:
        return f"http://{userinfo}127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self) -> list[Any]:
        return [json.loads(post["body"]) for post in self.posts]

    def close(self) -> None:
        stop(self.server)


@pytest.fixture
def receiver_factory():
    started: list[Receiver] = []

    def start(answers: list[int] | None = None, body: str | None = None) -> Receiver:
        started.append(Receiver(answers, body))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()
