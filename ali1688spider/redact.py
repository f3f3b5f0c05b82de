"""Masking secrets in text that is logged, raised or printed: one function, ``redact``.

A message from outside (a gateway's error, an OAuth answer, a driver's exception) may echo
what it was sent; ``redact`` masks the values the caller knows are secret and every
``name=value`` or ``"name": "value"`` pair whose name says it holds one. Plain Python, the
lowest layer: the protocol code (``api``) uses it too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from collections.abc import Iterable

MASK = "***"
#: Names whose values are secret: OAuth tokens, app secrets, signatures, passwords.
SECRET_NAMES = (
    "access_token", "refresh_token", "client_secret", "app_secret", "appsecret",
    "_aop_signature", "sign", "password", "passwd", "pwd", "secret", "token",
)
#: Query parameters of a URL that hold a secret (``postgresql://…?password=…``).
SECRET_QUERY_KEYS = frozenset(SECRET_NAMES)
_NAMES = "|".join(sorted(map(re.escape, SECRET_NAMES), key=len, reverse=True))
#: ``access_token=abc`` (a query string or form body quoted back) and
#: ``"access_token": "abc"`` (a JSON body quoted back).
_PAIRS = (
    re.compile(rf"(?i)(?<![A-Za-z0-9])((?:{_NAMES})=)([^\s&\"',;)}}\]]+)"),
    re.compile(rf"(?i)(\"(?:{_NAMES})\"\s*:\s*\")([^\"]*)"),
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """*text* with each known secret value, and each value of a secret-named pair, masked."""
    for value in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(value, MASK)
    for pattern in _PAIRS:
        text = pattern.sub(lambda match: match.group(1) + MASK, text)
    return text


def url_without_password(url: str) -> str:
    """*url* with any password masked (``redis://:***@host:6379/0``, ``…?password=***``), for
    logs and errors."""
    parts = original = urlsplit(url)
    if parts.password is not None:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        user = f"{parts.username}:{MASK}@" if parts.username else f":{MASK}@"
        parts = parts._replace(netloc=user + host)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(key.lower() in SECRET_QUERY_KEYS for key, _ in pairs):
            masked = [(key, MASK if key.lower() in SECRET_QUERY_KEYS else value) for key, value in pairs]
            parts = parts._replace(query=urlencode(masked, safe="*"))
    return url if parts == original else urlunsplit(parts)
