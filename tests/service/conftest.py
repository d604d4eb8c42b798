"""The service under test, two ways: the app in this process, called over httpx's ASGI
transport (:func:`start_app`: most tests), or the real `gatekeeper serve` in a subprocess on a
free loopback port (:func:`start_server`: the end-to-end tests, marked ``e2e``, that need a
socket, several replicas or a browser). Either runs against a SQLite file or a fresh PostgreSQL
database, with tokens made by the CLI."""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import psycopg
import pytest

from ..cli import clean_env, gatekeeper

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
API = "/api/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A gatekeeper service a test talks to over HTTP; its log goes to ``log_path``."""

    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass
class ProcessServer(Server):
    """A running `gatekeeper serve`; its stdout and stderr go to ``log_path``."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=_auth(token), timeout=60, **kwargs)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_server(db_url: str, cwd: Path, *args: str) -> ProcessServer:
    """Start `gatekeeper serve` and wait (at most 30 s) until /healthz answers."""
    port = free_port()
    log_path = cwd / f"serve-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gatekeeper.cli", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--db", db_url, *args],
            cwd=cwd,
            env=clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = ProcessServer(f"http://127.0.0.1:{port}", proc, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gatekeeper serve exited with {proc.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    pytest.fail(f"gatekeeper serve did not answer /healthz within 30 s:\n{server.log()}")


# -- the app in this process --------------------------------------------------------------------


class _AsyncBody(httpx.AsyncByteStream):
    """A request body as the ASGI transport reads it, chunk by chunk as the client sends it (a
    body without a Content-Length stays one)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


class _SyncASGI(httpx.BaseTransport):
    """httpx's ASGI transport for a synchronous client: each request runs on the app's event
    loop (one thread, as uvicorn's); an exception in the app fails the test, where uvicorn would
    have answered 500 and logged a traceback."""

    def __init__(self, asgi: httpx.ASGITransport, portal: anyio.from_thread.BlockingPortal) -> None:
        self._asgi = asgi
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.stream
        assert isinstance(body, Iterable)

        async def send() -> tuple[int, httpx.Headers, bytes]:
            inner = httpx.Request(
                request.method, request.url, headers=request.headers, stream=_AsyncBody(body)
            )
            answer = await self._asgi.handle_async_request(inner)
            return answer.status_code, answer.headers, await answer.aread()

        status, headers, content = self._portal.call(send)
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content))


# The service's own log format (gatekeeper/service/server.py), written to the log file.
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass
class AppServer(Server):
    """The service's app in this process, as `gatekeeper serve` builds it from the same flags,
    started (its lifespan run) and called over httpx's ASGI transport. No socket: ``url`` is
    only the clients' base URL."""

    url: str
    log_path: Path
    transport: _SyncASGI
    _stack: contextlib.ExitStack = field(repr=False)

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers=_auth(token), transport=self.transport, **kwargs
        )

    def stop(self) -> None:
        self._stack.close()


# `gatekeeper serve`'s flags and the variables it exports them as (gatekeeper/service/server.py)
_FLAGS = {
    "--config": "GATEKEEPER_CONFIG",
    "--registry": "GATEKEEPER_REGISTRY",
    "--max-file-mb": "GATEKEEPER_MAX_FILE_MB",
    "--max-request-mb": "GATEKEEPER_MAX_REQUEST_MB",
}


def start_app(db_url: str, cwd: Path, *args: str) -> AppServer:
    """The app `gatekeeper serve --db DB_URL ARGS` would serve from ``cwd``, in this process.
    ``ARGS`` are serve's flags that shape the app (``--config``, ``--registry``, the upload
    limits); they reach it as serve passes them to its workers, through the environment."""
    from gatekeeper.service import settings
    from gatekeeper.service.app import create_app

    env = clean_env(GATEKEEPER_DB=db_url)
    flags = list(args)
    while flags:
        flag, value, *flags = flags
        if flag not in _FLAGS:
            raise ValueError(f"start_app: {flag} does not shape the app (use start_server)")
        # serve exports --config resolved against its working directory
        env[_FLAGS[flag]] = str((cwd / value).resolve()) if flag == "--config" else value
    log_path = cwd / f"app-{uuid.uuid4().hex[:8]}.log"
    with contextlib.ExitStack() as stack:
        handler = logging.FileHandler(log_path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        logger = logging.getLogger("gatekeeper.service")
        logger.addHandler(handler)
        stack.callback(handler.close)
        stack.callback(logger.removeHandler, handler)
        level, propagate = logger.level, logger.propagate
        logger.setLevel(logging.INFO)
        logger.propagate = False  # as serve's log configuration: the log file only
        stack.callback(setattr, logger, "propagate", propagate)
        stack.callback(logger.setLevel, level)
        app = create_app(settings.from_env(env, cwd))
        portal = stack.enter_context(anyio.from_thread.start_blocking_portal())
        stack.enter_context(portal.wrap_async_context_manager(app.router.lifespan_context(app)))
        asgi = httpx.ASGITransport(app=app, client=("127.0.0.1", free_port()))
        # .test is a reserved name (RFC 2606): a socket opened to it by mistake fails at once
        server = AppServer(
            "http://gatekeeper.test", log_path, _SyncASGI(asgi, portal), stack.pop_all()
        )
    return server


def make_token(db_url: str, name: str, scope: str, cwd: Path) -> str:
    done = gatekeeper("token", "create", "--name", name, "--scope", scope, "--db", db_url, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return gatekeeper(*args, cwd=cwd)


def cli_error(done: subprocess.CompletedProcess[str]) -> str:
    """The message of a failed CLI command: its stderr's error line without the prefix."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("gatekeeper: error: ")]
    return line.removeprefix("gatekeeper: error: ")


def new_pg_database() -> str:
    name = f"gk_svc_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def databases(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two fresh, empty databases on the backend: one for the CLI, one for the service."""
    if backend == "sqlite":
        root = tmp_path_factory.mktemp("db")
        yield [f"sqlite:///{root / 'cli.db'}", f"sqlite:///{root / 'service.db'}"]
        return
    urls = [new_pg_database(), new_pg_database()]
    try:
        yield urls
    finally:
        for url in urls:
            drop_pg_database(url)
