"""The parts' findings -> one GateDecision: failed if anything failed, with every reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gatekeeper.gate.coverage import CoverageOutcome
from gatekeeper.gate.shift import judge_run
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
    RunShift,
)
from gatekeeper.rules import BenchmarkRules, CommonShift, GateConfig

BenchKey = tuple[str, str]  # (group, name)


def judge_benchmarks(
    current: Sequence[BenchmarkResult],
    history: Mapping[BenchKey, Sequence[BenchmarkResult]],
    config: GateConfig,
    service: str,
) -> tuple[BenchmarkJudgement, ...]:
    """Each benchmark of the run against its own history, with its own rules, the run's
    common shift removed when it had one (``judge_run`` also returns the shift)."""
    return judge_run(current, history, config, service).judgements


def _shift_findings(
    shift: RunShift | None, mode: CommonShift, informational: bool, service: str
) -> tuple[list[GateFailure], list[GateFailure], str]:
    """The common shift as (failures, warnings, why undecided)."""
    if shift is None:
        return [], [], ""
    if not shift.worse:
        note = f"{shift.text} (a faster machine?); each was judged with it removed"
        return [], [GateFailure(FailureKind.BENCHMARK, "benchmarks", note, service)], ""
    said = f"{shift.text} (likely a loaded machine)"
    if mode is CommonShift.UNDECIDED and not informational:
        why = f"benchmarks: {said}; re-run on a quieter machine, or set benchmarks.common_shift"
        warning = f"{said}; each was judged with it removed; the gate could not decide"
        return [], [GateFailure(FailureKind.BENCHMARK, "benchmarks", warning, service)], why
    finding = GateFailure(
        FailureKind.BENCHMARK, "benchmarks", f"{said}; each was judged with it removed", service
    )
    if mode is CommonShift.FAIL and not informational:
        return [finding], [], ""
    return [], [finding], ""  # warn, or informational benchmarks: never blocks the gate


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
    common_shift: RunShift | None = None,
    shift_rules: BenchmarkRules | None = None,
) -> GateDecision:
    """Combine the findings; the gate passes only when nothing failed.

    A common shift the worse way (``common_shift``; ``shift_rules`` are the run's benchmark
    rules, ``config.run_benchmark_rules``) is one failure, one warning, or, when nothing else
    failed and the rules say ``undecided``, the reason the gate could not decide."""
    bench_failures, bench_warnings = _benchmark_findings(benchmarks, meta.service)
    rules = shift_rules or BenchmarkRules()
    shift_failures, shift_warnings, undecided = _shift_findings(
        common_shift, rules.common_shift, rules.informational, meta.service
    )
    failures = [*tests.failures]
    all_warnings = [*warnings, *tests.warnings]
    if coverage is not None:
        failures.extend(coverage.failures)
        all_warnings.extend(coverage.warnings)
    failures.extend(shift_failures)
    failures.extend(bench_failures)
    all_warnings.extend(shift_warnings)
    all_warnings.extend(bench_warnings)
    return GateDecision(
        passed=not failures and not undecided,
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
        common_shift=common_shift,
        undecided="" if failures else undecided,
    )
