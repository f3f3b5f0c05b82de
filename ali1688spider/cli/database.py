"""The crawl database as the ``ali1688 report`` commands open it: read-only, named by the option
that gave it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ali1688spider.cli.errors import CommandError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def open_database(flag: str | None) -> Engine:
    """A read-only engine on a database that crawls have written to: ``--db`` (*flag*), else
    ``ALI1688_DB_URL``; a message about the URL names the one that gave it."""
    from sqlalchemy import inspect

    from ali1688spider.storage.schema import schema_version
    from ali1688spider.storage.store import (
        StorageError,
        check_database_url,
        database_url,
        describe_error,
        describe_url,
        make_engine,
    )

    url, option = (flag, "--db") if flag else (os.environ.get("ALI1688_DB_URL"), "ALI1688_DB_URL")
    if not url:
        raise CommandError("give --db URL (or set ALI1688_DB_URL), e.g. --db sqlite:///ali1688.db")
    try:
        check_database_url(url, option=option)
    except StorageError as exc:
        raise CommandError(str(exc), status=2) from None
    try:
        parsed = database_url(url, option=option)
        if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
            raise CommandError(f"no database file {parsed.database!r}")
        engine = make_engine(url, writer=False)
        with engine.connect() as connection:
            has_schema = inspect(connection).has_table(schema_version.name)
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    except Exception as exc:
        if isinstance(exc, CommandError):
            raise
        raise CommandError(f"cannot open {describe_url(database_url(url))}: {describe_error(exc)}") from None
    if not has_schema:
        raise CommandError(
            f"{describe_url(engine.url)} holds no ali1688 data: crawl with ALI1688_DB_URL set first"
        )
    return engine
