"""High-water marks of incremental crawls: per shop, the newest modification time seen by
the last crawl that finished complete (``ALI1688_STATE_FILE``, a small JSON file).

``-a incremental=1`` starts from the stored mark; a mark is stored only after a complete
crawl, so an interrupted or incomplete crawl never moves it forward. The file is replaced
atomically, so a reader never sees half of it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ali1688spider.config import ConfigError
from ali1688spider.files import write_json_atomically

if TYPE_CHECKING:
    from collections.abc import Mapping

FORMAT = "ali1688-sync-state/1"


@dataclass(frozen=True)
class Mark:
    """Where the last complete crawl of one shop got to."""

    high_water: dt.datetime
    crawled_at: str
    products: int


class SyncState:
    def __init__(self, path: Path):
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"format": FORMAT, "shops": {}}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"ALI1688_STATE_FILE {self.path} is unreadable: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f"ALI1688_STATE_FILE {self.path} is not an ali1688 state file")
        return data

    def get(self, shop_key: str) -> Mark | None:
        entry = self._load()["shops"].get(shop_key)
        if not entry:
            return None
        return Mark(
            high_water=dt.datetime.fromisoformat(entry["high_water"]),
            crawled_at=entry["crawled_at"],
            products=int(entry["products"]),
        )

    def put(self, marks: Mapping[str, Mark]) -> None:
        """Store the *marks* of these shops (one write, whatever their number)."""
        data = self._load()
        for shop_key, mark in marks.items():
            data["shops"][shop_key] = {
                "high_water": mark.high_water.isoformat(),
                "crawled_at": mark.crawled_at,
                "products": mark.products,
            }
        write_json_atomically(self.path, data)
