"""Retention: which old runs may go, and deleting them in short transactions (``prune``).

A run older than the cut is deleted with everything stored with it (results, report files,
coverage, benchmarks, gate decisions), unless the gate still reads it as a baseline. The gate's
baselines are on the default branch:

- the newest ``keep_newest`` runs of each service (the test-count check, and the coverage
  ratchet of a history the gate never decided on, look at the newest runs);
- the newest run of each service with a passing gate decision (the coverage ratchet);
- the runs holding the newest ``benchmark_window`` results of each benchmark of each service
  (the benchmark baselines).

Tests (the ``tests`` rows: names and when each was first seen) are kept: they are small, and a
test's first appearance stays what it was.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from gatekeeper.store import codec
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
)

_CHUNK = 500  # keys per IN (...)


def _newest(query: Select[Any], partition: Sequence[Any], limit: int) -> Select[Any]:
    """The run ids of ``query`` (which selects ``RUNS.c.id`` as ``run``) ranked newest first
    within each ``partition``, the first ``limit`` of each."""
    rank = (
        func.row_number()
        .over(partition_by=partition, order_by=(RUNS.c.effective_at.desc(), RUNS.c.id.desc()))
        .label("rank")
    )
    ranked = query.add_columns(rank).subquery("ranked")
    return select(ranked.c.run).where(ranked.c.rank <= limit)


def kept_for_the_gate(
    conn: Connection, branch: str, keep_newest: int, benchmark_window: int
) -> set[int]:
    """The ids of the runs the gate reads as baselines, however old (see the module)."""
    per_service = (RUNS.c.service,)
    runs = select(RUNS.c.id.label("run")).where(RUNS.c.branch == branch)
    passing = (
        select(RUNS.c.id.label("run"))
        .select_from(RUNS.join(GATE_DECISIONS, GATE_DECISIONS.c.run_fk == RUNS.c.id))
        .where(GATE_DECISIONS.c.passed.is_(True), RUNS.c.branch == branch)
    )
    benchmarks = (
        select(RUNS.c.id.label("run"))
        .select_from(RUNS.join(BENCHMARKS, BENCHMARKS.c.run_fk == RUNS.c.id))
        .where(RUNS.c.branch == branch)
    )
    kept: set[int] = set()
    for query in (
        _newest(runs, per_service, keep_newest),
        _newest(passing, per_service, 1),
        _newest(benchmarks, (*per_service, BENCHMARKS.c.bench_group, BENCHMARKS.c.name),
                benchmark_window),
    ):  # fmt: skip
        kept.update(pk for (pk,) in conn.execute(query))
    return kept


def older_runs(conn: Connection, before: datetime) -> list[tuple[int, int]]:
    """(id, tests) of the runs that happened before ``before``, oldest first."""
    query = (
        select(RUNS.c.id, RUNS.c.tests)
        .where(RUNS.c.effective_at < codec.to_db_time(before))
        .order_by(RUNS.c.effective_at, RUNS.c.id)
    )
    return [(pk, int(tests)) for pk, tests in conn.execute(query)]


def count_results(conn: Connection, run_pks: Sequence[int]) -> int:
    total = 0
    for chunk in _chunks(run_pks):
        query = select(func.count()).select_from(RESULTS).where(RESULTS.c.run_fk.in_(chunk))
        total += int(conn.execute(query).scalar_one())
    return total


def delete_runs(conn: Connection, run_pks: Sequence[int]) -> None:
    """Delete these runs and everything stored with them, children first (no reliance on
    ON DELETE CASCADE, which SQLite applies only with its foreign keys switched on)."""
    for chunk in _chunks(run_pks):
        decisions = select(GATE_DECISIONS.c.id).where(GATE_DECISIONS.c.run_fk.in_(chunk))
        reports = select(COVERAGE_REPORTS.c.id).where(COVERAGE_REPORTS.c.run_fk.in_(chunk))
        conn.execute(delete(GATE_COVERAGE).where(GATE_COVERAGE.c.decision_fk.in_(decisions)))
        conn.execute(delete(GATE_DECISIONS).where(GATE_DECISIONS.c.run_fk.in_(chunk)))
        conn.execute(delete(COVERAGE_FILES).where(COVERAGE_FILES.c.report_fk.in_(reports)))
        conn.execute(delete(COVERAGE_PACKAGES).where(COVERAGE_PACKAGES.c.report_fk.in_(reports)))
        conn.execute(delete(COVERAGE_REPORTS).where(COVERAGE_REPORTS.c.run_fk.in_(chunk)))
        conn.execute(delete(BENCHMARKS).where(BENCHMARKS.c.run_fk.in_(chunk)))
        conn.execute(delete(SOURCE_FILES).where(SOURCE_FILES.c.run_fk.in_(chunk)))
        conn.execute(delete(RESULTS).where(RESULTS.c.run_fk.in_(chunk)))
        conn.execute(delete(RUNS).where(RUNS.c.id.in_(chunk)))


def _chunks(pks: Sequence[int]) -> Iterator[list[int]]:
    for i in range(0, len(pks), _CHUNK):
        yield list(pks[i : i + _CHUNK])
