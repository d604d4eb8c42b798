"""The dashboard of the real `gatekeeper serve`, in headless Chromium: `/` sends a stranger to
the login form, a read token logs in (an HttpOnly cookie), and the dashboard shows the sample
week with every chart drawn; no console error on either page; screenshots in tests/artifacts/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..report.conftest import build_history
from ..service.conftest import Server, make_token, start_server
from . import probes
from .cdp import DESKTOP, PHONE, Page

pytestmark = pytest.mark.browser

WEEK = "/?since=2026-11-14&until=2026-11-21"


@dataclass(frozen=True)
class Dashboard:
    server: Server
    token: str


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """The service on a SQLite file holding the sample history and its registry, with a read
    token made by the CLI."""
    folder = tmp_path_factory.mktemp("browser-dashboard")
    history = build_history(folder)
    history.gk.close()
    token = make_token(history.db_url, "browser-test", "read", folder)
    server = start_server(history.db_url, folder, "--registry", str(history.registry))
    try:
        yield Dashboard(server, token)
    finally:
        server.stop()


def log_in(page: Page, dashboard: Dashboard) -> None:
    """Open `/`, land on the form, type the token and press the button, as a person would."""
    page.navigate(dashboard.server.url + "/")
    assert page.evaluate("location.pathname") == "/login"
    mark = page.mark()
    page.evaluate(
        f"document.getElementById('token').value = {json.dumps(dashboard.token)};"
        "document.querySelector('form input[type=submit]').click();"
    )
    page.wait_event("Page.loadEventFired", mark)
    page.settle(mark)


def test_the_login_page(page: Page, dashboard: Dashboard, artifacts: Path) -> None:
    page.set_viewport(PHONE)
    mark = page.mark()
    page.navigate(dashboard.server.url + "/")
    assert page.evaluate("location.pathname") == "/login"  # redirected: no cookie yet
    field = page.evaluate(
        "(() => { const f = document.getElementById('token');"
        " return [f.type, f.required, document.querySelector('form').getAttribute('action')]; })()"
    )
    assert field == ["password", True, "/login"]
    fit = probes.overflow(page, PHONE.width)
    assert fit["scroll_width"] <= fit["inner_width"] == PHONE.width, fit
    assert fit["offenders"] == [], fit
    page.screenshot(artifacts / "dashboard-login-phone-390.png")
    assert page.problems(mark) == []


def test_the_dashboard_after_logging_in(page: Page, dashboard: Dashboard, artifacts: Path) -> None:
    problems: dict[str, list[str]] = {}  # per step, checked last: every other check runs
    page.set_viewport(DESKTOP)
    mark = page.mark()
    log_in(page, dashboard)
    problems["login form, then the dashboard of the last 7 days"] = page.problems(mark)
    assert page.evaluate("location.pathname") == "/"
    assert page.evaluate("document.title").startswith("Weekly CI report:")
    # the token travels in an HttpOnly cookie: the page's scripts cannot read it
    assert page.evaluate("document.cookie") == ""
    cookies = page.send("Network.getCookies", urls=[dashboard.server.url])["cookies"]
    (cookie,) = [c for c in cookies if c["name"] == "gatekeeper_token"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["value"]

    mark = page.mark()
    page.navigate(dashboard.server.url + WEEK)  # the sample's second week, whatever today is
    problems["the sample week on a desktop"] = page.problems(mark)
    assert page.evaluate("document.title") == (
        "Weekly CI report: 2026-11-14 – 2026-11-20 (all services)"
    )
    probes.assert_charts_drawn(probes.charts(page), max_width=DESKTOP.width)
    width, _ = page.screenshot(artifacts / "dashboard-desktop-1280.png")
    assert width == DESKTOP.width

    page.set_viewport(PHONE)
    mark = page.mark()
    page.navigate(dashboard.server.url + WEEK)
    problems["the sample week on a phone"] = page.problems(mark)
    fit = probes.overflow(page, PHONE.width)
    assert fit["scroll_width"] <= fit["inner_width"] == PHONE.width, fit
    assert fit["offenders"] == [], fit
    probes.assert_charts_drawn(probes.charts(page), max_width=PHONE.width)
    page.screenshot(artifacts / "dashboard-phone-390.png")

    assert {step: found for step, found in problems.items() if found} == {}
