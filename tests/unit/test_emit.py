"""The ingest summaries: what a person reads in a CI log."""

from __future__ import annotations

from datetime import UTC, datetime

from gatekeeper.emit.ingest import json_object, summary_line, total_line
from gatekeeper.model import IngestOutcome, RunCounts, RunMeta

META = RunMeta(
    service="user-service",
    run_id="9001",
    attempt=2,
    commit="4f1c2a9e0b" + "0" * 30,
    branch="main",
    timestamp=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
)


def outcome(stored: bool = True, **counts: int) -> IngestOutcome:
    return IngestOutcome(
        meta=META,
        counts=RunCounts(**counts),
        coverage_files=31,
        line_rate=0.7843,
        benchmarks=4,
        stored=stored,
    )


def test_summary_line_names_the_run_and_every_count() -> None:
    o = outcome(tests=40, passed=38, failed=1, errors=0, skipped=1, retried=1, flaky=1)
    assert summary_line(o) == (
        "user-service run 9001 attempt 2 (4f1c2a9e0b on main): 40 tests (38 passed, 1 failed, "
        "0 errors, 1 skipped; 1 passed on retry); coverage 78.4% of lines in 31 files; "
        "4 benchmarks: stored"
    )


def test_a_run_seen_before_says_so() -> None:
    assert summary_line(outcome(stored=False, tests=1, passed=1)).endswith(
        ": already in the history, not stored again"
    )


def test_json_object_has_the_documented_keys() -> None:
    obj = json_object(outcome(tests=3, passed=2, failed=1))
    assert {
        "service",
        "run_id",
        "attempt",
        "tests",
        "passed",
        "failed",
        "errors",
        "skipped",
    } <= set(obj)
    assert (obj["tests"], obj["failed"], obj["line_rate"]) == (3, 1, 0.7843)


def test_total_line_after_a_backfill() -> None:
    runs = [outcome(tests=10, passed=10), outcome(tests=5, passed=5), outcome(False, tests=7)]
    assert total_line(runs) == (
        "3 runs: 2 stored, 1 already in the history (15 tests in the runs stored)"
    )
