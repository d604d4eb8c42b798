"""A run whose benchmarks moved together (gatekeeper.gate.shift, and its finding in decide).

The runs are built by hand: benchmark i has a centre, a noise ``a`` (the standard deviation of
the logarithms of its 20 earlier results, by construction) and, in a loaded run, the run's load
factor times its own small jitter. The expected verdicts follow from those numbers with a wide
margin (worked out in the comments), not from the code under test.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.gate.benchmarks import judge
from gatekeeper.gate.coverage import CoverageOutcome
from gatekeeper.gate.decide import decide
from gatekeeper.gate.shift import MIN_JUDGED, judge_run, scatter, steady_history
from gatekeeper.gate.tests import TestsOutcome
from gatekeeper.model import (
    BenchmarkResult,
    BenchmarkVerdict,
    Direction,
    FailureKind,
    RunCounts,
    RunMeta,
    SpreadKind,
)
from gatekeeper.rules import BenchmarkRules, CommonShift, GateConfig

V = BenchmarkVerdict
CONFIG = GateConfig()
# 20 earlier results: ln(value / centre) = a * _ZS * Z[k]. Z is ten +1s and ten -1s: mean 0,
# sample standard deviation sqrt(20 / 19); times _ZS it is exactly 1, so the noise is ``a``.
_Z = [1.0, -1.0] * 10
_ZS = math.sqrt(19 / 20)
# Each benchmark's own jitter about the run's load factor: 0.06 * W, W symmetric about 0, so
# the median of the 40 log factors is the run's own.
_W = [-1.5, -0.5, 0.5, 1.5]
NAMES = [f"bench_{i:02d}" for i in range(40)]
# Centres from 120 ns to a few ms; noise 2 %, 3 % or 5 % (a quiet CI runner).
CENTRES = {n: 120.0 * 1.27**i for i, n in enumerate(NAMES)}
NOISE = {n: (0.02, 0.03, 0.05)[i % 3] for i, n in enumerate(NAMES)}


def _result(name: str, value: float, spread: float | None = None, **kw: object) -> BenchmarkResult:
    kind = SpreadKind.RANGE if spread is not None else None
    return BenchmarkResult(name, value, "ns", spread=spread, spread_kind=kind, **kw)  # type: ignore[arg-type]


def _history(
    names: list[str] = NAMES, spread: float | None = None
) -> dict[tuple[str, str], list[BenchmarkResult]]:
    """20 quiet runs; ``spread``: each reports a libtest range of this share of its value."""
    out = {}
    for n in names:
        a = NOISE[n] * _ZS
        values = [CENTRES[n] * math.exp(a * z) for z in _Z]
        out[("", n)] = [_result(n, v, None if spread is None else spread * v) for v in values]
    return out


def _run(
    load: float,
    slowed: dict[str, float] | None = None,
    names: list[str] = NAMES,
    jitter: float = 0.06,
) -> list[BenchmarkResult]:
    """A run on a machine ``load`` times slower, each benchmark with its own jitter: its log
    factor is ``jitter * W`` off the run's (0.06: +/- 9 % at most; 0.15: +/- 25 %, so 2.3x is
    1.8x to 2.9x); ``slowed``: benchmarks a code change made this many times slower on top."""
    slowed = slowed or {}
    return [
        _result(n, CENTRES[n] * load * math.exp(jitter * _W[i % 4]) * slowed.get(n, 1.0))
        for i, n in enumerate(names)
    ]


def _named(js: tuple[object, ...] | list[object]) -> set[str]:
    return {j.name for j in js if j.verdict is V.REGRESSION}  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# The acceptance cases of the issue
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("jitter", [0.06, 0.15])
def test_a_loaded_run_of_40_benchmarks_names_at_most_one_regression(jitter: float) -> None:
    """With jitter 0.15 a quarter of the benchmarks are 25 % off the run's factor: beyond the
    threshold, and 5 to 12 noise standard deviations; only the run's scatter explains them."""
    history, run = _history(), _run(2.3, jitter=jitter)
    # before: each benchmark alone is 1.8x to 2.9x slower, far beyond 20 % and its 2-5 % noise
    alone = [judge(b, history[("", b.name)], BenchmarkRules()) for b in run]
    assert len(_named(alone)) == 40
    judged = judge_run(run, history, CONFIG, "app")
    assert len(_named(judged.judgements)) <= 1
    shift = judged.shift
    assert shift is not None and shift.worse
    assert (shift.moved, shift.judged) == (40, 40)
    assert shift.factor == pytest.approx(2.3, rel=0.01)  # the median of symmetric jitter
    assert shift.text == f"40 of 40 moved together by x{shift.factor:.3g}"


@pytest.mark.parametrize("jitter", [0.06, 0.15])
def test_four_benchmarks_a_change_made_2_5x_slower_inside_a_loaded_run_are_named(
    jitter: float,
) -> None:
    slowed = {NAMES[3]: 2.5, NAMES[14]: 2.5, NAMES[25]: 2.5, NAMES[38]: 2.5}
    judged = judge_run(_run(2.3, slowed, jitter=jitter), _history(), CONFIG, "app")
    # their residual: ln 2.5 = 0.92 give or take 1.5 x jitter (0.09 or 0.225), against noise
    # of 0.02-0.05 and the run's scatter (about the jitter's): 3 standard deviations or more
    assert _named(judged.judgements) == set(slowed)
    assert judged.shift is not None and (judged.shift.moved, judged.shift.judged) == (40, 40)
    for j in judged.judgements:
        if j.name in slowed:
            low, high = 2.5 * math.exp(-1.5 * jitter) - 1, 2.5 * math.exp(1.5 * jitter) - 1
            # the common factor is the median: a little above 2.3 with 4 slowed ones
            assert j.change is not None and low * 0.9 < j.change < high
            assert "(the run's common shift)" in j.message


def test_a_quiet_run_is_judged_exactly_as_before() -> None:
    history = _history()
    slowed = {NAMES[5]: 2.5, NAMES[6]: 1.5}
    run = _run(1.0, slowed)
    judged = judge_run(run, history, CONFIG, "app")
    alone = tuple(judge(b, history[("", b.name)], BenchmarkRules()) for b in run)
    assert judged.shift is None
    assert judged.judgements == alone
    assert _named(alone) == set(slowed)


def test_throughputs_and_times_move_the_same_worse_way() -> None:
    """A loaded machine halves throughputs as it doubles times: both are worse."""
    names = NAMES[:10]
    history = _history(names)
    for n in names[:5]:  # half of them throughputs (B/s), the same numbers
        history[("", n)] = [
            replace(r, unit="B/s", direction=Direction.HIGHER_IS_BETTER) for r in history[("", n)]
        ]
    run = []
    for b in _run(2.0, names=names):
        if b.name in names[:5]:
            worse = CENTRES[b.name] ** 2 / b.value  # the same factor, the other way
            b = replace(b, value=worse, unit="B/s", direction=Direction.HIGHER_IS_BETTER)
        run.append(b)
    judged = judge_run(run, history, CONFIG, "app")
    assert judged.shift is not None and judged.shift.moved == 10
    assert judged.shift.factor == pytest.approx(2.0, rel=0.05)
    assert not _named(judged.judgements)


def test_a_faster_machine_hides_no_regression() -> None:
    """Everything 2x faster (a new runner), one benchmark unchanged in absolute terms: it is
    2x slower than its peers, which a code change did."""
    slowed = {NAMES[7]: 2.0}
    judged = judge_run(_run(0.5, slowed), _history(), CONFIG, "app")
    assert judged.shift is not None and not judged.shift.worse
    assert judged.shift.text.startswith("39 of 40 moved together by /2")
    assert _named(judged.judgements) == set(slowed)


# ---------------------------------------------------------------------------------------------
# When it is not a common shift
# ---------------------------------------------------------------------------------------------


def test_too_few_benchmarks_to_tell_a_loaded_machine() -> None:
    names = NAMES[: MIN_JUDGED - 1]
    judged = judge_run(_run(2.3, names=names), _history(names), CONFIG, "app")
    assert judged.shift is None
    assert _named(judged.judgements) == set(names)  # as before: each alone


@pytest.mark.parametrize(("moved", "found"), [(20, False), (21, True)])
def test_more_than_half_must_move(moved: int, found: bool) -> None:
    """A change that slowed exactly half of the benchmarks 2.5x is theirs; one more is
    'most of them'."""
    slowed = dict.fromkeys(NAMES[:moved], 2.5)
    judged = judge_run(_run(1.0, slowed), _history(), CONFIG, "app")
    assert (judged.shift is not None) is found
    if not found:
        assert _named(judged.judgements) == set(slowed)


def test_benchmarks_without_enough_history_do_not_count() -> None:
    history = _history()
    for n in NAMES[:30]:
        history[("", n)] = history[("", n)][:3]  # min_history is 5
    judged = judge_run(_run(2.3), history, CONFIG, "app")
    assert judged.shift is not None and judged.shift.judged == 10
    verdicts = {j.verdict for j in judged.judgements[:30]}
    assert verdicts == {V.INSUFFICIENT_HISTORY}


def test_the_scatter_is_where_standardised_residuals_look_like_normal_noise() -> None:
    # all residuals 0.3 with scale 0.01: median(0.09 / (0.0001 + tau^2)) = 0.454936 at
    # tau^2 = 0.09 / 0.454936 - 0.0001 (tau = 0.44466); far above max|r|, the first guess
    assert scatter([(0.3, 0.01)] * 9) == pytest.approx(math.sqrt(0.09 / 0.454936 - 0.0001))
    assert scatter([(0.3, 0.01), (-0.3, 0.01), (0.3, 0.01)]) == pytest.approx(0.44466, abs=1e-5)
    # residuals no wider than their scales: no scatter
    assert scatter([(0.01, 0.05), (-0.02, 0.05), (0.0, 0.05)]) == 0.0


def test_a_benchmark_that_dropped_to_zero_takes_no_part_in_the_shift() -> None:
    run = _run(2.3)
    run[0] = replace(run[0], value=0.0)  # a time of 0: a 100 % "improvement", no ratio
    judged = judge_run(run, _history(), CONFIG, "app")
    assert judged.shift is not None and judged.shift.judged == 39
    assert judged.judgements[0].verdict is V.IMPROVEMENT
    assert len(_named(judged.judgements)) <= 1


def test_informational_benchmarks_never_leave_the_gate_undecided() -> None:
    judged = judge_run(_run(2.3), _history(), CONFIG, "app")
    d = decide(
        META, RunCounts(), TestsOutcome(), None, judged.judgements,
        common_shift=judged.shift, shift_rules=BenchmarkRules(informational=True),
    )  # fmt: skip
    assert d.passed is True and d.undecided == ""
    assert [w.subject for w in d.warnings] == ["benchmarks"]


# ---------------------------------------------------------------------------------------------
# Loaded runs in the history
# ---------------------------------------------------------------------------------------------

LOADED_EARLIER = {2, 5, 9, 12, 15, 18}  # 6 of the 20 earlier runs (more than a quarter) loaded


def _with_runs(load: float = 2.3) -> dict[tuple[str, str], list[tuple[int, BenchmarkResult]]]:
    """The 20 quiet earlier runs (run k is the k-th of each window), 6 of them 2.3x slow."""
    return {
        key: [
            (k, replace(r, value=r.value * load) if k in LOADED_EARLIER else r)
            for k, r in enumerate(results)
        ]
        for key, results in _history().items()
    }


def test_loaded_runs_in_the_history_are_divided_out() -> None:
    steady = steady_history(_with_runs(), CONFIG, "app")
    quiet = _history()
    for key, results in steady.items():
        for k, (r, q) in enumerate(zip(results, quiet[key], strict=True)):
            if k in LOADED_EARLIER:
                # 2.3 and the run's own shared noise (every benchmark of run k is a * Z[k] off,
                # a 3 % median) divided out: within 10 % of the quiet value
                assert 0.9 < r.value / q.value < 1.1
            else:
                assert r == q


def test_a_history_with_many_loaded_runs_still_catches_a_change() -> None:
    """6 of 20 earlier runs 2.3x slow: more than a quarter, so the noise estimate keeps them
    (sd of the logs about 0.4) and a 2.5x change (0.92) is no longer significant alone; with
    the loaded runs divided out the noise is 2-5 % again."""
    slowed = {NAMES[3]: 2.5, NAMES[14]: 2.5, NAMES[25]: 2.5, NAMES[38]: 2.5}
    run = _run(1.0, slowed)
    raw = {k: [r for _, r in v] for k, v in _with_runs().items()}
    assert _named(judge_run(run, raw, CONFIG, "app").judgements) == set()
    steady = steady_history(_with_runs(), CONFIG, "app")
    assert _named(judge_run(run, steady, CONFIG, "app").judgements) == set(slowed)


def test_a_quiet_history_is_left_as_it_is() -> None:
    steady = steady_history(_with_runs(load=1.0), CONFIG, "app")
    assert steady == _history()


# ---------------------------------------------------------------------------------------------
# The run's own spread is evidence
# ---------------------------------------------------------------------------------------------


def test_a_benchmark_whose_own_spread_is_ten_times_its_usual_is_weak_evidence() -> None:
    """Inside a loaded run, bench_09 is 1.6x slower than its peers. Its history reports a libtest
    range of 2 % of the value. With its usual range, 1.6x (0.47 on the log scale, 10 noise
    standard deviations) is a regression; with a range of 20 % it is within its noise
    (0.47 / (10 x 0.03) = 1.6 standard deviations)."""
    history = _history(spread=0.02)
    name = NAMES[9]
    run = [replace(b, spread=0.02 * b.value, spread_kind=SpreadKind.RANGE) for b in _run(2.3)]
    i = NAMES.index(name)
    usual = replace(run[i], value=run[i].value * 1.6)
    named = _named(judge_run([*run[:i], usual, *run[i + 1 :]], history, CONFIG, "app").judgements)
    assert named == {name}
    wide = replace(usual, spread=0.20 * usual.value)
    judged = judge_run([*run[:i], wide, *run[i + 1 :]], history, CONFIG, "app")
    assert not _named(judged.judgements)
    assert "this run by ±" in judged.judgements[i].message


# ---------------------------------------------------------------------------------------------
# The finding, by benchmarks.common_shift
# ---------------------------------------------------------------------------------------------

META = RunMeta(service="app", run_id="r1", commit=None, branch="main")


def _decide(mode: CommonShift, slowed: dict[str, float] | None = None) -> object:
    judged = judge_run(_run(2.3, slowed), _history(), CONFIG, "app")
    return decide(
        META,
        RunCounts(),
        TestsOutcome(),
        None,
        judged.judgements,
        common_shift=judged.shift,
        shift_rules=BenchmarkRules(common_shift=mode),
    )


def test_undecided_is_the_default_and_does_not_pass() -> None:
    assert BenchmarkRules().common_shift is CommonShift.UNDECIDED
    d = _decide(CommonShift.UNDECIDED)
    assert d.passed is False and d.failures == ()  # type: ignore[attr-defined]
    assert d.undecided.startswith("benchmarks: 40 of 40 moved together by x2.3")  # type: ignore[attr-defined]
    assert d.undecided.endswith(  # type: ignore[attr-defined]
        "(likely a loaded machine); re-run on a quieter machine, or set benchmarks.common_shift"
    )


def test_fail_is_one_finding_not_forty() -> None:
    d = _decide(CommonShift.FAIL)
    assert d.passed is False and d.undecided == ""  # type: ignore[attr-defined]
    assert [(f.kind, f.subject) for f in d.failures] == [(FailureKind.BENCHMARK, "benchmarks")]  # type: ignore[attr-defined]


def test_warn_passes_with_a_warning() -> None:
    d = _decide(CommonShift.WARN)
    assert d.passed is True and d.failures == ()  # type: ignore[attr-defined]
    assert [w.subject for w in d.warnings] == ["benchmarks"]  # type: ignore[attr-defined]
    assert "likely a loaded machine" in d.warnings[0].message  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", list(CommonShift))
def test_a_regression_beyond_the_common_shift_fails_in_every_mode(mode: CommonShift) -> None:
    d = _decide(mode, {NAMES[12]: 2.5})
    assert d.passed is False and d.undecided == ""  # type: ignore[attr-defined]
    assert NAMES[12] in {f.subject for f in d.failures}  # type: ignore[attr-defined]


def test_undecided_with_another_failure_is_decided() -> None:
    judged = judge_run(_run(2.3), _history(), CONFIG, "app")
    from gatekeeper.model import GateFailure

    tests = TestsOutcome(failures=(GateFailure(FailureKind.TEST, "t::x", "failed", "app"),))
    d = decide(
        META, RunCounts(), tests, CoverageOutcome(), judged.judgements,
        common_shift=judged.shift, shift_rules=BenchmarkRules(),
    )  # fmt: skip
    assert d.passed is False and d.undecided == ""
    assert any(w.subject == "benchmarks" for w in d.warnings)


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    factor=st.floats(1.3, 4.0),
    count=st.integers(MIN_JUDGED, 40),
    jitter=st.lists(st.floats(-0.03, 0.03), min_size=40, max_size=40),
    noise=st.floats(0.01, 0.05),
)
def test_a_common_factor_never_makes_a_regression(
    factor: float, count: int, jitter: list[float], noise: float
) -> None:
    """Every benchmark of a run within 3 % of its baseline, then all multiplied by one factor
    in [1.3, 4]: no benchmark is named (each alone would be: 1.3 x 0.97 is 26 % slower, at
    least 4.6 noise standard deviations)."""
    names = NAMES[:count]
    history = {
        ("", n): [_result(n, CENTRES[n] * math.exp(noise * _ZS * z)) for z in _Z] for n in names
    }
    run = [
        _result(n, CENTRES[n] * math.exp(j) * factor)
        for n, j in zip(names, jitter[:count], strict=True)
    ]
    judged = judge_run(run, history, CONFIG, "app")
    assert not _named(judged.judgements)
    assert judged.shift is not None and judged.shift.moved == count
    alone = [judge(b, history[("", b.name)], BenchmarkRules()) for b in run]
    assert _named(alone) == set(names)
