"""Reads of test executions in parts (by run, by test, the failing tests), in one snapshot.

The classifier's input in pieces it can stream (``gatekeeper.api`` plans which pieces the
window needs; docs/capacity.md): the runs with the count of their executed tests (aggregated
in SQL, so that no old result row crosses into Python), every execution of the tests that ever
failed, and the executions of chosen runs or chosen tests.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import UTC
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from gatekeeper import model
from gatekeeper.store import codec
from gatekeeper.store.tables import RESULTS, RUNS, TESTS

_CHUNK = 500  # keys per IN (...): far below every backend's limit of bound parameters
_FETCH = 5000
_SKIPPED = codec.OUTCOME_CODES[model.Outcome.SKIPPED]
_FAILING = tuple(codec.OUTCOME_CODES[o] for o in model.Outcome if o.is_failure)
_OUTCOMES = codec.OUTCOMES_BY_CODE
_Prefix = tuple[int, str, int, str | None, str | None, Any]


class ExecutionReader:
    """Executions of one service's history (or all services'), read inside one transaction."""

    def __init__(self, conn: Connection, service: str | None) -> None:
        self._conn = conn
        self._service = service
        query = select(
            RUNS.c.id, RUNS.c.service, RUNS.c.run_id, RUNS.c.attempt, RUNS.c.commit_sha,
            RUNS.c.branch, RUNS.c.run_at, RUNS.c.effective_at,
        )  # fmt: skip
        tests = select(TESTS.c.id, TESTS.c.service, TESTS.c.test_id)
        if service is not None:
            query = query.where(RUNS.c.service == service)
            tests = tests.where(TESTS.c.service == service)
        self._runs: dict[int, tuple[str, _Prefix, Any]] = {}
        for pk, svc, run_id, attempt, commit, branch, run_at, effective in conn.execute(query):
            prefix = (pk, run_id, attempt, commit, branch, codec.from_db_time(run_at))
            self._runs[pk] = (svc, prefix, effective)
        self._prefixes = {pk: prefix for pk, (_s, prefix, _e) in self._runs.items()}
        self._tests = {pk: (svc, test_id) for pk, svc, test_id in conn.execute(tests)}
        self._test_pk = {key: pk for pk, key in self._tests.items()}

    def runs(self) -> list[model.RunPoint]:
        """Every run, with the number of its tests that ran (first executions not skipped;
        None when none of its executions ran), oldest first."""
        first = func.sum(case((RESULTS.c.retry == 0, 1), else_=0))
        query = (
            select(RESULTS.c.run_fk, first)
            .where(RESULTS.c.outcome != _SKIPPED)
            .group_by(RESULTS.c.run_fk)
        )
        if self._service is not None:
            query = query.where(RESULTS.c.run_fk.in_(_service_runs(self._service)))
        executed = {pk: int(n) for pk, n in self._conn.execute(query)}
        out = []
        for pk, (svc, prefix, effective) in self._runs.items():
            _pk, run_id, attempt, commit, branch, run_at = prefix
            at = codec.from_db_time(effective)
            assert at is not None
            out.append(
                model.RunPoint(
                    pk,
                    svc,
                    run_id,
                    attempt,
                    commit,
                    branch,
                    run_at,
                    at.replace(tzinfo=UTC) if at.tzinfo is None else at,
                    executed.get(pk),
                )
            )
        out.sort(key=lambda r: (r.effective_at, r.pk))
        return out

    def failing(self) -> list[model.TestExecution]:
        """Every execution of every test that failed (or erred) at least once."""
        query = select(RESULTS.c.test_fk).where(RESULTS.c.outcome.in_(_FAILING)).distinct()
        if self._service is not None:
            query = query.where(RESULTS.c.run_fk.in_(_service_runs(self._service)))
        pks = sorted(pk for (pk,) in self._conn.execute(query) if pk in self._tests)
        return self._of(RESULTS.c.test_fk, pks, ())

    def of_runs(
        self, run_pks: Collection[int], leave_out: Collection[tuple[str, str]] = ()
    ) -> list[model.TestExecution]:
        """The executions of these runs, but those of the tests ``leave_out`` (service, id)."""
        skip = {self._test_pk[k] for k in leave_out if k in self._test_pk}
        return self._of(RESULTS.c.run_fk, sorted(run_pks), skip)

    def of_tests(self, keys: Iterable[tuple[str, str]]) -> list[model.TestExecution]:
        """Every execution of these tests (service, test id)."""
        pks = sorted(self._test_pk[k] for k in keys if k in self._test_pk)
        return self._of(RESULTS.c.test_fk, pks, ())

    def tests(self, service: str) -> list[str]:
        """The ids of the service's tests, as stored."""
        return sorted(test_id for svc, test_id in self._tests.values() if svc == service)

    def _of(self, column: Any, pks: list[int], skip: Collection[int]) -> list[model.TestExecution]:
        """Result rows whose ``column`` is one of ``pks``, joined with their run and test in
        memory (rows of runs or tests outside the reader's snapshot are left out)."""
        runs = self._prefixes
        tests = self._tests
        execution: Callable[..., model.TestExecution] = model.TestExecution  # spliced tuples
        out: list[model.TestExecution] = []
        for i in range(0, len(pks), _CHUNK):
            stmt: Select[Any] = select(
                RESULTS.c.test_fk, RESULTS.c.run_fk, RESULTS.c.outcome, RESULTS.c.retry,
                RESULTS.c.duration, RESULTS.c.message,
            ).where(column.in_(pks[i : i + _CHUNK]))  # fmt: skip
            result = self._conn.execution_options(yield_per=_FETCH).execute(stmt)
            for rows in result.partitions():
                out += [
                    execution(*test, *run, _OUTCOMES[outcome], retry, duration, message)
                    for test_fk, run_fk, outcome, retry, duration, message in rows
                    if test_fk not in skip
                    and (run := runs.get(run_fk)) is not None
                    and (test := tests.get(test_fk))
                ]
        return out


def _service_runs(service: str) -> Select[Any]:
    return select(RUNS.c.id).where(RUNS.c.service == service)
