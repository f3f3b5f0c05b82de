"""Every page of the docs site renders in a real headless Chromium at 1280 px, and no code block
or table is cut off behind a horizontal scrollbar there.

Chromium and chromedriver are the Debian packages (``chromium``, ``chromium-driver``) that
``scripts/test`` installs; Selenium drives them, downloading no browser of its own.
"""

from __future__ import annotations

import os

from browser import WIDTH

#: Elements whose content must fit the page's column: code blocks and tables.
WIDE_CONTENT = "pre, .table-wrapper, table"
OVERFLOWING = """
return Array.from(document.querySelectorAll(arguments[0]))
    .filter(element => element.scrollWidth > element.clientWidth + 1)
    .map(element => element.textContent.trim().split("\\n")[0].slice(0, 80));
"""
#: Where screenshots go when ``DOCS_SCREENSHOTS`` names a directory (for looking at them).
SCREENSHOTS = os.environ.get("DOCS_SCREENSHOTS")


def pages(site):
    return sorted(path for path in site.glob("*.html") if path.name not in ("genindex.html", "search.html"))


def test_every_page_renders_with_its_heading_and_footer(site, browser):
    blank = []
    for page in pages(site):
        browser.get(page.as_uri())
        heading = browser.execute_script("const h = document.querySelector('article h1'); return h && h.textContent;")
        footer = browser.execute_script("const f = document.querySelector('footer'); return f && f.textContent;")
        if not heading or not footer or "ali1688spider maintainers" not in footer:
            blank.append(page.name)
        if SCREENSHOTS:
            browser.save_screenshot(os.path.join(SCREENSHOTS, page.with_suffix(".png").name))
    assert len(pages(site)) > 10
    assert blank == []


def test_no_code_block_or_table_overflows_at_1280_px(site, browser):
    assert browser.execute_script("return window.innerWidth") == WIDTH
    cut_off = {}
    for page in pages(site):
        browser.get(page.as_uri())
        wide = browser.execute_script(OVERFLOWING, WIDE_CONTENT)
        if wide:
            cut_off[page.name] = wide
    assert cut_off == {}
