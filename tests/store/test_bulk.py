"""The per-backend bulk writers, each on a real database (the generic PostgreSQL one included)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection

from gatekeeper import model
from gatekeeper.errors import StoreError
from gatekeeper.store import HistoryStore, bulk, open_store
from gatekeeper.store.engine import make_engine, parse_url
from gatekeeper.store.tables import RESULTS, RUNS, TESTS
from tests.store.factories import T0, hours, many_results, result, run

MAY = datetime(2024, 5, 1)
JUNE = datetime(2024, 6, 1)


@pytest.fixture(
    params=[
        pytest.param(("sqlite", bulk.SqliteWriter), id="sqlite"),
        pytest.param(("postgres", bulk.PostgresWriter), id="pg-core", marks=pytest.mark.postgres),
        pytest.param(("postgres", bulk.PsycopgWriter), id="pg-copy", marks=pytest.mark.postgres),
    ]
)  # fmt: skip
def writer_db(
    request: pytest.FixtureRequest, sqlite_url: str
) -> Iterator[tuple[bulk.Writer, Engine]]:
    backend, cls = request.param
    url = sqlite_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    open_store(url).close()  # create the schema
    engine = make_engine(parse_url(url), lock_timeout=10)
    yield cls(), engine
    engine.dispose()


def _tests(n: int, seen: object) -> list[bulk.NewTest]:
    return [(f"suite::test_{i:05d}", "suite", f"test_{i:05d}", None, seen) for i in range(n)]


def _write(engine: Engine) -> Connection:
    conn = engine.connect()
    conn.execution_options(gatekeeper_write=True)
    return conn


@pytest.mark.parametrize("n", [3, 6000], ids=["chunked-lookup", "range-scan-lookup"])
def test_tests_are_inserted_and_found_again(writer_db: tuple[bulk.Writer, Engine], n: int) -> None:
    writer, engine = writer_db
    with _write(engine) as conn, conn.begin():
        rows = _tests(n, writer.db_time(MAY))
        pks = writer.insert_tests(conn, "svc", rows)
        assert sorted(pks) == sorted(r[0] for r in rows)
        assert len(set(pks.values())) == n
        assert writer.known_tests(conn, "svc", list(pks), first_seen=False) == pks
        assert writer.known_tests(conn, "other", list(pks), first_seen=False) == {}
        seen = writer.known_tests(conn, "svc", list(pks)[:2], first_seen=True)
        assert set(seen.values()) == {writer.db_time(MAY)}
        # The database agrees with the ids handed out.
        rows_in_db = {t: pk for t, pk in conn.execute(select(TESTS.c.test_id, TESTS.c.id))}
        assert rows_in_db == pks


def test_a_few_tests_of_a_big_service_are_looked_up_one_chunk_at_a_time(
    writer_db: tuple[bulk.Writer, Engine],
) -> None:
    writer, engine = writer_db
    with _write(engine) as conn, conn.begin():
        pks = writer.insert_tests(conn, "svc", _tests(7000, writer.db_time(MAY)))
        wanted = ["suite::test_00003", "suite::test_06999", "suite::nope"] + [
            f"suite::test_{i:05d}" for i in range(5000, 6200)
        ]
        found = writer.known_tests(conn, "svc", wanted, first_seen=False)
        assert found == {t: pks[t] for t in wanted if t in pks}


def test_first_seen_moves_earlier_only(writer_db: tuple[bulk.Writer, Engine]) -> None:
    writer, engine = writer_db
    with _write(engine) as conn, conn.begin():
        pks = writer.insert_tests(conn, "svc", _tests(3, writer.db_time(JUNE)))
        writer.move_first_seen(conn, [(pks["suite::test_00001"], writer.db_time(MAY))])
        seen = writer.known_tests(conn, "svc", list(pks), first_seen=True)
        assert seen["suite::test_00001"] == writer.db_time(MAY)
        assert seen["suite::test_00000"] == writer.db_time(JUNE)


@pytest.mark.postgres
@pytest.mark.parametrize("cls", [bulk.PostgresWriter, bulk.PsycopgWriter], ids=["core", "copy"])
def test_postgres_insert_tolerates_tests_another_writer_added(
    pg_url: str, cls: type[bulk.PostgresWriter]
) -> None:
    """What a concurrent writer leaves behind: some rows exist; their ids are read back."""
    open_store(pg_url).close()
    engine = make_engine(parse_url(pg_url), lock_timeout=10)
    writer = cls()
    with engine.begin() as conn:
        theirs = writer.insert_tests(conn, "svc", _tests(5, JUNE)[:2])
    with engine.begin() as conn:
        ours = writer.insert_tests(conn, "svc", _tests(5, MAY))
        assert len(ours) == 5
        assert {t: ours[t] for t in theirs} == theirs
        # Our run is older: the rows the other writer made take our earlier first_seen.
        assert set(writer.known_tests(conn, "svc", list(ours), first_seen=True).values()) == {MAY}
    engine.dispose()


def test_runs_are_inserted_once(writer_db: tuple[bulk.Writer, Engine]) -> None:
    writer, engine = writer_db
    values = {
        "service": "svc", "run_id": "1", "attempt": 1, "commit_sha": None, "branch": None,
        "run_at": None, "effective_at": MAY, "ingested_at": MAY, "ci_provider": None,
        "url": None, "tests": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0,
        "retried": 0, "flaky": 0, "warnings": "[]",
    }  # fmt: skip
    with _write(engine) as conn, conn.begin():
        pk = writer.insert_run(conn, values)
        assert isinstance(pk, int)
        assert writer.insert_run(conn, values) is None
        assert writer.insert_run(conn, {**values, "attempt": 2}) not in (None, pk)
        pks = writer.insert_tests(conn, "svc", _tests(3, writer.db_time(MAY)))
        rows = [(pk, tpk, 0, 1, None, "boom ✓", "panic", 7) for tpk in pks.values()]
        columns = ("run_fk", "test_fk", "retry", "outcome", "duration", "message", "failure_kind")
        writer.bulk(conn, RESULTS, (*columns, "line"), rows)
        stored = [tuple(row) for row in conn.execute(
            select(RESULTS.c.run_fk, RESULTS.c.test_fk, RESULTS.c.retry, RESULTS.c.outcome,
                   RESULTS.c.duration, RESULTS.c.message, RESULTS.c.failure_kind, RESULTS.c.line)
            .order_by(RESULTS.c.test_fk)
        )]  # fmt: skip
        assert stored == sorted(rows, key=lambda r: r[1])
        assert conn.execute(select(func.count()).select_from(RUNS)).scalar_one() == 2


# -- the same paths through the store: a big service, then small runs in it --------------------


@pytest.fixture
def store(db_url: str) -> Iterator[HistoryStore]:
    with open_store(db_url) as store:
        yield store


def test_a_big_service_then_small_runs(store: HistoryStore) -> None:
    big = many_results(6000, failing_every=11)
    more = [*big, result("suite0::brand_new")]
    assert store.save_runs([run("1", tests=big), run("2", at=T0 + hours(1), tests=more)]) == [
        True,
        True,
    ]
    assert store.save_runs([run("3", at=T0 + hours(2), tests=more[:4])]) == [True]
    _, second, third = sorted(store.runs(), key=lambda r: r.meta.run_id)
    assert store.run_results(second.pk) == sorted(more, key=lambda r: r.test_id)
    assert store.run_results(third.pk) == sorted(more[:4], key=lambda r: r.test_id)
    assert second.counts == model.RunCounts.of(tuple(more))
    seen = store.first_seen("user-service")
    assert len(seen) == 6001
    assert seen["suite0::brand_new"] == T0 + hours(1)
    assert seen[big[0].test_id] == T0


def _sqlite_indexes(url: str) -> dict[str, str]:
    """name -> CREATE INDEX statement of every index on results, as SQLite stores it."""
    engine = make_engine(parse_url(url), lock_timeout=10)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'results'"
        ).all()
    engine.dispose()
    return {name: sql for name, sql in rows}


def test_a_bulk_load_rebuilds_the_results_indexes_as_they_were(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        schema = _sqlite_indexes(sqlite_url)
        assert set(schema) == {"ix_results_test_run", "ix_results_run"}
        small = many_results(100, prefix="small")
        store.save_runs([run("0", tests=small)])
        # Two runs of 15,000 results into a table of 100: a load big enough for the rebuild.
        load = [
            run("1", at=T0 + hours(1), tests=many_results(15_000, failing_every=13)),
            run("2", at=T0 + hours(2), tests=many_results(15_000, failing_every=7)),
        ]
        assert store.save_runs(load) == [True, True]
        assert _sqlite_indexes(sqlite_url) == schema
        engine = make_engine(parse_url(sqlite_url), lock_timeout=10)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT run_fk FROM results WHERE test_fk = 5"
            ).all()
            assert "ix_results_test_run" in str(plan)
        engine.dispose()
        by_id = {r.meta.run_id: r for r in store.runs()}
        assert store.run_results(by_id["2"].pk) == sorted(load[1].tests, key=lambda r: r.test_id)
        assert store.run_results(by_id["0"].pk) == sorted(small, key=lambda r: r.test_id)


def test_a_failed_bulk_load_leaves_the_indexes_and_stores_nothing(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        schema = _sqlite_indexes(sqlite_url)
        bad = result("suite::too_big", retry=2**70)  # cannot be stored: OverflowError
        load = [
            run("1", tests=many_results(25_000)),
            run("2", at=T0 + hours(1), tests=[*many_results(10), bad]),
        ]
        with pytest.raises(StoreError, match="run 2 attempt 1"):
            store.save_runs(load)
        assert _sqlite_indexes(sqlite_url) == schema
        assert store.runs() == []
