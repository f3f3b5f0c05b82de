"""Masking secrets in text that is logged, raised or printed."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def url_without_password(url: str) -> str:
    """*url* with any password masked (``redis://:***@host:6379/0``), for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:{MASK}@" if parts.username else f":{MASK}@"
    return urlunsplit(parts._replace(netloc=user + host))


def mask_values(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    """*text* with every occurrence of each secret value replaced by ``***``."""
    for value in sorted(secrets, key=len, reverse=True):
        if value:
            text = text.replace(value, MASK)
    return text
