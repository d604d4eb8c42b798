"""Invariants of the report's arithmetic on generated histories (hypothesis)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatekeeper.model import (
    BurstRun,
    CIHealth,
    Classification,
    Evidence,
    FailedExecution,
    QuarantineEntry,
    Registry,
    ReportRun,
    RunCounts,
    RunHealth,
    TestVerdict,
    Verdict,
    WeeklyReport,
)
from gatekeeper.report import build_report
from gatekeeper.rules import GateConfig

SINCE = datetime(2026, 11, 14, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=7)
SERVICES = ("api", "web")
TESTS = ("t1", "t2", "t3", "t4")
F, P = "F", "P"
# One test's attempts in one run: passed, failed for good, failed then passed, ...
ATTEMPTS = st.sampled_from([(P,), (F,), (F, P), (F, F), (F, F, P), (F, F, F)])


@st.composite
def histories(draw: st.DrawFn) -> dict[str, object]:
    runs: list[ReportRun] = []
    failures: list[FailedExecution] = []
    attempts_of: dict[tuple[str, str], int] = {}
    for pk in range(1, draw(st.integers(0, 18)) + 1):
        service = draw(st.sampled_from(SERVICES))
        run_id = draw(st.sampled_from(["r1", "r2", "r3", "r4", "r5", "r6", "r7"]))
        attempt = attempts_of.get((service, run_id), 0) + 1
        attempts_of[(service, run_id)] = attempt
        tests = draw(st.dictionaries(st.sampled_from(TESTS), ATTEMPTS, max_size=len(TESTS)))
        final_failed = sum(1 for a in tests.values() if a[-1] == F)
        for test_id, outcomes in sorted(tests.items()):
            for retry, outcome in enumerate(outcomes):
                if outcome == F:
                    failures.append(
                        FailedExecution(
                            run_pk=pk, service=service, test_id=test_id, retry=retry,
                            final=retry == len(outcomes) - 1,
                            duration=draw(st.none() | st.floats(0, 100)),
                        )
                    )  # fmt: skip
        counts = RunCounts(
            tests=len(TESTS),
            passed=len(TESTS) - final_failed,
            failed=final_failed,
            retried=sum(1 for a in tests.values() if len(a) > 1),
            flaky=sum(1 for a in tests.values() if len(a) > 1 and a[-1] == P),
        )
        at = SINCE + timedelta(minutes=draw(st.integers(0, 7 * 24 * 60 - 1)))
        runs.append(
            ReportRun(
                pk=pk, service=service, run_id=run_id, attempt=attempt, commit=None,
                branch="main", at=at, counts=counts, test_time=draw(st.floats(0, 1000)),
            )
        )  # fmt: skip
    verdicts = tuple(
        TestVerdict(service=s, test_id=t, verdict=v, evidence=Evidence(verdict=v))
        for s in SERVICES
        for t in TESTS
        if (v := draw(st.none() | st.sampled_from(list(Verdict)))) is not None
    )
    red = [r for r in runs if r.red]
    burst_runs = draw(st.lists(st.sampled_from(red), unique_by=lambda r: r.pk)) if red else []
    bursts = tuple(
        BurstRun(service=r.service, run_id=r.run_id, attempt=r.attempt, commit=None,
                 timestamp=r.at, tests=4, failures=r.counts.failed, expected_share=0.01,
                 p_value=1e-9)
        for r in burst_runs
    )  # fmt: skip
    entries = tuple(
        QuarantineEntry(name=t, service=s, reason="r", quarantined=draw(st.booleans()))
        for s in SERVICES
        for t in TESTS
        if draw(st.booleans())
    )
    return {
        "runs": runs,
        "failures": failures,
        "classification": Classification(verdicts=verdicts, bursts=bursts),
        "registry": Registry(entries=entries),
    }


def _build(h: dict[str, object], service: str | None = None) -> WeeklyReport:
    return build_report(
        since=SINCE, until=UNTIL, executions={}, coverage=(), benchmarks=(), decisions=(),
        judgements={}, config=GateConfig(), today=date(2026, 11, 21), generated_at=UNTIL,
        service=service, **h,  # type: ignore[arg-type]
    )  # fmt: skip


COUNTS = [f.name for f in dataclasses.fields(CIHealth) if f.name not in ("service", "day")]


def _sum(items: list[CIHealth], name: str) -> float:
    return sum(getattr(h, name) for h in items)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_the_numbers_add_up(h: dict[str, object]) -> None:
    r = _build(h)
    t = r.total
    assert t.runs == t.green + t.red
    assert t.red == t.red_real + t.red_flaky + t.red_infrastructure
    assert t.red == len(r.red_runs)
    for name in COUNTS:
        per_service = _sum(list(r.health), name)
        per_day = _sum([d for d in r.daily if d.service == ""], name)
        got = getattr(t, name)
        if isinstance(got, float):
            assert abs(per_service - got) < 1e-6 and abs(per_day - got) < 1e-6, name
        else:
            assert per_service == got == per_day, name
    # The flakiest tests' time lost is the time the report says flaky tests cost.
    assert abs(sum(i.time_lost for i in r.flakiest) - t.time_lost) < 1e-6
    flakiest = {i.key for i in r.flakiest}
    others = {i.key for i in r.other_failures}
    broken = {(b.service, b.test_id) for b in r.broken}
    assert not (flakiest & others) and not (flakiest & broken) and not (others & broken)
    for i in (*r.flakiest, *r.other_failures):
        assert i.runs_failed == i.runs_turned_red + i.passed_on_retry
        assert i.runs_red_alone <= i.runs_turned_red
        assert i.failed_executions >= i.runs_failed > 0
        assert i.executions >= i.failed_executions


@settings(max_examples=100, deadline=None)
@given(histories())
def test_every_red_run_is_explained(h: dict[str, object]) -> None:
    r = _build(h)
    runs: list[ReportRun] = h["runs"]  # type: ignore[assignment]
    bursts = {(b.service, b.run_id, b.attempt) for b in r.bursts}
    by_key = {(x.service, x.run_id, x.attempt): x for x in r.red_runs}
    for run in runs:
        red = by_key.get(run.key)
        assert (red is not None) == run.red
        if red is None:
            continue
        assert len(red.failed_tests) == run.counts.failed
        if run.key in bursts:
            assert red.health is RunHealth.RED_INFRASTRUCTURE
        elif red.health is RunHealth.RED_FLAKY:
            assert set(red.flaky_tests) == set(red.failed_tests)
        else:
            assert red.health is RunHealth.RED_REAL
            assert set(red.flaky_tests) < set(red.failed_tests)


@settings(max_examples=60, deadline=None)
@given(histories(), st.sampled_from(SERVICES))
def test_one_service_is_its_slice_of_all(h: dict[str, object], service: str) -> None:
    everything = _build(h)
    one = _build(h, service)
    (mine,) = [x for x in everything.health if x.service == service] or [CIHealth(service)]
    assert dataclasses.replace(one.total, service=service) == mine
    assert one.red_runs == tuple(x for x in everything.red_runs if x.service == service)
    assert one.flakiest == tuple(i for i in everything.flakiest if i.service == service)
