"""HistoryStore: saving runs in bulk and reading history back as model records."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection, Generator, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Engine,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    not_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from gatekeeper import model
from gatekeeper.errors import RunConflictError, SchemaVersionError, StoreError
from gatekeeper.pauses import gc_paused
from gatekeeper.store import bulk, codec, migrations, retention
from gatekeeper.store.engine import (
    CHECK_DB,
    NOTHING_STORED,
    WRITE_OPTION,
    Target,
    make_engine,
    parse_url,
    prepare_sqlite_file,
    translated_errors,
)
from gatekeeper.store.executions import ExecutionReader
from gatekeeper.store.reports import ReportQueries
from gatekeeper.store.tables import (
    BENCHMARKS,
    COVERAGE_FILES,
    COVERAGE_PACKAGES,
    COVERAGE_REPORTS,
    GATE_COVERAGE,
    GATE_DECISIONS,
    RESULTS,
    RUNS,
    SOURCE_FILES,
    TESTS,
)
from gatekeeper.store.tokens import TokenStore

_STREAM_BATCH = 2000
RunKey = tuple[str, str, int]
# Rows are typed Row[tuple[...]] in SQLAlchemy 2.0 and Row[*Ts] in 2.1; either is fine here.
AnyRow = Any


def open_store(url: str, *, lock_timeout: float = 30.0, create: bool = True) -> HistoryStore:
    """Open (and create or upgrade, if needed) the history database at ``url``.

    Raises StoreError subclasses: DatabaseUnavailableError (cannot connect or open),
    DatabaseLockedError (SQLite locked past ``lock_timeout`` seconds), SchemaVersionError
    (written by a newer gatekeeper), StoreError (not a gatekeeper database, bad URL, ...).
    With ``create=False`` a missing or empty database is an error instead of being created.
    """
    target = parse_url(url)
    prepare_sqlite_file(target, create=create)
    engine = make_engine(target, lock_timeout=lock_timeout)
    store = HistoryStore(engine, target, lock_timeout=lock_timeout)
    try:
        store._check_schema(create=create)
    except BaseException:
        engine.dispose()
        raise
    return store


class HistoryStore(ReportQueries, TokenStore):
    """The history database. Methods take and return only ``gatekeeper.model`` records."""

    def __init__(self, engine: Engine, target: Target, *, lock_timeout: float) -> None:
        self._engine = engine
        self._target = target
        self._lock_timeout = lock_timeout
        self.url: str = target.shown
        self.backend: str = target.backend

    def __repr__(self) -> str:
        return f"HistoryStore({self.url!r})"

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._engine.dispose()

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _transaction(
        self, doing: str, *, write: bool = False, snapshot: bool = False
    ) -> Iterator[Connection]:
        with (
            translated_errors(self._target, doing, lock_timeout=self._lock_timeout),
            self._engine.connect() as conn,
        ):
            if write:
                conn.execution_options(**{WRITE_OPTION: True})
            if snapshot and conn.dialect.name == "postgresql":
                # Several statements that must see the same history (READ COMMITTED would
                # let a run committed between them into some and not others).
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def _check_schema(self, *, create: bool) -> None:
        where = self._target.where
        with self._transaction("reading the schema version") as conn:
            version = self._version_or_refuse(conn)
        if version == migrations.SCHEMA_VERSION:
            return
        if version == 0 and not create:
            raise StoreError(
                f"{where}: the database is empty, not a gatekeeper history",
                hint=f"run gatekeeper ingest first, or {CHECK_DB}",
            )
        with self._transaction(f"upgrading the schema from version {version}", write=True) as conn:
            migrations.lock_for_upgrade(conn)
            # Another process may have upgraded it between our read and our lock.
            self._version_or_refuse(conn)
            migrations.upgrade(conn)

    def _version_or_refuse(self, conn: Connection) -> int:
        where = self._target.where
        try:
            version = migrations.read_version(conn)
        except migrations.NotOurs as err:
            raise StoreError(
                f"{where}: holds tables but no gatekeeper schema_meta ({err}): "
                "it is not a gatekeeper history database",
                hint="point --db / $GATEKEEPER_DB at a new file or an empty database",
            ) from None
        if version > migrations.SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{where}: the database has schema version {version}, this gatekeeper knows up "
                f"to {migrations.SCHEMA_VERSION}: upgrade gatekeeper",
                hint="pip install -U gatekeeper",
            )
        return version

    def schema_version(self) -> int:
        with self._transaction("reading the schema version") as conn:
            return migrations.read_version(conn)

    # -- writing ----------------------------------------------------------------------------

    def save_runs(self, runs: Sequence[model.Run]) -> list[bool]:
        """Store runs in ONE transaction: all of them or, on any error, none.

        Returns, per input position, whether that run was stored now (False: its (service,
        run_id, attempt) was already in the history from the same report files, or earlier in
        ``runs``). See ``save_runs_kept`` for runs stored from other report files.
        """
        return [kept is None for kept in self.save_runs_kept(runs)]

    def save_runs_kept(self, runs: Sequence[model.Run]) -> list[model.RunMeta | None]:
        """Store runs in ONE transaction: all of them or, on any error, none.

        Returns, per input position, None for a run stored now, or the metadata a run is kept
        with when its (service, run_id, attempt) was already stored (or given earlier in
        ``runs``) from the same report files: a repeat is an idempotent success. A key stored
        from *other* report files raises RunConflictError and nothing is stored. The check and
        the insert are one transaction, and a writer that loses the race for the unique key
        compares the winner's report files again, so concurrent writers of one key never both
        succeed with different content.
        """
        # Building 100k+ row tuples would trigger many full garbage collections of the
        # caller's records (a tenth of the time); none of it makes reference cycles.
        with gc_paused():
            return self._save_runs([codec.storable_run(run) for run in runs])

    def _save_runs(self, runs: Sequence[model.Run]) -> list[model.RunMeta | None]:
        kept: list[model.RunMeta | None] = [None] * len(runs)
        first: dict[RunKey, int] = {}
        for i, run in enumerate(runs):
            j = first.setdefault(_key(run.meta), i)
            if j != i:
                _same_sources(run, _sources_of(runs[j]), "given earlier in this call")
        if not first:
            return kept
        now = datetime.now(UTC).replace(tzinfo=None)
        with self._transaction(f"saving {len(first)} run(s)", write=True) as conn:
            writer = bulk.writer_for(conn)
            present = self._stored_sources(conn, list(first))
            for key, (_meta, sources) in present.items():
                _same_sources(runs[first[key]], sources, "already stored")
            # Sorted, so that concurrent writers take row locks in the same order (no deadlock
            # on PostgreSQL).
            todo = sorted((k, i) for k, i in first.items() if k not in present)
            if todo:
                self._insert_runs(conn, writer, runs, todo, present, now)
        for i, run in enumerate(runs):
            key = _key(run.meta)
            if key in present:
                kept[i] = present[key][0]
            elif first[key] != i:
                kept[i] = runs[first[key]].meta
        return kept

    def _insert_runs(
        self,
        conn: Connection,
        writer: bulk.Writer,
        runs: Sequence[model.Run],
        todo: list[tuple[RunKey, int]],
        present: dict[RunKey, tuple[model.RunMeta, list[tuple[str, str]]]],
        now: datetime,
    ) -> None:
        """Insert the runs at the positions ``todo``; a key another writer stored after our
        check (the unique key said so) is compared again and added to ``present``."""
        test_pks = self._store_tests(conn, writer, [runs[i] for _, i in todo], now)
        results = sum(len(runs[i].tests) for _, i in todo)
        with writer.loading(conn, RESULTS, results):
            for key, i in todo:
                doing = f"saving run {key[1]} attempt {key[2]} of {key[0]}"
                try:
                    with translated_errors(self._target, doing, lock_timeout=self._lock_timeout):
                        if self._insert_run(conn, writer, runs[i], test_pks, now):
                            continue
                        # Another writer committed this key after our check (PostgreSQL waited
                        # for it on the unique key); this statement sees its rows.
                        found = self._stored_sources(conn, [key])[key]
                except (ValueError, OverflowError) as err:  # a value we cannot encode
                    raise StoreError(
                        f"{self._target.where}: {doing}: {err}", hint=NOTHING_STORED
                    ) from err
                except KeyError as err:  # e.g. an outcome that is not a model.Outcome
                    raise StoreError(
                        f"{self._target.where}: {doing}: unknown value {err}",
                        hint=NOTHING_STORED,
                    ) from err
                _same_sources(runs[i], found[1], "already stored")
                present[key] = found

    def _present_keys(self, conn: Connection, keys: list[RunKey]) -> set[RunKey]:
        found: set[RunKey] = set()
        cols = (RUNS.c.service, RUNS.c.run_id, RUNS.c.attempt)
        for chunk in bulk.chunks(keys, bulk.CHUNK // 3):
            rows = conn.execute(select(*cols).where(tuple_(*cols).in_(chunk)))
            found.update((r[0], r[1], r[2]) for r in rows)
        return found

    def _stored_sources(
        self, conn: Connection, keys: list[RunKey]
    ) -> dict[RunKey, tuple[model.RunMeta, list[tuple[str, str]]]]:
        """For those of ``keys`` already stored: the run's metadata and its report files as
        (path, sha256), read in the caller's transaction."""
        cols = (RUNS.c.service, RUNS.c.run_id, RUNS.c.attempt)
        query = select(
            *cols, RUNS.c.commit_sha, RUNS.c.branch, RUNS.c.run_at, RUNS.c.ci_provider,
            RUNS.c.url, SOURCE_FILES.c.path, SOURCE_FILES.c.sha256,
        ).select_from(RUNS.outerjoin(SOURCE_FILES, SOURCE_FILES.c.run_fk == RUNS.c.id))  # fmt: skip
        found: dict[RunKey, tuple[model.RunMeta, list[tuple[str, str]]]] = {}
        for chunk in bulk.chunks(list(dict.fromkeys(keys)), bulk.CHUNK // 3):
            for row in conn.execute(query.where(tuple_(*cols).in_(chunk))):
                key = (row.service, row.run_id, row.attempt)
                if key not in found:
                    found[key] = (codec.run_meta(row._mapping), [])
                if row.sha256 is not None:
                    found[key][1].append((row.path, row.sha256))
        return found

    def _store_tests(
        self, conn: Connection, writer: bulk.Writer, runs: list[model.Run], now: datetime
    ) -> dict[str, dict[str, int]]:
        """Make sure every test these runs mention has a row; return service -> test_id -> pk.

        A test's first_seen is the time of the earliest run it appears in, also when runs are
        backfilled out of order.
        """
        # service -> [(run time, test_id -> a result of it)], earliest run first
        groups: dict[str, list[tuple[Any, dict[str, model.TestResult]]]] = {}
        for run in sorted(runs, key=lambda r: _effective_at(r.meta, now)):
            seen = writer.db_time(_effective_at(run.meta, now))
            tests = {r.test_id: r for r in run.tests}
            groups.setdefault(run.meta.service, []).append((seen, tests))
        pks: dict[str, dict[str, int]] = {}
        for service in sorted(groups):
            runs_tests = groups[service]
            wanted: dict[str, model.TestResult] = {}
            first: dict[str, Any] = {}  # test_id -> time of the earliest run naming it
            for seen, tests in runs_tests:
                if not wanted:
                    wanted = dict(tests)
                    first = dict.fromkeys(tests, seen)
                    continue
                for tid in tests.keys() - wanted.keys():
                    wanted[tid] = tests[tid]
                    first[tid] = seen
            if not wanted:
                continue
            ids: dict[str, int] = writer.known_tests(conn, service, wanted, first_seen=False)
            if ids:
                # Every stored first_seen is the time of one of the service's runs, so only a
                # run older than the newest stored one (a backfill) can move any earlier.
                newest = conn.execute(
                    select(func.max(RUNS.c.effective_at)).where(RUNS.c.service == service)
                ).scalar()
                if newest is not None and runs_tests[0][0] < writer.db_time(newest):
                    stored = writer.known_tests(conn, service, ids, first_seen=True)
                    earlier = [(ids[t], first[t]) for t, s in stored.items() if first[t] < s]
                    if earlier:
                        writer.move_first_seen(conn, earlier)
            new = [
                (tid, r.suite, r.name, r.file, first[tid])
                for tid, r in wanted.items()
                if tid not in ids
            ]
            if new:
                ids.update(writer.insert_tests(conn, service, new))
            pks[service] = ids
        return pks

    def _insert_run(
        self,
        conn: Connection,
        writer: bulk.Writer,
        run: model.Run,
        test_pks: dict[str, dict[str, int]],
        now: datetime,
    ) -> bool:
        meta = run.meta
        counts = model.RunCounts.of(run.tests)
        run_pk = writer.insert_run(
            conn,
            {
                "service": meta.service,
                "run_id": meta.run_id,
                "attempt": meta.attempt,
                "commit_sha": meta.commit,
                "branch": meta.branch,
                "run_at": codec.to_db_time(meta.timestamp),
                "effective_at": _effective_at(meta, now),
                "ingested_at": now,
                "ci_provider": meta.ci_provider,
                "url": meta.url,
                "tests": counts.tests,
                "passed": counts.passed,
                "failed": counts.failed,
                "errors": counts.errors,
                "skipped": counts.skipped,
                "retried": counts.retried,
                "flaky": counts.flaky,
                "warnings": codec.dump_json(list(run.warnings)),
            },
        )
        if run_pk is None:  # another process stored it after our check: theirs counts
            return False
        if run.sources:
            writer.bulk(
                conn,
                SOURCE_FILES,
                ("run_fk", "path", "format", "sha256", "size"),
                [(run_pk, s.path, s.format, s.sha256, s.size) for s in run.sources],
            )
        if run.tests:
            writer.bulk(conn, RESULTS, _RESULT_COLUMNS, _result_rows(run_pk, run, test_pks))
        for report in run.coverage:
            self._insert_coverage(conn, writer, run_pk, report)
        if run.benchmarks:
            writer.bulk(
                conn,
                BENCHMARKS,
                _BENCHMARK_COLUMNS,
                [_benchmark_row(run_pk, b) for b in run.benchmarks],
            )
        return True

    def _insert_coverage(
        self, conn: Connection, writer: bulk.Writer, run_pk: int, report: model.CoverageReport
    ) -> None:
        total = report.total
        report_pk = conn.execute(
            insert(COVERAGE_REPORTS)
            .values(
                run_fk=run_pk,
                producer=report.producer,
                sources=codec.dump_json(list(report.sources)),
                declared_line_rate=codec.finite(report.declared_line_rate),
                total_name=total.name,
                lines_valid=total.lines_valid,
                lines_covered=total.lines_covered,
                branches_valid=total.branches_valid,
                branches_covered=total.branches_covered,
            )
            .returning(COVERAGE_REPORTS.c.id)
        ).scalar_one()
        if report.packages:
            writer.bulk(
                conn,
                COVERAGE_PACKAGES,
                ("report_fk", "name", *_COUNT_COLUMNS),
                [
                    (report_pk, p.name, p.lines_valid, p.lines_covered, p.branches_valid,
                     p.branches_covered)
                    for p in report.packages
                ],
            )  # fmt: skip
        if report.files:
            encode = codec.encode_lines
            writer.bulk(
                conn,
                COVERAGE_FILES,
                ("report_fk", "path", "package", *_COUNT_COLUMNS, "covered_lines", "missed_lines"),
                [
                    (report_pk, f.path, f.package, f.lines_valid, f.lines_covered,
                     f.branches_valid, f.branches_covered, encode(f.covered_lines),
                     encode(f.missed_lines))
                    for f in report.files
                ],
            )  # fmt: skip

    # -- reading ----------------------------------------------------------------------------

    def has_run(self, service: str, run_id: str, attempt: int) -> bool:
        with self._transaction("looking up a run") as conn:
            return bool(self._present_keys(conn, [(service, run_id, attempt)]))

    def services(self) -> list[str]:
        """Every service with at least one stored run, sorted."""
        with self._transaction("listing services") as conn:
            return sorted(r[0] for r in conn.execute(select(RUNS.c.service).distinct()))

    def runs(
        self,
        *,
        service: str | None = None,
        branch: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[model.StoredRun]:
        """Stored runs, newest first (by the run's timestamp, else its ingest time)."""
        query = select(RUNS)
        if service is not None:
            query = query.where(RUNS.c.service == service)
        if branch is not None:
            query = query.where(RUNS.c.branch == branch)
        if since is not None:
            query = query.where(RUNS.c.effective_at >= codec.to_db_time(since))
        query = query.order_by(RUNS.c.effective_at.desc(), RUNS.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._transaction("reading runs") as conn:
            return [_stored_run(row) for row in conn.execute(query)]

    def failure_tally(self, service: str, *, limit: int = 5) -> list[model.TestFailureTally]:
        """The tests of a service that failed most often (failed or errored executions, retries
        included), most first, each with its last failure message; counted in SQL."""
        failing = [
            codec.OUTCOME_CODES[model.Outcome.FAILED],
            codec.OUTCOME_CODES[model.Outcome.ERROR],
        ]
        failures = func.sum(case((RESULTS.c.outcome.in_(failing), 1), else_=0))
        query = (
            select(TESTS.c.id, TESTS.c.test_id, func.count().label("n"), failures.label("f"))
            .select_from(RESULTS.join(TESTS, RESULTS.c.test_fk == TESTS.c.id))
            .where(TESTS.c.service == service)
            .group_by(TESTS.c.id, TESTS.c.test_id)
            .having(failures > 0)
            .order_by(failures.desc(), TESTS.c.test_id)
            .limit(limit)
        )
        last_message = (
            select(RESULTS.c.message)
            .select_from(RESULTS.join(RUNS, RESULTS.c.run_fk == RUNS.c.id))
            .where(RESULTS.c.test_fk == bindparam("pk"), RESULTS.c.outcome.in_(failing))
            .order_by(RUNS.c.effective_at.desc(), RESULTS.c.retry.desc())
            .limit(1)
        )
        with self._transaction("counting failures") as conn:
            rows = conn.execute(query).all()
            return [
                model.TestFailureTally(
                    test_id=row.test_id,
                    executions=int(row.n),
                    failures=int(row.f),
                    last_message=conn.execute(last_message, {"pk": row.id}).scalar(),
                )
                for row in rows
            ]

    def find_run(self, service: str, run_id: str, attempt: int) -> model.StoredRun | None:
        """The stored run with this key, or None."""
        query = select(RUNS).where(
            RUNS.c.service == service, RUNS.c.run_id == run_id, RUNS.c.attempt == attempt
        )
        with self._transaction("looking up a run") as conn:
            row = conn.execute(query).first()
            return None if row is None else _stored_run(row)

    def stored_runs(
        self, keys: Collection[RunKey]
    ) -> dict[RunKey, tuple[model.RunMeta, frozenset[str]]]:
        """For those of ``keys`` (service, run_id, attempt) already stored: the run's metadata
        and the SHA-256 of each report file it was ingested from. One read for a backfill."""
        with self._transaction("looking up runs") as conn:
            found = self._stored_sources(conn, list(keys))
        return {key: (meta, frozenset(s for _, s in files)) for key, (meta, files) in found.items()}

    def run(self, run_pk: int) -> model.StoredRun | None:
        """One stored run by its key, or None."""
        with self._transaction("reading a run") as conn:
            row = conn.execute(select(RUNS).where(RUNS.c.id == run_pk)).first()
            return None if row is None else _stored_run(row)

    def run_sources(self, run_pk: int) -> list[model.SourceFile]:
        """The report files a run was ingested from, in the order they were given."""
        query = (
            select(
                SOURCE_FILES.c.path,
                SOURCE_FILES.c.format,
                SOURCE_FILES.c.sha256,
                SOURCE_FILES.c.size,
            )
            .where(SOURCE_FILES.c.run_fk == run_pk)
            .order_by(SOURCE_FILES.c.id)
        )
        with self._transaction("reading a run's sources") as conn:
            return [
                model.SourceFile(path=p, format=f, sha256=h, size=s)
                for p, f, h, s in conn.execute(query)
            ]

    def run_results(self, run_pk: int) -> list[model.TestResult]:
        """A run's test results, sorted by test id (code points, as Python sorts), then retry."""
        query = (
            select(
                TESTS.c.test_id,
                TESTS.c.suite,
                TESTS.c.name,
                TESTS.c.file,
                RESULTS.c.outcome,
                RESULTS.c.duration,
                RESULTS.c.message,
                RESULTS.c.failure_kind,
                RESULTS.c.retry,
                RESULTS.c.line,
            )
            .join(TESTS, TESTS.c.id == RESULTS.c.test_fk)
            .where(RESULTS.c.run_fk == run_pk)
            .order_by(RESULTS.c.id)
        )
        outcomes = codec.OUTCOMES_BY_CODE
        with self._transaction("reading a run's results") as conn:
            results = [
                model.TestResult(
                    test_id=row[0],
                    suite=row[1],
                    name=row[2],
                    file=row[3],
                    outcome=outcomes[row[4]],
                    duration=row[5],
                    message=row[6],
                    failure_kind=row[7],
                    retry=row[8],
                    line=row[9],
                )
                for row in conn.execute(query)
            ]
        # Sorted here, not in SQL: PostgreSQL would sort by its collation (en_US puts
        # "a_b" after "aB"), SQLite by bytes; this way both backends agree.
        results.sort(key=_result_order)
        return results

    def test_history(
        self,
        service: str,
        test_id: str,
        *,
        branch: str | None = None,
        since: datetime | None = None,
    ) -> list[model.TestExecution]:
        """Every execution of one test, oldest first (a run's attempts in order)."""
        query = _executions_query(service=service, branch=branch, since=since)
        query = query.where(TESTS.c.test_id == test_id)
        with self._transaction("reading a test's history") as conn:
            runs = _RunInfo(conn, service=service, branch=branch, since=since)
            return [runs.execution(row) for row in conn.execute(query)]

    def test_files(self, service: str | None = None) -> dict[tuple[str, str], str]:
        """(service, test id) -> the file its report named (the JUnit ``file`` attribute, or
        where it failed when first seen), for the tests that have one."""
        query = select(TESTS.c.service, TESTS.c.test_id, TESTS.c.file).where(
            TESTS.c.file.is_not(None)
        )
        if service is not None:
            query = query.where(TESTS.c.service == service)
        with self._transaction("reading the tests' files") as conn:
            return {(s, t): f for s, t, f in conn.execute(query) if f}

    def executions(
        self,
        *,
        service: str | None = None,
        since: datetime | None = None,
        branch: str | None = None,
    ) -> Generator[model.TestExecution, None, None]:
        """Every test execution, streamed: grouped by service and test id (in the database's
        sort order for text), each test's executions oldest first (run time, run, retry).

        Rows are fetched in batches while iterating; the database connection is held until the
        generator is exhausted or closed (``close()``).
        """
        query = _executions_query(service=service, branch=branch, since=since)
        with self._transaction("reading test executions") as conn:
            runs = _RunInfo(conn, service=service, branch=branch, since=since)
            result = conn.execution_options(stream_results=True, yield_per=_STREAM_BATCH).execute(
                query
            )
            for partition in result.partitions():  # fewer per-row calls than iterating rows
                for row in partition:
                    yield runs.execution(row)

    def execution_list(
        self,
        *,
        service: str | None = None,
        since: datetime | None = None,
        branch: str | None = None,
    ) -> list[model.TestExecution]:
        """The executions ``executions()`` yields, as one list in storage order: what the
        classifier reads (it groups and orders them itself), in about half the time.

        The results are read straight from the driver and joined with their run and test in
        memory, with the garbage collector paused (600,000 records make no reference cycles,
        but would trigger dozens of full collections). Executions of runs stored after the read
        began are left out.
        """
        with self._transaction("reading test executions") as conn, gc_paused():
            runs = _RunInfo(conn, service=service, branch=branch, since=since)
            return _scan_executions(conn, runs.prefixes(), service)

    @contextmanager
    def execution_reader(self, service: str | None = None) -> Iterator[ExecutionReader]:
        """Reads of executions in parts (``ExecutionReader``), all from one snapshot of the
        history (one transaction; repeatable read on PostgreSQL)."""
        with self._transaction("reading test executions", snapshot=True) as conn, gc_paused():
            yield ExecutionReader(conn, service)

    def prune(
        self,
        before: datetime,
        *,
        branch: str,
        keep_newest: int,
        benchmark_window: int,
        dry_run: bool = False,
        batch_results: int = 20_000,
        progress: Callable[[int, int], None] | None = None,
    ) -> model.PruneOutcome:
        """Delete the runs that happened before ``before`` with everything stored with them,
        but those the gate reads as baselines on ``branch`` (the default branch; ``retention``:
        the newest ``keep_newest`` runs of each service, the newest passing gate decision, the
        runs of each benchmark's newest ``benchmark_window`` results).

        Deleted in short transactions of about ``batch_results`` results each, oldest first,
        so that writers (ingest, the gate, the service) wait at most one batch; a prune that
        stops midway leaves whole runs and can be run again. ``dry_run``: count, delete nothing.
        """
        with self._transaction("planning what to prune") as conn:
            older = retention.older_runs(conn, before)
            kept = (
                retention.kept_for_the_gate(conn, branch, keep_newest, benchmark_window)
                if older
                else set()
            )
            doomed = [(pk, tests) for pk, tests in older if pk not in kept]
            results = retention.count_results(conn, [pk for pk, _ in doomed])
        outcome = model.PruneOutcome(
            before=before, runs=len(doomed), results=results, kept=len(older) - len(doomed),
            dry_run=dry_run,
        )  # fmt: skip
        if dry_run:
            return outcome
        done = 0
        while done < len(doomed):
            batch: list[int] = []
            size = 0
            while done + len(batch) < len(doomed) and (not batch or size < batch_results):
                pk, tests = doomed[done + len(batch)]
                batch.append(pk)
                size += tests + 1
            with self._transaction(f"deleting {len(batch)} old run(s)", write=True) as conn:
                retention.delete_runs(conn, batch)
            done += len(batch)
            if progress:
                progress(done, len(doomed))
        return outcome

    def first_seen(self, service: str) -> dict[str, datetime]:
        """test_id -> when the test first appeared (the time of the earliest run naming it)."""
        query = select(TESTS.c.test_id, TESTS.c.first_seen).where(TESTS.c.service == service)
        with self._transaction("reading tests") as conn:
            out: dict[str, datetime] = {}
            for test_id, seen in conn.execute(query):
                stamp = codec.from_db_time(seen)
                assert stamp is not None
                out[test_id] = stamp
            return out

    def coverage(self, run_pk: int) -> list[model.CoverageReport]:
        """A run's coverage reports, files and packages in the order they were stored."""
        with self._transaction("reading coverage") as conn:
            reports = conn.execute(
                select(COVERAGE_REPORTS)
                .where(COVERAGE_REPORTS.c.run_fk == run_pk)
                .order_by(COVERAGE_REPORTS.c.id)
            ).all()
            if not reports:
                return []
            pks = [r.id for r in reports]
            files: dict[int, list[model.FileCoverage]] = {pk: [] for pk in pks}
            packages: dict[int, list[model.PackageCoverage]] = {pk: [] for pk in pks}
            for row in conn.execute(
                select(COVERAGE_FILES)
                .where(COVERAGE_FILES.c.report_fk.in_(pks))
                .order_by(COVERAGE_FILES.c.id)
            ):
                files[row.report_fk].append(
                    model.FileCoverage(
                        path=row.path,
                        package=row.package,
                        lines_valid=row.lines_valid,
                        lines_covered=row.lines_covered,
                        branches_valid=row.branches_valid,
                        branches_covered=row.branches_covered,
                        covered_lines=codec.decode_lines(row.covered_lines),
                        missed_lines=codec.decode_lines(row.missed_lines),
                    )
                )
            for row in conn.execute(
                select(COVERAGE_PACKAGES)
                .where(COVERAGE_PACKAGES.c.report_fk.in_(pks))
                .order_by(COVERAGE_PACKAGES.c.id)
            ):
                packages[row.report_fk].append(_package(row))
        return [
            model.CoverageReport(
                producer=r.producer,
                sources=codec.load_json_strings(r.sources),
                files=tuple(files[r.id]),
                packages=tuple(packages[r.id]),
                total=model.PackageCoverage(
                    name=r.total_name,
                    lines_valid=r.lines_valid,
                    lines_covered=r.lines_covered,
                    branches_valid=r.branches_valid,
                    branches_covered=r.branches_covered,
                ),
                declared_line_rate=r.declared_line_rate,
            )
            for r in reports
        ]

    def benchmarks(self, run_pk: int) -> list[model.BenchmarkResult]:
        """A run's benchmark results in the order they were stored."""
        query = select(BENCHMARKS).where(BENCHMARKS.c.run_fk == run_pk).order_by(BENCHMARKS.c.id)
        with self._transaction("reading benchmarks") as conn:
            return [_benchmark(row) for row in conn.execute(query)]

    def benchmark_history(
        self,
        service: str,
        name: str,
        *,
        branch: str | None = None,
        limit: int = 30,
        group: str | None = None,
    ) -> list[tuple[model.StoredRun, model.BenchmarkResult]]:
        """The last ``limit`` results of one benchmark in one service, newest first."""
        query = (
            select(RUNS, *_prefixed(BENCHMARKS))
            .join(BENCHMARKS, BENCHMARKS.c.run_fk == RUNS.c.id)
            .where(RUNS.c.service == service, BENCHMARKS.c.name == name)
        )
        if branch is not None:
            query = query.where(RUNS.c.branch == branch)
        if group is not None:
            query = query.where(BENCHMARKS.c.bench_group == group)
        query = query.order_by(RUNS.c.effective_at.desc(), RUNS.c.id.desc(), BENCHMARKS.c.id).limit(
            limit
        )
        with self._transaction("reading a benchmark's history") as conn:
            out = []
            for row in conn.execute(query):
                bench = {c.name: row._mapping[f"b_{c.name}"] for c in BENCHMARKS.columns}
                out.append((_stored_run(row), _benchmark(bench)))
            return out

    # -- the gate's decisions and baselines (schema version 3) -------------------------------

    def save_decision(
        self,
        service: str,
        run_id: str,
        attempt: int,
        *,
        passed: bool,
        decided_at: datetime,
        document: str,
        coverage: Sequence[model.CoverageFigure],
        base_ref: str | None = None,
        failures: int | None = None,
    ) -> None:
        """Store the gate's decision on a stored run; a later one on the same run replaces it.

        ``document`` is the decision as JSON (what ``gate --format json`` prints), kept as
        given. ``failures`` (the number of reasons the gate failed) defaults to the length of
        the document's ``failures`` list. The decision and its coverage figures are replaced
        whole, in one transaction: after an error the earlier decision is still there.
        Raises StoreError when the run is not in the history.
        """
        where = self._target.where
        doing = f"saving the gate's decision on run {run_id} attempt {attempt} of {service}"
        count = _failure_count(document, failures, f"{where}: {doing}")
        twice = sorted(s for s, n in Counter(c.subject for c in coverage).items() if n > 1)
        if twice:
            raise StoreError(
                f"{where}: {doing}: the coverage figures name {twice[0]!r} more than once",
                hint=NOTHING_STORED,
            )
        figures = [
            {
                "subject": codec.clean_text(c.subject),
                "lines_valid": c.lines_valid,
                "lines_covered": c.lines_covered,
                "branches_valid": c.branches_valid,
                "branches_covered": c.branches_covered,
            }
            for c in coverage
        ]
        find_run = select(RUNS.c.id).where(
            RUNS.c.service == service, RUNS.c.run_id == run_id, RUNS.c.attempt == attempt
        )
        try:
            with self._transaction(doing, write=True) as conn:
                run_pk = conn.execute(find_run).scalar()
                if run_pk is None:
                    raise StoreError(
                        f"{where}: cannot store the gate's decision: run {run_id} attempt "
                        f"{attempt} of {service} is not in the history",
                        hint="store the run first (gatekeeper ingest), then decide on it",
                    )
                # An upsert, not delete-then-insert: two gates deciding the same run at once then
                # queue on its row instead of one failing on the unique key.
                decision_pk = conn.execute(
                    _decision_upsert(conn.dialect.name),
                    {
                        "run_fk": run_pk,
                        "passed": passed,
                        "decided_at": codec.to_db_time(decided_at),
                        "base_ref": codec.clean_text(base_ref),
                        "failures": count,
                        "document": codec.clean_text(document),
                    },
                ).scalar_one()
                conn.execute(
                    delete(GATE_COVERAGE).where(GATE_COVERAGE.c.decision_fk == decision_pk)
                )
                if figures:
                    conn.execute(
                        insert(GATE_COVERAGE), [{"decision_fk": decision_pk, **f} for f in figures]
                    )
        except (ValueError, OverflowError) as err:  # a count the database cannot hold
            raise StoreError(f"{where}: {doing}: {err}", hint=NOTHING_STORED) from err

    def last_passing_coverage(
        self, service: str, branch: str, *, exclude: RunKey | None = None
    ) -> dict[str, tuple[float, str]]:
        """subject -> (line rate as a fraction, run id) of the coverage ratchet's baseline.

        The baseline is the newest run (by run time, then storage order) of ``service`` on
        ``branch`` whose stored gate decision passed, other than the run ``exclude`` (service,
        run id, attempt); subjects without coverable lines are left out. ``{}`` when there is
        no such run.
        """
        newest = (
            select(GATE_DECISIONS.c.id, RUNS.c.run_id)
            .select_from(RUNS.join(GATE_DECISIONS, GATE_DECISIONS.c.run_fk == RUNS.c.id))
            .where(
                RUNS.c.service == service,
                RUNS.c.branch == branch,
                GATE_DECISIONS.c.passed == true(),
            )
            .order_by(RUNS.c.effective_at.desc(), RUNS.c.id.desc())
            .limit(1)
        )
        figures = select(
            GATE_COVERAGE.c.subject, GATE_COVERAGE.c.lines_valid, GATE_COVERAGE.c.lines_covered
        ).where(GATE_COVERAGE.c.decision_fk == bindparam("pk"), GATE_COVERAGE.c.lines_valid > 0)
        with self._transaction("reading the last passing coverage") as conn:
            found = conn.execute(_excluding(newest, exclude)).first()
            if found is None:
                return {}
            decision_pk, found_run_id = found
            return {
                subject: (covered / valid, found_run_id)
                for subject, valid, covered in conn.execute(figures, {"pk": decision_pk})
            }

    def recent_test_counts(
        self, service: str, branch: str, *, limit: int, exclude: RunKey | None = None
    ) -> list[int]:
        """For each of the newest ``limit`` runs of ``service`` on ``branch`` (other than
        ``exclude``), newest first: how many distinct tests have a result in it (0 for none).

        One statement: the runs are picked first, then each one's results are counted through
        the ``results (run_fk)`` index, so the size of the rest of the history does not matter.
        """
        if limit <= 0:
            return []
        newest = (
            _excluding(
                select(RUNS.c.id, RUNS.c.effective_at).where(
                    RUNS.c.service == service, RUNS.c.branch == branch
                ),
                exclude,
            )
            .order_by(RUNS.c.effective_at.desc(), RUNS.c.id.desc())
            .limit(limit)
            .subquery("newest")
        )
        tests = (
            select(func.count(RESULTS.c.test_fk.distinct()))
            .where(RESULTS.c.run_fk == newest.c.id)
            .scalar_subquery()
        )
        query = select(newest.c.id, tests).order_by(
            newest.c.effective_at.desc(), newest.c.id.desc()
        )
        with self._transaction("counting the tests of recent runs") as conn:
            return [int(n) for _, n in conn.execute(query)]

    def benchmark_baselines(
        self,
        service: str,
        branch: str,
        *,
        window: int,
        exclude: RunKey | None = None,
        names: Collection[tuple[str, str]] | None = None,
    ) -> dict[tuple[str, str], list[model.BenchmarkResult]]:
        """(group, name) -> up to ``window`` newest results of that benchmark in the runs of
        ``service`` on ``branch`` (other than ``exclude``), newest first; keys sorted.

        ``names`` limits the answer to those (group, name) keys. One statement: a window
        function numbers each benchmark's results newest first, and only the first ``window``
        of each come back.
        """
        found = self.benchmark_baseline_runs(
            service, branch, window=window, exclude=exclude, names=names
        )
        return {key: [r for _, r in results] for key, results in found.items()}

    def benchmark_baseline_runs(
        self,
        service: str,
        branch: str,
        *,
        window: int,
        exclude: RunKey | None = None,
        names: Collection[tuple[str, str]] | None = None,
    ) -> dict[tuple[str, str], list[tuple[int, model.BenchmarkResult]]]:
        """:meth:`benchmark_baselines`, each result with the key of the run it belongs to (so
        that a run whose benchmarks all moved together can be told apart)."""
        wanted = None if names is None else set(names)
        if window <= 0 or wanted == set():
            return {}
        newest_first = (RUNS.c.effective_at.desc(), RUNS.c.id.desc(), BENCHMARKS.c.id)
        rank = (
            func.row_number()
            .over(partition_by=(BENCHMARKS.c.bench_group, BENCHMARKS.c.name), order_by=newest_first)
            .label("rank")
        )
        ranked = _excluding(
            select(*BENCHMARKS.columns, rank)
            .select_from(BENCHMARKS.join(RUNS, RUNS.c.id == BENCHMARKS.c.run_fk))
            .where(RUNS.c.service == service, RUNS.c.branch == branch),
            exclude,
        )
        if wanted is not None:
            # By name only, which the (name, run_fk) index serves; groups are checked below.
            ranked = ranked.where(BENCHMARKS.c.name.in_(sorted({n for _, n in wanted})))
        inner = ranked.subquery("ranked")
        query = select(inner).where(inner.c.rank <= window).order_by(inner.c.rank)
        out: dict[tuple[str, str], list[tuple[int, model.BenchmarkResult]]] = {}
        with self._transaction("reading benchmark baselines") as conn:
            for row in conn.execute(query):
                key = (row.bench_group, row.name)
                if wanted is None or key in wanted:
                    out.setdefault(key, []).append((int(row.run_fk), _benchmark(row)))
        # Sorted here: PostgreSQL would order text by its collation, SQLite by bytes.
        return {key: out[key] for key in sorted(out)}

    def decisions(
        self,
        service: str | None = None,
        *,
        since: datetime | None = None,
        branch: str | None = None,
        limit: int | None = None,
    ) -> list[tuple[model.StoredRun, bool, str]]:
        """(run, passed, document) of the stored gate decisions, oldest run first.

        ``since`` compares with the run's time (its timestamp, else its ingest time), as
        :meth:`runs` does; ``limit`` keeps the first (oldest) ``limit`` of them.
        """
        query = select(
            RUNS,
            GATE_DECISIONS.c.passed.label("decision_passed"),
            GATE_DECISIONS.c.document.label("decision_document"),
        ).join(GATE_DECISIONS, GATE_DECISIONS.c.run_fk == RUNS.c.id)
        if service is not None:
            query = query.where(RUNS.c.service == service)
        query = _run_filters(query, branch=branch, since=since)
        query = query.order_by(RUNS.c.effective_at, RUNS.c.id)
        if limit is not None:
            query = query.limit(max(limit, 0))
        with self._transaction("reading gate decisions") as conn:
            return [
                (_stored_run(row), bool(row.decision_passed), row.decision_document)
                for row in conn.execute(query)
            ]


# ---------------------------------------------------------------------------------------------
# Row <-> model helpers
# ---------------------------------------------------------------------------------------------


def _key(meta: model.RunMeta) -> RunKey:
    return (meta.service, meta.run_id, meta.attempt)


def _sources_of(run: model.Run) -> list[tuple[str, str]]:
    return [(s.path, s.sha256) for s in run.sources]


def _same_sources(run: model.Run, other: list[tuple[str, str]], how: str) -> None:
    """Raise RunConflictError unless ``run`` comes from the same report files (by content)
    as ``other``, the files its key is ``how`` ("already stored", ...) from."""
    if {s.sha256 for s in run.sources} == {sha for _, sha in other}:
        return
    m = run.meta
    raise RunConflictError(
        f"{m.service} run {m.run_id} attempt {m.attempt}: {how} from other report files "
        f"({_files_text(other)}; given now: {_files_text(_sources_of(run))}); a run is stored "
        "once, from all of its reports, and nothing was stored now",
        hint="ingest all of a job's reports in one call, or give each job its own --run-id",
    )


def _files_text(files: list[tuple[str, str]]) -> str:
    """Report files for a message: path and the start of the SHA-256 of each, a few at most."""
    if not files:
        return "no report file"
    shown = [f"{path} (sha256 {sha[:12]})" for path, sha in sorted(files)[:3]]
    more = f" and {len(files) - 3} more" if len(files) > 3 else ""
    return ", ".join(shown) + more


def _effective_at(meta: model.RunMeta, now: datetime) -> datetime:
    stamp = codec.to_db_time(meta.timestamp)
    return now if stamp is None else stamp


def _excluding(query: Select[Any], exclude: RunKey | None) -> Select[Any]:
    """``query`` over runs without the run ``exclude`` (service, run id, attempt)."""
    if exclude is None:
        return query
    service, run_id, attempt = exclude
    return query.where(
        not_(and_(RUNS.c.service == service, RUNS.c.run_id == run_id, RUNS.c.attempt == attempt))
    )


@cache
def _decision_upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (run_fk) DO UPDATE for the dialect, built once; the PostgreSQL
    dialect is imported only by PostgreSQL users."""
    stmt: Any
    if dialect == "sqlite":
        stmt = sqlite.insert(GATE_DECISIONS)
    else:
        from sqlalchemy.dialects import postgresql

        stmt = postgresql.insert(GATE_DECISIONS)
    replaced = ("passed", "decided_at", "base_ref", "failures", "document")
    return stmt.on_conflict_do_update(
        index_elements=["run_fk"], set_={c: stmt.excluded[c] for c in replaced}
    ).returning(GATE_DECISIONS.c.id)


def _failure_count(document: str, failures: int | None, what: str) -> int:
    """``failures`` if given, else the length of the decision document's ``failures`` list."""
    try:
        parsed = json.loads(document)
    except ValueError as err:
        raise StoreError(
            f"{what}: the decision document is not JSON ({err})", hint=NOTHING_STORED
        ) from err
    if failures is not None:
        if failures < 0:
            raise StoreError(f"{what}: failures is {failures}, not a count", hint=NOTHING_STORED)
        return failures
    listed = parsed.get("failures") if isinstance(parsed, dict) else None
    return len(listed) if isinstance(listed, list) else 0


_COUNT_COLUMNS = ("lines_valid", "lines_covered", "branches_valid", "branches_covered")
_RESULT_COLUMNS = (
    "run_fk", "test_fk", "retry", "outcome", "duration", "message", "failure_kind", "line",
)  # fmt: skip
_BENCHMARK_COLUMNS = (
    "run_fk", "name", "bench_group", "value", "unit", "statistic", "direction", "spread",
    "spread_kind", "lower", "upper", "samples", "iterations",
)  # fmt: skip
_INF = float("inf")


def _result_rows(
    run_pk: int, run: model.Run, test_pks: dict[str, dict[str, int]]
) -> list[tuple[Any, ...]]:
    # The hot loop of a 100k-test ingest: locals and inline checks, no per-row calls for the
    # common case (no message, a finite duration).
    pks = test_pks[run.meta.service]
    codes = codec.OUTCOME_CODES
    clean = codec.clean_text
    inf = _INF
    rows = [
        (
            run_pk,
            pks[r.test_id],
            r.retry,
            codes[r.outcome],
            d if (d := r.duration) is None or -inf < d < inf else None,  # NaN fails both
            None if (m := r.message) is None else clean(m),
            None if (k := r.failure_kind) is None else clean(k),
            r.line,
        )
        for r in run.tests
    ]
    # By test pk (stable, so a test's attempts keep their order): the (test_fk, run_fk) index
    # then fills front to back, much faster than in report order.
    rows.sort(key=_by_test)
    return rows


_by_test = itemgetter(1)


def _result_order(r: model.TestResult) -> tuple[str, int]:
    return (r.test_id, r.retry)


def _benchmark_row(run_pk: int, b: model.BenchmarkResult) -> tuple[Any, ...]:
    return (
        run_pk,
        b.name,
        b.group,
        b.value,
        b.unit,
        b.statistic,
        model.Direction(b.direction).value,
        codec.finite(b.spread),
        None if b.spread_kind is None else model.SpreadKind(b.spread_kind).value,
        codec.finite(b.lower),
        codec.finite(b.upper),
        codec.dump_json(list(b.samples)) if b.samples else None,
        b.iterations,
    )


def _prefixed(table: Table) -> list[Any]:
    return [c.label(f"b_{c.name}") for c in table.columns]


def _stored_run(row: AnyRow) -> model.StoredRun:
    m = row._mapping
    ingested = codec.from_db_time(m["ingested_at"])
    assert ingested is not None
    return model.StoredRun(
        pk=m["id"],
        meta=codec.run_meta(m),
        counts=codec.run_counts(m),
        ingested_at=ingested,
        warnings=codec.load_json_strings(m["warnings"]),
    )


def _package(row: AnyRow) -> model.PackageCoverage:
    return model.PackageCoverage(
        name=row.name,
        lines_valid=row.lines_valid,
        lines_covered=row.lines_covered,
        branches_valid=row.branches_valid,
        branches_covered=row.branches_covered,
    )


def _benchmark(row: AnyRow | dict[str, Any]) -> model.BenchmarkResult:
    return codec.benchmark(row if isinstance(row, dict) else row._mapping)


def _executions_query(
    *, service: str | None, branch: str | None, since: datetime | None
) -> Select[Any]:
    query = (
        select(
            TESTS.c.service,
            TESTS.c.test_id,
            RESULTS.c.run_fk,
            RESULTS.c.outcome,
            RESULTS.c.retry,
            RESULTS.c.duration,
            RESULTS.c.message,
        )
        .select_from(TESTS)
        .join(RESULTS, RESULTS.c.test_fk == TESTS.c.id)
        .join(RUNS, RUNS.c.id == RESULTS.c.run_fk)
    )
    if service is not None:
        query = query.where(TESTS.c.service == service)
    return _run_filters(query, branch=branch, since=since).order_by(
        TESTS.c.service,
        TESTS.c.test_id,
        RUNS.c.effective_at,
        RUNS.c.id,
        RESULTS.c.retry,
        RESULTS.c.id,
    )


_SCAN_BATCH = 5000
_RunPrefix = tuple[int, str, int, str | None, str | None, datetime | None]


def _scan_executions(
    conn: Connection, runs: dict[int, _RunPrefix], service: str | None
) -> list[model.TestExecution]:
    """Every result row of ``runs`` (and of ``service``'s tests), joined in memory.

    The hot loop of every classify (600,000 rows for a big history): a cursor of the driver's
    own, plain tuples, one dictionary lookup for the run and one for the test per row.
    """
    tests_query = select(TESTS.c.id, TESTS.c.service, TESTS.c.test_id)
    stmt = select(
        RESULTS.c.test_fk, RESULTS.c.run_fk, RESULTS.c.outcome, RESULTS.c.retry,
        RESULTS.c.duration, RESULTS.c.message,
    )  # fmt: skip
    if service is not None:
        tests_query = tests_query.where(TESTS.c.service == service)
        stmt = stmt.where(
            RESULTS.c.test_fk.in_(select(TESTS.c.id).where(TESTS.c.service == service))
        )
    tests = {pk: (svc, test_id) for pk, svc, test_id in conn.execute(tests_query)}
    compiled = stmt.compile(dialect=conn.dialect)
    params = compiled.params  # text only: no bind processing needed
    args = tuple(params[n] for n in compiled.positiontup or ()) if compiled.positional else params
    raw = conn.connection.driver_connection  # inside the transaction SQLAlchemy began
    assert raw is not None
    # PostgreSQL: a server-side cursor, so that the rows stream instead of arriving at once
    cursor = raw.cursor("gatekeeper_executions") if conn.dialect.name != "sqlite" else raw.cursor()
    execution: Callable[..., model.TestExecution] = model.TestExecution  # spliced tuples
    outcomes = _OUTCOMES
    out: list[model.TestExecution] = []
    try:
        cursor.execute(str(compiled), args)
        while batch := cursor.fetchmany(_SCAN_BATCH):
            out += [
                execution(*test, *run, outcomes[outcome], retry, duration, message)
                for test_fk, run_fk, outcome, retry, duration, message in batch
                if (run := runs.get(run_fk)) is not None and (test := tests.get(test_fk))
            ]
    finally:
        cursor.close()
    return out


def _run_filters(query: Select[Any], *, branch: str | None, since: datetime | None) -> Select[Any]:
    if branch is not None:
        query = query.where(RUNS.c.branch == branch)
    if since is not None:
        query = query.where(RUNS.c.effective_at >= codec.to_db_time(since))
    return query


_OUTCOMES = codec.OUTCOMES_BY_CODE


class _RunInfo:
    """The run columns of executions, read once per run rather than once per result row."""

    def __init__(
        self,
        conn: Connection,
        *,
        service: str | None = None,
        branch: str | None = None,
        since: datetime | None = None,
    ) -> None:
        self._conn = conn
        self._runs: dict[int, tuple[str, int, str | None, str | None, datetime | None]] = {}
        query = _run_filters(self._query(), branch=branch, since=since)
        if service is not None:
            query = query.where(RUNS.c.service == service)
        self._load(query)

    @staticmethod
    def _query() -> Select[Any]:
        return select(
            RUNS.c.id, RUNS.c.run_id, RUNS.c.attempt, RUNS.c.commit_sha, RUNS.c.branch,
            RUNS.c.run_at,
        )  # fmt: skip

    def _load(self, query: Select[Any]) -> None:
        for pk, run_id, attempt, commit, branch, run_at in self._conn.execute(query):
            self._runs[pk] = (run_id, attempt, commit, branch, codec.from_db_time(run_at))

    def prefixes(self) -> dict[int, _RunPrefix]:
        """run pk -> (pk, run_id, attempt, commit, branch, time): the run's part of an
        execution, ready to splice."""
        return {pk: (pk, *run) for pk, run in self._runs.items()}

    def execution(self, row: AnyRow) -> model.TestExecution:
        service, test_id, run_pk, outcome, retry, duration, message = row
        run = self._runs.get(run_pk)
        if run is None:  # committed after the preload (PostgreSQL reads committed rows)
            self._load(self._query().where(RUNS.c.id == run_pk))
            run = self._runs[run_pk]
        # positional: (service, test_id, run_pk, run_id, attempt, commit, branch, timestamp,
        # outcome, retry, duration, message) -- the hot loop of every classify
        return model.TestExecution(
            service, test_id, run_pk, *run, _OUTCOMES[outcome], retry, duration, message
        )
