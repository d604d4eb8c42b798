"""What the client rebuilds from the service's answers renders exactly as the original: the gate
decision's JSON back into a decision (so `gate --server` prints, summarises and annotates like
the local gate), the warning headers back into text, Retry-After into seconds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.client import MAX_RETRY_AFTER, _retry_after, _unescape, decision_from_json
from gatekeeper.emit.gate import github_annotations, json_object, markdown, terminal
from gatekeeper.model import (
    BenchmarkJudgement,
    BenchmarkVerdict,
    CoverageFigure,
    Direction,
    FailureKind,
    FlakyInRun,
    GateDecision,
    GateFailure,
    MutedFailure,
    RunCounts,
    RunShift,
)

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
maybe_text = st.none() | text
count = st.integers(0, 10**7)
percent = st.none() | st.floats(0, 100, allow_nan=False)

findings = st.builds(
    GateFailure,
    kind=st.sampled_from(FailureKind),
    subject=text,
    message=text,
    service=text,
    file=maybe_text,
    line=st.none() | st.integers(1, 10**6),
)


@st.composite
def coverage(draw: st.DrawFn) -> CoverageFigure:
    valid = draw(count)
    branches = draw(count)
    patch_valid = draw(st.integers(0, valid))
    return CoverageFigure(
        subject=draw(text),
        files=draw(count),
        lines_valid=valid,
        lines_covered=draw(st.integers(0, valid)),
        branches_valid=branches,
        branches_covered=draw(st.integers(0, branches)),
        line_threshold=draw(percent),
        branch_threshold=draw(percent),
        baseline_line_rate=draw(st.none() | st.floats(0, 1)),
        baseline_run=draw(maybe_text),
        max_drop=draw(percent),
        patch_valid=patch_valid,
        patch_covered=draw(st.integers(0, patch_valid)),
        patch_threshold=draw(percent),
        passed=draw(st.booleans()),
    )


@st.composite
def benchmark(draw: st.DrawFn) -> BenchmarkJudgement:
    positive = st.floats(1e-3, 1e12, allow_nan=False, allow_infinity=False)
    current = draw(st.floats(0, 1e12, allow_nan=False, allow_infinity=False))
    baseline = draw(st.none() | positive)
    return BenchmarkJudgement(
        name=draw(text),
        unit=draw(st.sampled_from(["ns", "ops/s", "B", "allocs"])),
        direction=draw(st.sampled_from(Direction)),
        current=current,
        verdict=draw(st.sampled_from(BenchmarkVerdict)),
        baseline=baseline,
        change=None if baseline is None else (current - baseline) / baseline,
        p_value=draw(st.none() | st.floats(0, 1)),
        history=draw(st.integers(0, 500)),
        threshold=draw(percent),
        ceiling=draw(st.none() | positive),
        message=draw(text),
        group=draw(text),
        failing=draw(st.booleans()),
    )


decisions = st.builds(
    GateDecision,
    passed=st.booleans(),
    service=text,
    run_id=text,
    attempt=st.integers(1, 10_000),
    commit=maybe_text,
    branch=maybe_text,
    counts=st.builds(
        RunCounts,
        tests=count,
        passed=count,
        failed=count,
        errors=count,
        skipped=count,
        retried=count,
        flaky=count,
    ),
    failures=st.lists(findings, max_size=4).map(tuple),
    muted=st.lists(
        st.builds(
            MutedFailure,
            service=text,
            test_id=text,
            message=maybe_text,
            issue=maybe_text,
            owner=maybe_text,
            reason=maybe_text,
            expires=st.none() | st.dates(),
        ),
        max_size=3,
    ).map(tuple),
    flaky=st.lists(
        st.builds(
            FlakyInRun, service=text, test_id=text, attempts=st.integers(2, 9), message=maybe_text
        ),
        max_size=3,
    ).map(tuple),
    warnings=st.lists(findings, max_size=3).map(tuple),
    coverage=st.lists(coverage(), max_size=3, unique_by=lambda c: c.subject).map(tuple),
    benchmarks=st.lists(benchmark(), max_size=4).map(tuple),
    base_ref=maybe_text,
    stored=st.booleans(),
    common_shift=st.none()
    | st.builds(
        RunShift,
        factor=st.integers(50, 50_000).map(lambda i: i / 1000),  # 3 decimals: JSON keeps 6
        moved=count,
        judged=count,
        scatter=st.integers(0, 2000).map(lambda i: i / 1000),
    ),
)


@settings(max_examples=300, deadline=None)
@given(decisions)
def test_a_decision_sent_as_json_renders_as_the_decision(d: GateDecision) -> None:
    sent = json.loads(json.dumps(json_object(d)))  # what POST /api/v1/gate answers
    back = decision_from_json(sent)
    assert json_object(back) == sent
    assert terminal(back) == terminal(d)
    assert markdown(back) == markdown(d)
    assert github_annotations(back) == github_annotations(d)
    assert back.passed is d.passed


def _escaped(warning: str) -> str:
    """What the service sends as a Gatekeeper-Warning header (service/app.py's _output)."""
    safe = warning.replace("\r", " ").replace("\n", " ").encode("ascii", "backslashreplace")
    return safe.decode("ascii")


@given(st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\\\r\n")))
def test_warning_headers_come_back_as_the_warnings(warning: str) -> None:
    assert _unescape(_escaped(warning)) == warning


def _response(retry_after: str | None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(503, headers=headers)


def test_retry_after_in_seconds_or_as_a_date_within_the_cap() -> None:
    assert _retry_after(_response(None)) == 0.0
    assert _retry_after(_response("7")) == 7.0
    assert _retry_after(_response("86400")) == MAX_RETRY_AFTER
    assert _retry_after(_response("soon")) == 0.0
    in_a_while = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    assert 0 < _retry_after(_response(in_a_while)) <= 20
    long_ago = format_datetime(datetime(2020, 1, 1, tzinfo=UTC), usegmt=True)
    assert _retry_after(_response(long_ago)) == 0.0
