"""The fonts of the charts and report pages: matplotlib's own, with a fallback for Chinese.

matplotlib's default font has no CJK glyphs, and a server or container rarely has one: the
``chart`` extra brings one (Noto Sans SC, in the ``pylopdf-fonts-zh-cn`` package), taken before
any installed font.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from matplotlib.font_manager import FontProperties

#: matplotlib's stand-in font: it "has" every character, drawn as a box with its code.
LAST_RESORT = "Last Resort High-Efficiency"


def packaged_cjk_font() -> str | None:
    """The file of the CJK font the ``chart`` extra installs, made known to matplotlib (which
    finds only system fonts by itself); None when that package is not installed."""
    try:
        from pylopdf_fonts_zh_cn import sans_path
    except ImportError:
        return None
    from matplotlib import font_manager

    path = str(sans_path())
    if all(entry.fname != path for entry in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(path)
    return path


def legend_font(labels: Iterable[str]) -> tuple[FontProperties, str]:
    """The legend's font, and the characters of *labels* that no available font has.

    matplotlib's default font, with a fallback for the characters it lacks (CJK titles): the
    ``chart`` extra's CJK font if it has every one of them, else the first installed regular
    font, by name, that has.
    """
    from matplotlib import font_manager

    default = font_manager.FontProperties()
    chars = "".join(dict.fromkeys(char for label in labels for char in label))
    missing = _lacking(font_manager.findfont(default), chars)
    if not missing:
        return default, ""
    packaged = packaged_cjk_font()
    # Regular faces only: a family name then finds one as it is (else matplotlib logs that
    # it took another weight), and their own files tell what they have.
    regular = sorted({(entry.name, entry.fname) for entry in font_manager.fontManager.ttflist
                      if entry.style == "normal" and entry.weight in (400, "normal", "regular")
                      and entry.name != LAST_RESORT},
                     key=lambda entry: (entry[1] != packaged, entry))
    for name, path in regular:
        try:
            if not _lacking(path, missing):
                return font_manager.FontProperties(family=[*default.get_family(), name]), ""
        except (OSError, RuntimeError):  # a font file FreeType cannot read
            continue
    return default, missing


def _lacking(font_path: str, chars: str) -> str:
    """The characters of *chars* the font in *font_path* has no glyph for."""
    from matplotlib.ft2font import FT2Font

    charmap = FT2Font(font_path).get_charmap()
    return "".join(char for char in chars if ord(char) not in charmap)
