"""Bulk writes per backend: executemany straight to sqlite3; COPY through psycopg for PostgreSQL."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateIndex, DropIndex
from sqlalchemy.sql.elements import ColumnElement

from gatekeeper.store import codec
from gatekeeper.store.tables import RUNS, TESTS

CHUNK = 500  # bound parameters per IN (...) lookup; far below every backend's limit
# When a run names more tests than this, read all of its service's test ids in one range scan
# instead of hundreds of IN (...) lookups (if the service does not have many more).
_SCAN_ABOVE = 5000
# A load of at least this many rows into a table that holds fewer rebuilds the table's indexes
# once instead of updating them row by row (SQLite).
_REBUILD_FROM = 20_000

# Built once, so SQLAlchemy compiles them once (a backfill inserts thousands of runs).
_INSERT_RUN_SQLITE = (
    sqlite.insert(RUNS)
    .on_conflict_do_nothing(index_elements=["service", "run_id", "attempt"])
    .returning(RUNS.c.id)
)


def md5_hex(value: str) -> str:
    """PostgreSQL's md5(text) of ``value`` (a UTF-8 database), as its indexes hold it."""
    return hashlib.md5(value.encode("utf-8"), usedforsecurity=False).hexdigest()


# A new test: (test_id, suite, name, file, first_seen as a db value).
NewTest = tuple[str, str, str, str | None, Any]


class Writer(ABC):
    """Operations whose fastest safe form differs between SQLite and PostgreSQL."""

    def db_time(self, value: datetime) -> Any:
        """A naive UTC datetime as this writer binds and compares it."""
        return value

    def known_tests(
        self, conn: Connection, service: str, test_ids: Collection[str], *, first_seen: bool
    ) -> dict[str, Any]:
        """test_id -> pk (or -> first_seen) for those of ``test_ids`` already stored."""
        value = TESTS.c.first_seen if first_seen else TESTS.c.id
        query = select(TESTS.c.test_id, value).where(TESTS.c.service == service)
        if len(test_ids) > _SCAN_ABOVE:
            total = conn.execute(
                select(func.count()).select_from(TESTS).where(TESTS.c.service == service)
            ).scalar_one()
            if total <= 3 * len(test_ids):
                return {tid: value for tid, value in conn.execute(query)}
        found: dict[str, Any] = {}
        for chunk in chunks(list(test_ids), CHUNK):
            where: ColumnElement[bool] = TESTS.c.test_id.in_(chunk)
            if conn.dialect.name == "postgresql":  # the unique index holds md5(test_id)
                where = and_(where, func.md5(TESTS.c.test_id).in_([md5_hex(t) for t in chunk]))
            rows = conn.execute(query.where(where))
            found.update((tid, value) for tid, value in rows)
        return found

    @abstractmethod
    def insert_tests(self, conn: Connection, service: str, rows: list[NewTest]) -> dict[str, int]:
        """Insert tests not seen before; return test_id -> pk for all of ``rows``."""

    def move_first_seen(self, conn: Connection, changes: list[tuple[int, Any]]) -> None:
        """Set first_seen of existing tests (pk, time) to an earlier time (backfills)."""
        # In pk order, as _read_lost: concurrent writers lock test rows in one order (no
        # deadlock between a writer moving first_seen and one reading tests it lost).
        conn.execute(
            update(TESTS).where(TESTS.c.id == bindparam("pk")).values(first_seen=bindparam("seen")),
            [{"pk": pk, "seen": seen} for pk, seen in sorted(changes, key=itemgetter(0))],
        )

    @abstractmethod
    def insert_run(self, conn: Connection, values: dict[str, Any]) -> int | None:
        """Insert a run; None when (service, run_id, attempt) is already there (race-safe)."""

    def bulk(
        self, conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])

    @contextmanager
    def loading(self, conn: Connection, table: Table, rows: int) -> Iterator[None]:
        """Around inserting ``rows`` rows into ``table`` in this transaction."""
        yield


class SqliteWriter(Writer):
    """SQLite: the transaction began with BEGIN IMMEDIATE, so nobody else writes meanwhile."""

    def db_time(self, value: datetime) -> Any:
        return codec.sqlite_time(value)

    def known_tests(
        self, conn: Connection, service: str, test_ids: Collection[str], *, first_seen: bool
    ) -> dict[str, Any]:
        # Straight to the driver: no per-row processing (first_seen stays text, as db_time
        # gives it). For pks the (service, test_id) index answers alone, as it holds the rowid.
        raw = _raw(conn)
        sql = f"SELECT test_id, {'first_seen' if first_seen else 'id'} FROM tests WHERE service = ?"
        if len(test_ids) > _SCAN_ABOVE:
            (total,) = raw.execute(
                "SELECT count(*) FROM tests WHERE service = ?", (service,)
            ).fetchone()
            if total <= 3 * len(test_ids):
                return dict(raw.execute(sql, (service,)))
        found: dict[str, Any] = {}
        for chunk in chunks(list(test_ids), CHUNK):
            marks = ", ".join("?" * len(chunk))
            found.update(raw.execute(f"{sql} AND test_id IN ({marks})", (service, *chunk)))
        return found

    def insert_tests(self, conn: Connection, service: str, rows: list[NewTest]) -> dict[str, int]:
        # Holding the write lock, we can hand out the ids ourselves and skip reading them back.
        rows = sorted(rows)  # index insertions in key order are much faster than at random
        top = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM tests").scalar_one()
        conn.exec_driver_sql(
            "INSERT INTO tests (id, service, test_id, suite, name, file, first_seen) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(pk, service, tid, s, n, f, w) for pk, (tid, s, n, f, w) in enumerate(rows, top + 1)],
        )
        return {row[0]: pk for pk, row in enumerate(rows, top + 1)}

    def move_first_seen(self, conn: Connection, changes: list[tuple[int, Any]]) -> None:
        conn.exec_driver_sql(
            "UPDATE tests SET first_seen = ? WHERE id = ?", [(seen, pk) for pk, seen in changes]
        )

    def insert_run(self, conn: Connection, values: dict[str, Any]) -> int | None:
        pk: int | None = conn.execute(_INSERT_RUN_SQLITE, values).scalar()
        return pk

    @contextmanager
    def loading(self, conn: Connection, table: Table, rows: int) -> Iterator[None]:
        """A bulk load (a backfill, a first big run) into a table that holds fewer rows: drop its
        secondary indexes, insert, then build them again in one sorted pass, about a third
        faster than updating them row by row at random places. All in the one transaction, so
        a failure rolls the drop back too, and readers (WAL) keep seeing the indexed table."""
        held = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table.name}").scalar_one()
        if rows < max(_REBUILD_FROM, held):  # max(id) >= count: cheap, and errs towards "no"
            yield
            return
        indexes = sorted(table.indexes, key=lambda index: str(index.name))
        for index in indexes:
            conn.execute(DropIndex(index))
        yield
        for index in indexes:
            conn.execute(CreateIndex(index))

    def bulk(
        self, conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        marks = ", ".join("?" * len(columns))
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", rows
        )


class PostgresWriter(Writer):
    """PostgreSQL through any driver (Core only): concurrent writers; ON CONFLICT keeps it safe."""

    def insert_tests(self, conn: Connection, service: str, rows: list[NewTest]) -> dict[str, int]:
        # Sorted: concurrent writers then lock the same rows in the same order (no deadlock).
        rows = sorted(rows)
        stmt = _pg_statements()[1]
        params = [
            {"service": service, "test_id": t, "suite": s, "name": n, "file": f, "first_seen": w}
            for t, s, n, f, w in rows
        ]
        pks: dict[str, int] = {tid: pk for tid, pk in conn.execute(stmt, params)}
        self._read_lost(conn, service, rows, pks)
        return pks

    def _read_lost(
        self, conn: Connection, service: str, rows: list[NewTest], pks: dict[str, int]
    ) -> None:
        """Tests another writer inserted meanwhile: read their ids, keep the earlier first_seen."""
        lost = [row for row in rows if row[0] not in pks]
        if not lost:
            return
        pks.update(self.known_tests(conn, service, [row[0] for row in lost], first_seen=False))
        # In pk order, as move_first_seen, so that concurrent writers cannot deadlock.
        conn.execute(
            update(TESTS)
            .where(TESTS.c.id == bindparam("pk"), TESTS.c.first_seen > bindparam("seen"))
            .values(first_seen=bindparam("seen")),
            sorted(({"pk": pks[row[0]], "seen": row[4]} for row in lost), key=itemgetter("pk")),
        )

    def insert_run(self, conn: Connection, values: dict[str, Any]) -> int | None:
        pk: int | None = conn.execute(_pg_statements()[0], values).scalar()
        return pk

    @contextmanager
    def loading(self, conn: Connection, table: Table, rows: int) -> Iterator[None]:
        """A load of at least ``_REBUILD_FROM`` rows that is a tenth of the table or more (a
        backfill's batch, a first big run): ANALYZE the table and the runs and tests after it.
        Without statistics the planner takes a fresh history for an empty one and scans every
        result where the ``results (run_fk)`` index reads a few (the classification's and the
        report's reads); autovacuum would analyze the table only a minute or more later."""
        yield
        if rows < _REBUILD_FROM:
            return
        held = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table.name}").scalar_one()
        if rows * 10 >= held:
            for name in sorted({table.name, RUNS.name, TESTS.name}):
                conn.exec_driver_sql(f"ANALYZE {name}")


class PsycopgWriter(PostgresWriter):
    """PostgreSQL through psycopg 3: COPY for the big inserts, arrays instead of IN lists."""

    def known_tests(
        self, conn: Connection, service: str, test_ids: Collection[str], *, first_seen: bool
    ) -> dict[str, Any]:
        column = "first_seen" if first_seen else "id"
        with _raw(conn).cursor() as cur:
            if len(test_ids) > _SCAN_ABOVE:
                cur.execute("SELECT count(*) FROM tests WHERE service = %s", (service,))
                (total,) = cur.fetchone()
                if total <= 3 * len(test_ids):
                    cur.execute(
                        f"SELECT test_id, {column} FROM tests WHERE service = %s", (service,)
                    )
                    return dict(cur.fetchall())
            ids = list(test_ids)
            # md5(test_id): what the unique index holds (schema version 5), so it is used
            cur.execute(
                f"SELECT test_id, {column} FROM tests WHERE service = %s "
                "AND md5(test_id) = ANY(%s) AND test_id = ANY(%s)",
                (service, [md5_hex(t) for t in ids], ids),
            )
            return dict(cur.fetchall())

    def insert_tests(self, conn: Connection, service: str, rows: list[NewTest]) -> dict[str, int]:
        with _raw(conn).cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS gatekeeper_new_tests (test_id text, suite text, "
                "name text, file text, first_seen timestamp) ON COMMIT DELETE ROWS"
            )
            cur.execute("TRUNCATE gatekeeper_new_tests")
            with cur.copy(
                "COPY gatekeeper_new_tests (test_id, suite, name, file, first_seen) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
            # In one order for every writer (bytewise), so concurrent writers lock the same rows
            # in the same order and cannot deadlock.
            cur.execute(
                "INSERT INTO tests (service, test_id, suite, name, file, first_seen) "
                "SELECT %s, test_id, suite, name, file, first_seen FROM gatekeeper_new_tests "
                'ORDER BY test_id COLLATE "C" '
                "ON CONFLICT DO NOTHING RETURNING test_id, id",  # the key, as above
                (service,),
            )
            pks: dict[str, int] = dict(cur.fetchall())
        self._read_lost(conn, service, rows, pks)
        return pks

    def bulk(
        self, conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        with (
            _raw(conn).cursor() as cur,
            cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)


def _raw(conn: Connection) -> Any:
    """The driver's own connection, inside the transaction SQLAlchemy began on it."""
    raw = conn.connection.driver_connection
    assert raw is not None
    return raw


@cache
def _pg_statements() -> tuple[Any, Any]:
    """Insert-or-skip statements for runs and tests, built (and compiled) once, on first use:
    the PostgreSQL dialect is not imported by SQLite users."""
    from sqlalchemy.dialects import postgresql

    runs = (
        postgresql.insert(RUNS)
        .on_conflict_do_nothing(index_elements=["service", "run_id", "attempt"])
        .returning(RUNS.c.id)
    )
    tests = (
        postgresql.insert(TESTS)
        # No conflict target: the (service, test id) key is the table's one unique index, on
        # md5(test_id) from schema version 5 (long names), on the text before.
        .on_conflict_do_nothing()
        .returning(TESTS.c.test_id, TESTS.c.id)
    )
    return runs, tests


def writer_for(conn: Connection) -> Writer:
    if conn.dialect.name == "sqlite":
        return SqliteWriter()
    if conn.dialect.driver == "psycopg":
        return PsycopgWriter()
    return PostgresWriter()


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
