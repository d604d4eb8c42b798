"""The real service: `gatekeeper serve` in a subprocess on a free loopback port, against a
SQLite file or a fresh PostgreSQL database, with tokens made by the real CLI."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from ..test_cli_ingest import clean_env, gatekeeper

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
API = "/api/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running `gatekeeper serve`; its stdout and stderr go to ``log_path``."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_server(db_url: str, cwd: Path, *args: str) -> Server:
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
    server = Server(f"http://127.0.0.1:{port}", proc, log_path)
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
