"""Writing small files (JSON, report pages) so that readers never see half of one."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def write_json_atomically(path: Path, data: object, *, mode: int | None = None) -> None:
    """Write *data* as JSON to *path* (see ``write_text_atomically``)."""
    write_text_atomically(path, json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str),
                          mode=mode)


def write_text_atomically(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write *text* to *path* through a temporary file in the same directory.

    With *mode*, the permissions are set before a single byte is written (token files).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
