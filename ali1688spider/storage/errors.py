"""Storage errors in one line, without loading SQLAlchemy (crawls that store nothing never do)."""

from __future__ import annotations

from ali1688spider.redact import redact


class StorageError(RuntimeError):
    """The database cannot be used; the message is one line and never shows a password."""


def describe_error(exc: BaseException) -> str:
    """First line of a driver error, without the SQL statement SQLAlchemy appends, and without
    a password it may quote (a connection string's)."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip().splitlines()
    return redact(text[0]) if text else type(cause).__name__
