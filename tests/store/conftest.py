"""Database fixtures: a SQLite file per test, and a fresh PostgreSQL schema per test.

PostgreSQL must be running at 127.0.0.1:5432 with trust auth for ``postgres`` (CI starts it);
tests marked ``postgres`` are skipped when it is not, saying how to start it, and fail in CI.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ..conftest import missing

PG_HOST = os.environ.get("GATEKEEPER_TEST_PG_HOST", "127.0.0.1:5432")
PG_ADMIN = f"postgresql://postgres@{PG_HOST}/postgres"
START_PG = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


@pytest.fixture(scope="session")
def pg_admin() -> str:
    """The maintenance database's URL (plain libpq form), after checking the server is up."""
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError as err:
        missing(
            f"PostgreSQL is not reachable at {PG_HOST} ({str(err).strip().splitlines()[0]}); "
            f"start it with: {START_PG}"
        )
    return PG_ADMIN


@pytest.fixture(scope="module")
def pg_database(pg_admin: str) -> Iterator[str]:
    """A database of its own for each test module, dropped afterwards; yields its libpq URL."""
    name = f"gk_test_{secrets.token_hex(6)}"
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        try:
            # A linguistic collation, as most servers have, so that no test can lean on
            # PostgreSQL sorting text the way Python (and SQLite) do.
            conn.execute(
                f'CREATE DATABASE "{name}" TEMPLATE template0 '
                "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        except psycopg.Error:  # a server built without ICU
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{PG_HOST}/{name}"
    finally:
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A fresh, empty schema for this test, made the only one on the search path."""
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{pg_database}?options=-csearch_path%3D{schema}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'history.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url
