"""Chinese in the price chart on a bare machine: the ``chart`` extra's CJK font draws it.

The tests narrow matplotlib's font list to the fonts matplotlib ships itself (none has CJK
glyphs), which is what a server or container without system fonts gives it, on any machine.
"""

from __future__ import annotations

import sys
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from pylopdf_fonts_zh_cn import sans_path

from ali1688spider.cli import chart

TITLE = "新款夏季纯棉短袖"
START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
SERIES = {"610000000001": [(START, 12.5), (START + timedelta(days=1), 11.0)],
          "610000000002": [(START, 30.0)]}


@pytest.fixture
def bare_machine(monkeypatch):
    """matplotlib sees only its own fonts, as on a machine with no system font installed."""
    own = Path(font_manager.__file__).parent / "mpl-data" / "fonts"
    bare = [entry for entry in font_manager.fontManager.ttflist if Path(entry.fname).is_relative_to(own)]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", bare)
    font_manager.fontManager._findfont_cached.cache_clear()
    yield
    monkeypatch.undo()
    font_manager.fontManager._findfont_cached.cache_clear()


def drawing_fonts(font: font_manager.FontProperties) -> list[Path]:
    """The font files a text in *font* takes its glyphs from, in order of preference (as
    matplotlib's renderer builds its fallback chain: one font per family)."""
    return [Path(font_manager.findfont(font_manager.FontProperties(family=[family])))
            for family in font.get_family()]


def font_of_each(text: str, font: font_manager.FontProperties) -> set[Path | None]:
    """The font file each character of *text* is drawn from; None: no font has it (a box)."""
    charmaps = [(path, FT2Font(str(path)).get_charmap()) for path in drawing_fonts(font)]
    return {next((path for path, charmap in charmaps if ord(char) in charmap), None) for char in text}


def pixels(text: str, font: font_manager.FontProperties) -> bytes:
    """The RGBA pixels of *text* drawn alone in *font*."""
    figure = Figure(figsize=(3, 0.6), dpi=100)
    canvas = FigureCanvasAgg(figure)
    figure.text(0.05, 0.3, text, fontproperties=font, fontsize=16)
    canvas.draw()
    return bytes(canvas.buffer_rgba())


def test_the_bare_machine_has_no_font_for_chinese(bare_machine):
    # What the test environment is: without the extra's font, nothing can draw the title
    # (matplotlib's last-resort font "has" every character: as a box).
    for entry in font_manager.fontManager.ttflist:
        if entry.name == chart.LAST_RESORT:
            continue
        assert any(ord(char) not in FT2Font(entry.fname).get_charmap() for char in TITLE), entry.fname


def test_a_chinese_legend_is_drawn_with_the_chart_extras_font(bare_machine, tmp_path, capsys):
    titles = {"610000000001": TITLE, "610000000002": "不锈钢保温杯 500ml"}
    # Warnings are errors here: a "Glyph … missing from font" would fail the test.
    figure = chart.write_chart(tmp_path / "prices.png", SERIES, titles, end=START + timedelta(days=2))
    assert (tmp_path / "prices.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "note:" not in capsys.readouterr().err

    packaged = chart.packaged_cjk_font()
    assert packaged is not None and Path(packaged).is_file()
    for text in figure.axes[0].get_legend().get_texts():
        font = text.get_fontproperties()
        chinese = "".join(char for char in text.get_text() if ord(char) > 0x2E80)
        assert chinese and font_of_each(chinese, font) == {Path(packaged)}, text.get_text()
        # And on the canvas: the same pixels as the extra's font alone draws, not boxes.
        assert pixels(chinese, font) == pixels(chinese, font_manager.FontProperties(fname=packaged))


def test_without_the_extras_font_the_title_is_boxes_and_a_note_says_so(bare_machine, tmp_path, capsys,
                                                                      monkeypatch):
    extras_font = str(sans_path())
    monkeypatch.setitem(sys.modules, "pylopdf_fonts_zh_cn", None)  # as if not installed
    assert chart.packaged_cjk_font() is None
    font, undrawable = chart.legend_font([TITLE])
    assert undrawable == TITLE and font_of_each(TITLE, font) == {None}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", chart.MISSING_GLYPH_WARNING, UserWarning)
        boxes = pixels(TITLE, font)
    assert boxes != pixels(TITLE, font_manager.FontProperties(fname=extras_font))
    chart.write_chart(tmp_path / "boxes.png", SERIES, dict.fromkeys(SERIES, TITLE),
                      end=START + timedelta(days=2))
    assert chart.CJK_FONT_MISSING.format(chars=TITLE) in capsys.readouterr().err
