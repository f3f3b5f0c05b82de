"""One self-contained HTML report page: no script, style, font or image is loaded from anywhere.

A page is a title and one or more ``Section``s (a summary line, charts as inline SVG, tables
sortable by a click on a heading). The Chinese characters of its text are embedded as a subset
of the ``chart`` extra's CJK font (a few KB), so they show on a machine without a CJK font; a
note says so where the extra is missing. Readable at 1280 px and on a phone.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

#: The family name of the Chinese glyphs a page embeds (the CSS falls back to it).
EMBEDDED_FONT = "ReportCJK"
#: A page is for anyone to open (the temporary file it is written through is the owner's only).
PAGE_MODE = 0o644


@dataclass
class Table:
    title: str
    rows: Sequence[dict[str, Any]]
    columns: Sequence[str]


@dataclass
class Section:
    title: str
    #: What the figures cover (a period, a search's time).
    scope: str
    summary: str
    #: Inline SVG documents (``svg``).
    charts: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    #: A line saying what the figures cannot tell.
    note: str = ""


def page(title: str, sections: Sequence[Section]) -> str:
    """The page of *sections* (one section: its title is the page's)."""
    bodies = [_section(section, heading=len(sections) > 1) for section in sections]
    text = title + "".join(bodies)
    chars = "".join(sorted({char for char in html.unescape(text) if ord(char) > 0x2E7F}))
    font_face = _embedded_font(chars)
    missing_font = "" if font_face or not chars else (
        '<p class="note">This page embeds no font for its Chinese text: it shows where the '
        "machine has one. pip install 'ali1688spider[chart]' embeds one.</p>")
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{font_face}{_CSS}</style></head>
<body><main>
<h1>{html.escape(title)}</h1>{missing_font}
{"".join(bodies)}
</main><script>{_SORT_SCRIPT}</script></body></html>
"""


def write_page(path: Path, title: str, sections: Sequence[Section]) -> None:
    """The page, written in one piece (a reader never sees half of it)."""
    from ali1688spider.files import write_text_atomically

    write_text_atomically(path, page(title, sections), mode=PAGE_MODE)


def svg(figure: Any) -> str:
    """A matplotlib figure as an inline ``<svg>`` element (its text drawn as paths)."""
    out = io.StringIO()
    figure.savefig(out, format="svg")
    text = out.getvalue()
    return text[text.index("<svg"):]


def _section(section: Section, *, heading: bool) -> str:
    title = f"<h2>{html.escape(section.title)}</h2>" if heading else ""
    note = f'<p class="note">{html.escape(section.note)}</p>' if section.note else ""
    charts = "".join(f"<figure>{chart}</figure>" for chart in section.charts)
    tables = "".join(_table(table) for table in section.tables)
    return (f'<section class="report">{title}<p class="period">{html.escape(section.scope)}</p>'
            f'<p class="summary">{html.escape(section.summary)}</p>{note}'
            f'<div class="charts">{charts}</div>{tables}</section>')


def _table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if row.get(c) is None else str(row.get(c)))}</td>"
                                    for c in table.columns) + "</tr>" for row in table.rows)
    empty = "" if table.rows else f'<tr><td colspan="{len(table.columns)}">none</td></tr>'
    return (f'<div class="table"><h3>{html.escape(table.title)}</h3><div class="scroll"><table class="sortable">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}{empty}</tbody></table></div></div>")


def _embedded_font(chars: str) -> str:
    """An ``@font-face`` holding just the glyphs of *chars* from the ``chart`` extra's CJK font;
    "" without the extra."""
    from ali1688spider.reporting.fonts import packaged_cjk_font

    path = packaged_cjk_font() if chars else None
    if path is None:
        return ""
    from fontTools import subset

    font = subset.load_font(path, subset.Options())
    subsetter = subset.Subsetter()
    subsetter.populate(text=chars)
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    data = base64.b64encode(out.getvalue()).decode()
    return f'@font-face{{font-family:"{EMBEDDED_FONT}";src:url(data:font/otf;base64,{data}) format("opentype");font-display:block}}'


_CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI","Noto Sans SC","PingFang SC","ReportCJK",sans-serif;
margin:0;color:#222}
.note{color:#8a4b00}
main{max-width:1100px;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0}
h2{font-size:1.3rem;margin:1.5rem 0 .3rem;border-top:1px solid #ddd;padding-top:1rem}
h3{font-size:1.1rem}
.summary{background:#f4f6f8;padding:.6rem .8rem;border-radius:6px}
.charts{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;flex:1 1 420px;min-width:0}
figure svg{width:100%;height:auto}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;overflow-wrap:anywhere}
th{cursor:pointer;background:#fafafa}
"""

_SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var column = th.cellIndex, body = th.closest("table").tBodies[0], rows = Array.from(body.rows);
    var up = th.dataset.order !== "asc"; th.dataset.order = up ? "asc" : "desc";
    rows.sort(function (a, b) {
      var x = a.cells[column].textContent, y = b.cells[column].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var order = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
      return up ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""
