"""Reads of test executions by run, in one snapshot: what ``classify`` reads of a long history.

``gatekeeper.api`` lists the runs (``runs``: a small table), picks those of each service's
window (``flaky.window``) and reads their executions (``of_runs``, through the ``results
(run_fk)`` index), so that no result outside the window is read (docs/capacity.md).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from gatekeeper import model
from gatekeeper.store import codec
from gatekeeper.store.tables import RESULTS, RUNS, TESTS

_CHUNK = 500  # keys per IN (...): far below every backend's limit of bound parameters
_FETCH = 5000
_OUTCOMES = codec.OUTCOMES_BY_CODE
_Prefix = tuple[int, str, int, str | None, str | None, Any]


class ExecutionReader:
    """Executions of one service's history (or all services'), read inside one transaction."""

    def __init__(self, conn: Connection, service: str | None) -> None:
        self._conn = conn
        query = select(
            RUNS.c.id, RUNS.c.service, RUNS.c.run_id, RUNS.c.attempt, RUNS.c.commit_sha,
            RUNS.c.branch, RUNS.c.run_at, RUNS.c.effective_at,
        )  # fmt: skip
        tests = select(TESTS.c.id, TESTS.c.service, TESTS.c.test_id)
        if service is not None:
            query = query.where(RUNS.c.service == service)
            tests = tests.where(TESTS.c.service == service)
        self._runs: list[model.RunPoint] = []
        self._prefixes: dict[int, _Prefix] = {}
        for pk, svc, run_id, attempt, commit, branch, run_at, effective in conn.execute(query):
            at = codec.from_db_time(run_at)
            self._prefixes[pk] = (pk, run_id, attempt, commit, branch, at)
            when = codec.from_db_time(effective)
            assert when is not None
            when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
            self._runs.append(model.RunPoint(pk, svc, run_id, attempt, commit, branch, at, when))
        self._runs.sort(key=lambda r: (r.effective_at, r.pk))
        self._tests = {pk: (svc, test_id) for pk, svc, test_id in conn.execute(tests)}

    def runs(self) -> list[model.RunPoint]:
        """Every run, oldest first (by time, then storage order)."""
        return list(self._runs)

    def of_runs(self, run_pks: Collection[int]) -> list[model.TestExecution]:
        """Every execution of these runs, in no particular order."""
        pks = sorted(run_pks)
        runs, tests = self._prefixes, self._tests
        execution: Callable[..., model.TestExecution] = model.TestExecution  # spliced tuples
        out: list[model.TestExecution] = []
        for i in range(0, len(pks), _CHUNK):
            stmt = select(
                RESULTS.c.test_fk, RESULTS.c.run_fk, RESULTS.c.outcome, RESULTS.c.retry,
                RESULTS.c.duration, RESULTS.c.message,
            ).where(RESULTS.c.run_fk.in_(pks[i : i + _CHUNK]))  # fmt: skip
            result = self._conn.execution_options(yield_per=_FETCH).execute(stmt)
            for rows in result.partitions():
                out += [
                    execution(*test, *runs[run_fk], _OUTCOMES[outcome], retry, duration, message)
                    for test_fk, run_fk, outcome, retry, duration, message in rows
                    if (test := tests.get(test_fk))
                ]
        return out
