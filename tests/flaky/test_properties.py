"""Invariants of the classifier over generated histories (hypothesis)."""

from __future__ import annotations

import math
import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper import model
from gatekeeper.flaky import ClassifierConfig, classify
from gatekeeper.flaky.segment import Prior, _segment, segment

from .test_rules import history, run

P, F, S = model.Outcome.PASSED, model.Outcome.FAILED, model.Outcome.SKIPPED
TESTS = ["a::one", "a::two", "b::three"]

attempt_outcomes = st.lists(st.sampled_from([P, P, P, F, S]), min_size=1, max_size=3)


@st.composite
def histories(draw: st.DrawFn) -> list[model.TestExecution]:
    """Up to 40 runs of four tests in two services, with retries, re-runs and a branch."""
    rows: list[model.TestExecution] = []
    for i in range(draw(st.integers(0, 40))):
        branch = draw(st.sampled_from(["main", "main", "main", "feat"]))
        for attempt in range(1, draw(st.integers(1, 2)) + 1):
            for t, test in enumerate(TESTS):
                service = "svc-a" if t < 2 else "svc-b"
                outcomes = draw(attempt_outcomes)
                rows += run(i, test, outcomes, service=service, attempt=attempt, branch=branch)
            # and one that never fails, to check the path such tests take
            clean = draw(st.lists(st.sampled_from([P, P, S]), min_size=1, max_size=2))
            rows += run(i, "a::clean", clean, service="svc-a", attempt=attempt, branch=branch)
    return rows


@settings(max_examples=60, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_the_order_of_the_rows_does_not_change_anything(
    rows: list[model.TestExecution], rnd: random.Random
) -> None:
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    keys = {("svc-a", "a::one"), ("svc-b", "b::three"), ("svc-a", "a::clean")}
    assert classify(shuffled) == classify(rows)
    assert classify(shuffled, quarantined=keys) == classify(rows, quarantined=keys)


@settings(max_examples=60, deadline=None)
@given(histories())
def test_evidence_is_consistent(rows: list[model.TestExecution]) -> None:
    for v in classify(rows).verdicts:
        e = v.evidence
        assert e.verdict is v.verdict
        assert e.confidence is not None and 0.0 <= e.confidence <= 1.0
        assert e.runs is not None and e.failures is not None and 0 <= e.failures <= e.runs
        assert e.runs <= v.executions and v.failed_executions <= v.executions
        low, high = e.failure_rate_ci95 or (0.0, 1.0)
        assert 0.0 <= low <= (e.failure_rate or 0.0) <= high <= 1.0
        if v.failed_executions == 0:
            assert e.first_failure is None and e.last_failure is None


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.sampled_from(".s"), min_size=1, max_size=60).map("".join),
    histories(),
)
def test_a_test_that_never_fails_is_never_flaky_or_broken(
    pattern: str, others: list[model.TestExecution]
) -> None:
    # Other tests fail around it (in its runs too), and it has retries of its own.
    rows = history(pattern, test="a::one", service="svc-a")
    rows += [e for e in others if e.test_id not in ("a::one", "a::clean")]
    verdict = next(v for v in classify(rows).verdicts if v.test_id == "a::one")
    assert verdict.verdict in (model.Verdict.STABLE, model.Verdict.INSUFFICIENT_DATA)


@settings(max_examples=80, deadline=None)
@given(
    st.integers(ClassifierConfig().min_runs, 80),
    st.lists(st.sampled_from("FB"), min_size=1, max_size=20).map("".join),
    st.booleans(),
)
def test_failing_on_every_run_since_a_commit_is_broken_never_flaky(
    passes: int, failures: str, quarantined: bool
) -> None:
    held = {("svc", "t::x")} if quarantined else set()
    (verdict,) = classify(history("." * passes + failures), quarantined=held).verdicts
    assert verdict.verdict is model.Verdict.BROKEN
    assert verdict.since is not None and verdict.since.commit == f"c{passes:04d}"


@st.composite
def sparse_histories(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """Per commit (failures, executions): mostly clean, with failing, mixed and all-failing
    commits in between, and priors from the whole plausible range."""
    totals = draw(st.lists(st.integers(1, 3), min_size=1, max_size=60))
    fails = [draw(st.sampled_from([0] * 6 + list(range(t + 1)))) for t in totals]
    return fails, totals


@settings(max_examples=200, deadline=None)
@given(
    sparse_histories(),
    st.sampled_from([0.01, 0.05, 0.2]),
    st.sampled_from([0.002, 0.01, 0.05]),
)
def test_merging_clean_stretches_keeps_the_optimal_segmentation(
    counts: tuple[list[int], list[int]], flaky_prior: float, change_prior: float
) -> None:
    """The segmentation over units (clean stretches merged) is the one over single commits:
    the same change points and the same cost."""
    fails, totals = (np.array(x, dtype=np.int64) for x in counts)
    prior = Prior(flaky=flaky_prior, change=change_prior)
    merged, cost = segment(fails, totals, prior)
    single, single_cost = _segment(fails, totals, prior)
    assert merged == single
    assert math.isclose(cost, single_cost, rel_tol=1e-12, abs_tol=1e-9)
