"""When the server cannot be asked, the command says so and exits 2: a gate never passes on a
server that is down, slow, failing or refusing. Real servers throughout: a closed loopback
port, small stdlib HTTP servers that sleep or answer 503, and the real `gatekeeper serve`."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..service.conftest import free_port
from ..test_cli_gate import PASSING
from .conftest import World, client_env, error_line, run
from .fakes import Reply, Request, fake_server, forward, sleeper

pytestmark = pytest.mark.e2e  # the CLI asks one real `gatekeeper serve` over sockets

FAST = {"GATEKEEPER_SERVER_RETRIES": "2", "GATEKEEPER_SERVER_TIMEOUT": "1"}
TOKEN = "gk_upload_" + "A" * 43  # the shape of a token; only the real server checks it


@pytest.fixture()
def job(tmp_path: Path) -> Path:
    """A CI job's folder: one passing test report."""
    (tmp_path / "junit.xml").write_text(PASSING)
    return tmp_path


GATE = ("gate", "junit.xml", "--service", "app", "--run-id", "r1")


def _gate(job: Path, url: str, *extra: str, **env: str) -> tuple[int, str, str]:
    done = run(*GATE, *extra, "--server", url, cwd=job, env=client_env(TOKEN, **env))
    assert done.returncode != 0  # never a pass
    return done.returncode, done.stdout, error_line(done)


# -- nobody there -------------------------------------------------------------------------------


def test_a_closed_port_is_exit_2_with_the_reason_after_the_retries(job: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # bound once, then closed: nobody listens
    _code, _out, message = _gate(job, url, **FAST)
    assert message.startswith(f"{url}: cannot connect (connection refused) after 3 attempts over ")
    assert message.endswith("(is the server running? check --server / $GATEKEEPER_SERVER)")
    assert TOKEN not in message


def test_a_closed_port_still_writes_the_undecided_json_and_summary(job: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    summary = job / "summary.md"
    _code, out, message = _gate(
        job, url, "--format", "json", "--summary", str(summary), GATEKEEPER_SERVER_RETRIES="0"
    )
    body = json.loads(out)
    assert (body["passed"], body["decided"], body["exit_code"]) == (False, False, 2)
    assert body["failures"][0]["message"] == message
    assert "after 1 attempt over" in message
    assert "could not decide" in summary.read_text()


@pytest.mark.parametrize(
    "args",
    [
        ["ingest", "junit.xml", "--service", "app"],
        ["classify"],
        ["quarantine", "list"],
        ["skip-list"],
        ["report"],
    ],
    ids=lambda a: " ".join(a),
)
def test_every_command_is_exit_2_when_the_server_is_down(job: Path, args: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = run(*args, cwd=job, env=client_env(TOKEN, GATEKEEPER_SERVER=url, **FAST))
    assert error_line(done).startswith(f"{url}: cannot connect (connection refused)")
    assert done.stdout == ""
    assert not (job / "flaky-tests.yml").exists()  # classify wrote nothing


# -- too slow -----------------------------------------------------------------------------------


def test_a_server_slower_than_the_timeout_is_exit_2_after_the_retries(job: Path) -> None:
    with fake_server(sleeper(30)) as fake:
        _code, _out, message = _gate(
            job, fake.url, GATEKEEPER_SERVER_TIMEOUT="0.5", GATEKEEPER_SERVER_RETRIES="1"
        )
        assert len(fake.requests) == 2  # the first attempt and one retry
    assert message.startswith(f"{fake.url}: no answer within 0.5 s after 2 attempts over ")
    assert "$GATEKEEPER_SERVER_TIMEOUT" in message
    # both attempts sent the whole upload: the report is in each body
    assert all(b"tests.test_app" in r.body for r in fake.requests)


# -- failing, then not --------------------------------------------------------------------------


def _unavailable_then(
    upstream: Callable[[Request], Reply], failures: int
) -> Callable[[int, Request, threading.Event], Reply]:
    def respond(n: int, request: Request, _stop: threading.Event) -> Reply:
        if n <= failures:
            return Reply(503, b"<html>no healthy upstream</html>", {"Content-Type": "text/html"})
        return upstream(request)

    return respond


def _without_boundary(request: Request) -> bytes:
    boundary = request.headers["Content-Type"].split("boundary=")[1].encode()
    return request.body.replace(boundary, b"BOUNDARY")


def test_a_503_is_retried_and_the_gate_then_decides(world: World, tmp_path: Path) -> None:
    """A proxy that answers 503 twice, then passes requests on to the real service: the
    upload is sent again (files reopened) and the gate decides as if nothing happened."""
    (tmp_path / "junit.xml").write_text(PASSING)
    args = ("gate", "junit.xml", "--service", "app", "--run-id", "after-503", "--format", "json")
    upstream = world.server.url
    with fake_server(_unavailable_then(lambda r: forward(upstream, r), 2)) as fake:
        # T=1 would be the deadline of the whole forwarded gate (upload, the real service's
        # decision): too tight on a loaded machine; the retries are what this test is about.
        env = world.env(**{**FAST, "GATEKEEPER_SERVER_TIMEOUT": "10"})
        remote = run(*args, "--server", fake.url, cwd=tmp_path, env=env)
        assert len(fake.requests) == 3
        first, third = (_without_boundary(fake.requests[i]) for i in (0, 2))
        assert first == third and b"tests.test_app" in third  # the same upload, again
    config = str(world.samples / "gatekeeper.yml")
    local = run(*args, "--db", world.cli_db, "--registry", str(world.registry), "--config", config,
                cwd=tmp_path)  # fmt: skip
    assert (remote.returncode, remote.stdout) == (local.returncode, local.stdout)
    assert remote.returncode == 0
    assert json.loads(remote.stdout)["stored"] is True  # stored once, by the third attempt


def test_a_429_is_retried_and_the_list_then_arrives(world: World) -> None:
    upstream = world.server.url

    def respond(n: int, request: Request, _stop: threading.Event) -> Reply:
        if n == 1:
            return Reply(429, b"slow down", {"Retry-After": "0"})
        return forward(upstream, request)

    with fake_server(respond) as fake:
        remote = run("skip-list", "--server", fake.url, cwd=world.samples, env=world.env(**FAST))
        assert len(fake.requests) == 2
    local = world.local("skip-list", "--registry", str(world.registry), db=False)
    assert (remote.returncode, remote.stdout, remote.stderr) == (0, local.stdout, local.stderr)


def test_always_503_is_exit_2_naming_the_status_and_the_attempts(job: Path) -> None:
    with fake_server(_unavailable_then(lambda r: Reply(200), 99)) as fake:
        _code, _out, message = _gate(job, fake.url, **FAST)
        assert len(fake.requests) == 3
    assert message.startswith(f"{fake.url}: answered 503 Service Unavailable after 3 attempts")


def test_a_database_down_is_the_servers_own_message_after_the_retries(job: Path) -> None:
    """gatekeeper's own 503 (its database is down): retried, then its message, as the CLI
    on that database would print it."""
    error = {
        "message": "postgresql://db.internal/gk: cannot connect (connection refused)",
        "hint": "is PostgreSQL running?",
        "text": "postgresql://db.internal/gk: cannot connect (connection refused) "
        "(is PostgreSQL running?)",
        "kind": "database",
        "exit_code": 2,
    }
    body = json.dumps({"passed": False, "decided": False, "error": error}).encode()

    def respond(_n: int, _r: Request, _stop: threading.Event) -> Reply:
        return Reply(503, body, {"Content-Type": "application/json"})

    with fake_server(respond) as fake:
        code, out, message = _gate(job, fake.url, "--format", "json", **FAST)
        assert len(fake.requests) == 3
    assert (code, message) == (2, error["text"])
    assert json.loads(out)["decided"] is False


@pytest.mark.parametrize("status", [400, 409, 413, 422, 500])
def test_an_error_answer_is_not_retried(job: Path, status: int) -> None:
    error = {"message": "x.xml: no", "hint": None, "text": "x.xml: no", "kind": "input",
             "exit_code": 2}  # fmt: skip

    def respond(_n: int, _r: Request, _stop: threading.Event) -> Reply:
        return Reply(status, json.dumps({"error": error}).encode(), {})

    with fake_server(respond) as fake:
        code, _out, message = _gate(job, fake.url, **FAST)
        assert len(fake.requests) == 1
    assert (code, message) == (2, "x.xml: no")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(200, b"<html>welcome to nginx</html>"), "answered 200 with a body gatekeeper"),
        (Reply(200, b'{"passed": "yes"}'), "answered 200 with a body gatekeeper cannot read"),
        (Reply(200, b'{"passed": true}'), "answered 200 with a body gatekeeper cannot read"),
        (Reply(404, b"not here"), "answered 404 Not Found, not an answer of gatekeeper serve"),
        (
            Reply(308, b"", {"Location": "https://gk.example/api/v1/gate"}),
            "answered 308 Permanent Redirect, a redirect to https://gk.example/api/v1/gate",
        ),
    ],
    ids=["html", "passed-not-a-bool", "half-a-decision", "404", "redirect"],
)
def test_an_answer_that_is_not_a_decision_never_passes(
    job: Path, reply: Reply, expected: str
) -> None:
    with fake_server(lambda _n, _r, _s: reply) as fake:
        code, _out, message = _gate(job, fake.url, **FAST)
    assert code == 2
    assert expected in message


# -- the real server refuses ---------------------------------------------------------------------


def test_no_token_is_the_servers_401_message(world: World, job: Path) -> None:
    done = run(*GATE, "--server", world.server.url, cwd=job, env=client_env())
    assert error_line(done) == (
        f"{world.server.url}: no bearer token (send Authorization: Bearer gk_...; an admin "
        "makes tokens with gatekeeper token create); $GATEKEEPER_TOKEN is not set"
    )


def test_a_wrong_token_is_the_servers_401_message(world: World, job: Path) -> None:
    done = run(*GATE, "--server", world.server.url, cwd=job, env=client_env(TOKEN))
    assert error_line(done).startswith(
        f"{world.server.url}: the bearer token is not known to this server"
    )
    assert TOKEN not in done.stderr + done.stdout
    assert TOKEN not in world.server.log()


def test_a_read_token_may_list_but_not_gate(world: World, job: Path) -> None:
    env = client_env(world.read_token)
    listed = run("skip-list", "--server", world.server.url, cwd=job, env=env)
    assert listed.returncode == 0, listed.stderr
    done = run(*GATE, "--server", world.server.url, cwd=job, env=env)
    assert error_line(done) == (
        f"{world.server.url}: the token 'dashboard' has the scope read; this needs upload (use "
        "a token made with --scope upload (scopes: read, upload, admin, each allowing what the "
        "ones before it allow))"
    )


# -- what the command line refuses before asking ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            [*GATE, "--server", "http://127.0.0.1:1", "--db", "sqlite:///x.db"],
            {},
            "--db: cannot be combined with a server (--server http://127.0.0.1:1)",
        ),
        (
            ["ingest", "junit.xml", "--service", "app", "--db", "sqlite:///x.db"],
            {"GATEKEEPER_SERVER": "http://127.0.0.1:1"},
            "--db: cannot be combined with a server ($GATEKEEPER_SERVER http://127.0.0.1:1)",
        ),
        (
            ["report", "--server", "http://127.0.0.1:1", "--registry", "r.yml"],
            {},
            "--registry: cannot be combined with a server",
        ),
        ([*GATE], {"GATEKEEPER_SERVER": " "}, "$GATEKEEPER_SERVER is set but empty"),
        ([*GATE, "--server", ""], {}, "--server: an empty URL"),
        (["skip-list", "--server", "ftp://gk.example"], {}, "not an http:// or https:// URL"),
        (
            ["skip-list", "--server", "http://127.0.0.1:1"],
            {"GATEKEEPER_SERVER_TIMEOUT": "soon"},
            "GATEKEEPER_SERVER_TIMEOUT='soon': not a number of seconds",
        ),
        (
            ["skip-list", "--server", "http://127.0.0.1:1"],
            {"GATEKEEPER_SERVER_RETRIES": "2.5"},
            "GATEKEEPER_SERVER_RETRIES=2.5: must be a whole number from 0 to 10",
        ),
        (
            ["skip-list", "--server", "http://127.0.0.1:1"],
            {"GATEKEEPER_TOKEN": "gk_read_abc def"},
            "$GATEKEEPER_TOKEN: holds a space, a line break or a character no token has",
        ),
    ],
    ids=[
        "db-and-server",
        "db-and-env-server",
        "registry-and-server",
        "empty-env",
        "empty-flag",
        "not-http",
        "bad-timeout",
        "bad-retries",
        "bad-token",
    ],
)
def test_contradictions_are_refused_before_anything_is_sent(
    job: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    done = run(*args, cwd=job, env=client_env(**env))
    assert expected in error_line(done)
    assert "abc def" not in done.stderr


def test_a_catch_all_page_never_becomes_a_skip_list(job: Path) -> None:
    """Some other web server at that URL answers every path with 200 and its home page: the
    skip list a test runner would be handed must not be that page."""
    page = Reply(200, b"<html>It works!</html>", {"Content-Type": "text/html"})
    with fake_server(lambda _n, _r, _s: page) as fake:
        done = run(
            "skip-list", "--format", "nextest", "--service", "app", "--server", fake.url,
            cwd=job, env=client_env(TOKEN),
        )  # fmt: skip
    assert error_line(done) == (
        f"{fake.url}/api/v1/skip-list: answered 200 with text/html, not the text/plain "
        "gatekeeper sends (is --server the URL of gatekeeper serve?)"
    )
    assert done.stdout == ""


# -- a server that drips: the timeout is a deadline ---------------------------------------------


@contextlib.contextmanager
def _dripping_server(head_first: bool) -> Iterator[tuple[str, list[float]]]:
    """A loopback server that reads the request, then sends an answer one byte a second:
    the headers at once and then the body (``head_first``), or the headers themselves too.
    Yields its URL and the times connections arrived."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    arrived: list[float] = []
    body = b"{" + b" " * 998 + b"}"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"

    def drip(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                if head_first:
                    conn.sendall(head)
                for i in range(len(head) + len(body)):
                    if stop.wait(1.0):
                        return
                    chunk = (body if head_first else head + body)[i : i + 1]
                    conn.sendall(chunk)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            arrived.append(time.monotonic())
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", arrived
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@pytest.mark.parametrize("head_first", [True, False], ids=["body", "headers"])
def test_a_server_that_drips_is_exit_2_within_the_deadline(job: Path, head_first: bool) -> None:
    """GATEKEEPER_SERVER_TIMEOUT=2, no retries, one byte a second: exit 2 within 10 s (it
    waited 45 s and more before: each read was quick, so no read timeout ever fired)."""
    with _dripping_server(head_first) as (url, arrived):
        started = time.monotonic()
        _code, _out, message = _gate(
            job, url, GATEKEEPER_SERVER_TIMEOUT="2", GATEKEEPER_SERVER_RETRIES="0"
        )
        elapsed = time.monotonic() - started
    assert elapsed < 10, elapsed
    assert len(arrived) == 1
    assert message.startswith(f"{url}: no answer within 2 s after 1 attempt over 2.")
    assert "$GATEKEEPER_SERVER_TIMEOUT" in message


def test_the_deadline_covers_the_retries(job: Path) -> None:
    """T=1, one retry: two attempts of at most 1 s each and one pause (at most 1 s)."""
    with _dripping_server(True) as (url, arrived):
        started = time.monotonic()
        _code, _out, message = _gate(
            job, url, GATEKEEPER_SERVER_TIMEOUT="1", GATEKEEPER_SERVER_RETRIES="1"
        )
        elapsed = time.monotonic() - started
    assert len(arrived) == 2
    assert elapsed < 7, elapsed  # 2 x 1 s + a pause of at most 1 s, and the CLI's start
    assert "no answer within 1 s after 2 attempts" in message
