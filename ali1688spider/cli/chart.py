"""The chart of ``ali1688 report prices --chart FILE.png``: the lowest price of each product
over time, one stepped line per product, drawn with matplotlib (the ``chart`` extra).

``report`` reads the database and shortens the titles; this module only draws. Times are
this machine's local time, with ticks that suit any span from minutes to years. The legend
names each product by id and title; titles in Chinese need a font with CJK glyphs, which
matplotlib's own font lacks and a server or container rarely has: the ``chart`` extra brings
one (Noto Sans SC, in the ``pylopdf-fonts-zh-cn`` package), taken before any installed font.
"""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING

from ali1688spider.cli.errors import CommandError
from ali1688spider.reporting.fonts import LAST_RESORT, legend_font, packaged_cjk_font

__all__ = ["LAST_RESORT", "legend_font", "packaged_cjk_font", "price_series", "require_matplotlib", "write_chart"]

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from matplotlib.figure import Figure

    from ali1688spider.storage.queries import PricePoint

    Series = dict[str, list[tuple[datetime, float]]]

MATPLOTLIB_MISSING = "--chart needs matplotlib: pip install 'ali1688spider[chart]'"
#: What matplotlib warns, once per character, when no font given to a text can draw it.
MISSING_GLYPH_WARNING = r"Glyph \d+ .* missing from font"
CJK_FONT_MISSING = ("note: no installed font can draw {chars} (boxes in the chart's legend); "
                    "pip install 'ali1688spider[chart]' brings one")


def require_matplotlib() -> None:
    """Stop the command (exit status 2, one line) when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401  (only whether it imports)
    except ImportError:
        raise CommandError(MATPLOTLIB_MISSING, status=2) from None


def price_series(points: list[PricePoint], since: datetime | None) -> Series:
    """Per product, (time, lowest price) steps from *since* on, opened by the price then in effect."""
    series: Series = {}
    for point in points:
        if point.price_min is None:
            continue
        steps = series.setdefault(point.product_id, [])
        moment = point.observed_at.astimezone()
        if since is not None and moment < since:
            steps[:] = [(since, float(point.price_min))]
        else:
            steps.append((moment, float(point.price_min)))
    return series


def write_chart(path: Path, series: Series, titles: dict[str, str], *, end: datetime,
                since: datetime | None = None) -> Figure:
    """Draw *series* into the PNG *path* and return the figure drawn.

    Each line runs to *end* (the latest observation); *titles* (product id -> title, already
    shortened) label the lines beside their ids.
    """
    from dateutil.tz import tzlocal
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    labels = {product_id: _label(product_id, titles.get(product_id), len(points) - 1)
              for product_id, points in series.items()}
    font, undrawable = legend_font(labels.values())
    # Figure without pyplot: no GUI backend is ever needed.
    figure = Figure(figsize=(11, 6), dpi=110, layout="constrained")
    axes = figure.add_subplot()
    for product_id, points in series.items():
        times = [moment for moment, _ in points]
        prices = [price for _, price in points]
        line, = axes.step([*times, end], [*prices, prices[-1]], where="post", linewidth=2,
                          label=labels[product_id])
        axes.plot(times, prices, "o", color=line.get_color())
    # Local time, with DST: matplotlib's own default zone is UTC (rcParams["timezone"]).
    zone = tzlocal()
    locator = AutoDateLocator(tz=zone)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=zone))
    axes.set_title("Lowest price per product over time" + (f" since {since:%Y-%m-%d %H:%M}" if since else ""))
    axes.set_xlabel("observed (local time)")
    axes.set_ylabel("lowest price (CNY)")
    axes.grid(True, alpha=0.3)
    axes.legend(title="product", loc="upper left", bbox_to_anchor=(1.01, 1.0), prop=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    if undrawable:
        print(CJK_FONT_MISSING.format(chars=undrawable[:12]), file=sys.stderr)
    with warnings.catch_warnings():
        if undrawable:
            # They show as boxes, the ids beside them still name the products and the note
            # says what to install; only this warning is silenced (it comes once per character).
            warnings.filterwarnings("ignore", MISSING_GLYPH_WARNING, UserWarning)
        figure.savefig(path)
    return figure


def _label(product_id: str, title: str | None, changes: int) -> str:
    named = f"{product_id} {title}" if title else product_id
    return f"{named} ({changes} change{'s' if changes != 1 else ''})"
