"""The gate's emitters on decisions built by hand: caps, escaping, JSON keys."""

from __future__ import annotations

from gatekeeper.emit import gate as emit
from gatekeeper.model import (
    BenchmarkJudgement,
    BenchmarkVerdict,
    CoverageFigure,
    Direction,
    FailureKind,
    GateDecision,
    GateFailure,
    RunCounts,
)


def decision(failures: list[GateFailure], **kw: object) -> GateDecision:
    return GateDecision(
        passed=not failures,
        service="svc",
        run_id="r1",
        attempt=1,
        commit="a" * 40,
        branch="main",
        counts=RunCounts(tests=500, passed=100, failed=400),
        failures=tuple(failures),
        **kw,  # type: ignore[arg-type]
    )


def test_hundreds_of_failed_tests_do_not_bury_the_other_reasons() -> None:
    tests = [GateFailure(FailureKind.TEST, f"t::{i:03d}", "failed", "svc") for i in range(400)]
    cov = GateFailure(FailureKind.COVERAGE, "svc", "svc: line coverage 50% is below 75%", "svc")
    d = decision([*tests, cov])
    text = emit.terminal(d)
    assert text.count("\n  test      t::") == emit.TERMINAL_TESTS
    assert f"… and {400 - emit.TERMINAL_TESTS:,} more failed tests" in text
    assert "  coverage  svc: line coverage 50% is below 75%" in text  # said once, not "svc: svc:"
    md = emit.markdown(d)
    assert md.count("| ❌ | test | `t::") == emit.MARKDOWN_TESTS
    assert "| ❌ | coverage | `svc` | line coverage 50% is below 75% |" in md
    assert len(emit.github_annotations(d)) == emit.ANNOTATIONS
    assert len(emit.json_object(d)["failures"]) == 401  # JSON lists every one


def test_annotation_escaping() -> None:
    f = GateFailure(FailureKind.TEST, "a::b,c", "100% wrong\nsecond line", "svc", "src/a:b.rs", 7)
    (line,) = emit.github_annotations(decision([f]))
    assert line == (
        "::error file=src/a%3Ab.rs,line=7,title=gatekeeper%3A test a%3A%3Ab%2Cc"
        "::100%25 wrong%0Asecond line"
    )


def test_markdown_cells_escape_pipes() -> None:
    f = GateFailure(FailureKind.TEST, "t[a|b]", "x | y", "svc")
    assert "| ❌ | test | `t[a\\|b]` | x \\| y |" in emit.markdown(decision([f]))


def test_json_shapes() -> None:
    fig = CoverageFigure("svc", files=3, lines_valid=200, lines_covered=150, line_threshold=75.0)
    j = BenchmarkJudgement(
        name="parse",
        unit="ns",
        direction=Direction.LOWER_IS_BETTER,
        current=1500.0,
        verdict=BenchmarkVerdict.REGRESSION,
        baseline=1000.0,
        change=0.5,
        p_value=0.000123456,
        history=12,
        threshold=20.0,
        failing=True,
        message="parse: slower",
    )
    out = emit.json_object(decision([], coverage=(fig,), benchmarks=(j,)))
    assert out["passed"] is True
    assert out["coverage"]["svc"]["line_rate"] == 0.75
    assert out["coverage"]["svc"]["patch"] is None
    assert out["benchmarks"][0]["p_value"] == 0.0001235
    assert out["benchmarks"][0]["verdict"] == "regression"
    assert set(out) >= {"passed", "failures", "muted", "warnings", "coverage", "benchmarks"}


def test_format_value() -> None:
    assert emit.format_value(1_840.0, "ns") == "1.84 µs"
    assert emit.format_value(12_400_000.0, "ns") == "12.4 ms"
    assert emit.format_value(950.0, "ns") == "950 ns"
    assert emit.format_value(2.5e9, "ns") == "2.5 s"
    assert emit.format_value(123.456, "MB/s") == "123.5 MB/s"
