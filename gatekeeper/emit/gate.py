"""A GateDecision -> the terminal verdict, JSON, a Markdown summary, GitHub annotations (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gatekeeper.emit import safe
from gatekeeper.emit.ingest import counts_object
from gatekeeper.model import (
    BenchmarkJudgement,
    BenchmarkVerdict,
    CoverageFigure,
    FailureKind,
    GateDecision,
    GateFailure,
)

_TIME_UNITS = ((1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1.0, "ns"))
TERMINAL_TESTS = 30  # failed tests listed in the terminal verdict (JSON lists all)
MARKDOWN_TESTS = 50  # and in the Markdown summary ($GITHUB_STEP_SUMMARY holds at most 1 MiB)
ANNOTATIONS = 50  # GitHub shows at most 50 annotations of a job; more are noise


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _pct(rate: float | None, digits: int = 2) -> str:
    return "n/a" if rate is None else f"{rate * 100:.{digits}f}%"


def _threshold(value: float | None) -> str:
    return "" if value is None else f"{value:g}%"


def format_value(value: float, unit: str) -> str:
    """A benchmark value for people: nanoseconds scaled to ns/µs/ms/s, other units as given."""
    if unit == "ns":
        for factor, name in _TIME_UNITS:
            if abs(value) >= factor or factor == 1.0:
                return f"{value / factor:.3g} {name}"
    return f"{value:.4g} {unit}"


def _change(j: BenchmarkJudgement) -> str:
    return "" if j.change is None else f"{j.change * 100:+.1f}%"


def _run_label(d: GateDecision) -> str:
    parts = [f"{d.service} run {d.run_id}"]
    if d.attempt != 1:
        parts.append(f"attempt {d.attempt}")
    where = []
    if d.commit:
        where.append(f"commit {d.commit[:12]}")
    if d.branch:
        where.append(f"on {d.branch}")
    if where:
        parts.append("(" + " ".join(where) + ")")
    return " ".join(parts)


def _tests_line(d: GateDecision) -> str:
    c = d.counts
    bad = c.failed + c.errors
    bits = [f"{c.tests:,} run", f"{bad:,} failed"]
    if d.muted:
        bits[-1] += f" ({len(d.muted):,} muted)"
    if c.skipped:
        bits.append(f"{c.skipped:,} skipped")
    if d.flaky:
        bits.append(f"{len(d.flaky):,} passed on retry")
    return "tests: " + ", ".join(bits)


def _coverage_bits(f: CoverageFigure) -> str:
    text = f"{f.subject} {_pct(f.line_rate)}"
    if f.line_threshold is not None:
        text += f" (min {_threshold(f.line_threshold)})"
    if f.patch_valid:
        text += f", patch {_pct(f.patch_rate)}"
    return text


def _bench_counts(js: Sequence[BenchmarkJudgement]) -> str:
    counts: dict[BenchmarkVerdict, int] = {}
    for j in js:
        counts[j.verdict] = counts.get(j.verdict, 0) + 1
    order = (
        BenchmarkVerdict.REGRESSION,
        BenchmarkVerdict.OVER_CEILING,
        BenchmarkVerdict.IMPROVEMENT,
        BenchmarkVerdict.UNCHANGED,
        BenchmarkVerdict.INSUFFICIENT_HISTORY,
        BenchmarkVerdict.NEW,
    )
    return ", ".join(f"{counts[v]:,} {v.value}" for v in order if v in counts)


# ---------------------------------------------------------------------------------------------
# terminal
# ---------------------------------------------------------------------------------------------


def terminal(d: GateDecision) -> str:
    """The short verdict: what failed and why, with numbers, then muted and warnings."""
    head = "PASSED" if d.passed else "FAILED"
    lines = [f"gatekeeper gate: {head}  {_run_label(d)}"]
    if not d.stored:
        lines.append("  (this run was stored before; the gate decided again on the same data)")
    lines.append("  " + _tests_line(d))
    if d.coverage:
        lines.append("  coverage: " + "; ".join(_coverage_bits(f) for f in d.coverage))
    if d.benchmarks:
        line = f"  benchmarks: {_bench_counts(d.benchmarks)}"
        if d.common_shift is not None:
            line += f" (after removing the common shift: {d.common_shift.text})"
        lines.append(line)
    if d.failures:
        lines.append("")
        lines.append(f"Failures ({len(d.failures):,}):")
        shown, more = _capped(d.failures, TERMINAL_TESTS)
        lines.extend(f"  {f.kind.value:<9} {_said(f)}" for f in shown)
        if more:
            lines.append(f"  … and {more:,} more failed tests (all of them: --format json)")
    if d.muted:
        lines.append("")
        lines.append(f"Muted ({len(d.muted):,} quarantined tests failed; not failing the gate):")
        for m in d.muted:
            tags = ", ".join(x for x in (m.issue, f"owner {m.owner}" if m.owner else None) if x)
            tail = f"  [{tags}]" if tags else ""
            lines.append(f"  {m.test_id}{tail}")
    if d.flaky:
        lines.append("")
        lines.append(f"Flaky in this run ({len(d.flaky):,} failed, then passed on a retry):")
        lines.extend(f"  {f.test_id} ({f.attempts} attempts)" for f in d.flaky)
    notable = [
        j
        for j in d.benchmarks
        if j.verdict in (BenchmarkVerdict.IMPROVEMENT,)
        or (j.verdict is BenchmarkVerdict.REGRESSION and not j.failing)
    ]
    if notable:
        lines.append("")
        lines.append("Benchmark changes:")
        lines.extend(f"  {j.verdict.value:<11} {j.message}" for j in notable)
    if d.warnings:
        lines.append("")
        lines.append(f"Warnings ({len(d.warnings):,}):")
        lines.extend(f"  {w.kind.value:<9} {_said(w)}" for w in d.warnings)
    # Each line is built from data (names, messages): shown escaped, never a command.
    return "\n".join(safe.line(one) for one in lines) + "\n"


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


def _capped(failures: Sequence[GateFailure], limit: int) -> tuple[list[GateFailure], int]:
    """Every coverage, benchmark and input failure, and at most ``limit`` failed tests: a red
    main branch with hundreds of failures must not bury the other reasons."""
    tests = [f for f in failures if f.kind is FailureKind.TEST]
    keep = {id(f) for f in tests[:limit]}
    shown = [f for f in failures if f.kind is not FailureKind.TEST or id(f) in keep]
    return shown, max(0, len(tests) - limit)


def _said(f: GateFailure) -> str:
    """``subject: message``, without saying the subject twice when the message starts with it."""
    if f.message.startswith(f"{f.subject}: ") or f.message.startswith(f"{f.subject} "):
        return f.message
    return f"{f.subject}: {f.message}"


def _why(f: GateFailure) -> str:
    """The message without a leading ``subject:`` (for a table that shows the subject)."""
    prefix = f"{f.subject}: "
    return f.message[len(prefix) :] if f.message.startswith(prefix) else f.message


def _round(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(x, digits)


def _finding(f: GateFailure) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": f.kind.value,
        "subject": f.subject,
        "service": f.service,
        "message": f.message,
    }
    if f.file:
        out["file"] = f.file
        out["line"] = f.line
    return out


def _coverage_json(f: CoverageFigure) -> dict[str, Any]:
    return {
        "files": f.files,
        "lines_covered": f.lines_covered,
        "lines_valid": f.lines_valid,
        "line_rate": _round(f.line_rate),
        "branches_covered": f.branches_covered,
        "branches_valid": f.branches_valid,
        "branch_rate": _round(f.branch_rate),
        "threshold": f.line_threshold,
        "branch_threshold": f.branch_threshold,
        "baseline_line_rate": _round(f.baseline_line_rate),
        "baseline_run": f.baseline_run,
        "max_drop": f.max_drop,
        "patch": None
        if f.patch_threshold is None and not f.patch_valid
        else {
            "lines_covered": f.patch_covered,
            "lines_valid": f.patch_valid,
            "rate": _round(f.patch_rate),
            "threshold": f.patch_threshold,
        },
        "passed": f.passed,
    }


def _benchmark_json(j: BenchmarkJudgement) -> dict[str, Any]:
    return {
        "name": j.name,
        "group": j.group,
        "unit": j.unit,
        "direction": j.direction.value,
        "baseline": j.baseline,
        "current": j.current,
        "change": _round(j.change),
        "p_value": None if j.p_value is None else float(f"{j.p_value:.4g}"),
        "history": j.history,
        "threshold": j.threshold,
        "ceiling": j.ceiling,
        "verdict": j.verdict.value,
        "failing": j.failing,
        "message": j.message,
    }


def json_object(d: GateDecision) -> dict[str, Any]:
    """The machine-readable verdict (`gate --format json`); keys are a contract.
    ``common_shift`` is there only for a run whose benchmarks moved together."""
    out: dict[str, Any] = {
        "passed": d.passed,
        "service": d.service,
        "run_id": d.run_id,
        "attempt": d.attempt,
        "commit": d.commit,
        "branch": d.branch,
        "base_ref": d.base_ref,
        "stored": d.stored,
        "counts": counts_object(d.counts),
        "failures": [_finding(f) for f in d.failures],
        "muted": [
            {
                "test_id": m.test_id,
                "service": m.service,
                "message": m.message,
                "issue": m.issue,
                "owner": m.owner,
                "reason": m.reason,
                "expires": m.expires.isoformat() if m.expires else None,
            }
            for m in d.muted
        ],
        "flaky": [
            {
                "test_id": f.test_id,
                "service": f.service,
                "attempts": f.attempts,
                "message": f.message,
            }
            for f in d.flaky
        ],
        "warnings": [_finding(w) for w in d.warnings],
        "coverage": {f.subject: _coverage_json(f) for f in d.coverage},
        "benchmarks": [_benchmark_json(j) for j in d.benchmarks],
    }
    if d.common_shift is not None:
        out["common_shift"] = {
            "factor": _round(d.common_shift.factor),
            "moved": d.common_shift.moved,
            "judged": d.common_shift.judged,
            "scatter": _round(d.common_shift.scatter),
            "message": d.common_shift.text,
        }
    return out


def error_object(message: str, subject: str, exit_code: int) -> dict[str, Any]:
    """`gate --format json` when the gate could not decide: still one JSON object, never a pass."""
    return {
        "passed": False,
        "decided": False,
        "exit_code": exit_code,
        "failures": [{"kind": "input", "subject": subject, "service": "", "message": message}],
        "muted": [],
        "flaky": [],
        "warnings": [],
        "coverage": {},
        "benchmarks": [],
    }


# ---------------------------------------------------------------------------------------------
# Markdown ($GITHUB_STEP_SUMMARY, --summary FILE)
# ---------------------------------------------------------------------------------------------


def markdown(d: GateDecision) -> str:
    """A Markdown summary for the CI's job page: verdict, failures, coverage, benchmarks."""
    mark = "✅" if d.passed else "❌"
    verdict = "passed" if d.passed else "failed"
    out = [f"### {mark} gatekeeper: {safe.md_text(d.service)} {verdict}", ""]
    out.append(f"{safe.md_text(_run_label(d))} · {_tests_line(d)}")
    out.append("")
    if d.failures:
        out += ["| | failure | subject | why |", "|---|---|---|---|"]
        shown, more = _capped(d.failures, MARKDOWN_TESTS)
        out += [
            f"| ❌ | {f.kind.value} | {safe.md_code(f.subject)} | {safe.md_text(_why(f))} |"
            for f in shown
        ]
        if more:
            out.append(f"| ❌ | test | … | and {more:,} more failed tests |")
        out.append("")
    if d.coverage:
        out += [
            "| coverage | lines | line rate | minimum | branches | patch |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for f in d.coverage:
            mark_f = "" if f.passed else " ❌"
            patch = (
                f"{_pct(f.patch_rate)} ({f.patch_covered}/{f.patch_valid})" if f.patch_valid else ""
            )
            out.append(
                f"| {safe.md_text(f.subject)}{mark_f} | {f.lines_covered:,}/{f.lines_valid:,} | "
                f"{_pct(f.line_rate)} | {_threshold(f.line_threshold)} | "
                f"{_pct(f.branch_rate) if f.branches_valid else ''} | {patch} |"
            )
        out.append("")
    judged = [
        j
        for j in d.benchmarks
        if j.baseline is not None or j.verdict is BenchmarkVerdict.OVER_CEILING
    ]
    if judged:
        out += ["| benchmark | baseline | current | change | verdict |", "|---|---:|---:|---:|---|"]
        for j in judged:
            base = format_value(j.baseline, j.unit) if j.baseline is not None else ""
            icon = {"regression": "❌ ", "over-ceiling": "❌ ", "improvement": "🚀 "}.get(
                j.verdict.value, ""
            )
            if not j.failing and icon == "❌ ":
                icon = "⚠️ "
            out.append(
                f"| {safe.md_code(j.name)} | {base} | {format_value(j.current, j.unit)} "
                f"| {_change(j)} | {icon}{j.verdict.value} |"
            )
        out.append("")
    new = len(d.benchmarks) - len(judged)
    if new:
        out += [f"{_plural(new, 'benchmark')} recorded without enough history to judge.", ""]
    if d.muted:
        out += [
            "<details><summary>Muted: "
            f"{_plural(len(d.muted), 'quarantined test')} failed</summary>",
            "",
        ]
        for m in d.muted:
            tags = " ".join(
                safe.md_text(x)
                for x in (m.issue, f"@{m.owner.lstrip('@')}" if m.owner else None)
                if x
            )
            out.append(f"- {safe.md_code(m.test_id)} {tags}".rstrip())
        out += ["", "</details>", ""]
    if d.flaky:
        out += [
            f"<details><summary>Flaky: {_plural(len(d.flaky), 'test')} passed on a retry</summary>",
            "",
        ]
        out += [f"- {safe.md_code(f.test_id)} ({f.attempts} attempts)" for f in d.flaky]
        out += ["", "</details>", ""]
    if d.warnings:
        out += [f"<details><summary>{_plural(len(d.warnings), 'warning')}</summary>", ""]
        out += [
            f"- {w.kind.value} {safe.md_code(w.subject)}: {safe.md_text(_why(w))}"
            for w in d.warnings
        ]
        out += ["", "</details>", ""]
    return "\n".join(out)


def error_markdown(message: str) -> str:
    return (
        f"### ⚠️ gatekeeper could not decide\n\n{safe.md_text(message)}\n\nThe gate does not pass.\n"
    )


# ---------------------------------------------------------------------------------------------
# GitHub Actions annotations
# ---------------------------------------------------------------------------------------------


def _escape_data(text: str) -> str:
    """A workflow command's message: the runner's escapes for ``%``, CR and LF (a message may
    span lines), every other control character shown escaped."""
    return safe.block(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(safe.line(text)).replace(":", "%3A").replace(",", "%2C")


def github_annotations(d: GateDecision) -> list[str]:
    """Workflow commands: an error per failure (at the test's file and line when known), a
    notice per muted failure."""
    out = []
    for f in d.failures[:ANNOTATIONS]:
        props = [f"title={_escape_property(f'gatekeeper: {f.kind.value} {f.subject}')}"]
        if f.file:
            props.insert(0, f"file={_escape_property(f.file)}")
            if f.line:
                props.insert(1, f"line={f.line}")
        out.append(f"::error {','.join(props)}::{_escape_data(f.message)}")
    for m in d.muted:
        title = _escape_property(f"gatekeeper: quarantined {m.test_id}")
        note = f"failed but is quarantined{f' ({m.issue})' if m.issue else ''}"
        out.append(f"::notice title={title}::{_escape_data(note)}")
    return out
