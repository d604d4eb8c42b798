"""Test results of one run + the registry + recent history -> failures, muted, flaky, warnings.

A test's outcome in a run is its last attempt's. A failed or errored final outcome fails the
gate unless the registry quarantines the test; a test that failed and then passed on a retry
passes (``flaky_result: pass``) and is reported as flaky evidence.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from gatekeeper.model import (
    FailureKind,
    FlakyInRun,
    GateFailure,
    MutedFailure,
    Outcome,
    QuarantineEntry,
    TestResult,
)
from gatekeeper.rules import ExpiredQuarantine, FlakyResult, TestRules

_BAD = (Outcome.FAILED, Outcome.ERROR)


@dataclass(frozen=True, slots=True)
class TestsOutcome:
    """What the test results of one run say about the gate."""

    __test__ = False

    failures: tuple[GateFailure, ...] = ()
    muted: tuple[MutedFailure, ...] = ()
    flaky: tuple[FlakyInRun, ...] = ()
    warnings: tuple[GateFailure, ...] = ()
    tests: int = 0  # distinct tests in the run


# The two lines Rust's assert_eq!/assert_ne! print after their first: `  left: 1` / ` right: 2`
# (before Rust 1.73: "  left: `1`," / " right: `2`").
_ASSERT_SIDE = re.compile(r"(left|right):\s*(.*?),?")


def first_line(text: str | None, width: int = 160) -> str | None:
    """The first non-empty line of a failure message, shortened to ``width`` characters; a
    failed assert_eq! keeps its `left:` and `right:` values, which say what went wrong."""
    if not text:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    line = lines[0]
    sides = [m for m in (_ASSERT_SIDE.fullmatch(x) for x in lines[1:3]) if m]
    if [m[1] for m in sides] == ["left", "right"]:
        line += " (" + ", ".join(f"{m[1]}: {m[2]}" for m in sides) + ")"
    return line if len(line) <= width else line[: width - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def judge_tests(
    results: Sequence[TestResult],
    *,
    service: str,
    entries: Sequence[QuarantineEntry],
    rules: TestRules,
    today: date,
    recent_counts: Sequence[int] = (),
    has_test_reports: bool = True,
    default_branch: str = "main",
) -> TestsOutcome:
    """Judge one run's test results.

    ``entries`` are the registry entries of this service; ``recent_counts`` the number of tests
    in each of the service's recent default-branch runs (for the "far fewer tests" check);
    ``has_test_reports`` is False when the gate was given only coverage or benchmark reports,
    in which case the missing tests are not a failure.
    """
    attempts: dict[str, list[TestResult]] = {}
    for r in results:
        attempts.setdefault(r.test_id, []).append(r)

    quarantine = {e.name: e for e in entries if e.quarantined and e.service == service}
    expired = {name: e for name, e in quarantine.items() if e.is_expired(today)}
    mute_expired = rules.expired_quarantine is ExpiredQuarantine.WARN

    failures: list[GateFailure] = []
    muted: list[MutedFailure] = []
    flaky: list[FlakyInRun] = []
    warnings: list[GateFailure] = []

    for test_id in sorted(attempts):
        runs = sorted(attempts[test_id], key=lambda r: r.retry)
        final = runs[-1]
        bad = [r for r in runs if r.outcome in _BAD]
        if final.outcome not in _BAD and not (bad and final.outcome is Outcome.PASSED):
            continue
        message = first_line(bad[-1].message if bad else None)
        entry = quarantine.get(test_id)
        is_expired = test_id in expired
        if final.outcome is Outcome.PASSED:  # failed, then passed on a retry
            flaky.append(FlakyInRun(service, test_id, len(runs), message))
            if rules.flaky_result is FlakyResult.PASS:
                continue
            text = f"failed, then passed on attempt {len(runs)} (flaky_result: fail)" + (
                f": {message}" if message else ""
            )
        else:
            verb = "errored" if final.outcome is Outcome.ERROR else "failed"
            tries = f" on all {len(runs)} attempts" if len(runs) > 1 else ""
            text = f"{verb}{tries}" + (f": {message}" if message else "")
        if entry is not None and (mute_expired or not is_expired):
            muted.append(
                MutedFailure(
                    service=service,
                    test_id=test_id,
                    message=message,
                    issue=entry.issue,
                    owner=entry.owner,
                    reason=entry.reason,
                    expires=entry.expires,
                )
            )
            continue
        if entry is not None:
            text += f" (its quarantine expired on {entry.expires}; expired_quarantine: fail)"
        where = next((r for r in reversed(runs) if r.file), final)
        failures.append(
            GateFailure(FailureKind.TEST, test_id, text, service, where.file, where.line)
        )

    for name in sorted(expired):
        e = expired[name]
        how = "renew `expires` in the registry, or fix the test and remove its entry"
        note = f"quarantine expired on {e.expires}: {how}"
        if mute_expired:
            warnings.append(GateFailure(FailureKind.TEST, name, note, service))
        elif not any(f.subject == name for f in failures):
            failures.append(GateFailure(FailureKind.TEST, name, note, service))

    count = len(attempts)
    if count == 0 and has_test_reports and not rules.allow_empty:
        failures.append(
            GateFailure(
                FailureKind.TEST,
                service,
                "the reports hold no test at all: did the tests run? "
                "(set tests.allow_empty: true if this job has none)",
                service,
            )
        )
    elif count and rules.min_tests_ratio > 0:
        usual = [n for n in recent_counts[: rules.recent_runs] if n > 0]
        if usual:
            median = statistics.median(usual)
            if count < rules.min_tests_ratio * median:
                failures.append(
                    GateFailure(
                        FailureKind.TEST,
                        service,
                        f"only {_plural(count, 'test')} ran; the last {_plural(len(usual), 'run')}"
                        f" on {default_branch} ran a median of {median:g} (fewer than "
                        f"{rules.min_tests_ratio:.0%}): did a test binary crash or a filter "
                        "drop tests?",
                        service,
                    )
                )
    return TestsOutcome(
        failures=tuple(failures),
        muted=tuple(muted),
        flaky=tuple(flaky),
        warnings=tuple(warnings),
        tests=count,
    )
