"""Fixture ``browser``: a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
which ``scripts/test`` installs) driven by Selenium at 1280 × 900, one per test module."""

from __future__ import annotations

import shutil

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

WIDTH, HEIGHT = 1280, 900


def _executable(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(f"{' or '.join(names)} not found: scripts/test installs the chromium and chromium-driver packages")


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = _executable("chromium", "chromium-browser")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(_executable("chromedriver")))
    yield driver
    driver.quit()
