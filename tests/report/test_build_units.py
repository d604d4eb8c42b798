"""The report's rules one at a time: decision documents, coverage drops, the benchmark replay."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from gatekeeper.model import (
    BenchmarkResult,
    BenchmarkSample,
    BenchmarkVerdict,
    BurstRun,
    Classification,
    CoverageSample,
    Registry,
    StoredDecision,
    WeeklyReport,
)
from gatekeeper.report import build_report, decided_benchmarks, history_window, replay_plan
from gatekeeper.rules import BenchmarkOverride, BenchmarkRules, CoverageRules, GateConfig

SINCE = datetime(2026, 11, 14, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=7)


def test_decision_documents_are_read_defensively() -> None:
    good = {
        "benchmarks": [
            {"name": "parse", "group": "hot", "verdict": "regression", "change": 0.25,
             "baseline": 1840.0},
            {"name": "emit", "verdict": "unchanged", "change": None, "baseline": 5},
            {"name": "odd", "verdict": "sideways"},
            {"verdict": "regression"},
            "not an object",
        ]
    }  # fmt: skip
    decisions = [
        StoredDecision(1, False, json.dumps(good)),
        StoredDecision(2, True, "{not json"),
        StoredDecision(3, True, json.dumps(["a list"])),
        StoredDecision(4, True, json.dumps({"benchmarks": "none"})),
    ]
    assert decided_benchmarks(decisions) == {
        (1, "hot", "parse"): (BenchmarkVerdict.REGRESSION, 0.25, 1840.0),
        (1, "", "emit"): (BenchmarkVerdict.UNCHANGED, None, 5.0),
    }


def _coverage(run: int, hours: float, covered: int, service: str = "api") -> CoverageSample:
    return CoverageSample(
        run_pk=run, service=service, run_id=f"r{run}", attempt=1, commit=None, branch="main",
        at=SINCE + timedelta(hours=hours), lines_valid=1000, lines_covered=covered,
    )  # fmt: skip


def _report(
    coverage: list[CoverageSample], config: GateConfig, bursts: tuple[BurstRun, ...] = ()
) -> WeeklyReport:
    return build_report(
        since=SINCE, until=UNTIL, runs=(), failures=(), executions={}, coverage=coverage,
        benchmarks=(), decisions=(), judgements={}, registry=Registry(), config=config,
        classification=Classification(bursts=bursts), today=date(2026, 11, 21),
        generated_at=UNTIL,
    )  # fmt: skip


def test_a_drop_is_more_than_max_drop_against_the_last_good_point() -> None:
    samples = [
        _coverage(1, -30, 810),  # before the period: the first point's reference
        _coverage(2, 1, 805),  # -0.5: not more than max_drop
        _coverage(3, 2, 800),  # -0.5 again
        _coverage(4, 3, 500),  # an infrastructure burst: kept, never flagged or a reference
        _coverage(5, 4, 790),  # -1.0 against r3, not against the burst
        _coverage(6, 5, 795),
        _coverage(7, 200, 700),  # after the period: ignored
    ]
    burst = BurstRun("api", "r4", 1, None, None, 10, 8, 0.01, 1e-9)
    (trend,) = _report(samples, GateConfig(), (burst,)).coverage
    assert trend.before is not None and trend.before.run_id == "r1"
    assert [p.run_id for p in trend.points] == ["r2", "r3", "r4", "r5", "r6"]
    assert [p.run_id for p in trend.drops] == ["r5"]
    assert trend.drops[0].drop == pytest.approx(1.0)
    assert [p.infrastructure for p in trend.points] == [False, False, True, False, False]
    assert trend.change == pytest.approx(-1.0)  # 80.5% to 79.5%, the burst left out
    # The configured max_drop counts; null turns the flags off. Without the burst, r4 is a
    # drop and r5 a rise from it.
    strict = GateConfig(coverage=CoverageRules(max_drop=0.2))
    (trend,) = _report(samples, strict).coverage
    assert [p.run_id for p in trend.drops] == ["r2", "r3", "r4"]
    (trend,) = _report(samples, GateConfig(coverage=CoverageRules(max_drop=None))).coverage
    assert trend.drops == ()


def _bench(run: int, hours: float, value: float, branch: str = "main") -> BenchmarkSample:
    return BenchmarkSample(
        run_pk=run, service="api", run_id=f"r{run}", attempt=1, commit=None, branch=branch,
        at=SINCE + timedelta(hours=hours),
        result=BenchmarkResult(name="parse", value=value, unit="ns", group="hot"),
    )  # fmt: skip


def test_the_replay_judges_each_undecided_result_against_the_results_before_it() -> None:
    samples = [_bench(i, -10 * (10 - i), 100.0 + i) for i in range(1, 10)]  # before
    samples += [_bench(10, 1, 200.0), _bench(11, 2, 201.0), _bench(12, 3, 202.0)]
    samples.append(_bench(13, 4, 300.0, branch="feature"))  # never a point or history
    config = GateConfig(benchmarks=BenchmarkRules(window=5))
    decided = [StoredDecision(11, True, "{}")]
    plan = replay_plan(samples, decided, config, since=SINCE, until=UNTIL)
    assert [s.run_pk for s, _ in plan] == [10, 12]
    history = {s.run_pk: [h.value for _, h in hist] for s, hist in plan}
    assert history[10] == [109.0, 108.0, 107.0, 106.0, 105.0]  # newest first, the window
    assert [run for run, _ in plan[0][1]] == [9, 8, 7, 6, 5]  # with the runs they came from
    assert history[12] == [201.0, 200.0, 109.0, 108.0, 107.0]  # decided runs still history
    overridden = GateConfig(
        benchmarks=BenchmarkRules(window=5),
        benchmark_overrides=(BenchmarkOverride(name="par*", rules=BenchmarkRules(window=2)),),
    )
    assert history_window(overridden) == 5
    plan = replay_plan(samples, decided, overridden, since=SINCE, until=UNTIL)
    assert [len(hist) for _, hist in plan] == [2, 2]
