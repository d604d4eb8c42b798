"""Headless Chromium driven over the Chrome DevTools Protocol, for the browser tests only.

No Playwright or Selenium: CI has Debian's ``chromium`` package and no network to fetch a
browser build, so the tests start ``chromium --headless=new --remote-debugging-port=0`` and
speak the protocol (https://chromedevtools.github.io/devtools-protocol/) over one websocket.
One connection to the browser target; each page is a target attached in flat mode, its
commands and events tagged with its ``sessionId``.

Every wait has a deadline: a hung or crashed browser fails the test with the browser's log,
never hangs CI. ``Browser.close`` ends Chromium's whole process group (it was started in a
session of its own), and nothing else.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import struct
import subprocess
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

# seconds for one protocol command: a guard against a hang, not a speed check (with the
# suite's workers beside it on a loaded 2-core machine, a navigation to the dashboard, whose
# server draws the charts, once took over 20 s)
COMMAND_TIMEOUT = 60.0
START_TIMEOUT = 30.0  # seconds for Chromium to open its DevTools port
QUIET = 0.5  # seconds without a network event after which a loaded page counts as settled
LISTENING = "DevTools listening on "
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SCREENSHOT_PX = 16_000  # device pixels; Chromium's compositor stops near 16384


class CDPError(AssertionError):
    """The browser refused a command, crashed, or did not answer in time."""


def chromium_path() -> str:
    """The Chromium binary: $GATEKEEPER_CHROMIUM, else ``chromium`` on PATH."""
    found = os.environ.get("GATEKEEPER_CHROMIUM") or shutil.which("chromium")
    if not found or not Path(found).exists():
        raise CDPError(
            "chromium: not found on PATH (nor $GATEKEEPER_CHROMIUM); install Debian's package: "
            "apt-get install chromium (.ci/run does)"
        )
    return found


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    scale: float  # deviceScaleFactor
    mobile: bool


PHONE = Viewport("phone", 390, 844, 3, True)
DESKTOP = Viewport("desktop", 1280, 900, 1, False)


@dataclass
class Browser:
    """A running headless Chromium and the websocket to its browser target."""

    proc: subprocess.Popen[bytes]
    ws: ClientConnection
    _connection: ExitStack  # closes the websocket
    log_path: Path
    _next_id: int = 0
    _replies: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def start(cls, workdir: Path, timeout: float = START_TIMEOUT) -> Browser:
        """Start Chromium with a fresh profile in ``workdir`` and connect to it."""
        profile = workdir / "profile"
        profile.mkdir(parents=True, exist_ok=True)
        log_path = workdir / "chromium.log"
        # stderr to a file, not a pipe: Chromium logs freely and a full pipe would stall it.
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    chromium_path(),
                    "--headless=new",
                    "--no-sandbox",  # CI runs as root in a container
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-extensions",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-proxy-server",
                    "--hide-scrollbars",  # screenshots without a scrollbar's width
                    "--remote-debugging-port=0",
                    f"--user-data-dir={profile}",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: close() ends all of it
            )
        deadline = time.monotonic() + timeout
        url = None
        while url is None:
            text = log_path.read_text(encoding="utf-8", errors="replace")
            for line in text.splitlines():
                if line.startswith(LISTENING):
                    url = line[len(LISTENING) :].strip()
            if url is not None:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                _kill(proc)
                raise CDPError(
                    f"chromium: no DevTools websocket within {timeout:.0f} s "
                    f"(exit code {proc.returncode}); its log:\n{text}"
                )
            time.sleep(0.05)
        stack = ExitStack()
        try:
            # proxy=None: never route the loopback connection through an *_PROXY variable
            ws = stack.enter_context(
                connect(url, proxy=None, max_size=None, open_timeout=10, ping_interval=None)
            )
        except Exception:
            _kill(proc)
            raise
        return cls(proc, ws, stack, log_path)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = COMMAND_TIMEOUT,
    ) -> dict[str, Any]:
        """Send one command and wait for its reply; its ``result``, or CDPError."""
        self._next_id += 1
        ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while ident not in self._replies:
            self._receive(deadline, f"{method} got no reply within {timeout:.0f} s")
        reply = self._replies.pop(ident)
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error'].get('message')} {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def _receive(self, deadline: float, what: str) -> None:
        if not self.poll(deadline):
            raise CDPError(f"chromium: {what}; its log:\n{self.log()[-4000:]}")

    def poll(self, deadline: float) -> bool:
        """Take one message (a reply or an event) if one comes before ``deadline``."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            data = self.ws.recv(timeout=remaining)
        except TimeoutError:
            return False
        except ConnectionClosed as err:
            raise CDPError(
                f"chromium: the connection closed ({err}); its log:\n{self.log()[-4000:]}"
            ) from err
        message = json.loads(data)
        if "id" in message:
            self._replies[int(message["id"])] = message
            return True
        if message.get("method") in ("Inspector.targetCrashed", "Target.targetCrashed"):
            raise CDPError(f"chromium: the page crashed: {message}")
        self.events.append(message)
        return True

    def wait_event(
        self, method: str, session: str | None, after: int, timeout: float = COMMAND_TIMEOUT
    ) -> dict[str, Any]:
        """The first event ``method`` of ``session`` received after event number ``after``."""
        deadline = time.monotonic() + timeout
        seen = after
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    params: dict[str, Any] = event.get("params", {})
                    return params
            seen = len(self.events)
            self._receive(deadline, f"no {method} within {timeout:.0f} s")

    def new_page(self) -> Page:
        """A new tab in a context of its own (its own cookies, like a private window),
        attached, with the Page, Runtime, Log and Network domains on."""
        context = self.send("Target.createBrowserContext")["browserContextId"]
        target = self.send(
            "Target.createTarget", {"url": "about:blank", "browserContextId": context}
        )["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, context, target, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        return page

    def close(self) -> None:
        """Ask Chromium to quit, then end its process group whatever it answered."""
        with suppress(Exception):  # a browser that hangs or is gone is ended below
            self.send("Browser.close", timeout=5)
        with suppress(Exception):
            self._connection.close()
        _kill(self.proc)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    # The renderer and helper processes share the group even after the main one exited.
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait(timeout=5)


@dataclass
class Page:
    """One attached tab: navigation, script, viewport, screenshots, and what went wrong."""

    browser: Browser
    context: str
    target: str
    session: str

    def send(self, method: str, timeout: float = COMMAND_TIMEOUT, **params: Any) -> dict[str, Any]:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def mark(self) -> int:
        """The current event count: wait for events after it with ``wait_event``."""
        return len(self.browser.events)

    def wait_event(self, method: str, after: int, timeout: float = COMMAND_TIMEOUT) -> None:
        self.browser.wait_event(method, self.session, after, timeout)

    def navigate(self, url: str, timeout: float = COMMAND_TIMEOUT) -> None:
        """Open ``url``, wait for its load event, then for the network to go quiet."""
        mark = self.mark()
        result = self.send("Page.navigate", url=url, timeout=timeout)
        if result.get("errorText"):
            raise CDPError(f"{url}: navigation failed: {result['errorText']}")
        self.wait_event("Page.loadEventFired", mark, timeout)
        self.settle(mark)

    def settle(self, after: int, quiet: float = QUIET, timeout: float = COMMAND_TIMEOUT) -> None:
        """Wait until every request of this page since event ``after`` has ended and no event
        came for ``quiet`` seconds: the browser fetches some things after the load event (the
        favicon of an http page), and their errors belong to the page."""
        deadline = time.monotonic() + timeout
        while True:
            if not self._in_flight(after) and not self.browser.poll(time.monotonic() + quiet):
                return
            if time.monotonic() > deadline:
                raise CDPError(f"the network never went quiet: {self._in_flight(after)}")
            if self._in_flight(after):
                self.browser.poll(min(deadline, time.monotonic() + quiet))

    def _in_flight(self, after: int) -> set[str]:
        started, ended = set(), set()
        for e in self.browser.events[after:]:
            if e.get("sessionId") != self.session:
                continue
            method = e.get("method")
            if method == "Network.requestWillBeSent":
                started.add(e["params"]["requestId"])
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                ended.add(e["params"]["requestId"])
        return started - ended

    def evaluate(self, expression: str, timeout: float = COMMAND_TIMEOUT) -> Any:
        """The value of a JavaScript expression (awaited if it is a promise), as JSON."""
        result = self.send(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"script failed: {text}\n{expression}")
        return result["result"].get("value")

    def set_viewport(self, viewport: Viewport) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=viewport.width,
            height=viewport.height,
            deviceScaleFactor=viewport.scale,
            mobile=viewport.mobile,
        )
        self.send("Emulation.setTouchEmulationEnabled", enabled=viewport.mobile)

    def screenshot(self, path: Path, full_page: bool = True) -> tuple[int, int]:
        """The whole page (beyond the viewport), or what the viewport shows, as a PNG at
        ``path``; its size in pixels. A page taller than Chromium paints in one go is scaled
        down to fit."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            width, height = size["width"], size["height"]
            dpr = float(self.evaluate("window.devicePixelRatio"))
            scale = min(1.0, MAX_SCREENSHOT_PX / (max(width, height) * dpr))
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "width": width, "height": height, "scale": scale}
        data = self.send("Page.captureScreenshot", timeout=60, **params)["data"]
        png = base64.b64decode(data)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return png_size(png)

    def problems(self, after: int = 0) -> list[str]:
        """Console errors, uncaught exceptions and error log entries of this page (after
        event number ``after``), as text."""
        out = []
        for event in self.browser.events[after:]:
            if event.get("sessionId") != self.session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = [a.get("value", a.get("description", "")) for a in params.get("args", [])]
                out.append(f"console.{params['type']}: " + " ".join(map(str, args)))
            elif method == "Runtime.exceptionThrown":
                d = params.get("exceptionDetails", {})
                text = d.get("exception", {}).get("description") or d.get("text")
                out.append(f"uncaught exception: {text} at {d.get('url')}:{d.get('lineNumber')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                e = params["entry"]
                out.append(f"log ({e.get('source')}): {e.get('text')} {e.get('url', '')}".strip())
        return out

    def requests(self, after: int = 0) -> list[str]:
        """The URLs this page requested (after event number ``after``)."""
        return [
            e["params"]["request"]["url"]
            for e in self.browser.events[after:]
            if e.get("sessionId") == self.session and e.get("method") == "Network.requestWillBeSent"
        ]

    def close(self) -> None:
        """Close the tab and forget its context (cookies and all)."""
        with suppress(CDPError):
            self.browser.send("Target.closeTarget", {"targetId": self.target}, timeout=5)
        with suppress(CDPError):
            self.browser.send(
                "Target.disposeBrowserContext", {"browserContextId": self.context}, timeout=5
            )


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height of a PNG, read from its IHDR chunk."""
    if not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise CDPError("the screenshot is not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)
