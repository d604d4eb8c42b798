"""The browser tests' own instruments, on pages made to fail: the problems a page has are
seen, an overflow is found and named, an empty chart is told apart from a drawn one. Without
these, "no console error" could pass because nothing was listening."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from . import probes
from .cdp import PHONE, CDPError, Page

pytestmark = pytest.mark.browser

BROKEN = """<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><div id="wide" class="banner" style="width:600px">wide</div>
<div class="scroll" style="overflow-x:auto"><table style="width:900px"><tr><td>ok</td></tr>
</table></div><img src="missing.png" alt="">
<script>console.error("boom", 42); console.log("all good"); undefinedFunction();</script>
</body></html>
"""


def test_problems_are_seen(page: Page, tmp_path: Path) -> None:
    path = tmp_path / "broken.html"
    path.write_text(BROKEN, encoding="utf-8")
    mark = page.mark()
    page.navigate(path.as_uri())
    problems = page.problems(mark)
    assert any(p == "console.error: boom 42" for p in problems), problems
    assert any(re.match(r"uncaught exception: ReferenceError: undefinedFunction", p)
               for p in problems), problems  # fmt: skip
    assert any("missing.png" in p and p.startswith("log (network)") for p in problems), problems
    assert not any("all good" in p for p in problems)  # console.log is not an error
    assert page.problems(page.mark()) == []  # counted from the mark on


def test_overflow_is_found_and_named(page: Page, tmp_path: Path) -> None:
    path = tmp_path / "wide.html"
    path.write_text(BROKEN.replace("<script>", "<script>//"), encoding="utf-8")
    page.set_viewport(PHONE)
    page.navigate(path.as_uri())
    fit = probes.overflow(page, PHONE.width)
    # a phone zooms out to the page's width: the window grows past the device's 390 px
    assert fit["inner_width"] > PHONE.width and fit["scroll_width"] > PHONE.width
    # the banner sticks out; the table in its scrolling box does not count
    assert [o["selector"] for o in fit["offenders"]] == ["div#wide.banner"], fit
    assert fit["offenders"][0]["width"] == 600


def test_an_empty_chart_is_told_apart(page: Page, tmp_path: Path) -> None:
    drawn = (
        '<figure class="chart" id="chart-a"><svg viewBox="0 0 100 50" width="100%">'
        "<title>A</title>"
        '<path d="M 0 40 L 50 10 L 100 30" style="fill:none;stroke:#0072b2;stroke-width:2"/>'
        '<path d="M 0 50 L 10 50 L 10 50 L 0 50 z" style="fill:#d55e00"/></svg>'
        "<figcaption>A. a line</figcaption></figure>"
    )
    empty = drawn.replace("chart-a", "chart-b").replace("#0072b2", "#e0e0e0")
    path = tmp_path / "charts.html"
    path.write_text(f"<!DOCTYPE html><html><body>{drawn}{empty}</body></html>", "utf-8")
    page.navigate(path.as_uri())
    a, b = probes.charts(page)
    assert a["marks"] == {"#0072b2": 1}  # the bar of height 0 draws nothing
    assert b["marks"] == {"#e0e0e0": 1} and not probes.DATA & set(b["marks"])
    with pytest.raises(AssertionError):
        probes.assert_charts_drawn([a, b], max_width=2000)


def test_a_failed_navigation_raises(page: Page, tmp_path: Path) -> None:
    with pytest.raises(CDPError, match="navigation failed"):
        page.navigate((tmp_path / "nowhere.html").as_uri())
