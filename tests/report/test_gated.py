"""The report where the gate decided: its stored verdicts and coverage figures are used.

The demo's next push (sample_reports/next/, README "The next push") is gated on top of the
sample history, with the sample configuration; the report of its days must show what the
README says the gate found.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from gatekeeper.api import demo_next_push
from gatekeeper.model import BenchmarkVerdict, RunHealth, WeeklyReport

from . import readme as R
from .conftest import BROKEN_ID, build_history, make_report

NEXT = R.section("The next push: what `gatekeeper demo` gates", "##")
NEXT_RUN = re.search(r"^\| `run-31` \| (\d+) \| 1 \| main \|", NEXT, re.MULTILINE)
COVERAGE = re.search(r"Line coverage is \*\*([\d.]+)%\*\*", NEXT)
BENCH = re.search(r"Criterion `(\w+)` takes [^(]+\(\*\*\+(\d+)%\*\*\)", NEXT)


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeeklyReport]:
    history = build_history(tmp_path_factory.mktemp("gated-history"))
    try:
        push = demo_next_push()
        decision = history.gk.gate(
            [str(push.reports)],
            push.flags,
            config=push.config,
            registry_path=history.registry,
            registry_missing_ok=False,
            today=push.day,
        )
        assert not decision.passed  # README: the demo's gate fails
        yield make_report(
            history,
            since=datetime(2026, 11, 21, tzinfo=UTC),
            until=datetime(2026, 11, 24, tzinfo=UTC),
            today=date(2026, 11, 24),
            now=datetime(2026, 11, 24, tzinfo=UTC),
            config=push.config,
        )
    finally:
        history.gk.close()


def test_the_gate_decision_is_counted(gated: WeeklyReport) -> None:
    assert NEXT_RUN is not None
    t = gated.total
    assert (t.runs, t.gated, t.gate_failed) == (1, 1, 1)
    (red,) = gated.red_runs
    assert red.run_id == NEXT_RUN[1]
    # README: the only failing test is the quarantined flaky one.
    assert red.health is RunHealth.RED_FLAKY
    assert red.failed_tests == ("api::test_concurrent_session_refresh",)
    assert gated.notes == ()  # nothing replayed: the gate judged every result


def test_coverage_is_the_gates_figure_and_its_drop(gated: WeeklyReport) -> None:
    assert COVERAGE is not None
    (trend,) = gated.coverage
    (point,) = trend.points
    assert point.source == "gate"
    assert point.line_rate is not None
    assert round(point.line_rate * 100, 1) == float(COVERAGE[1])
    last_main = R.run("user-service", "run-30")
    assert trend.before is not None and trend.before.run_id == last_main.run_id
    assert point.drop == pytest.approx(last_main.line_coverage - float(COVERAGE[1]), abs=0.1)


def test_benchmark_verdicts_come_from_the_decision(gated: WeeklyReport) -> None:
    assert BENCH is not None
    name, percent = BENCH[1], float(BENCH[2])
    by_name = {b.name: b for b in gated.benchmarks}
    (point,) = by_name[name].points
    assert point.judged_by == "gate"
    assert point.verdict is BenchmarkVerdict.REGRESSION
    assert point.change == pytest.approx(percent / 100, abs=0.01)
    # README: parse_request "stays at its level since run-24 ...: noise".
    assert not by_name["parse_request"].regressions
    assert {b.name for b in gated.benchmarks if b.regressions} == {name}


def test_the_fixed_test_is_no_longer_broken(gated: WeeklyReport) -> None:
    # README: the push fixes api::test_get_missing_user_returns_404.
    assert all(b.test_id != BROKEN_ID for b in gated.broken)
