"""Small builders of model records for the store tests (plain data, no store code)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gatekeeper import model

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def result(
    test_id: str,
    outcome: model.Outcome = model.Outcome.PASSED,
    *,
    retry: int = 0,
    duration: float | None = 0.25,
    message: str | None = None,
    **extra: object,
) -> model.TestResult:
    suite, _, name = test_id.rpartition("::")
    return model.TestResult(
        test_id=test_id,
        suite=suite,
        name=name,
        outcome=outcome,
        duration=duration,
        message=message,
        retry=retry,
        **extra,  # type: ignore[arg-type]
    )


def run(
    run_id: str,
    *,
    service: str = "user-service",
    attempt: int = 1,
    branch: str | None = "main",
    at: datetime | None = T0,
    tests: tuple[model.TestResult, ...] | list[model.TestResult] = (),
    coverage: tuple[model.CoverageReport, ...] = (),
    benchmarks: tuple[model.BenchmarkResult, ...] = (),
    warnings: tuple[str, ...] = (),
    commit: str | None = "0123abcd",
) -> model.Run:
    return model.Run(
        meta=model.RunMeta(
            service=service,
            run_id=run_id,
            attempt=attempt,
            commit=commit,
            branch=branch,
            timestamp=at,
            ci_provider="github",
            url=f"https://ci.example/runs/{run_id}",
        ),
        sources=(model.SourceFile("target/nextest/ci/junit.xml", "junit", "ab" * 32, 1234),),
        tests=tuple(tests),
        coverage=coverage,
        benchmarks=benchmarks,
        warnings=warnings,
    )


def many_results(
    n: int, *, failing_every: int = 0, prefix: str = "suite"
) -> list[model.TestResult]:
    return [
        result(
            f"{prefix}{i % 7}::test_{i:05d}",
            model.Outcome.FAILED
            if failing_every and i % failing_every == 0
            else model.Outcome.PASSED,
            duration=i / 1000,
        )
        for i in range(n)
    ]


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def coverage_report() -> model.CoverageReport:
    files = (
        model.FileCoverage(
            path="src/lib.rs",
            package="user_service",
            lines_valid=9,
            lines_covered=6,
            branches_valid=4,
            branches_covered=3,
            covered_lines=(1, 2, 3, 4, 7, 9),
            missed_lines=(5, 6, 12),
        ),
        model.FileCoverage(
            path="src/dé/ünï.rs",
            package="user_service::dé",
            lines_valid=2,
            lines_covered=0,
            covered_lines=(),
            missed_lines=(10, 11),
        ),
        model.FileCoverage(
            path="src/empty.rs", package="user_service", lines_valid=0, lines_covered=0
        ),
    )
    packages = (
        model.PackageCoverage("user_service", 9, 6, 4, 3),
        model.PackageCoverage("user_service::dé", 2, 0),
    )
    return model.CoverageReport(
        producer="cargo-llvm-cov",
        sources=("/home/ci/work/user-service", "src"),
        files=files,
        packages=packages,
        total=model.PackageCoverage("", 11, 6, 4, 3),
        declared_line_rate=0.5454,
    )


def benchmarks() -> tuple[model.BenchmarkResult, ...]:
    return (
        model.BenchmarkResult(
            name="parse/small",
            value=1234.5,
            unit="ns",
            statistic="estimate",
            spread=10.25,
            spread_kind=model.SpreadKind.CI,
            lower=1200.0,
            upper=1260.0,
            samples=(1200.0, 1234.5, 1260.0, 0.1),
            iterations=5050,
            group="criterion",
        ),
        model.BenchmarkResult(
            name="throughput",
            value=512.0,
            unit="MB/s",
            statistic="mean",
            direction=model.Direction.HIGHER_IS_BETTER,
            spread=3.0,
            spread_kind=model.SpreadKind.STDDEV,
        ),
        model.BenchmarkResult(name="bench_add", value=7.0, unit="ns", spread=2.0,
                              spread_kind=model.SpreadKind.RANGE, statistic="single"),
    )  # fmt: skip
