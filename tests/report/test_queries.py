"""The report's store queries against the store's own per-run readers, on the sample history."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pytest

from gatekeeper.model import Outcome
from gatekeeper.store import HistoryStore

from .conftest import SINCE, UNTIL, History

EVERYTHING = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def store(history: History) -> HistoryStore:
    return history.gk.store


def test_runs_with_counts_and_test_time(store: HistoryStore) -> None:
    since, until = EVERYTHING
    runs = store.report_runs(since=since, until=until)
    stored = {r.pk: r for r in store.runs()}
    assert len(runs) == len(stored) == 96
    assert [r.at for r in runs] == sorted(r.at for r in runs)
    for r in runs:
        s = stored[r.pk]
        assert (r.service, r.run_id, r.attempt, r.commit, r.branch) == (
            s.meta.service, s.meta.run_id, s.meta.attempt, s.meta.commit, s.meta.branch,
        )  # fmt: skip
        assert r.counts == s.counts and r.at == s.meta.timestamp
        durations = [x.duration or 0.0 for x in store.run_results(r.pk)]
        assert r.test_time == pytest.approx(sum(durations))
    week = store.report_runs(since=SINCE, until=UNTIL, service="search-service")
    assert week and all(r.service == "search-service" and SINCE <= r.at < UNTIL for r in week)


def test_failures_and_which_are_final(store: HistoryStore) -> None:
    since, until = EVERYTHING
    got = {
        (f.run_pk, f.test_id, f.retry, f.final, f.message)
        for f in store.report_failures(since=since, until=until)
    }
    want = set()
    for run in store.runs():
        results = store.run_results(run.pk)
        last = defaultdict(int)
        for x in results:
            last[x.test_id] = max(last[x.test_id], x.retry)
        for x in results:
            if x.outcome.is_failure:
                want.add((run.pk, x.test_id, x.retry, x.retry == last[x.test_id], x.message))
    assert got == want
    finals = defaultdict(int)
    for run_pk, _, _, final, _ in got:
        finals[run_pk] += final
    for run in store.runs():
        assert finals[run.pk] == run.counts.failed + run.counts.errors


def test_execution_counts_leave_out_skips_and_excluded_runs(store: HistoryStore) -> None:
    runs = store.report_runs(since=SINCE, until=UNTIL)
    excluded = {runs[0].pk, runs[5].pk}
    wanted = {("search-service", "tests.test_api::test_suggest_endpoint"),
              ("messaging-service", "messaging_service::tests::test_throughput_soak"),
              ("user-service", "api::test_get_missing_user_returns_404"),
              ("user-service", "no such test")}  # fmt: skip
    got = store.report_execution_counts(wanted, since=SINCE, until=UNTIL, exclude_runs=excluded)
    want: dict[tuple[str, str], int] = defaultdict(int)
    for r in runs:
        if r.pk in excluded:
            continue
        for x in store.run_results(r.pk):
            if (r.service, x.test_id) in wanted and x.outcome is not Outcome.SKIPPED:
                want[(r.service, x.test_id)] += 1
    assert got == dict(want)
    assert ("messaging-service", "messaging_service::tests::test_throughput_soak") not in got


def test_coverage_per_run_and_the_reference_before(store: HistoryStore) -> None:
    samples = store.report_coverage(since=SINCE, until=UNTIL, branch="main")
    before = [s for s in samples if s.at < SINCE]
    current = [s for s in samples if s.at >= SINCE]
    assert sorted(s.service for s in before) == sorted(store.services())
    main_runs = [r for r in store.runs(branch="main") if SINCE <= r.meta.timestamp < UNTIL]
    assert {s.run_pk for s in current} == {r.pk for r in main_runs}
    for s in samples:
        reports = store.coverage(s.run_pk)
        assert s.lines_valid == sum(c.total.lines_valid for c in reports)
        assert s.lines_covered == sum(c.total.lines_covered for c in reports)
        assert s.branches_valid == sum(c.total.branches_valid for c in reports)
        assert s.source == "reports" and s.branch == "main"
    for service in store.services():
        (ref,) = [s for s in before if s.service == service]
        older = [r for r in store.runs(service=service, branch="main")
                 if r.meta.timestamp < SINCE]  # fmt: skip
        assert ref.run_pk == older[0].pk  # runs() is newest first


def test_benchmarks_in_the_period_and_a_lookback_before_it(store: HistoryStore) -> None:
    samples = store.report_benchmarks(since=SINCE, until=UNTIL, branch="main", lookback=5)
    current = [s for s in samples if s.at >= SINCE]
    main_runs = [r for r in store.runs(branch="main") if SINCE <= r.meta.timestamp < UNTIL]
    assert {s.run_pk for s in current} == {r.pk for r in main_runs}
    for r in main_runs:
        assert [s.result for s in current if s.run_pk == r.pk] == store.benchmarks(r.pk)
    earlier = defaultdict(list)
    for s in samples:
        if s.at < SINCE:
            earlier[(s.service, s.result.group, s.result.name)].append(s)
    assert earlier
    for (service, _group, name), items in earlier.items():
        newest = store.benchmark_history(service, name, branch="main", limit=200)
        before = [run.pk for run, _ in newest if run.meta.timestamp < SINCE][:5]
        assert [s.run_pk for s in reversed(items)] == before
    assert store.report_decisions(since=SINCE, until=UNTIL) == []
