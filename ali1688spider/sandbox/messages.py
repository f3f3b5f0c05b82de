"""HTTP requests as the sandbox sees them, and the replies it sends (or a dropped connection)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

JSON_TYPE = "application/json;charset=UTF-8"
HTML_TYPE = "text/html;charset=UTF-8"


class BadRequest(ValueError):
    """The request cannot be understood (answered 400 by the server)."""


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]          # lower-case names
    body: bytes = b""

    def pairs(self) -> list[tuple[str, str]]:
        """Query and form parameters, in order, blank values kept (they are signed too)."""
        try:
            pairs = parse_qsl(self.query, keep_blank_values=True, errors="strict")
            content_type = self.headers.get("content-type", "")
            if self.body and (not content_type or "x-www-form-urlencoded" in content_type):
                pairs += parse_qsl(self.body.decode("utf-8"), keep_blank_values=True,
                                   errors="strict")
        except UnicodeDecodeError:
            raise BadRequest("parameters are not UTF-8") from None
        return pairs

    def json(self) -> Any:
        """The JSON body (an empty body is ``{}``)."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise BadRequest("the body is not JSON") from None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False      # close the connection without answering


def to_json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_reply(payload: Any, status: int = 200) -> Reply:
    return Reply(status, to_json(payload))


def html_reply(status: int, title: str, text: str = "") -> Reply:
    body = f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>"
    return Reply(status, body.encode("utf-8"), HTML_TYPE)


def redirect(location: str) -> Reply:
    return Reply(302, b"", HTML_TYPE, {"Location": location})
