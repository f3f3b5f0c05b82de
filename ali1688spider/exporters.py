"""Feed exporters of the project (``FEED_EXPORTERS`` in settings.py).

CSV has no nesting, and Scrapy's CSV exporter writes a list of dicts (``skus``,
``price_tiers``) as its Python ``repr``. Here every list or dict cell is JSON text instead,
which any ERP import or spreadsheet formula can parse back; the header row is the item's
declared fields in declaration order, as Scrapy writes it for ``Item`` classes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from scrapy.exporters import CsvItemExporter

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy import Field


def json_cell(value: Any) -> Any:
    """Lists and dicts as compact JSON text (UTF-8 kept readable); other values unchanged."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


class JsonCellCsvItemExporter(CsvItemExporter):
    """CSV with nested values (SKUs, price tiers, images, attributes) as JSON text cells."""

    def serialize_field(self, field: Mapping[str, Any] | Field, name: str, value: Any) -> Any:
        serializer = field.get("serializer", json_cell)
        return serializer(value)
