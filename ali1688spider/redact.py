"""Masking secrets in text that is logged, raised or printed: one function, ``redact``.

A message from outside (a gateway's error, an OAuth answer, a driver's exception) may echo
what it was sent; ``redact`` masks the values the caller knows are secret and every
``name=value`` or ``"name": "value"`` pair whose name says it holds one. Plain Python, the
lowest layer: the protocol code (``api``) uses it too. ``redact_every_log_record`` applies it,
with every secret the process was told of (``remember_secrets``), to every log record.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

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


#: Every secret value this process was told of (settings, refreshed tokens, URL parts): what
#: ``redact_every_log_record`` masks in every logger's records.
_KNOWN: set[str] = set()
#: Shorter values are not masked: they would turn ordinary words into ``***``.
MIN_SECRET_LENGTH = 4


def remember_secrets(*values: str | None) -> None:
    """Add *values* to the secrets masked in every log record (see ``redact_every_log_record``)."""
    _KNOWN.update(value for value in values if value and len(value) >= MIN_SECRET_LENGTH)


def url_secret_parts(url: str) -> list[str]:
    """The parts of *url* a message must not show: userinfo, path and query (a webhook's path
    or query often is its secret), and each longer query value."""
    parts = urlsplit(url)
    secrets = [parts.password, parts.username, parts.query, parts.path if parts.path != "/" else None]
    if parts.query:
        secrets.append(f"{parts.path}?{parts.query}")
        secrets += [value for _, value in parse_qsl(parts.query) if len(value) >= 3]
    return [secret for secret in secrets if secret]


class MaskedLogRecord(logging.LogRecord):
    """A log record masked with every secret the process knows of (``remember_secrets``):
    its message when read, so a record no handler emits (a crawl's DEBUG line for each item,
    whose message is the whole item) costs no formatting; its traceback at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _mask_traceback(self)

    def getMessage(self) -> str:
        return redact(super().getMessage(), _KNOWN)


def _mask_traceback(record: logging.LogRecord) -> None:
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info), _KNOWN)


def _redacting_factory(make_record: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    """Masks the records another factory makes, message included, as they are made."""

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - arguments that do not fit: logging itself reports it
            return record
        masked = redact(message, _KNOWN)
        if masked != message:
            record.msg, record.args = masked, ()
        _mask_traceback(record)
        return record

    make.ali1688_redacting = True  # type: ignore[attr-defined]
    return make


def redact_every_log_record() -> None:
    """Mask secrets in every record any logger of this process makes (Scrapy, Twisted,
    urllib3, this project), whatever its level: one record factory, installed once (another
    library's own factory is wrapped)."""
    current = logging.getLogRecordFactory()
    if current is logging.LogRecord:
        logging.setLogRecordFactory(MaskedLogRecord)
    elif current is not MaskedLogRecord and not getattr(current, "ali1688_redacting", False):
        logging.setLogRecordFactory(_redacting_factory(current))
