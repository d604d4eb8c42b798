"""The test part of the gate: failures, muted quarantines, flaky retries, test counts."""

from __future__ import annotations

from datetime import date

import pytest

from gatekeeper.gate.tests import first_line, judge_tests
from gatekeeper.model import FailureKind, Outcome, QuarantineEntry, TestResult
from gatekeeper.rules import ExpiredQuarantine, FlakyResult, TestRules

TODAY = date(2026, 11, 27)
P, F, E, S = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.SKIPPED


def r(test_id: str, outcome: Outcome, retry: int = 0, message: str | None = None) -> TestResult:
    suite, _, name = test_id.rpartition("::")
    return TestResult(test_id, suite, name, outcome, message=message, retry=retry)


def q(name: str, *, expires: date | None = None, issue: str | None = "#12") -> QuarantineEntry:
    return QuarantineEntry(
        name=name, service="svc", reason="flaky", issue=issue, owner="ana", expires=expires
    )


DEFAULT_RULES = TestRules()


def judge(results, entries=(), rules=DEFAULT_RULES, recent=(), has_tests=True):  # type: ignore[no-untyped-def]
    return judge_tests(
        results,
        service="svc",
        entries=entries,
        rules=rules,
        today=TODAY,
        recent_counts=recent,
        has_test_reports=has_tests,
    )


# Each row: results, registry entries, rules, recent test counts, and the expected
# (failing subjects, muted ids, flaky ids, warning subjects).
CASES = {
    "all pass": ([r("a::x", P), r("a::y", P)], (), TestRules(), (), ([], [], [], [])),
    "a failure fails": ([r("a::x", F, message="boom"), r("a::y", P)], (), TestRules(), (),
                        (["a::x"], [], [], [])),
    "an error fails": ([r("a::x", E)], (), TestRules(), (), (["a::x"], [], [], [])),
    "skipped is fine": ([r("a::x", S), r("a::y", P)], (), TestRules(), (), ([], [], [], [])),
    "quarantined failure is muted": ([r("a::x", F)], (q("a::x"),), TestRules(), (),
                                     ([], ["a::x"], [], [])),
    "released entry does not mute": (
        [r("a::x", F)],
        (QuarantineEntry(name="a::x", service="svc", reason="r", quarantined=False),),
        TestRules(), (), (["a::x"], [], [], []),
    ),
    "entry of another service does not mute": (
        [r("a::x", F)], (QuarantineEntry(name="a::x", service="other", reason="r"),),
        TestRules(), (), (["a::x"], [], [], []),
    ),
    "failed then passed: flaky, passes": ([r("a::x", F, 0), r("a::x", P, 1)], (), TestRules(), (),
                                          ([], [], ["a::x"], [])),
    "flaky_result fail": (
        [r("a::x", F, 0), r("a::x", P, 1)], (), TestRules(flaky_result=FlakyResult.FAIL), (),
        (["a::x"], [], ["a::x"], []),
    ),
    "flaky_result fail, quarantined: muted": (
        [r("a::x", F, 0), r("a::x", P, 1)], (q("a::x"),),
        TestRules(flaky_result=FlakyResult.FAIL), (), ([], ["a::x"], ["a::x"], []),
    ),
    "failed on every retry fails": ([r("a::x", F, 0), r("a::x", F, 1), r("a::x", F, 2)], (),
                                    TestRules(), (), (["a::x"], [], [], [])),
    "expired quarantine warns and mutes": (
        [r("a::x", F)], (q("a::x", expires=date(2026, 11, 1)),), TestRules(), (),
        ([], ["a::x"], [], ["a::x"]),
    ),
    "expired quarantine fails when configured": (
        [r("a::x", F)], (q("a::x", expires=date(2026, 11, 1)),),
        TestRules(expired_quarantine=ExpiredQuarantine.FAIL), (), (["a::x"], [], [], []),
    ),
    "expired quarantine of a passing test fails when configured": (
        [r("a::x", P)], (q("a::x", expires=date(2026, 11, 1)),),
        TestRules(expired_quarantine=ExpiredQuarantine.FAIL), (), (["a::x"], [], [], []),
    ),
    "expiring today still mutes silently": (
        [r("a::x", F)], (q("a::x", expires=TODAY),), TestRules(), (), ([], ["a::x"], [], []),
    ),
    "no tests fails": ([], (), TestRules(), (), (["svc"], [], [], [])),
    "no tests allowed": ([], (), TestRules(allow_empty=True), (), ([], [], [], [])),
    "far fewer tests than usual": (
        [r(f"a::t{i}", P) for i in range(4)], (), TestRules(), (10, 10, 9, 11),
        (["svc"], [], [], []),
    ),
    "exactly half of the median passes": (
        [r(f"a::t{i}", P) for i in range(5)], (), TestRules(), (10, 10, 10), ([], [], [], []),
    ),
    "count check off": ([r("a::t", P)], (), TestRules(min_tests_ratio=0), (100, 100),
                        ([], [], [], [])),
    "only recent_runs count": (
        [r(f"a::t{i}", P) for i in range(5)], (), TestRules(recent_runs=2), (10, 10, 1000, 1000),
        ([], [], [], []),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_table(case: str) -> None:
    results, entries, rules, recent, (failing, muted, flaky, warned) = CASES[case]
    out = judge(results, entries, rules, recent)
    assert [f.subject for f in out.failures] == failing
    assert all(f.kind is FailureKind.TEST and f.service == "svc" for f in out.failures)
    assert [m.test_id for m in out.muted] == muted
    assert [f.test_id for f in out.flaky] == flaky
    assert [w.subject for w in out.warnings] == warned


def test_no_tests_is_no_failure_when_only_coverage_or_benchmarks_were_given() -> None:
    assert judge([], has_tests=False).failures == ()


def test_messages_say_what_happened() -> None:
    out = judge([r("a::x", F, 0, "assert 1 == 2\nmore"), r("a::x", F, 1, "assert 1 == 2\nmore")])
    assert out.failures[0].message == "failed on all 2 attempts: assert 1 == 2"
    out = judge([r(f"a::t{i}", P) for i in range(3)], recent=(12, 10, 11))
    assert out.failures[0].message.startswith(
        "only 3 tests ran; the last 3 runs on main ran a median of 11"
    )


def test_muted_failure_carries_the_registry_fields() -> None:
    out = judge([r("a::x", F, message="boom")], (q("a::x", expires=date(2027, 1, 1)),))
    (m,) = out.muted
    assert (m.issue, m.owner, m.reason, m.expires, m.message) == (
        "#12", "ana", "flaky", date(2027, 1, 1), "boom",
    )  # fmt: skip


def test_first_line() -> None:
    assert first_line("\n\n  panicked at x\nmore") == "panicked at x"
    assert first_line(None) is None
    assert first_line("x" * 300, width=10) == "x" * 9 + "…"


def test_first_line_keeps_the_two_sides_of_a_failed_assert_eq() -> None:
    # Rust 1.73 and later, then the older wording (libtest prints both as the panic message)
    new = "assertion `left == right` failed: the clock moved\n  left: 1\n right: 2\n"
    assert (
        first_line(new) == "assertion `left == right` failed: the clock moved (left: 1, right: 2)"
    )
    old = "assertion failed: `(left == right)`\n  left: `5`,\n right: `10`"
    assert first_line(old) == "assertion failed: `(left == right)` (left: `5`, right: `10`)"
    # other second lines are not sides
    assert first_line("boom\n  at src/lib.rs:3\nleft: 1") == "boom"
