"""API tokens in the store (schema version 4) on SQLite and PostgreSQL, and upgrading a
version-3 database to version 4."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from gatekeeper import model
from gatekeeper.errors import StoreError
from gatekeeper.store import SCHEMA_VERSION, migrations, open_store
from gatekeeper.store.engine import parse_url
from tests.store.factories import run

T0 = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(parse_url(url).url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def _rows(url: str, statement: str) -> list[tuple[Any, ...]]:
    engine = create_engine(parse_url(url).url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(statement))]
    engine.dispose()
    return rows


def test_a_token_is_stored_by_hash_found_by_hash_and_revoked(db_url: str) -> None:
    with open_store(db_url) as store:
        made = store.add_token("ci-user-service", "upload", _hash("secret-1"), T0)
        assert made == model.ApiToken("ci-user-service", "upload", T0)
        assert store.find_token(_hash("secret-1")) == made
        assert store.find_token(_hash("secret-2")) is None
        assert store.find_token("") is None

        revoked = store.revoke_token("ci-user-service", T0 + timedelta(hours=1))
        assert revoked is not None and revoked.revoked_at == T0 + timedelta(hours=1)
        # a second revocation keeps the first time; a revoked token is still found (and refused
        # by the API, which can then say why)
        again = store.revoke_token("ci-user-service", T0 + timedelta(days=3))
        assert again is not None and again.revoked_at == T0 + timedelta(hours=1)
        assert store.find_token(_hash("secret-1")) == again
        assert store.revoke_token("nobody", T0) is None
    # only the hash is in the database, never the secret
    assert _rows(db_url, "SELECT name, scope, token_hash FROM api_tokens") == [
        ("ci-user-service", "upload", _hash("secret-1"))
    ]


def test_names_are_never_reused(db_url: str) -> None:
    with open_store(db_url) as store:
        assert store.add_token("ci", "read", _hash("a"), T0) is not None
        assert store.add_token("ci", "admin", _hash("b"), T0) is None
        store.revoke_token("ci", T0)
        assert store.add_token("ci", "read", _hash("c"), T0) is None
        assert [(t.name, t.scope) for t in store.tokens()] == [("ci", "read")]
        assert store.find_token(_hash("b")) is None


def test_the_scope_is_checked_by_the_database(db_url: str) -> None:
    with open_store(db_url) as store, pytest.raises(StoreError, match="ck_api_tokens_scope"):
        store.add_token("ci", "superuser", _hash("a"), T0)


def test_tokens_are_listed_by_name_with_their_last_use(db_url: str) -> None:
    with open_store(db_url) as store:
        for name, scope in (("zeta", "read"), ("alpha", "admin"), ("mid", "upload")):
            store.add_token(name, scope, _hash(name), T0)
        store.touch_token("mid", T0 + timedelta(minutes=5), older_than=T0 + timedelta(minutes=4))
        # used again within the minute: not written again
        store.touch_token(
            "mid",
            T0 + timedelta(minutes=5, seconds=30),
            older_than=T0 + timedelta(minutes=4, seconds=30),
        )
        listed = store.tokens()
    assert [(t.name, t.scope, t.last_used_at) for t in listed] == [
        ("alpha", "admin", None),
        ("mid", "upload", T0 + timedelta(minutes=5)),
        ("zeta", "read", None),
    ]


def test_two_writers_making_the_same_name_get_one_token(db_url: str) -> None:
    open_store(db_url).close()

    def make(i: int) -> model.ApiToken | None:
        with open_store(db_url) as store:
            return store.add_token("shared", "upload", _hash(f"secret-{i}"), T0)

    with ThreadPoolExecutor(4) as pool:
        made = list(pool.map(make, range(8)))
    assert sum(1 for m in made if m is not None) == 1
    assert _rows(db_url, "SELECT count(*) FROM api_tokens") == [(1,)]


# -- upgrading a version-3 database ---------------------------------------------------------------


def _make_v3(url: str) -> None:
    """A version-3 database with one run in it (steps 1 to 3, then a run as version 3 wrote)."""
    engine = create_engine(parse_url(url).url)
    with engine.begin() as conn:
        assert migrations.upgrade(conn, target=3) == (0, 3)
    engine.dispose()
    _execute(
        url,
        "INSERT INTO runs (service, run_id, attempt, commit_sha, branch, run_at, effective_at, "
        "ingested_at, ci_provider, url, tests, passed, failed, errors, skipped, retried, flaky, "
        "warnings) VALUES ('user-service', '3001', 1, 'abc', 'main', '2026-10-01 09:00:00', "
        "'2026-10-01 09:00:00', '2026-10-01 09:05:00', NULL, NULL, 0, 0, 0, 0, 0, 0, 0, '[]')",
    )


def test_a_version_3_database_gets_the_tokens_table_and_keeps_its_runs(db_url: str) -> None:
    _make_v3(db_url)
    assert _rows(db_url, "SELECT value FROM schema_meta") == [("3",)]
    assert "api_tokens" not in inspect(create_engine(parse_url(db_url).url)).get_table_names()
    with open_store(db_url, create=False) as store:
        assert store.schema_version() == SCHEMA_VERSION == 5
        assert [r.meta.run_id for r in store.runs()] == ["3001"]
        assert store.tokens() == []
        assert store.add_token("ci", "upload", _hash("x"), T0) is not None
    assert _rows(db_url, "SELECT value FROM schema_meta") == [(str(SCHEMA_VERSION),)]
    # opening again runs no step
    engine = create_engine(parse_url(db_url).url)
    with engine.begin() as conn:
        assert migrations.upgrade(conn) == (SCHEMA_VERSION, SCHEMA_VERSION)
    engine.dispose()
    with open_store(db_url, create=False) as store:
        assert [t.name for t in store.tokens()] == ["ci"]


def test_a_failing_step_to_version_4_changes_nothing(db_url: str) -> None:
    _make_v3(db_url)
    # someone made the table by hand: the step fails, and version 3 stays as it was
    _execute(db_url, "CREATE TABLE api_tokens (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreError, match="upgrading the schema from version 3"):
        open_store(db_url)
    assert _rows(db_url, "SELECT value FROM schema_meta") == [("3",)]
    assert _rows(db_url, "SELECT run_id FROM runs") == [("3001",)]


def test_the_stored_run_survives_and_new_runs_store_after_the_upgrade(db_url: str) -> None:
    _make_v3(db_url)
    with open_store(db_url) as store:
        assert store.save_runs([run("3002")]) == [True]
        assert sorted(r.meta.run_id for r in store.runs()) == ["3001", "3002"]
