"""Each rule of the classifier on a small synthetic history built for it."""

from __future__ import annotations

import dataclasses
import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy.stats import binom

from gatekeeper import model
from gatekeeper.errors import ConfigError
from gatekeeper.flaky import ClassifierConfig, classify
from gatekeeper.flaky.segment import Prior, jeffreys_interval, segment

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
P, F = model.Outcome.PASSED, model.Outcome.FAILED


def run(
    i: int,
    test: str,
    outcomes: list[model.Outcome] | model.Outcome,
    *,
    service: str = "svc",
    attempt: int = 1,
    branch: str = "main",
    commit: str | None = None,
    message: str | None = None,
) -> list[model.TestExecution]:
    """The executions of one test in main run ``i`` (its retries, in order)."""
    attempts = outcomes if isinstance(outcomes, list) else [outcomes]
    return [
        model.TestExecution(
            service=service,
            test_id=test,
            run_pk=i * 10 + attempt,
            run_id=f"run-{i}" if branch == "main" else f"run-{branch}-{i}",
            attempt=attempt,
            commit=commit or f"c{i:04d}",
            branch=branch,
            timestamp=T0 + timedelta(hours=i, minutes=10 * (attempt - 1)),
            outcome=o,
            retry=r,
            message=message if o.is_failure else None,
        )
        for r, o in enumerate(attempts)
    ]


def history(pattern: str, test: str = "t::x", service: str = "svc") -> list[model.TestExecution]:
    """One execution per main run: ``.`` passed, ``F`` failed, ``s`` skipped, ``R`` failed
    and passed on a retry in the same run, ``B`` failed on every one of three retries."""
    out: list[model.TestExecution] = []
    for i, c in enumerate(pattern):
        outcomes = {
            ".": [P], "F": [F], "s": [model.Outcome.SKIPPED], "R": [F, P], "B": [F, F, F],
        }[c]  # fmt: skip
        out += run(i, test, outcomes, service=service)
    return out


def verdict_of(rows: list[model.TestExecution], **kw: object) -> model.TestVerdict:
    result = classify(rows, **kw)  # type: ignore[arg-type]
    assert len(result.verdicts) == 1
    return result.verdicts[0]


def scattered(n: int, failures: int) -> str:
    """``n`` runs with ``failures`` isolated failures spread evenly (none at either end)."""
    spots = {round((j + 0.5) * n / failures) for j in range(failures)}
    return "".join("F" if i in spots else "." for i in range(n))


# -- flaky, stable, broken ----------------------------------------------------------------------


@pytest.mark.parametrize(("runs", "failures"), [(400, 6), (500, 5), (300, 3), (100, 2)])
def test_a_low_failure_rate_with_enough_runs_is_flaky(runs: int, failures: int) -> None:
    v = verdict_of(history(scattered(runs, failures)), config=ClassifierConfig(window=0))
    assert v.verdict is model.Verdict.FLAKY
    assert v.evidence.failures == failures and v.evidence.runs == runs
    low, high = v.evidence.failure_rate_ci95 or (0, 0)
    assert low < failures / runs < high
    assert v.change_points == ()
    assert v.evidence.flips == 2 * failures


def test_one_failure_is_not_enough_to_call_a_test_flaky() -> None:
    v = verdict_of(history(scattered(31, 1)))
    assert v.verdict is model.Verdict.STABLE
    assert v.evidence.failures == 1


def test_a_regression_fixed_after_two_commits_is_not_flaky() -> None:
    v = verdict_of(history("." * 12 + "FF" + "." * 20))
    assert v.verdict is model.Verdict.STABLE
    assert [c.commit for c in v.change_points] == ["c0012", "c0014"]
    assert [(c.rate_before, c.rate_after) for c in v.change_points] == [(0.0, 1.0), (1.0, 0.0)]


def test_a_test_failing_since_a_commit_is_broken_since_it() -> None:
    v = verdict_of(history("." * 20 + "F" * 5))
    assert v.verdict is model.Verdict.BROKEN
    assert v.since is not None and v.since.commit == "c0020" and v.since.run == "run-20"
    assert (v.evidence.runs, v.evidence.failures, v.evidence.failure_rate) == (5, 5, 1.0)
    assert v.evidence.confidence is not None and v.evidence.confidence > 0.95
    assert v.evidence.first_failure == model.FailurePoint(
        "c0020", (T0 + timedelta(hours=20)).date(), "run-20"
    )


def test_retries_that_all_fail_make_a_regression_more_certain() -> None:
    once = verdict_of(history("." * 20 + "FF"))
    thrice = verdict_of(history("." * 20 + "BB"))
    assert once.verdict is thrice.verdict is model.Verdict.BROKEN
    assert thrice.evidence.runs == 6
    assert (thrice.evidence.confidence or 0) >= (once.evidence.confidence or 0)


def test_a_flaky_test_that_fails_on_its_last_run_is_still_flaky() -> None:
    v = verdict_of(history(scattered(60, 8) + "F"))
    assert v.verdict is model.Verdict.FLAKY


def test_a_pass_and_a_fail_in_one_run_prove_flakiness_even_with_few_runs() -> None:
    v = verdict_of(history("..R"))
    assert v.verdict is model.Verdict.FLAKY
    assert v.evidence.same_commit_flips == 1
    assert v.evidence.confidence == 1.0


def test_a_rerun_of_the_same_commit_that_passes_is_same_commit_evidence() -> None:
    rows = history("." * 10)
    rows += run(10, "t::x", F) + run(10, "t::x", P, attempt=2)
    v = verdict_of(rows)
    assert v.verdict is model.Verdict.FLAKY
    assert v.evidence.same_commit_flips == 1


def test_too_few_runs_give_insufficient_data() -> None:
    assert verdict_of(history("..F..")).verdict is model.Verdict.INSUFFICIENT_DATA
    assert verdict_of(history("....")).verdict is model.Verdict.INSUFFICIENT_DATA
    assert verdict_of(history("sssssssssss")).evidence.runs == 0


def test_skipped_executions_are_ignored() -> None:
    plain = verdict_of(history(scattered(100, 4)))
    with_skips = verdict_of(history("".join(c + "s" for c in scattered(100, 4)), test="t::x"))
    # The skips shift the runs (and commits) the failures happen in, nothing else.
    fields = ("verdict", "confidence", "runs", "failures", "failure_rate", "failure_rate_ci95",
              "flips", "same_commit_flips", "burst_failures")  # fmt: skip
    for name in fields:
        assert getattr(plain.evidence, name) == getattr(with_skips.evidence, name), name
    assert plain.verdict is with_skips.verdict is model.Verdict.FLAKY


# -- branches -----------------------------------------------------------------------------------


def test_a_pull_request_that_breaks_a_test_is_not_a_flake() -> None:
    rows = history("." * 30)
    rows += run(31, "t::x", [F, F, F], branch="feat-x", commit="pr1")
    rows += run(31, "t::x", [F, F, F], branch="feat-x", commit="pr1", attempt=2)
    v = verdict_of(rows)
    assert v.verdict is model.Verdict.STABLE
    assert v.evidence.failures == 0 and v.executions == 30


def test_a_pass_and_a_fail_on_a_pull_request_commit_count() -> None:
    rows = history("." * 30)
    rows += run(31, "t::x", [F, P], branch="feat-x", commit="pr1")
    v = verdict_of(rows)
    assert v.evidence.same_commit_flips == 1
    assert v.verdict is model.Verdict.FLAKY
    only_main = verdict_of(rows, config=ClassifierConfig(same_commit_any_branch=False))
    assert only_main.verdict is model.Verdict.STABLE


def test_the_default_branch_is_configurable() -> None:
    rows = [dataclasses.replace(e, branch="trunk") for e in history("." * 20 + "FFF")]
    assert verdict_of(rows).verdict is model.Verdict.INSUFFICIENT_DATA  # nothing on main
    assert verdict_of(rows, config=ClassifierConfig(default_branch="trunk")).verdict is (
        model.Verdict.BROKEN
    )


def test_the_window_keeps_the_most_recent_commits() -> None:
    v = verdict_of(history(scattered(100, 10) + "." * 200), config=ClassifierConfig(window=150))
    assert v.executions == 150
    assert v.evidence.failures == 0


# -- hysteresis and healing ---------------------------------------------------------------------

# One failure in 31 runs: some evidence of flakiness, not enough to quarantine.
WEAK = "." * 10 + "F" + "." * 20


def test_the_bar_to_become_flaky_is_higher_than_to_stay_flaky() -> None:
    free = verdict_of(history(WEAK))
    held = verdict_of(history(WEAK), quarantined={("svc", "t::x")})
    assert free.verdict is model.Verdict.STABLE
    assert held.verdict is model.Verdict.FLAKY
    assert (held.evidence.failures, held.evidence.runs) == (1, 31)
    assert held.since is not None and held.since.commit == "c0000"


def test_a_quarantined_test_keeps_the_evidence_of_its_flaky_stretch() -> None:
    # Flaky for 60 runs, then passing for 40: the passes are a segment of their own, and with
    # a very strict heal bar not enough to heal. The evidence shows the flaky stretch and the
    # passes since, not only the passes.
    strict = ClassifierConfig(heal_alpha=1e-9)
    held = {("svc", "t::x")}
    v = verdict_of(history(scattered(60, 12) + "." * 40), config=strict, quarantined=held)
    assert v.verdict is model.Verdict.FLAKY
    assert len(v.change_points) == 1 and v.change_points[0].rate_after == 0.0
    assert (v.evidence.failures, v.evidence.runs) == (12, 100)
    assert v.since is not None and v.since.commit == "c0000"
    never = verdict_of(history("." * 20), quarantined={("svc", "t::x")})
    assert never.verdict is model.Verdict.FLAKY and never.since is None


def test_a_quarantined_test_heals_when_its_passes_make_the_old_rate_implausible() -> None:
    before = scattered(60, 12)  # 20% failure rate
    held = {("svc", "t::x")}
    short = verdict_of(history(before + "." * 8), quarantined=held)
    long = verdict_of(history(before + "." * 40), quarantined=held)
    assert short.verdict is model.Verdict.FLAKY
    assert long.verdict is model.Verdict.HEALED
    assert long.evidence.confidence is not None and long.evidence.confidence >= 0.95
    # Not quarantined, the same history is simply stable now (the rate changed).
    assert verdict_of(history(before + "." * 40)).verdict is not model.Verdict.FLAKY


def test_healing_needs_the_old_rate_to_be_implausible() -> None:
    # The heal rule by hand: 12 failures spread over 60 runs, then ``extra`` passes. The old
    # rate is the Jeffreys mean (k + 1/2) / (m + 1) of the segment holding the last failure:
    # the whole history, or, once the passes are cut off as a segment of their own, the part
    # before that change point. It heals once (1 - rate)^(passes since) < 0.05.
    held = {("svc", "t::x")}
    before = scattered(60, 12)
    tail = len(before) - 1 - before.rindex("F")
    healed = []
    for extra in range(40):
        v = verdict_of(history(before + "." * extra), quarantined=held)
        assert len(v.change_points) <= 1
        m = 60 + extra
        if v.change_points:
            m = int((v.change_points[0].commit or "")[1:])  # c0059 -> 59 runs before it
            assert m > before.rindex("F")
        expected = (1 - (12 + 0.5) / (m + 1)) ** (tail + extra) < 0.05
        assert (v.verdict is model.Verdict.HEALED) == expected, extra
        healed.append(expected)
    assert healed[0] is False and healed[-1] is True
    assert healed == sorted(healed)  # once healed, more passes keep it healed


def test_a_quarantined_test_without_failures_heals_against_the_reference_rate() -> None:
    held = {("svc", "t::x")}
    need = math.ceil(math.log(0.05) / math.log(1 - 0.05))  # 59 passes at the 5% reference
    assert verdict_of(history("." * (need - 1)), quarantined=held).verdict is model.Verdict.FLAKY
    assert verdict_of(history("." * need), quarantined=held).verdict is model.Verdict.HEALED


def test_a_quarantined_test_that_becomes_broken_is_reported_broken() -> None:
    v = verdict_of(history(scattered(40, 6) + "B" * 6), quarantined={("svc", "t::x")})
    assert v.verdict is model.Verdict.BROKEN


# -- infrastructure bursts ----------------------------------------------------------------------

DOWN = "failed to connect to db at 10.0.0.{n}:5432: connection refused"


def service_history(burst_runs: dict[int, list[int]], runs: int = 40, tests: int = 40,
                    reruns: bool = True) -> list[model.TestExecution]:  # fmt: skip
    """``tests`` stable tests over ``runs`` main runs; in run i of ``burst_runs`` the listed
    tests fail with one shared message (with a varying address), and attempt 2 passes."""
    rows: list[model.TestExecution] = []
    for i in range(runs):
        failing = burst_runs.get(i, [])
        for t in range(tests):
            name = f"t::test_{t:02d}"
            if t in failing:
                rows += run(i, name, F, message=DOWN.format(n=t))
                if reruns:
                    rows += run(i, name, P, attempt=2)
            else:
                rows += run(i, name, P)
                if reruns and failing:
                    rows += run(i, name, P, attempt=2)
    return rows


def test_a_burst_is_found_and_its_failures_do_not_make_tests_flaky() -> None:
    rows = service_history({17: list(range(25))})
    result = classify(rows)
    assert [(b.run_id, b.attempt, b.failures, b.tests) for b in result.bursts] == [
        ("run-17", 1, 25, 40)
    ]
    burst = result.bursts[0]
    assert burst.message == "failed to connect to db at #.#.#.#:#: connection refused"
    assert burst.p_value == pytest.approx(binom.sf(24, 40, burst.expected_share))
    for v in result.verdicts:
        assert v.verdict is model.Verdict.STABLE
        assert v.evidence.same_commit_flips == 0
    assert sum(v.evidence.burst_failures or 0 for v in result.verdicts) == 25
    assert classify(list(reversed(rows))) == result


def test_a_small_share_with_one_shared_message_is_a_burst_too() -> None:
    # 8 of 200 tests (4%) fail together with one message: below the 20% share, found by the
    # shared message; the binomial test against a clean history is overwhelming.
    result = classify(service_history({5: list(range(8))}, runs=12, tests=200))
    assert [b.run_id for b in result.bursts] == ["run-5"]


def test_without_burst_detection_the_rerun_looks_like_flakiness() -> None:
    rows = service_history({17: list(range(25))})
    off = classify(rows, ClassifierConfig(common_cause_prior=1e-300))
    assert off.bursts == ()
    assert sum(v.verdict is model.Verdict.FLAKY for v in off.verdicts) == 25


def test_a_mass_regression_that_persists_is_not_a_burst() -> None:
    # The same 25 tests fail in every run from run 30 on: code, not infrastructure.
    rows = service_history({i: list(range(25)) for i in range(30, 40)}, reruns=False)
    result = classify(rows)
    assert result.bursts[:-1] == ()  # only the newest run could still be a one-off
    broken = [v for v in result.verdicts if v.verdict is model.Verdict.BROKEN]
    assert len(broken) == 25
    assert {v.since.commit for v in broken if v.since} == {"c0030"}


def noisy_service(
    bursts: dict[int, tuple[list[int], str]], runs: int = 40, tests: int = 70
) -> list[model.TestExecution]:
    """``tests`` tests over ``runs`` main runs, one ordinary failure in every run (a different
    test, its own message: the service's background), and in run i of ``bursts`` the listed
    tests fail with the given message (formatted with the test number ``n`` and a letter ``a``:
    numbers are blanked when messages are compared), passing on attempt 2."""
    rows: list[model.TestExecution] = []
    for i in range(runs):
        failing, message = bursts.get(i, ([], ""))
        lone = (i * 13 + 5) % tests
        for t in range(tests):
            name = f"t::test_{t:02d}"
            if t in failing:
                text = message.format(n=t, a=chr(ord("a") + t % 26))
                rows += run(i, name, F, message=text)
                rows += run(i, name, P, attempt=2)
            else:
                own = f"assert test {t} == expected"
                rows += run(i, name, F if t == lone else P, message=own)
                if failing:
                    rows += run(i, name, P, attempt=2)
    return rows


def test_a_shared_message_lowers_the_bar_for_a_burst() -> None:
    # 6 of 70 tests fail at once against a background of one failure per run: improbable by
    # count (p between 1e-6 and 1e-3), not overwhelming; with one shared message it is a burst.
    shared = classify(noisy_service({20: (list(range(30, 36)), DOWN)}))
    (burst,) = shared.bursts
    # the 6; the background one, failing with a message the service's own failures carry and
    # the other failures of the attempt do not, stays its test's own
    assert burst.run_id == "run-20" and burst.failures == 6
    assert 1e-6 < burst.p_value < 1e-3
    # None of the six is flaky; the background test failed with its own message and passed on
    # the retry: a pass and a fail of one commit that no common cause explains.
    flaky = {v.test_id for v in shared.verdicts if v.verdict is model.Verdict.FLAKY}
    assert flaky == {f"t::test_{(20 * 13 + 5) % 70:02d}"}


def test_failures_the_tests_own_rates_explain_are_not_a_common_cause() -> None:
    # Six flaky tests, each failing on its own in every sixth run (own messages), fail together
    # once: their own rates (about 17%) make six at once plausible; no environment is needed.
    rows: list[model.TestExecution] = []
    for i in range(40):
        for t in range(70):
            name = f"t::test_{t:02d}"
            own = 30 <= t < 36 and (i % 6 == t - 30 or i == 20)
            rows += run(i, name, F if own else P, message=f"assert {'abcdefghij'[t % 10]}x ok")
            if own:
                rows += run(i, name, P, attempt=2)
    result = classify(rows)
    assert result.bursts == ()
    flaky = {v.test_id for v in result.verdicts if v.verdict is model.Verdict.FLAKY}
    assert flaky == {f"t::test_{t}" for t in range(30, 36)}
    # the same six tests without a history of their own: six clean tests failing in one
    # attempt are a common cause, whatever their messages say
    fresh = [e for e in rows if e.outcome is P or e.run_id == "run-20"]
    (burst,) = classify(fresh).bursts
    assert (burst.run_id, burst.failures, burst.message) == ("run-20", 6, None)


def test_a_small_burst_with_a_message_of_an_earlier_burst_is_a_burst() -> None:
    rows = noisy_service({10: (list(range(40)), DOWN), 30: ([3, 8], DOWN)})
    result = classify(rows)
    assert [b.run_id for b in result.bursts] == ["run-10", "run-30"]
    assert result.bursts[1].message == "failed to connect to db at #.#.#.#:#: connection refused"
    # the two that failed with it are charged to it; each attempt's background failure, with
    # a message of its own (and a pass on attempt 2), stays its test's own evidence, in the
    # small burst and in the big one
    flaky = {v.test_id for v in result.verdicts if v.verdict is model.Verdict.FLAKY}
    assert flaky == {f"t::test_{(i * 13 + 5) % 70:02d}" for i in (10, 30)}


def test_flaky_tests_failing_in_the_same_attempt_by_chance_are_not_a_burst() -> None:
    # Eight flaky tests of 40, each failing in a third of the runs (by its own rhythm), often two
    # or three in one attempt: what their own rates predict.
    rows: list[model.TestExecution] = []
    for i in range(60):
        for t in range(40):
            fails = t < 8 and (i * (t + 3) + t) % 3 == 0
            rows += run(i, f"t::test_{t:02d}", F if fails else P, message=f"assert {t} == 1")
    result = classify(rows)
    assert result.bursts == ()
    assert all(v.evidence.burst_failures == 0 for v in result.verdicts)


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"flaky_prior": 0.0}, {"change_prior": 1.0}, {"enter_confidence": 1.5},
     {"common_cause_prior": 1.0}, {"min_runs": -1}, {"heal_alpha": -0.1}],
)  # fmt: skip
def test_bad_settings_are_config_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        ClassifierConfig(**kwargs)  # type: ignore[arg-type]


# -- the statistics themselves ------------------------------------------------------------------


@pytest.mark.parametrize(("p", "n"), [(0.02, 200), (0.1, 50), (0.3, 30), (0.5, 20)])
def test_the_jeffreys_interval_covers_about_95_percent(p: float, n: int) -> None:
    # Exact coverage: sum the binomial probabilities of the counts whose interval holds p.
    coverage = sum(
        binom.pmf(k, n, p)
        for k in range(n + 1)
        if jeffreys_interval(k, n)[0] <= p <= jeffreys_interval(k, n)[1]
    )
    assert 0.92 <= coverage <= 0.98


def test_the_jeffreys_interval_ends() -> None:
    assert jeffreys_interval(0, 30)[0] == 0.0
    assert jeffreys_interval(30, 30)[1] == 1.0
    assert jeffreys_interval(0, 0) == (0.0, 1.0)
    low, high = jeffreys_interval(10, 100)
    assert 0.04 < low < 0.1 < high < 0.18


def test_segmentation_finds_the_optimum_of_a_brute_force_search() -> None:
    rng = np.random.default_rng(7)
    prior = Prior()
    for _ in range(40):
        n = int(rng.integers(1, 9))
        totals = rng.integers(1, 4, size=n)
        fails = np.array([int(rng.integers(0, t + 1)) for t in totals])
        _, cost = segment(fails, totals, prior)
        assert cost == pytest.approx(brute_force(fails, totals, prior))


def brute_force(fails: np.ndarray, totals: np.ndarray, prior: Prior) -> float:
    """Try every set of change points (2^(n-1) of them)."""
    n = len(totals)
    best = math.inf
    for mask in range(2 ** (n - 1)):
        cuts = [0, *(i + 1 for i in range(n - 1) if mask >> i & 1), n]
        cost = prior.penalty * (len(cuts) - 2)
        for s, e in itertools.pairwise(cuts):
            k, m = int(fails[s:e].sum()), int(totals[s:e].sum())
            seg = prior.flaky_cost(k, m)
            if k in (0, m):
                seg = min(seg, prior.pure_cost)
            cost += seg
        best = min(best, cost)
    return best
