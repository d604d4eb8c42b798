"""CLI client mode (``--server``) against the real service: one `gatekeeper serve` on a SQLite
file for the package, and a second SQLite file the same commands fill locally, so that every
command can be run both ways on the same data and the outputs compared."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..cli import clean_env, gatekeeper
from ..conftest import copy_samples
from ..service.conftest import Server, make_token, start_server

CLIENT_VARS = (
    "GATEKEEPER_SERVER",
    "GATEKEEPER_TOKEN",
    "GATEKEEPER_SERVER_TIMEOUT",
    "GATEKEEPER_SERVER_RETRIES",
    "GATEKEEPER_CONFIG",
    "GATEKEEPER_REGISTRY",
    "GATEKEEPER_SERVICE",
)


def client_env(token: str | None = None, **extra: str) -> dict[str, str]:
    """A CI-free environment with no gatekeeper client settings but those given."""
    env = {k: v for k, v in clean_env().items() if k not in CLIENT_VARS}
    if token is not None:
        env["GATEKEEPER_TOKEN"] = token
    env.update(extra)
    return env


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return gatekeeper(*args, cwd=cwd, env=env or client_env())


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one `gatekeeper: error:` line of a command that exited 2."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = [x for x in done.stderr.splitlines() if x.startswith("gatekeeper: error: ")]
    assert len(lines) == 1, done.stderr
    return lines[0].removeprefix("gatekeeper: error: ")


@dataclass
class World:
    """The sample history stored twice: by the CLI in ``cli_db``, and by ``ingest --server``
    in the service's database. ``registry`` is the service's registry, classified locally."""

    root: Path
    samples: Path  # a copy of sample_reports/: every command's working directory
    registry: Path
    cli_db: str
    service_db: str
    server: Server
    token: str  # upload scope
    read_token: str
    local_ingest: subprocess.CompletedProcess[str]
    remote_ingest: subprocess.CompletedProcess[str]

    def env(self, **extra: str) -> dict[str, str]:
        return client_env(self.token, **extra)

    def local(self, *args: str, db: bool = True) -> subprocess.CompletedProcess[str]:
        return run(*args, *(("--db", self.cli_db) if db else ()), cwd=self.samples)

    def remote(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run(*args, "--server", self.server.url, cwd=self.samples, env=self.env(**env))


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("client")
    samples = copy_samples(root / "samples")
    cli_db = f"sqlite:///{root / 'cli.db'}"
    service_db = f"sqlite:///{root / 'service.db'}"
    local_ingest = run("ingest", "--manifest", "manifest.jsonl", "--db", cli_db, cwd=samples)
    assert local_ingest.returncode == 0, local_ingest.stderr
    registry = root / "flaky-tests.yml"
    registry.write_text("flaky_tests: []\n")
    done = run("classify", "--registry", str(registry), "--db", cli_db, cwd=samples)
    assert done.returncode == 0, done.stderr
    token = make_token(service_db, "ci", "upload", root)
    read_token = make_token(service_db, "dashboard", "read", root)
    server = start_server(
        service_db, samples, "--config", "gatekeeper.yml", "--registry", str(registry)
    )
    try:
        remote_ingest = run(
            "ingest", "--manifest", "manifest.jsonl", "--server", server.url, cwd=samples,
            env=client_env(token),
        )  # fmt: skip
        yield World(
            root, samples, registry, cli_db, service_db, server, token, read_token,
            local_ingest, remote_ingest,
        )  # fmt: skip
    finally:
        server.stop()
