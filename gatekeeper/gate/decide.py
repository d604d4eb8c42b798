"""The parts' findings -> one GateDecision: failed if anything failed, with every reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gatekeeper.gate.benchmarks import judge
from gatekeeper.gate.coverage import CoverageOutcome
from gatekeeper.gate.tests import TestsOutcome
from gatekeeper.model import (
    BenchmarkJudgement,
    BenchmarkResult,
    BenchmarkVerdict,
    FailureKind,
    GateDecision,
    GateFailure,
    RunCounts,
    RunMeta,
)
from gatekeeper.rules import GateConfig

BenchKey = tuple[str, str]  # (group, name)


def judge_benchmarks(
    current: Sequence[BenchmarkResult],
    history: Mapping[BenchKey, Sequence[BenchmarkResult]],
    config: GateConfig,
    service: str,
) -> tuple[BenchmarkJudgement, ...]:
    """Each benchmark of the run against its own history, with its own rules."""
    out = []
    for bench in current:
        rules = config.benchmark_rules(service, bench.name)
        out.append(judge(bench, history.get((bench.group, bench.name), ()), rules))
    return tuple(out)


def _benchmark_findings(
    judgements: Sequence[BenchmarkJudgement], service: str
) -> tuple[list[GateFailure], list[GateFailure]]:
    failures: list[GateFailure] = []
    warnings: list[GateFailure] = []
    bad = (BenchmarkVerdict.REGRESSION, BenchmarkVerdict.OVER_CEILING)
    for j in judgements:
        if j.verdict not in bad:
            continue
        finding = GateFailure(FailureKind.BENCHMARK, j.name, j.message, service)
        (failures if j.failing else warnings).append(finding)
    return failures, warnings


def decide(
    meta: RunMeta,
    counts: RunCounts,
    tests: TestsOutcome,
    coverage: CoverageOutcome | None,
    benchmarks: Sequence[BenchmarkJudgement],
    *,
    warnings: Sequence[GateFailure] = (),
    base_ref: str | None = None,
    stored: bool = True,
) -> GateDecision:
    """Combine the findings; the gate passes only when nothing failed."""
    bench_failures, bench_warnings = _benchmark_findings(benchmarks, meta.service)
    failures = [*tests.failures]
    all_warnings = [*warnings, *tests.warnings]
    if coverage is not None:
        failures.extend(coverage.failures)
        all_warnings.extend(coverage.warnings)
    failures.extend(bench_failures)
    all_warnings.extend(bench_warnings)
    return GateDecision(
        passed=not failures,
        service=meta.service,
        run_id=meta.run_id,
        attempt=meta.attempt,
        commit=meta.commit,
        branch=meta.branch,
        counts=counts,
        failures=tuple(failures),
        muted=tests.muted,
        flaky=tests.flaky,
        warnings=tuple(all_warnings),
        coverage=coverage.figures if coverage is not None else (),
        benchmarks=tuple(benchmarks),
        base_ref=base_ref,
        stored=stored,
    )
