"""Masking secrets in text that is logged, raised or printed."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
#: Query parameters of a URL that hold a secret (``postgresql://…?password=…``).
SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pwd", "secret", "token", "access_token"})


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


def mask_values(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    """*text* with every occurrence of each secret value replaced by ``***``."""
    for value in sorted(secrets, key=len, reverse=True):
        if value:
            text = text.replace(value, MASK)
    return text
