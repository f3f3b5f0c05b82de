"""Feed exporters of the project (``FEED_EXPORTERS``, set by the add-on).

JSON and JSON lines: Scrapy's, with a faster way to the fields of an ``Item`` (the same output).
CSV has no nesting, and Scrapy's CSV exporter writes a list of dicts (``skus``,
``price_tiers``) as its Python ``repr``. Here every list or dict cell is JSON text instead,
which any ERP import or spreadsheet formula can parse back; the header row is the item's
declared fields in declaration order, as Scrapy writes it for ``Item`` classes.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from scrapy import Item
from scrapy.exporters import CsvItemExporter, JsonItemExporter, JsonLinesItemExporter

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from scrapy import Field


@cache
def _plain_fields(item_class: type[Item]) -> tuple[str, ...] | None:
    """The declared fields of *item_class* in order, or None when one declares a serializer."""
    fields = item_class.fields
    return None if any("serializer" in meta for meta in fields.values()) else tuple(fields)


class PlainItemFields:
    """``get_serialized_fields`` for an ``Item`` whose fields declare no serializer, exported
    without ``FEED_EXPORT_FIELDS`` or empty fields: its populated fields in declaration order,
    the pairs Scrapy's exporters yield, without an ``ItemAdapter`` lookup per field (a sixth of
    a listing crawl's CPU, profiled). Anything else goes Scrapy's way."""

    fields_to_export: Any
    export_empty_fields: bool

    def get_serialized_fields(
        self, item: Any, default_value: Any = None, include_empty: bool | None = None
    ) -> Iterable[tuple[str, Any]]:
        order = _plain_fields(type(item)) if isinstance(item, Item) else None
        empty = self.export_empty_fields if include_empty is None else include_empty
        if order is None or empty or self.fields_to_export is not None:
            return super().get_serialized_fields(item, default_value, include_empty)  # type: ignore[misc]
        populated = item.keys()
        return [(name, item[name]) for name in order if name in populated]


class PlainJsonLinesItemExporter(PlainItemFields, JsonLinesItemExporter):
    """Scrapy's JSON lines exporter (``jsonlines``, ``jsonl``, ``jl``)."""


class PlainJsonItemExporter(PlainItemFields, JsonItemExporter):
    """Scrapy's JSON exporter (``json``)."""


#: Feed formats -> the exporters the add-on sets unless the project sets its own.
EXPORTERS = {
    "json": f"{__name__}.PlainJsonItemExporter",
    "jsonlines": f"{__name__}.PlainJsonLinesItemExporter",
    "jsonl": f"{__name__}.PlainJsonLinesItemExporter",
    "jl": f"{__name__}.PlainJsonLinesItemExporter",
    # CSV cells hold nested fields (skus, price_tiers, images) as JSON text.
    "csv": f"{__name__}.JsonCellCsvItemExporter",
}


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
