"""Schema versions: new databases, upgrading a real version-1 database, refusing others."""

from __future__ import annotations

import secrets
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from gatekeeper import model
from gatekeeper.errors import SchemaVersionError, StoreError
from gatekeeper.store import SCHEMA_VERSION, migrations, open_store
from gatekeeper.store.engine import parse_url
from gatekeeper.store.tables import METADATA
from tests.store.factories import benchmarks, result, run

V1_DUMP = Path(__file__).parent / "data" / "schema_v1_sqlite.sql"


def _engine(url: str) -> Engine:
    return create_engine(parse_url(url).url)


def _execute(url: str, *statements: str) -> None:
    engine = _engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def _scalar(url: str, statement: str) -> Any:
    engine = _engine(url)
    with engine.connect() as conn:
        value = conn.execute(text(statement)).scalar()
    engine.dispose()
    return value


def _schema(url: str) -> dict[str, Any]:
    """Everything reflection tells about the tables, in a comparable form."""
    engine = _engine(url)
    insp = inspect(engine)
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        out[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)
            ],
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in insp.get_indexes(table)
                # PostgreSQL lists the unique constraints' indexes too.
                if not i.get("duplicates_constraint")
            ),
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], f["options"].get("ondelete"))
                for f in insp.get_foreign_keys(table)
            ),
            "checks": sorted(c["name"] or "" for c in insp.get_check_constraints(table)),
        }
    engine.dispose()
    return out


@pytest.fixture
def other_url(db_url: str, tmp_path: Path) -> str:
    """A second empty database on the same backend as ``db_url``."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'other.db'}"
    base = db_url.split("?", 1)[0]
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{base}?options=-csearch_path%3D{schema}"


def test_a_new_database_gets_the_current_version(db_url: str) -> None:
    with open_store(db_url) as store:
        assert store.schema_version() == SCHEMA_VERSION == 5
    assert _scalar(db_url, "SELECT value FROM schema_meta WHERE key = 'schema_version'") == "5"


def test_the_migration_steps_build_exactly_the_models(db_url: str, other_url: str) -> None:
    open_store(db_url).close()  # v1 DDL + steps 2, 3 and 4
    engine = _engine(other_url)
    METADATA.create_all(engine)  # straight from tables.py
    engine.dispose()
    migrated, modelled = _schema(db_url), _schema(other_url)
    assert migrated == modelled
    assert set(migrated) == {
        "schema_meta", "runs", "source_files", "tests", "results", "coverage_reports",
        "coverage_packages", "coverage_files", "benchmarks", "gate_decisions", "gate_coverage",
        "api_tokens",
    }  # fmt: skip
    # What version 2 added is really there.
    assert ("samples", "TEXT", True) in migrated["benchmarks"]["columns"]
    name = None if db_url.startswith("postgresql") else "name"  # md5(name) from version 5
    assert ("ix_benchmarks_name_run", (name, "run_fk"), False) in migrated["benchmarks"]["indexes"]


def test_reopening_does_not_migrate_again(db_url: str) -> None:
    open_store(db_url).close()
    with open_store(db_url) as store:
        store.save_runs([run("1")])
    with open_store(db_url, create=False) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert len(store.runs()) == 1


# -- upgrading an old database -------------------------------------------------------------------


def _make_v1(url: str) -> None:
    """A version-1 database with one run in it, written the way gatekeeper 1 wrote it."""
    engine = _engine(url)
    with engine.begin() as conn:
        assert migrations.upgrade(conn, target=1) == (0, 1)
    engine.dispose()
    _execute(
        url,
        "INSERT INTO runs (service, run_id, attempt, commit_sha, branch, run_at, effective_at, "
        "ingested_at, ci_provider, url, tests, passed, failed, errors, skipped, retried, flaky, "
        "warnings) VALUES ('user-service', '1001', 1, '8f2c1a0', 'main', "
        "'2024-03-01 09:00:00', '2024-03-01 09:00:00', '2024-03-01 09:05:00', 'github', NULL, "
        "2, 1, 1, 0, 0, 0, 0, '[]')",
        "INSERT INTO tests (service, test_id, suite, name, file, first_seen) VALUES "
        "('user-service', 'user_service::tests::it_works', 'user_service', 'tests::it_works', "
        "NULL, '2024-03-01 09:00:00'), ('user-service', 'user_service::tests::fails', "
        "'user_service', 'tests::fails', NULL, '2024-03-01 09:00:00')",
        "INSERT INTO results (run_fk, test_fk, retry, outcome, duration, message, failure_kind, "
        "line) SELECT r.id, t.id, 0, CASE WHEN t.name = 'tests::fails' THEN 1 ELSE 0 END, 0.5, "
        "NULL, NULL, NULL FROM runs r, tests t",
        "INSERT INTO benchmarks (run_fk, name, bench_group, value, unit, statistic, direction, "
        "spread, spread_kind, lower, upper) SELECT id, 'parse/small', 'criterion', 1234.5, 'ns', "
        "'estimate', 'lower', 10.0, 'ci', 1200.0, 1260.0 FROM runs",
    )


def test_a_version_1_database_is_upgraded_and_keeps_its_data(db_url: str) -> None:
    _make_v1(db_url)
    assert _scalar(db_url, "SELECT value FROM schema_meta") == "1"
    with open_store(db_url, create=False) as store:
        assert store.schema_version() == SCHEMA_VERSION
        (old,) = store.runs()
        assert old.meta.run_id == "1001"
        assert old.meta.timestamp == datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
        assert old.counts == model.RunCounts(tests=2, passed=1, failed=1)
        assert [(r.test_id, r.outcome) for r in store.run_results(old.pk)] == [
            ("user_service::tests::fails", model.Outcome.FAILED),
            ("user_service::tests::it_works", model.Outcome.PASSED),
        ]
        (bench,) = store.benchmarks(old.pk)
        assert bench.value == 1234.5
        assert bench.samples == ()  # version 1 kept no samples
        assert bench.iterations is None
        # The new columns work, and old and new history read together.
        store.save_runs(
            [run("1002", tests=[result("user_service::tests::fails")], benchmarks=benchmarks())]
        )
        history = store.benchmark_history("user-service", "parse/small")
        assert [(r.meta.run_id, b.samples) for r, b in history] == [
            ("1002", benchmarks()[0].samples),
            ("1001", ()),
        ]
        fails = store.test_history("user-service", "user_service::tests::fails")
        assert [e.outcome for e in fails] == [model.Outcome.FAILED, model.Outcome.PASSED]
    assert _scalar(db_url, "SELECT value FROM schema_meta") == str(SCHEMA_VERSION)


def test_the_frozen_version_1_sqlite_file_is_upgraded(tmp_path: Path) -> None:
    """A database file as gatekeeper 1 left it (its .dump is checked in, never regenerated)."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_DUMP.read_text(encoding="utf-8"))
    conn.close()
    with open_store(f"sqlite:///{path}", create=False) as store:
        assert store.schema_version() == SCHEMA_VERSION
        (old,) = store.runs()
        assert old.meta == model.RunMeta(
            service="user-service",
            run_id="1001",
            attempt=1,
            commit="8f2c1a0",
            branch="main",
            timestamp=datetime(2024, 3, 1, 9, 0, tzinfo=UTC),
            ci_provider="github",
            url="https://ci.example/runs/1001",
        )
        assert old.counts == model.RunCounts(
            tests=3, passed=2, failed=0, errors=0, skipped=1, retried=1, flaky=1
        )
        assert old.warnings == ("junit.xml:7: tests=4 but 3 <testcase> elements",)
        results = store.run_results(old.pk)
        assert [(r.test_id, r.retry, r.outcome, r.line) for r in results] == [
            ("integration::slow", 0, model.Outcome.SKIPPED, None),
            ("user_service::tests::flaky", 0, model.Outcome.FAILED, None),
            ("user_service::tests::flaky", 1, model.Outcome.PASSED, None),
            ("user_service::tests::it_works", 0, model.Outcome.PASSED, 12),
        ]
        (report,) = store.coverage(old.pk)
        assert report.files[0].covered_lines == (1, 2, 3, 4, 7, 9)
        assert report.files[0].missed_lines == (5, 6)
        (bench,) = store.benchmarks(old.pk)
        assert (bench.name, bench.spread_kind, bench.samples) == (
            "parse/small",
            model.SpreadKind.CI,
            (),
        )
        assert store.save_runs([run("1002", benchmarks=benchmarks())]) == [True]


def test_a_failing_upgrade_changes_nothing(db_url: str) -> None:
    """Every step runs in one transaction: a failure leaves version 1 exactly as it was."""
    _make_v1(db_url)
    # Someone added a column by hand that version 2 wants to add: step 2 fails halfway.
    _execute(db_url, "ALTER TABLE benchmarks ADD COLUMN iterations INTEGER")
    with pytest.raises(StoreError, match="upgrading the schema from version 1") as caught:
        open_store(db_url)
    assert caught.value.__cause__ is not None
    assert _scalar(db_url, "SELECT value FROM schema_meta") == "1"
    columns = [c["name"] for c in inspect(_engine(db_url)).get_columns("benchmarks")]
    assert "samples" not in columns  # added before the failure, rolled back with it


# -- refusing ------------------------------------------------------------------------------------


def test_a_newer_database_is_refused(db_url: str) -> None:
    with open_store(db_url) as store:
        store.save_runs([run("1")])
    _execute(db_url, "UPDATE schema_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError) as caught:
        open_store(db_url)
    where = parse_url(db_url).where
    assert str(caught.value) == (
        f"{where}: the database has schema version 99, this gatekeeper knows up to 5: "
        "upgrade gatekeeper (pip install -U gatekeeper)"
    )
    assert _scalar(db_url, "SELECT value FROM schema_meta") == "99"  # left alone
    assert _scalar(db_url, "SELECT count(*) FROM runs") == 1


def test_a_database_of_someone_else_is_refused(db_url: str) -> None:
    _execute(db_url, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    with pytest.raises(StoreError, match="not a gatekeeper history database") as caught:
        open_store(db_url)
    assert "users" in str(caught.value)
    assert inspect(_engine(db_url)).get_table_names() == ["users"]  # nothing created


def test_a_schema_meta_without_a_version_is_refused(db_url: str) -> None:
    _execute(
        db_url,
        "CREATE TABLE schema_meta (key TEXT PRIMARY KEY, value TEXT)",
        "INSERT INTO schema_meta VALUES ('schema_version', 'banana')",
    )
    with pytest.raises(StoreError, match="not a gatekeeper history database"):
        open_store(db_url)


def test_an_empty_database_is_not_created_when_asked_not_to(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        sqlite3.connect(parse_url(db_url).where).close()  # an empty file
    with pytest.raises(StoreError, match="the database is empty, not a gatekeeper history"):
        open_store(db_url, create=False)
    assert inspect(_engine(db_url)).get_table_names() == []
