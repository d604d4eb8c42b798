"""What `gatekeeper ingest` prints: one line, or one JSON object, per run."""

from __future__ import annotations

from typing import Any

from gatekeeper.emit import safe
from gatekeeper.model import IngestOutcome, RunCounts


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def run_label(o: IngestOutcome) -> str:
    m = o.meta
    label = f"{m.service} run {m.run_id}"
    if m.attempt != 1:
        label += f" attempt {m.attempt}"
    where = []
    if m.commit:
        where.append(m.commit[:10])
    if m.branch:
        where.append(f"on {m.branch}")
    return f"{label} ({' '.join(where)})" if where else label


def summary_line(o: IngestOutcome) -> str:
    """``user-service run 42 (1a2b3c4d5e on main): 120 tests (117 passed, ...); ... stored``."""
    c = o.counts
    parts = []
    if c.tests or not (o.coverage_files or o.benchmarks):
        detail = (
            f"{c.passed:,} passed, {c.failed:,} failed, {_plural(c.errors, 'error')}, "
            f"{c.skipped:,} skipped"
        )
        if c.flaky:
            detail += f"; {c.flaky:,} passed on retry"
        parts.append(f"{_plural(c.tests, 'test')} ({detail})")
    if o.coverage_files:
        rate = f"{o.line_rate * 100:.1f}% of lines" if o.line_rate is not None else "no lines"
        parts.append(f"coverage {rate} in {_plural(o.coverage_files, 'file')}")
    if o.benchmarks:
        parts.append(_plural(o.benchmarks, "benchmark"))
    status = "stored" if o.stored else "already in the history, not stored again"
    return safe.line(f"{run_label(o)}: {'; '.join(parts)}: {status}")


def counts_object(c: RunCounts) -> dict[str, int]:
    """A run's counts as JSON (`ingest --json` puts them at the top level, `gate` under
    "counts"); the keys are a contract."""
    return {
        "tests": c.tests,
        "passed": c.passed,
        "failed": c.failed,
        "errors": c.errors,
        "skipped": c.skipped,
        "retried": c.retried,
        "flaky": c.flaky,
    }


def json_object(o: IngestOutcome) -> dict[str, Any]:
    m = o.meta
    return {
        "service": m.service,
        "run_id": m.run_id,
        "attempt": m.attempt,
        "commit": m.commit,
        "branch": m.branch,
        "timestamp": m.timestamp.isoformat() if m.timestamp else None,
        "ci_provider": m.ci_provider,
        "stored": o.stored,
        **counts_object(o.counts),
        "coverage_files": o.coverage_files,
        "line_rate": round(o.line_rate, 6) if o.line_rate is not None else None,
        "benchmarks": o.benchmarks,
        "warnings": list(o.warnings),
    }


def total_line(outcomes: list[IngestOutcome]) -> str:
    """After a backfill: ``96 runs: 95 stored, 1 already in the history (3,412 tests ...)``."""
    stored = sum(1 for o in outcomes if o.stored)
    results = sum(o.counts.tests for o in outcomes if o.stored)
    return (
        f"{_plural(len(outcomes), 'run')}: {stored:,} stored, {len(outcomes) - stored:,} already "
        f"in the history ({_plural(results, 'test')} in the runs stored)"
    )
