"""The HTML report `gatekeeper report --format html` writes, opened from disk in headless
Chromium on a desktop and a phone: no console error, every chart drawn, nothing wider than a
phone, screenshots in tests/artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..cli import gatekeeper
from ..report.conftest import build_history
from . import probes
from .cdp import DESKTOP, PHONE, Page, png_size

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's second week as a scheduled job writes it: the real CLI, a real history."""
    folder = tmp_path_factory.mktemp("browser-report")
    history = build_history(folder)
    history.gk.close()
    out = folder / "week.html"
    done = gatekeeper(
        "report", "--since", "2026-11-14", "--until", "2026-11-21", "--format", "html",
        "--out", str(out), "--db", history.db_url, "--registry", str(history.registry),
        cwd=folder,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def test_report_on_a_desktop(page: Page, report_file: Path, artifacts: Path) -> None:
    page.set_viewport(DESKTOP)
    mark = page.mark()
    page.navigate(report_file.as_uri())
    assert page.problems(mark) == []
    # self-contained: the page itself is the only thing the browser fetched
    assert page.requests(mark) == [report_file.as_uri()]
    probes.assert_charts_drawn(probes.charts(page), max_width=DESKTOP.width)
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP.width
    width, height = page.screenshot(artifacts / "report-desktop-1280.png")
    assert width == DESKTOP.width and height > DESKTOP.height


def test_report_on_a_phone(page: Page, report_file: Path, artifacts: Path) -> None:
    page.set_viewport(PHONE)
    mark = page.mark()
    page.navigate(report_file.as_uri())
    assert page.problems(mark) == []
    assert page.evaluate("[window.innerWidth, window.devicePixelRatio]") == [PHONE.width, 3]
    # the page is as wide as the phone; wide tables scroll inside their own box
    fit = probes.overflow(page, PHONE.width)
    assert fit["scroll_width"] <= fit["inner_width"] == PHONE.width, fit
    assert fit["offenders"] == [], fit
    tables = page.evaluate(
        "(() => { const t = [...document.querySelectorAll('table')];"
        " return [t.length, t.filter((x) => x.closest('.scroll')).length,"
        " [...document.querySelectorAll('.scroll')]"
        ".filter((b) => b.scrollWidth > b.clientWidth).length]; })()"
    )
    total, boxed, scrolling = tables
    assert total == boxed and scrolling >= 1, tables  # some are wider than a phone: they scroll
    probes.assert_charts_drawn(probes.charts(page), max_width=PHONE.width)
    width, height = page.screenshot(artifacts / "report-phone-390-first-screen.png", False)
    assert (width, height) == (PHONE.width * 3, PHONE.height * 3)
    width, height = page.screenshot(artifacts / "report-phone-390.png")
    assert width >= PHONE.width and height > PHONE.height
    assert png_size((artifacts / "report-phone-390.png").read_bytes()) == (width, height)


def test_chart_text_stays_inside_each_chart(page: Page, report_file: Path) -> None:
    """Labels and legends are not cut off by the chart's edge, and the plot keeps most of the
    chart's width (long legend labels must not squeeze it)."""
    page.set_viewport(DESKTOP)
    page.navigate(report_file.as_uri())
    found = probes.charts(page)
    assert {c["id"] for c in found} == probes.expected_chart_ids()
    cut = {c["id"]: c["text_outside"] for c in found if c["text_outside"]}
    squeezed = {c["id"]: round(c["plot_share"], 3) for c in found if c["plot_share"] < 0.5}
    assert cut == {} and squeezed == {}, f"cut off: {cut}; plot width share: {squeezed}"
