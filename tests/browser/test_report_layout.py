"""The demo's HTML report (`gatekeeper demo` writes report.html) read at a laptop's and a
narrow window's width, and printed on A4: nothing outside the page's content box but inside
a table's own scrolling box, test ids never squeezed below a dozen characters nor broken
inside a name (only after ``::``, ``.`` and ``/``), and at 1300 px the flakiest tests' table
fits without scrolling. Screenshots go to tests/artifacts/ (and to $GATEKEEPER_SCREENSHOTS
when it names a folder)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ..cli import gatekeeper
from . import probes
from .cdp import Page, Viewport

pytestmark = pytest.mark.browser

MIN_ID_CHARS = 12  # a cell holding a test id is at least this many characters wide


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo-report")
    done = gatekeeper("demo", "--dir", str(folder / "demo"), cwd=folder)
    assert done.returncode == 0, done.stderr
    report = folder / "demo" / "report.html"
    assert report.is_file()
    return report


def _save(page: Page, artifacts: Path, name: str) -> Path:
    shot = artifacts / name
    width, height = page.screenshot(shot)
    assert width > 0 and height > 0
    extra = os.environ.get("GATEKEEPER_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(extra) / name)
    return shot


def _check(found: dict[str, object]) -> None:
    assert found["sticking"] == [], found["sticking"]
    cells = found["cells"]
    assert isinstance(cells, list) and len(cells) >= 10, cells
    squeezed = [
        c for c in cells if c["chars"] + 0.5 < min(MIN_ID_CHARS, c["full"])
    ]  # an id shorter than a dozen characters needs only its own width
    assert squeezed == [], squeezed
    broken_inside = [c for c in cells if c["lines"] > c["parts"]]
    assert broken_inside == [], broken_inside


@pytest.mark.parametrize("width", [1300, 800])
def test_demo_report_fits_the_window(
    page: Page, demo_report: Path, artifacts: Path, width: int
) -> None:
    page.set_viewport(Viewport(f"window-{width}", width, 900, 1, False))
    mark = page.mark()
    page.navigate(demo_report.as_uri())
    assert page.problems(mark) == []
    found = probes.layout(page)
    assert found["page_width"] <= found["viewport"] == width, found
    _check(found)
    # the page uses the width it has: the content column is most of the window
    left, right = found["content"]
    assert right - left >= 0.85 * width, found["content"]
    if width >= 1300:
        flakiest = [t for t in found["tables"] if t["section"] == "flakiest"]
        assert flakiest and not any(t["scrolls"] for t in flakiest), found["tables"]
    _save(page, artifacts, f"report-demo-{width}.png")


def test_demo_report_prints_on_a4(page: Page, demo_report: Path, artifacts: Path) -> None:
    """A4 portrait with 12 mm margins is 186 mm of text width: 703 CSS pixels."""
    page.set_viewport(Viewport("a4", 703, 1000, 1, False))
    page.send("Emulation.setEmulatedMedia", media="print")
    page.navigate(demo_report.as_uri())
    found = probes.layout(page)
    assert found["page_width"] <= 703, found
    _check(found)
    pdf = page.send("Page.printToPDF", timeout=60, paperWidth=8.27, paperHeight=11.69)
    assert pdf["data"]
    _save(page, artifacts, "report-demo-print-a4.png")
