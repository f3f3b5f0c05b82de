"""The protocol facts the tests check: documented samples and signature test vectors.

They live in ``tests/data/reference/``, copied from the project's protocol reference
(``shared/reference/samples/``, whose ``1688-open-api.md`` §10 gives each file's public
origin; ``tests/data/reference/README.md`` repeats it). A missing file is an error, never a
skip: the tests that read it could otherwise pass without checking anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent / "data" / "reference"


def sample_path(name: str) -> Path:
    path = SAMPLES / name
    if not path.is_file():
        raise FileNotFoundError(f"test data {path} is missing: restore it from git")
    return path


def sample_bytes(name: str) -> bytes:
    return sample_path(name).read_bytes()


def sample_json(name: str) -> Any:
    return json.loads(sample_path(name).read_text(encoding="utf-8"))
