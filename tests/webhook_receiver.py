"""Fixture ``receiver_factory``: real HTTP receivers of webhook POSTs, in a thread of the test
process (alerts tests)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class Receiver:
    """An HTTP server that records every POST and answers the statuses of *answers* in turn
    (then 200)."""

    def __init__(self, answers: list[int] | None = None):
        self.answers = list(answers or [])
        self.posts: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, userinfo: str = "", path: str = "/hook") -> str:
        return f"http://{userinfo}127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self) -> list[Any]:
        return [json.loads(post["body"]) for post in self.posts]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory():
    started: list[Receiver] = []

    def start(answers: list[int] | None = None) -> Receiver:
        started.append(Receiver(answers))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()
