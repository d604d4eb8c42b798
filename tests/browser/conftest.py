"""A headless Chromium and a tab per test (the browser ended at the test's end, whatever
happened), and the folder the screenshots go to (tests/artifacts/, ignored by git)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import ROOT
from .cdp import Browser, Page

ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    # A fresh Chromium and profile per test (half a second): what the browser fetches once
    # per origin, like a favicon, and whatever it caches never depend on the tests' order.
    chromium = Browser.start(tmp_path / "chromium")
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    tab = browser.new_page()
    try:
        yield tab
    finally:
        tab.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
