"""The benchmark regression gate (gatekeeper.gate.benchmarks): one result against its history.

Expected numbers are worked out by hand in the comments (the formulas are in
docs/gate-benchmarks.md); p-values are checked against scipy.stats, which the gate does not use.
The standard history ``_h5(a)`` is 100 x e^(-a, -a, 0, +a, +a): its median is 100, the standard
deviation of its logarithms is exactly ``a`` (sum of squares 4a^2 over n - 1 = 4), n = 5, 4
degrees of freedom, and the scale of ln(current / baseline) is ``a * sqrt(1 + pi / (2 * 5))``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from gatekeeper import parsers
from gatekeeper.gate.benchmarks import NOISE_FLOOR, compare, judge
from gatekeeper.model import BenchmarkResult, BenchmarkVerdict, Direction, SpreadKind
from gatekeeper.rules import BenchmarkRules

from ..conftest import ROOT

V = BenchmarkVerdict
LOWER, HIGHER = Direction.LOWER_IS_BETTER, Direction.HIGHER_IS_BETTER
RULES = BenchmarkRules()  # 20 %, significance 0.01, window 20, min_history 5
T99_4 = 3.746947387979196  # Student's t, 99th percentile, 4 degrees of freedom (tables: 3.747)


def _r(value: float, unit: str = "ns", name: str = "parse/large", **kw: object) -> BenchmarkResult:
    direction = kw.pop("direction", HIGHER if unit.endswith("/s") else LOWER)
    return BenchmarkResult(name, value, unit, direction=direction, **kw)  # type: ignore[arg-type]


def _h5(a: float, centre: float = 100.0, unit: str = "ns", **kw: object) -> list[BenchmarkResult]:
    return [_r(centre * math.exp(z * a), unit, **kw) for z in (1, -1, 0, 1, -1)]


def _scale(a: float, n: int = 5) -> float:
    return a * math.sqrt(1 + math.pi / (2 * n))


# ---------------------------------------------------------------------------------------------
# The decision, case by case
# ---------------------------------------------------------------------------------------------

# _h5(0.05): scale = 0.05 * 1.146368 = 0.0573184; significant when ln(current / 100) is above
# 3.746947 * 0.0573184 = 0.214769, i.e. current > 100 * e^0.214769 = 123.96. The threshold says
# current > 120. Both must hold. Throughput (higher is better): current < 100 * e^-0.214769 =
# 80.67 and current < 80.
CASES = [
    # (id, history, current, rules, verdict)
    ("just-over-both", _h5(0.05), _r(124.2), RULES, V.REGRESSION),
    ("over-threshold-not-significant", _h5(0.05), _r(123.7), RULES, V.UNCHANGED),
    ("under-threshold-significant", _h5(0.05), _r(119.5), RULES, V.UNCHANGED),
    ("equal", _h5(0.05), _r(100.0), RULES, V.UNCHANGED),
    # 20 % better is not *more* than 20 % better; 21 % is (and p = 0.0074)
    ("improvement", _h5(0.05), _r(79.0), RULES, V.IMPROVEMENT),
    ("exactly-20-faster", _h5(0.05), _r(80.0), RULES, V.UNCHANGED),
    # throughput: worse is lower
    ("thrpt-22-lower", _h5(0.05, unit="MB/s"), _r(78.0, "MB/s"), RULES, V.REGRESSION),
    ("thrpt-20.5-lower", _h5(0.05, unit="MB/s"), _r(79.5, "MB/s"), RULES, V.REGRESSION),
    ("thrpt-19.5-lower", _h5(0.05, unit="MB/s"), _r(80.5, "MB/s"), RULES, V.UNCHANGED),
    ("thrpt-24-higher", _h5(0.05, unit="MB/s"), _r(124.2, "MB/s"), RULES, V.IMPROVEMENT),
    # rules.direction wins over the result's own direction
    ("override-higher", _h5(0.05), _r(78.0), replace(RULES, direction=HIGHER), V.REGRESSION),
    ("override-higher-up", _h5(0.05), _r(124.2), replace(RULES, direction=HIGHER), V.IMPROVEMENT),
    (
        "override-lower",
        _h5(0.05, unit="MB/s"),
        _r(124.2, "MB/s"),
        replace(RULES, direction=LOWER),
        V.REGRESSION,
    ),
    # a 10 % threshold: 119.5 is +19.5 %, and significant (above 123.96? no: 0.178 < 0.2148)
    ("threshold-10", _h5(0.05), _r(119.5), replace(RULES, max_regression=10.0), V.UNCHANGED),
    ("threshold-10-sig", _h5(0.05), _r(124.2), replace(RULES, max_regression=10.0), V.REGRESSION),
    # significance 0.05: t(0.95, 4) = 2.131847, cut 0.122193 -> 113.0; the threshold (120) rules
    ("alpha-0.05", _h5(0.05), _r(120.5), replace(RULES, significance=0.05), V.REGRESSION),
    ("alpha-0", _h5(0.05), _r(500.0), replace(RULES, significance=0.0), V.UNCHANGED),
    # _h5(0.15): cut 3.746947 * 0.171955 = 0.644303 -> 190.5: a noisy benchmark 50 % slower
    ("noisy-50", _h5(0.15), _r(150.0), RULES, V.UNCHANGED),
    ("noisy-100", _h5(0.15), _r(200.0), RULES, V.REGRESSION),
]


@pytest.mark.parametrize(
    ("history", "current", "rules", "verdict"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_verdicts(
    history: list[BenchmarkResult],
    current: BenchmarkResult,
    rules: BenchmarkRules,
    verdict: BenchmarkVerdict,
) -> None:
    j = judge(current, history, rules)
    assert j.verdict is verdict, j.message
    assert j.failing is (verdict is V.REGRESSION)
    assert j.baseline == pytest.approx(100.0)
    assert j.change == pytest.approx(current.value / 100 - 1)
    assert j.history == 5
    assert j.threshold == rules.max_regression
    assert j.direction is (rules.direction or current.direction)


@pytest.mark.parametrize("current", [124.2, 123.7, 130.0, 79.0, 100.0])
def test_p_value_is_the_one_sided_t_test_of_no_change(current: float) -> None:
    t = math.log(current / 100) / _scale(0.05)
    j = judge(_r(current), _h5(0.05), RULES)
    assert j.p_value == pytest.approx(stats.t.sf(t, df=4), rel=1e-9)


def test_throughput_p_value_counts_a_drop_as_worse() -> None:
    t = -math.log(78 / 100) / _scale(0.05)  # 4.334758
    j = judge(_r(78.0, "MB/s"), _h5(0.05, unit="MB/s"), RULES)
    assert j.p_value == pytest.approx(stats.t.sf(t, df=4), rel=1e-9)
    assert j.p_value == pytest.approx(0.006152, abs=1e-6)


def test_the_significance_boundary_is_where_the_hand_computation_puts_it() -> None:
    boundary = 100 * math.exp(T99_4 * _scale(0.05))  # 123.957
    assert boundary == pytest.approx(123.957, abs=1e-3)
    assert judge(_r(boundary * 1.0001), _h5(0.05), RULES).verdict is V.REGRESSION
    assert judge(_r(boundary * 0.9999), _h5(0.05), RULES).verdict is V.UNCHANGED


def test_message_reads_like_the_issue_example() -> None:
    history = _h5(0.05, centre=1.21e6)
    j = judge(_r(1.52e6), history, RULES)
    t = math.log(1.52 / 1.21) / _scale(0.05)  # 3.98: p = 0.0082
    p = stats.t.sf(t, df=4)
    assert j.message == (
        f"parse/large: 1.52 ms vs baseline 1.21 ms (+25.6%, p={p:.2g}, 5 runs): "
        "slower than the 20% threshold"
    )


def test_rates_and_small_values_read_well() -> None:
    history = [_r(v * 1e6, "B/s") for v in (410, 405, 412, 398, 407, 415, 402, 409)]
    j = judge(_r(300e6, "B/s"), history, RULES)  # median of 8: (407 + 409) / 2 = 408
    assert j.message.startswith("parse/large: 300 MB/s vs baseline 408 MB/s (-26.5%, p=")
    assert j.verdict is V.REGRESSION
    assert judge(_r(0.26), [], RULES).message.startswith("parse/large: 0.26 ns:")


def test_messages_say_why_nothing_failed() -> None:
    noisy = judge(_r(150.0), _h5(0.15), RULES)
    # runs vary by e^0.15 - 1 = 16.2 %
    assert "within the noise (p ≥ 0.01; runs vary by ±16.2%)" in noisy.message
    assert "within the 20% threshold" in judge(_r(119.5), _h5(0.05), RULES).message
    better = judge(_r(79.0), _h5(0.05), RULES)
    assert better.message.endswith("faster than the 20% threshold")
    assert "p=0.0074" in better.message  # the p-value of the direction it moved: 0.007351
    thrpt = judge(_r(78.0, "MB/s"), _h5(0.05, unit="MB/s"), RULES)
    assert thrpt.message.endswith("worse than the 20% threshold (higher is better)")


# ---------------------------------------------------------------------------------------------
# Ceiling, no history, too little history, units, odd values
# ---------------------------------------------------------------------------------------------


def test_ceiling_fails_whatever_the_history() -> None:
    rules = replace(RULES, ceiling=105.0)
    j = judge(_r(110.0), _h5(0.05), rules)  # +10 %: unchanged by the history
    assert (j.verdict, j.failing, j.ceiling) == (V.OVER_CEILING, True, 105.0)
    assert j.baseline == pytest.approx(100.0) and j.change == pytest.approx(0.10)
    assert j.message.endswith("within the 20% threshold; above the ceiling of 105 ns")


def test_ceiling_without_history() -> None:
    j = judge(_r(110.0), [], replace(RULES, ceiling=105.0))
    assert (j.verdict, j.failing, j.history, j.baseline) == (V.OVER_CEILING, True, 0, None)
    assert (
        j.message
        == "parse/large: 110 ns: new benchmark, no earlier results; above the ceiling of 105 ns"
    )
    few = judge(_r(110.0), _h5(0.05)[:2], replace(RULES, ceiling=105.0))
    assert few.verdict is V.OVER_CEILING and few.failing


def test_ceiling_of_a_throughput_is_a_minimum() -> None:
    rules = replace(RULES, ceiling=95.0)
    assert judge(_r(90.0, "MB/s"), [], rules).verdict is V.OVER_CEILING
    assert judge(_r(96.0, "MB/s"), [], rules).verdict is V.NEW
    assert judge(_r(96.0, "MB/s"), _h5(0.05, unit="MB/s"), rules).verdict is V.UNCHANGED


def test_ceiling_not_reached_leaves_the_verdict() -> None:
    j = judge(_r(124.2), _h5(0.05), replace(RULES, ceiling=1000.0))
    assert j.verdict is V.REGRESSION and j.ceiling == 1000.0


def test_no_history_is_new() -> None:
    j = judge(_r(1e9), [], RULES)
    assert (j.verdict, j.failing, j.history, j.baseline, j.change, j.p_value) == (
        V.NEW, False, 0, None, None, None,
    )  # fmt: skip
    assert j.message == "parse/large: 1 s: new benchmark, no earlier results"


def test_too_little_history_is_recorded_not_judged() -> None:
    four = _h5(0.05)[:4]  # 100e^.05, 100e^-.05, 100, 100e^.05: median (100 + 105.127) / 2
    j = judge(_r(300.0), four, RULES)
    assert (j.verdict, j.failing, j.history, j.p_value) == (V.INSUFFICIENT_HISTORY, False, 4, None)
    assert j.baseline == pytest.approx((100 + 100 * math.exp(0.05)) / 2)
    assert j.message.endswith("4 runs to compare with, 5 needed: recorded, not judged")
    assert judge(_r(300.0), four, replace(RULES, min_history=4)).verdict is V.REGRESSION


def test_other_units_are_ignored_and_said_so() -> None:
    others = [_r(0.1, "µs")] * 3
    j = judge(_r(124.2), others + _h5(0.05), RULES)
    assert j.verdict is V.REGRESSION and j.history == 5
    assert "5 runs; 3 in another unit than ns ignored)" in j.message
    only = judge(_r(124.2), [_r(0.1, "µs")] * 8, RULES)
    assert (only.verdict, only.history) == (V.INSUFFICIENT_HISTORY, 0)
    assert "0 runs to compare with (8 in another unit than ns ignored), 5 needed" in only.message


def test_window_keeps_the_newest() -> None:
    old = [_r(1000.0)] * 10
    history = _h5(0.05) + old  # newest first
    j = judge(_r(124.2), history, replace(RULES, window=5))
    assert (j.verdict, j.history, j.baseline) == (V.REGRESSION, 5, pytest.approx(100.0))
    assert judge(_r(124.2), history * 3, RULES).history == 20


def test_zero_variance_history_uses_the_noise_floor() -> None:
    # s = NOISE_FLOOR = 0.01; n = 6: scale = 0.01 * sqrt(1 + pi / 12) = 0.0112346, 5 df
    history = [_r(100.0)] * 6
    j = judge(_r(120.5), history, RULES)
    t = math.log(1.205) / (0.01 * math.sqrt(1 + math.pi / 12))  # 16.60
    assert NOISE_FLOOR == 0.01  # the documented default
    assert j.verdict is V.REGRESSION
    assert j.p_value == pytest.approx(stats.t.sf(t, df=5), rel=1e-9)
    assert judge(_r(119.5), history, RULES).verdict is V.UNCHANGED
    assert judge(_r(100.0), history, RULES).verdict is V.UNCHANGED
    # exactly 20 % (120 / 100 - 1 == 0.2 in floating point) is not *more* than 20 %
    exactly = judge(_r(120.0), history, RULES)
    assert (exactly.verdict, exactly.change) == (V.UNCHANGED, 0.2)
    assert exactly.p_value is not None and exactly.p_value < 1e-5
    assert judge(_r(80.0), history, RULES).verdict is V.UNCHANGED
    assert judge(_r(79.5), history, RULES).verdict is V.IMPROVEMENT


def test_informational_rules_never_fail() -> None:
    rules = replace(RULES, informational=True)
    assert judge(_r(124.2), _h5(0.05), rules).verdict is V.REGRESSION
    assert not judge(_r(124.2), _h5(0.05), rules).failing
    over = judge(_r(124.2), [], replace(rules, ceiling=1.0))
    assert over.verdict is V.OVER_CEILING and not over.failing


def test_odd_current_values() -> None:
    for value in (math.nan, math.inf, -5.0):
        j = judge(_r(value), _h5(0.05), replace(RULES, ceiling=1.0))
        assert (j.verdict, j.failing) == (V.UNCHANGED, False)
        assert "not judged" in j.message
    # a throughput of 0 is 100 % worse; a time of 0 is 100 % better
    dead = judge(_r(0.0, "MB/s"), _h5(0.05, unit="MB/s"), RULES)
    assert (dead.verdict, dead.change, dead.p_value) == (V.REGRESSION, -1.0, 0.0)
    assert judge(_r(0.0), _h5(0.05), RULES).verdict is V.IMPROVEMENT


def test_odd_history_values_are_ignored() -> None:
    history = [*_h5(0.05), _r(math.nan), _r(-3.0), _r(math.inf)]
    j = judge(_r(124.2), history, RULES)
    assert (j.verdict, j.history) == (V.REGRESSION, 5)
    assert "3 negative or not finite ignored" in j.message


def test_counts_that_are_usually_zero() -> None:
    zeros = [_r(0.0, "B/op")] * 6
    same = judge(_r(0.0, "B/op"), zeros, RULES)
    assert (same.verdict, same.history) == (V.UNCHANGED, 6)
    grew = judge(_r(8.0, "B/op"), zeros, RULES)
    assert grew.verdict is V.UNCHANGED and "has no percentage" in grew.message
    assert judge(_r(8.0, "B/op"), zeros, replace(RULES, ceiling=0.0)).verdict is V.OVER_CEILING


def test_outliers_in_the_history_do_not_hide_a_regression() -> None:
    # ten runs at 100e^(+-0.02) and two at 200 (a busy machine). Logs: median 0.02, median
    # absolute deviation 0.04, cut 4 * 1.4826 * 0.04 = 0.237: both 200s (ln 2 - 0.02 = 0.673 off)
    # are outliers. Noise of the other ten: 0.02 * sqrt(10 / 9) = 0.0210819.
    history = [_r(100 * math.exp(0.02 * z)) for z in (1, -1) * 5] + [_r(200.0)] * 2
    c = compare(_r(130.0), history, RULES)
    assert c is not None
    assert (c.outliers, c.history, c.df) == (2, 12, 9)
    assert c.run_noise == pytest.approx(0.02 * math.sqrt(10 / 9))
    assert c.baseline == pytest.approx(100 * math.exp(0.02))
    j = judge(_r(130.0), history, RULES)
    assert j.verdict is V.REGRESSION
    assert "12 runs, 2 of them outliers)" in j.message


# ---------------------------------------------------------------------------------------------
# The current run's own samples, interval or spread
# ---------------------------------------------------------------------------------------------

# _h5(0.05) and a current of 130 (+30 %): alone, t = ln 1.3 / 0.0573184 = 4.5773, p = 0.0051, a
# regression. A current run whose own standard error is 0.1 (twice the history's noise) adds
# 0.1^2 - 0.05^2 = 0.0075: its noise is 0.1, the scale sqrt(0.01 + (pi/2) 0.0025 / 5) = 0.103853,
# t = 2.5263, p = 0.0325: not significant.
_B = 0.2 * math.sqrt(3 / 4)  # logs at +-_B, twice each: sd 0.2, standard error 0.2 / sqrt(4)
NOISY_SAMPLES = tuple(130 * math.exp(z * _B) for z in (-1, -1, 1, 1))
TIGHT_SAMPLES = tuple(130 * math.exp(z * 0.005) for z in (-1, -1, 1, 1))
NOISY_CI = {"lower": 130 * math.exp(-1.959964 * 0.1), "upper": 130 * math.exp(1.959964 * 0.1)}


@pytest.mark.parametrize(
    ("current", "history", "t"),
    [
        (_r(130.0), _h5(0.05), 4.577314),
        (_r(130.0, samples=TIGHT_SAMPLES), _h5(0.05), 4.577314),
        (_r(130.0, samples=NOISY_SAMPLES), _h5(0.05), 2.526311),
        # the samples of a median: its standard error is sqrt(pi / 2) x that of a mean, so the
        # noise^2 is 0.01 pi / 2 = 0.015708 and the scale sqrt(0.015708 + 0.000785) = 0.128427
        (_r(130.0, statistic="median", samples=NOISY_SAMPLES), _h5(0.05), 2.042914),
        (_r(130.0, spread_kind=SpreadKind.CI, spread=1.0, **NOISY_CI), _h5(0.05), 2.526311),
        # spreads: the history's relative spread is 2 %; a current at 6 % is 3x as noisy as the
        # noisiest earlier run: noise 3 * 0.05, scale sqrt(0.0225 + 0.000785) = 0.152595
        (
            _r(130.0, spread=0.06 * 130, spread_kind=SpreadKind.STDDEV),
            [replace(h, spread=0.02 * h.value, spread_kind=SpreadKind.STDDEV) for h in _h5(0.05)],
            1.719348,
        ),
        (
            _r(130.0, spread=0.02 * 130, spread_kind=SpreadKind.RANGE),
            [replace(h, spread=0.02 * h.value, spread_kind=SpreadKind.RANGE) for h in _h5(0.05)],
            4.577314,
        ),
        (
            _r(130.0, spread=0.06 * 130, spread_kind=SpreadKind.RANGE),
            [replace(h, spread=0.02 * h.value, spread_kind=SpreadKind.RANGE) for h in _h5(0.05)],
            1.719348,
        ),
        # a spread with nothing to compare it with is not used
        (_r(130.0, spread=0.5 * 130, spread_kind=SpreadKind.STDDEV), _h5(0.05), 4.577314),
    ],
    ids=[
        "none", "tight-samples", "noisy-samples", "noisy-median-samples", "noisy-interval",
        "noisy-stddev",
        "usual-range", "noisy-range", "spread-without-history-spreads",
    ],
)  # fmt: skip
def test_the_current_runs_own_noise(
    current: BenchmarkResult, history: list[BenchmarkResult], t: float
) -> None:
    j = judge(current, history, RULES)
    assert j.p_value == pytest.approx(stats.t.sf(t, df=4), rel=1e-5)
    assert j.verdict is (V.REGRESSION if t > T99_4 else V.UNCHANGED)


def test_noisy_run_message_names_both_noises() -> None:
    j = judge(_r(130.0, samples=NOISY_SAMPLES), _h5(0.05), RULES)
    # runs vary by e^0.05 - 1 = 5.1 %, this run by e^0.1 - 1 = 10.5 %
    assert "runs vary by ±5.1%, this run by ±10.5%" in j.message


def test_history_samples_set_the_usual_precision() -> None:
    # Every earlier run reports a standard error of 0.1 (more than its spread of 0.05 shows):
    # the run-to-run noise is raised to 0.1, and a current as precise as usual adds nothing.
    history = [
        replace(h, samples=tuple(h.value * math.exp(z * _B) for z in (-1, -1, 1, 1)))
        for h in _h5(0.05)
    ]
    c = compare(_r(130.0, samples=NOISY_SAMPLES), history, RULES)
    assert c is not None
    assert c.own == "samples"
    assert c.run_noise == pytest.approx(0.1) and c.noise == pytest.approx(0.1)
    assert c.scale == pytest.approx(_scale(0.1))


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

values = st.floats(min_value=1.0, max_value=1e6, allow_nan=False)
histories = st.lists(values, min_size=0, max_size=25)
directions = st.sampled_from([LOWER, HIGHER])


def _results(xs: list[float], direction: Direction, k: float = 1.0) -> list[BenchmarkResult]:
    return [_r(x * k, "u", direction=direction) for x in xs]


@given(histories, values, directions, st.integers(min_value=-30, max_value=30))
@settings(max_examples=150, deadline=None)
def test_scaling_every_value_does_not_change_the_verdict(
    xs: list[float], current: float, direction: Direction, power: int
) -> None:
    k = 2.0**power  # exact in binary floating point, so only the logarithms' rounding differs
    c = compare(_r(current, "u", direction=direction), _results(xs, direction), RULES)
    if c is not None:  # stay clear of the boundaries, where rounding may tip either way
        assume(abs(abs(c.change) - 0.2) > 1e-9)
        assume(abs(c.p_worse - 0.01) > 1e-9 and abs(c.p_better - 0.01) > 1e-9)
    a = judge(_r(current, "u", direction=direction), _results(xs, direction), RULES)
    b = judge(_r(current * k, "u", direction=direction), _results(xs, direction, k), RULES)
    assert a.verdict is b.verdict
    assert (a.change is None) is (b.change is None)
    if a.change is not None and b.change is not None and a.p_value is not None:
        assert b.change == pytest.approx(a.change, abs=1e-9)
        assert b.p_value == pytest.approx(a.p_value, rel=1e-6, abs=1e-12)


@given(histories.filter(bool), directions)
@settings(max_examples=150, deadline=None)
def test_a_current_equal_to_the_baseline_is_never_a_regression(
    xs: list[float], direction: Direction
) -> None:
    history = _results(xs, direction)
    c = compare(history[0], history, RULES)
    assert c is not None
    j = judge(_r(c.baseline, "u", direction=direction), history, RULES)
    assert j.verdict is not V.REGRESSION and not j.failing
    assert j.change == pytest.approx(0.0, abs=1e-12)


@given(histories.filter(lambda xs: len(xs) >= 2), values, values, directions)
@settings(max_examples=150, deadline=None)
def test_a_worse_current_never_gets_a_larger_p_value(
    xs: list[float], x: float, y: float, direction: Direction
) -> None:
    better, worse = sorted((x, y)) if direction is LOWER else sorted((x, y), reverse=True)
    history = _results(xs, direction)
    p_better_run = judge(_r(better, "u", direction=direction), history, RULES).p_value
    p_worse_run = judge(_r(worse, "u", direction=direction), history, RULES).p_value
    if p_better_run is not None and p_worse_run is not None:
        assert p_worse_run <= p_better_run


@given(histories, values, directions, st.booleans(), st.none() | values)
@settings(max_examples=150, deadline=None)
def test_failing_follows_the_verdict(
    xs: list[float],
    current: float,
    direction: Direction,
    informational: bool,
    ceiling: float | None,
) -> None:
    rules = replace(RULES, informational=informational, ceiling=ceiling)
    j = judge(_r(current, "u", direction=direction), _results(xs, direction), rules)
    assert j.failing is (j.verdict in (V.REGRESSION, V.OVER_CEILING) and not informational)
    if j.verdict is V.REGRESSION:
        assert j.change is not None and j.p_value is not None
        assert (j.change if direction is LOWER else -j.change) > 0.2 and j.p_value < 0.01
    assert len(j.message.splitlines()) == 1


# ---------------------------------------------------------------------------------------------
# Real inputs
# ---------------------------------------------------------------------------------------------

REAL = [
    "bench/bencher__criterion_human_many.txt",  # Criterion console: intervals
    "bench/bencher__criterion_human_regressed.txt",  # Criterion console, wide intervals
    "bench/github-action-benchmark__criterion_output_format_bencher.txt",  # stddev
    "bench/github-action-benchmark__cargo_bench_decimal_ns.txt",  # libtest: range
    "bench/github-action-benchmark__pytest_benchmark_several_units.json",  # stddev, samples
    "bench/google-benchmark__compare_test3_repeated_and_aggregate.json",  # samples
    "bench/go-junit-report__go_test_bench_count5.txt",  # go -count=5: samples
    "bench/github-action-benchmark__go_test_bench_fiber_multi_pkg.txt",  # bare values, MB/s
]
# Ten earlier runs: the parsed result scaled by these (about +-3 %, deterministic).
FACTORS = [1 + 0.03 * math.sin(1.7 * i) for i in range(10)]


def _scaled(b: BenchmarkResult, k: float) -> BenchmarkResult:
    def times(x: float | None) -> float | None:
        return None if x is None else x * k

    return replace(
        b, value=b.value * k, spread=times(b.spread), lower=times(b.lower),
        upper=times(b.upper), samples=tuple(x * k for x in b.samples),
    )  # fmt: skip


@pytest.mark.parametrize("name", REAL)
def test_real_benchmarks_a_40_percent_slowdown_is_a_regression(realworld: Path, name: str) -> None:
    report = parsers.parse((realworld / name).read_bytes(), name)
    judged = [b for b in report.benchmarks if b.value > 0]
    assert judged, f"{name}: no benchmark with a positive value"
    for b in judged:
        history = [_scaled(b, k) for k in FACTORS]
        slower = 1.4 if b.direction is LOWER else 1 / 1.4
        same = judge(b, history, RULES)
        worse = judge(_scaled(b, slower), history, RULES)
        assert same.verdict is V.UNCHANGED, same.message
        assert worse.verdict is V.REGRESSION, worse.message
        assert worse.failing and worse.history == 10
        assert worse.change == pytest.approx(slower - 1, abs=0.05)


# ---------------------------------------------------------------------------------------------
# The evaluation harness
# ---------------------------------------------------------------------------------------------


def test_the_harness_runs_and_meets_what_it_can(tmp_path: Path) -> None:
    out = tmp_path / "regressions.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "regressions.py"), "--quick", "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "| noise (CV) |" in done.stdout
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert {
        "settings", "targets", "by_noise", "overall", "by_noise_stress", "overall_stress",
        "by_model", "by_current", "significance", "hypotheses", "windows", "detectable", "met",
    } <= set(summary)  # fmt: skip
    assert summary["settings"]["quick"] is True
    assert summary["targets"] == {"caught": 0.95, "false_alarms": 0.01}
    assert set(summary["by_noise"]) == {"0.02", "0.05", "0.1", "0.15"}
    for level in (*summary["by_noise"].values(), summary["overall"]):
        assert set(level) >= {"gate", "last_x1.2", "mean_x1.2", "best_possible"}
        assert set(level["gate"]) == {"caught", "false_alarms", "below_threshold_flagged"}
    assert set(summary["by_current"]["lognormal"]) == {"samples", "spread", "interval", "none"}
    # The targets that any rule can meet (docs/gate-benchmarks.md explains the others): false
    # alarms under 1 % overall, 95 % caught at 2 % and 5 % noise; and fewer false alarms than
    # either naive rule.
    met = summary["met"]
    assert met["false_alarms"]["overall"] and met["caught"]["0.02"] and met["caught"]["0.05"]
    overall = summary["overall"]
    assert overall["gate"]["false_alarms"] < overall["mean_x1.2"]["false_alarms"]
    assert overall["gate"]["false_alarms"] < overall["last_x1.2"]["false_alarms"]
