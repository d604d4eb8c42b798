"""Read-only queries for the weekly report: aggregates over runs, results, coverage, benchmarks
and gate decisions. Mixed into HistoryStore; rows never leave the store."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from gatekeeper import model
from gatekeeper.store import codec
from gatekeeper.store.tables import (
    BENCHMARKS,
    COVERAGE_REPORTS,
    GATE_COVERAGE,
    GATE_DECISIONS,
    RESULTS,
    RUNS,
    TESTS,
)

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.engine import Connection

_FAILING = (
    codec.OUTCOME_CODES[model.Outcome.FAILED],
    codec.OUTCOME_CODES[model.Outcome.ERROR],
)
_SKIPPED = codec.OUTCOME_CODES[model.Outcome.SKIPPED]


class ReportQueries:
    """The report's queries (HistoryStore provides ``_transaction``).

    Each takes the period as ``since <= run time < until`` (the run's timestamp, else its
    ingest time: the ``effective_at`` column, indexed) and optionally one service, and runs a
    fixed number of statements whatever the number of runs.
    """

    if TYPE_CHECKING:

        def _transaction(
            self, doing: str, *, write: bool = False
        ) -> AbstractContextManager[Connection]: ...

    def report_runs(
        self, *, since: datetime, until: datetime, service: str | None = None
    ) -> list[model.ReportRun]:
        """The run attempts of the period, oldest first, each with its stored counts and its
        test time (the sum of its executions' durations, summed in SQL per run)."""
        test_time = (
            select(func.coalesce(func.sum(RESULTS.c.duration), 0.0))
            .where(RESULTS.c.run_fk == RUNS.c.id)
            .scalar_subquery()
        )
        query = _in_period(select(RUNS, test_time.label("test_time")), since, until, service)
        query = query.order_by(RUNS.c.effective_at, RUNS.c.id)
        with self._transaction("reading the runs of the report's period") as conn:
            return [_report_run(row) for row in conn.execute(query)]

    def report_failures(
        self, *, since: datetime, until: datetime, service: str | None = None
    ) -> list[model.FailedExecution]:
        """Every failed or errored execution in the period's runs, with whether it is its
        test's last attempt in the run (no later retry of the same test in the same run).

        Ordered by run time, run, test id and retry. One statement; the "later retry" check
        goes through the ``results (test_fk, run_fk)`` index.
        """
        later = aliased(RESULTS, name="later")
        retried_later = exists().where(
            later.c.run_fk == RESULTS.c.run_fk,
            later.c.test_fk == RESULTS.c.test_fk,
            later.c.retry > RESULTS.c.retry,
        )
        query = (
            select(
                RESULTS.c.run_fk,
                TESTS.c.service,
                TESTS.c.test_id,
                RESULTS.c.retry,
                (~retried_later).label("final"),
                RESULTS.c.duration,
                RESULTS.c.message,
            )
            .select_from(
                RUNS.join(RESULTS, RESULTS.c.run_fk == RUNS.c.id).join(
                    TESTS, TESTS.c.id == RESULTS.c.test_fk
                )
            )
            .where(RESULTS.c.outcome.in_(_FAILING))
        )
        query = _in_period(query, since, until, service).order_by(
            RUNS.c.effective_at, RUNS.c.id, TESTS.c.test_id, RESULTS.c.retry, RESULTS.c.id
        )
        with self._transaction("reading the failures of the report's period") as conn:
            return [
                model.FailedExecution(
                    run_pk=run_pk,
                    service=svc,
                    test_id=test_id,
                    retry=retry,
                    final=bool(final),
                    duration=duration,
                    message=message,
                )
                for run_pk, svc, test_id, retry, final, duration, message in conn.execute(query)
            ]

    def report_execution_counts(
        self,
        tests: Iterable[tuple[str, str]],
        *,
        since: datetime,
        until: datetime,
        exclude_runs: Collection[int] = (),
    ) -> dict[tuple[str, str], int]:
        """(service, test id) -> executions of that test in the period (retries counted, skips
        not), for the tests asked for; runs whose key is in ``exclude_runs`` are left out.

        One statement whatever the number of tests: the period's results are counted per test
        in SQL, walking them once from the runs' time index (a filter on the tests asked for
        would make SQLite walk them once per chunk of tests), and the counts of the tests
        asked for are kept.
        """
        wanted = set(tests)
        counts: dict[tuple[str, str], int] = {}
        if not wanted:
            return counts
        per_test = select(RESULTS.c.test_fk, func.count().label("n")).select_from(
            RUNS.join(RESULTS, RESULTS.c.run_fk == RUNS.c.id)
        )
        per_test = _in_period(per_test.where(RESULTS.c.outcome != _SKIPPED), since, until, None)
        if exclude_runs:
            per_test = per_test.where(RUNS.c.id.not_in(sorted(exclude_runs)))
        agg = per_test.group_by(RESULTS.c.test_fk).subquery("per_test")
        query = select(TESTS.c.service, TESTS.c.test_id, agg.c.n).select_from(
            agg.join(TESTS, TESTS.c.id == agg.c.test_fk)
        )
        with self._transaction("counting the executions of failing tests") as conn:
            for svc, test_id, count in conn.execute(query):
                if (svc, test_id) in wanted:
                    counts[(svc, test_id)] = int(count)
        return counts

    def report_coverage(
        self, *, since: datetime, until: datetime, branch: str, service: str | None = None
    ) -> list[model.CoverageSample]:
        """Coverage of each run on ``branch`` in the period that has coverage, oldest first,
        plus each service's last such run before the period (the reference for a drop).

        A run the gate decided gives the gate's figure for its service (exclusions and the
        path mapping applied); any other run the sum of its Cobertura reports' totals.
        """
        totals = (
            select(
                COVERAGE_REPORTS.c.run_fk.label("run_fk"),
                func.sum(COVERAGE_REPORTS.c.lines_valid).label("lines_valid"),
                func.sum(COVERAGE_REPORTS.c.lines_covered).label("lines_covered"),
                func.sum(COVERAGE_REPORTS.c.branches_valid).label("branches_valid"),
                func.sum(COVERAGE_REPORTS.c.branches_covered).label("branches_covered"),
            )
            .group_by(COVERAGE_REPORTS.c.run_fk)
            .subquery("totals")
        )
        gate = (
            select(
                GATE_DECISIONS.c.run_fk.label("run_fk"),
                GATE_COVERAGE.c.subject,
                GATE_COVERAGE.c.lines_valid,
                GATE_COVERAGE.c.lines_covered,
                GATE_COVERAGE.c.branches_valid,
                GATE_COVERAGE.c.branches_covered,
            )
            .select_from(
                GATE_DECISIONS.join(
                    GATE_COVERAGE, GATE_COVERAGE.c.decision_fk == GATE_DECISIONS.c.id
                )
            )
            .subquery("gate")
        )
        columns = (
            RUNS.c.id, RUNS.c.service, RUNS.c.run_id, RUNS.c.attempt, RUNS.c.commit_sha,
            RUNS.c.branch, RUNS.c.effective_at,
            totals.c.lines_valid, totals.c.lines_covered, totals.c.branches_valid,
            totals.c.branches_covered,
            gate.c.lines_valid.label("g_lines_valid"),
            gate.c.lines_covered.label("g_lines_covered"),
            gate.c.branches_valid.label("g_branches_valid"),
            gate.c.branches_covered.label("g_branches_covered"),
        )  # fmt: skip
        joined = RUNS.join(totals, totals.c.run_fk == RUNS.c.id).outerjoin(
            gate, and_(gate.c.run_fk == RUNS.c.id, gate.c.subject == RUNS.c.service)
        )
        on_branch = select(*columns).select_from(joined).where(RUNS.c.branch == branch)
        if service is not None:
            on_branch = on_branch.where(RUNS.c.service == service)
        in_period = on_branch.where(
            RUNS.c.effective_at >= codec.to_db_time(since),
            RUNS.c.effective_at < codec.to_db_time(until),
        ).order_by(RUNS.c.effective_at, RUNS.c.id)
        rank = (
            func.row_number()
            .over(
                partition_by=RUNS.c.service, order_by=(RUNS.c.effective_at.desc(), RUNS.c.id.desc())
            )
            .label("rank")
        )
        earlier = (
            on_branch.add_columns(rank)
            .where(RUNS.c.effective_at < codec.to_db_time(since))
            .subquery("earlier")
        )
        before = select(earlier).where(earlier.c.rank == 1).order_by(earlier.c.effective_at)
        with self._transaction("reading coverage for the report") as conn:
            rows = [*conn.execute(before), *conn.execute(in_period)]
        return [_coverage_sample(row) for row in rows]

    def report_benchmarks(
        self,
        *,
        since: datetime,
        until: datetime,
        branch: str,
        lookback: int,
        service: str | None = None,
    ) -> list[model.BenchmarkSample]:
        """Benchmark results of the runs on ``branch``: every one in the period, and the last
        ``lookback`` of each benchmark before it (the history its first results are judged
        against). Oldest first (run time, run, storage order).

        Two statements: the period's results, and a window function numbering each
        benchmark's earlier results newest first.
        """
        columns = (
            RUNS.c.id.label("run_pk"), RUNS.c.service, RUNS.c.run_id, RUNS.c.attempt,
            RUNS.c.commit_sha, RUNS.c.branch, RUNS.c.effective_at, *BENCHMARKS.columns,
        )  # fmt: skip
        on_branch = (
            select(*columns)
            .select_from(BENCHMARKS.join(RUNS, RUNS.c.id == BENCHMARKS.c.run_fk))
            .where(RUNS.c.branch == branch)
        )
        if service is not None:
            on_branch = on_branch.where(RUNS.c.service == service)
        in_period = on_branch.where(
            RUNS.c.effective_at >= codec.to_db_time(since),
            RUNS.c.effective_at < codec.to_db_time(until),
        ).order_by(RUNS.c.effective_at, RUNS.c.id, BENCHMARKS.c.id)
        out: list[model.BenchmarkSample] = []
        with self._transaction("reading benchmarks for the report") as conn:
            if lookback > 0:
                rank = (
                    func.row_number()
                    .over(
                        partition_by=(RUNS.c.service, BENCHMARKS.c.bench_group, BENCHMARKS.c.name),
                        order_by=(RUNS.c.effective_at.desc(), RUNS.c.id.desc(), BENCHMARKS.c.id),
                    )
                    .label("rank")
                )
                earlier = (
                    on_branch.add_columns(rank)
                    .where(RUNS.c.effective_at < codec.to_db_time(since))
                    .subquery("earlier")
                )
                query = (
                    select(earlier)
                    .where(earlier.c.rank <= lookback)
                    .order_by(earlier.c.effective_at, earlier.c.run_pk, earlier.c.id)
                )
                out.extend(_benchmark_sample(row) for row in conn.execute(query))
            out.extend(_benchmark_sample(row) for row in conn.execute(in_period))
        return out

    def report_decisions(
        self, *, since: datetime, until: datetime, service: str | None = None
    ) -> list[model.StoredDecision]:
        """The gate decisions stored on the period's runs, oldest run first."""
        query = select(RUNS.c.id, GATE_DECISIONS.c.passed, GATE_DECISIONS.c.document).join(
            GATE_DECISIONS, GATE_DECISIONS.c.run_fk == RUNS.c.id
        )
        query = _in_period(query, since, until, service).order_by(RUNS.c.effective_at, RUNS.c.id)
        with self._transaction("reading the gate decisions of the report's period") as conn:
            return [
                model.StoredDecision(run_pk=row[0], passed=bool(row[1]), document=row[2])
                for row in conn.execute(query)
            ]


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _in_period(
    query: Select[Any], since: datetime, until: datetime, service: str | None
) -> Select[Any]:
    query = query.where(
        RUNS.c.effective_at >= codec.to_db_time(since),
        RUNS.c.effective_at < codec.to_db_time(until),
    )
    if service is not None:
        query = query.where(RUNS.c.service == service)
    return query


def _at(value: datetime) -> datetime:
    stamp = codec.from_db_time(value)
    assert stamp is not None
    return stamp


def _run_of(m: Any) -> dict[str, Any]:
    """The run a report row belongs to, as the fields every report sample has."""
    return {
        "service": m["service"],
        "run_id": m["run_id"],
        "attempt": m["attempt"],
        "commit": m["commit_sha"],
        "branch": m["branch"],
        "at": _at(m["effective_at"]),
    }


def _report_run(row: Any) -> model.ReportRun:
    m = row._mapping
    return model.ReportRun(
        pk=m["id"],
        **_run_of(m),
        counts=codec.run_counts(m),
        test_time=float(m["test_time"] or 0.0),
        url=m["url"],
    )


def _coverage_sample(row: Any) -> model.CoverageSample:
    m = row._mapping
    gated = m["g_lines_valid"] is not None
    prefix = "g_" if gated else ""
    return model.CoverageSample(
        run_pk=m["id"],
        **_run_of(m),
        lines_valid=int(m[prefix + "lines_valid"]),
        lines_covered=int(m[prefix + "lines_covered"]),
        branches_valid=int(m[prefix + "branches_valid"]),
        branches_covered=int(m[prefix + "branches_covered"]),
        source="gate" if gated else "reports",
    )


def _benchmark_sample(row: Any) -> model.BenchmarkSample:
    m = row._mapping
    return model.BenchmarkSample(
        run_pk=m["run_pk"],
        **_run_of(m),
        result=codec.benchmark(m),
    )
