"""The shared model: test ids, Rust binary names, counts over retries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatekeeper import model
from gatekeeper.model import Outcome, RunCounts, TestResult, make_test_id, rust_binary_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("target/debug/deps/user_service-1a2b3c4d5e6f7a8b", "user_service"),
        ("target/debug/deps/integration_test-1082c4b063a8fbe6", "integration_test"),
        (r"target\debug\deps\adder-1082c4b063a8fbe6.exe", "adder"),
        ("user-service", "user_service"),
        ("user-service::api", "api"),
        ("user-service::bin/cli", "cli"),
        ("fixture-project::basic", "basic"),
        ("adder", "adder"),
    ],
)
def test_rust_binary_names_agree_across_runners(raw: str, expected: str) -> None:
    assert rust_binary_name(raw) == expected


def test_test_id_joins_suite_and_name_once() -> None:
    assert make_test_id("user_service", "tests::it_works") == "user_service::tests::it_works"
    assert make_test_id("", "it_works") == "it_works"
    assert make_test_id("a.B", "a.B::c") == "a.B::c"


def _r(tid: str, outcome: Outcome, retry: int = 0) -> TestResult:
    return TestResult(test_id=tid, suite="", name=tid, outcome=outcome, retry=retry)


def test_counts_use_the_final_attempt_and_see_flakiness() -> None:
    results = [
        _r("a", Outcome.FAILED, 0),
        _r("a", Outcome.PASSED, 1),  # flaky: failed then passed
        _r("b", Outcome.FAILED, 0),
        _r("b", Outcome.FAILED, 1),  # retried, still failing
        _r("c", Outcome.PASSED),
        _r("d", Outcome.SKIPPED),
        _r("e", Outcome.ERROR),
    ]
    c = RunCounts.of(results)
    assert (c.tests, c.passed, c.failed, c.errors, c.skipped) == (5, 2, 1, 1, 1)
    assert (c.retried, c.flaky) == (2, 1)


_results = st.lists(
    st.builds(
        lambda i, outcome, retry: model.TestResult(
            test_id=f"t{i}", suite="s", name=f"t{i}", outcome=outcome, retry=retry
        ),
        st.integers(0, 6),
        st.sampled_from(list(model.Outcome)),
        st.integers(0, 2),
    ),
    max_size=30,
)


@given(_results)
def test_the_fast_path_agrees_with_the_general_rule(results: list[model.TestResult]) -> None:
    assert model.RunCounts.of(results) == model.RunCounts.of_attempts(results)


def test_run_counts_fast_path_counts_every_outcome() -> None:
    results = [
        model.TestResult(f"t{i}", "s", f"t{i}", outcome)
        for i, outcome in enumerate(
            [model.Outcome.PASSED] * 3 + [model.Outcome.FAILED, model.Outcome.ERROR]
            + [model.Outcome.SKIPPED] * 2
        )
    ]  # fmt: skip
    assert model.RunCounts.of(results) == model.RunCounts(
        tests=7, passed=3, failed=1, errors=1, skipped=2
    )
