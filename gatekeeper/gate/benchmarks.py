"""The benchmark regression gate: one benchmark's result against its own default-branch history.

Pure: a result, its earlier results and the rules in, a ``BenchmarkJudgement`` out. The method,
every default and how well it works are in docs/gate-benchmarks.md; keep the two in step.

In short, on the log scale (so that changes are ratios and the unit does not matter):

- baseline ``b`` = the median of the window's values; ``change = (current - b) / b``;
- run-to-run noise ``s`` = the standard deviation of ``ln(value)`` over the window without its
  outliers, at least ``NOISE_FLOOR``; the current run's noise ``sigma`` = ``s``, raised when the
  run's own report (raw samples, Criterion's interval, or its spread) says it is less precise
  than usual;
- ``T = ln(current / b) / sqrt(sigma^2 + (pi / 2) s^2 / n)``, signed so that positive is worse,
  against Student's t with (runs in ``s``) - 1 degrees of freedom: ``p = P(t >= T)`` tests
  "no change";
- a regression is worse than the threshold (``change`` beyond ``max_regression`` percent) **and**
  ``p < significance``; an improvement is the same in the better direction.

When most of the run moved by one factor (``gate.shift`` finds it), a ``Shift`` is removed first:
the baseline is multiplied by the common factor and the scale by the run's extra scatter.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# scipy.special, not scipy.stats: the same t distribution, and 0.3 s less to import.
from scipy.special import stdtr

from gatekeeper.model import (
    BenchmarkJudgement,
    BenchmarkResult,
    BenchmarkVerdict,
    Direction,
    SpreadKind,
)
from gatekeeper.rules import BenchmarkRules

#: The least run-to-run noise assumed (1 %, on the log scale): a history of identical values
#: (a deterministic counter, or times rounded to whole nanoseconds) would otherwise make every
#: change infinitely significant.
NOISE_FLOOR = 0.01
#: An earlier result further than this many robust standard deviations from the window's median
#: (a run on a busy machine) is left out of the noise estimate; it still counts for the median.
OUTLIER_CUT = 4.0
#: Earlier results that must report their own precision before the current run's is compared
#: with theirs.
MIN_REPORTED = 3
_Z975 = 1.959963984540054  # a 95 % interval is +/- this many standard errors
# The standard error of a median of normal samples is sqrt(pi / 2) times that of their mean;
# the same factor, squared, makes the baseline's (a median's) variance (pi / 2) s^2 / n.
_MEDIAN_FACTOR = math.pi / 2


@dataclass(frozen=True, slots=True)
class Comparison:
    """The statistics of one result against its comparable history (before any verdict).

    Log-scale quantities are natural logarithms of ratios (0.1 is about 10 %).
    """

    baseline: float  # median of the comparable history values
    change: float  # (current - baseline) / baseline
    worse: float  # ln(current / baseline), signed so that positive is worse
    run_noise: float  # s: run-to-run standard deviation of ln(value), after the floor
    noise: float  # sigma: the current run's noise, s raised by its own report
    scale: float  # standard deviation of ``worse`` if nothing changed
    df: int  # degrees of freedom of the t distribution
    history: int  # comparable earlier results used
    outliers: int  # of those, left out of the noise estimate
    p_worse: float  # P(at least this much worse | no change), one-sided
    p_better: float  # P(at least this much better | no change), one-sided
    own: str  # what the current run's own report added: "samples", "interval", "spread", ""
    common: float = 1.0  # the run's common factor the baseline was multiplied by (1: none)


@dataclass(frozen=True, slots=True)
class Shift:
    """A run-wide common shift, removed before one benchmark is judged (``gate.shift``)."""

    worse: float  # ln of the common factor, signed so that positive is worse
    scatter: float  # tau: how much the benchmarks' own factors scatter about it (log sd)
    judged: int  # how many benchmarks the shift was estimated from


@dataclass(frozen=True, slots=True)
class _Window:
    """The window's results split into the comparable ones and the counts set aside."""

    results: tuple[BenchmarkResult, ...]
    other_unit: int
    zeros: int  # a ratio to 0 has no meaning: counted, not compared
    invalid: int  # negative, NaN or infinite


def judge(
    current: BenchmarkResult,
    history: Sequence[BenchmarkResult],
    rules: BenchmarkRules,
    shift: Shift | None = None,
) -> BenchmarkJudgement:
    """Judge one benchmark result against its own earlier results on the default branch.

    ``history`` is newest first; only the first ``rules.window`` results are used, and of
    those only the ones in the current result's unit with a positive, finite value. ``shift``:
    the run's common shift, removed first.
    """
    direction = rules.direction or current.direction
    window = _window(current, history[: max(rules.window, 0)])
    label = f"{current.name} [{current.group}]" if current.group else current.name
    shown = _quantity(current.value, current.unit)
    over = _over_ceiling(current.value, rules.ceiling, direction)
    ceiling_text = ""
    if over and rules.ceiling is not None:
        side = "above" if direction is Direction.LOWER_IS_BETTER else "below"
        ceiling_text = f"{side} the ceiling of {_quantity(rules.ceiling, current.unit)}"

    def made(
        verdict: BenchmarkVerdict,
        message: str,
        comparison: Comparison | None = None,
        used: int | None = None,
    ) -> BenchmarkJudgement:
        judged = verdict not in (BenchmarkVerdict.NEW, BenchmarkVerdict.INSUFFICIENT_HISTORY)
        if over:
            verdict = BenchmarkVerdict.OVER_CEILING
            message = f"{message}; {ceiling_text}"
        failing = verdict in (BenchmarkVerdict.REGRESSION, BenchmarkVerdict.OVER_CEILING)
        return BenchmarkJudgement(
            name=current.name,
            unit=current.unit,
            direction=direction,
            current=current.value,
            verdict=verdict,
            baseline=None if comparison is None else comparison.baseline,
            change=None if comparison is None else comparison.change,
            p_value=comparison.p_worse if comparison is not None and judged else None,
            history=len(window.results) if used is None else used,
            threshold=rules.max_regression,
            ceiling=rules.ceiling,
            message=message,
            group=current.group,
            failing=failing and not rules.informational,
        )

    if not math.isfinite(current.value) or current.value < 0:
        return made(
            BenchmarkVerdict.UNCHANGED,
            f"{label}: {current.value!r} {current.unit}: not judged (a ratio needs a finite value "
            "of 0 or more)",
        )
    if not history[: max(rules.window, 0)]:
        return made(BenchmarkVerdict.NEW, f"{label}: {shown}: new benchmark, no earlier results")
    set_aside = _set_aside(window, current.unit)
    n = len(window.results)
    if window.zeros and window.zeros >= n:
        # A count that is usually 0 (allocations, bytes per op): no percentage of 0 exists.
        usual = f"{label}: {shown}; baseline 0 ({_runs(window.zeros + n)})"
        if current.value == 0:
            return made(BenchmarkVerdict.UNCHANGED, f"{usual}: unchanged", used=window.zeros + n)
        return made(
            BenchmarkVerdict.UNCHANGED,
            f"{usual}: a change from 0 has no percentage, not judged (set a `ceiling` to limit it)",
            used=window.zeros + n,
        )
    comparison = compare(current, history, rules, shift) if n else None
    if n < max(rules.min_history, 1):
        head = f"{label}: {shown}"
        if comparison is not None:
            head += f" vs baseline {_baseline(comparison, current.unit)} ({comparison.change:+.1%})"
        return made(
            BenchmarkVerdict.INSUFFICIENT_HISTORY,
            f"{head}: {_runs(n)} to compare with"
            + (f" ({set_aside})" if set_aside else "")
            + f", {rules.min_history} needed: recorded, not judged",
            comparison,
        )
    assert comparison is not None  # n >= 1 here
    verdict, reason = _verdict(comparison, direction, current.unit, rules)
    p = comparison.p_worse if comparison.worse >= 0 else comparison.p_better
    message = (
        f"{label}: {shown} vs baseline {_baseline(comparison, current.unit)} "
        f"({comparison.change:+.1%}, {_p(p)}, {_runs(n)}"
        + (f", {comparison.outliers} of them outliers" if comparison.outliers else "")
        + (f"; {set_aside}" if set_aside else "")
        + f"): {reason}"
    )
    return made(verdict, message, comparison)


def compare(
    current: BenchmarkResult,
    history: Sequence[BenchmarkResult],
    rules: BenchmarkRules,
    shift: Shift | None = None,
) -> Comparison | None:
    """The statistics behind ``judge``: None when no earlier result is comparable or the
    current value is negative or not finite. Ignores ``min_history`` and the ceiling.

    With a ``shift``, the baseline is the history's median times the run's common factor, and
    the scale is ``sqrt(scale^2 + tau^2)``, widened by the uncertainty of the common factor
    (a median of ``shift.judged`` benchmarks: its variance is about pi / 2 / judged of
    theirs)."""
    if not math.isfinite(current.value) or current.value < 0:
        return None
    window = _window(current, history[: max(rules.window, 0)])
    results = window.results
    n = len(results)
    if n == 0:
        return None
    direction = rules.direction or current.direction
    values = [r.value for r in results]
    baseline = statistics.median(values)
    change = (current.value - baseline) / baseline
    log_ratio = -math.inf if current.value == 0 else math.log(current.value / baseline)
    worse = log_ratio if direction is Direction.LOWER_IS_BETTER else -log_ratio

    # Run-to-run noise: the spread of the window itself, which already holds each run's own
    # measurement error, without its outliers; never below the floor, nor below what the runs
    # said of themselves.
    kept = _without_outliers([math.log(v) for v in values])
    reported = [u * u for r in results if (u := standard_error(r)) is not None]
    typical = statistics.median(reported) if len(reported) >= MIN_REPORTED else None
    s = max(_log_sd(kept), NOISE_FLOOR, math.sqrt(typical or 0.0))

    # The current run's own report: only ever adds noise, for a run less precise than usual.
    excess, own = 0.0, ""
    u = standard_error(current)
    if u is not None:
        usual = s * s if typical is None else min(s * s, typical)
        excess = max(0.0, u * u - usual)
        own = "samples" if len(current.samples) >= 2 else "interval"
    elif current.spread_kind in (SpreadKind.STDDEV, SpreadKind.RANGE):
        kind = current.spread_kind
        mine = relative_spread(current, kind)
        theirs = [x for r in results if (x := relative_spread(r, kind)) is not None]
        if mine is not None and len(theirs) >= MIN_REPORTED and max(theirs) > 0:
            q = mine / max(theirs)
            excess = s * s * max(0.0, q * q - 1.0)
            own = "spread"
    noise = math.sqrt(s * s + excess)
    scale = math.sqrt(noise * noise + _MEDIAN_FACTOR * s * s / n)
    common = 1.0
    if shift is not None:
        common = math.exp(shift.worse if direction is Direction.LOWER_IS_BETTER else -shift.worse)
        baseline *= common
        change = (current.value - baseline) / baseline
        worse -= shift.worse
        scale = math.hypot(scale, shift.scatter) * math.sqrt(
            1 + _MEDIAN_FACTOR / max(shift.judged, 1)
        )
    df = max(len(kept) - 1, 1)
    t = worse / scale
    return Comparison(
        baseline=baseline,
        change=change,
        worse=worse,
        run_noise=s,
        noise=noise,
        scale=scale,
        df=df,
        history=n,
        outliers=n - len(kept),
        p_worse=float(stdtr(df, -t)),
        p_better=float(stdtr(df, t)),
        own=own,
        common=common,
    )


def verdict_of(c: Comparison, current: BenchmarkResult, rules: BenchmarkRules) -> BenchmarkVerdict:
    """The verdict ``judge`` gives on this comparison, before ``min_history`` and the ceiling."""
    return _verdict(c, rules.direction or current.direction, current.unit, rules)[0]


def standard_error(result: BenchmarkResult) -> float | None:
    """The standard error of a result's central value as the result itself reports it, relative
    (on the log scale): from raw samples, ``sd(ln x) / sqrt(k)`` (times ``sqrt(pi / 2)`` for a
    median); from Criterion's 95 % interval, ``ln(upper / lower) / 3.92``. None otherwise: a
    standard deviation or a range alone does not say how many samples it came from."""
    samples = result.samples
    if len(samples) >= 2:
        logs = _logs(samples)
        if logs is not None:
            se = _log_sd(logs) / math.sqrt(len(logs))
            return se * math.sqrt(_MEDIAN_FACTOR) if result.statistic == "median" else se
    lower, upper = result.lower, result.upper
    if (
        result.spread_kind is SpreadKind.CI
        and lower is not None
        and upper is not None
        and math.isfinite(lower)
        and math.isfinite(upper)
        and 0 < lower <= upper
    ):
        return math.log(upper / lower) / (2 * _Z975)
    return None


def relative_spread(result: BenchmarkResult, kind: SpreadKind) -> float | None:
    """``spread / value`` of a result that reports a spread of this kind; None otherwise."""
    spread = result.spread
    if (
        result.spread_kind is not kind
        or spread is None
        or not math.isfinite(spread)
        or spread < 0
        or not (math.isfinite(result.value) and result.value > 0)
    ):
        return None
    return spread / result.value


# ---------------------------------------------------------------------------------------------


def _window(current: BenchmarkResult, history: Sequence[BenchmarkResult]) -> _Window:
    kept: list[BenchmarkResult] = []
    other_unit = zeros = invalid = 0
    for r in history:
        if r.unit != current.unit:
            other_unit += 1
        elif r.value == 0:
            zeros += 1
        elif math.isfinite(r.value) and r.value > 0:
            kept.append(r)
        else:
            invalid += 1
    return _Window(tuple(kept), other_unit, zeros, invalid)


def _without_outliers(logs: list[float]) -> list[float]:
    """The values within ``OUTLIER_CUT`` robust standard deviations (1.4826 x the median
    absolute deviation) of their median; all of them when that would drop more than a quarter
    (then the benchmark is bimodal or heavy-tailed, not disturbed by a few bad runs)."""
    if len(logs) < 4:
        return logs
    centre = statistics.median(logs)
    mad = statistics.median([abs(x - centre) for x in logs])
    if mad == 0:
        return logs  # more than half identical: nothing to measure outliers against
    cut = OUTLIER_CUT * 1.4826 * mad
    kept = [x for x in logs if abs(x - centre) <= cut]
    return kept if len(logs) - len(kept) <= len(logs) // 4 else logs


def _logs(values: Sequence[float]) -> list[float] | None:
    """Natural logarithms of values that must all be positive and finite; else None."""
    try:
        logs = [math.log(x) for x in values]
    except ValueError:  # 0 or negative
        return None
    return logs if math.isfinite(sum(logs)) else None


def _log_sd(logs: Sequence[float]) -> float:
    """The sample standard deviation (n - 1); 0 for fewer than two values."""
    n = len(logs)
    if n < 2:
        return 0.0
    mean = sum(logs) / n
    return math.sqrt(sum((x - mean) * (x - mean) for x in logs) / (n - 1))


def _baseline(c: Comparison, unit: str) -> str:
    """The baseline for a message; with a common shift, how it was made."""
    if c.common == 1.0:
        return _quantity(c.baseline, unit)
    return (
        f"{_quantity(c.baseline / c.common, unit)} x{c.common:.3g} (the run's common shift) = "
        f"{_quantity(c.baseline, unit)}"
    )


def _set_aside(window: _Window, unit: str) -> str:
    """The earlier results left out, as a phrase for the message ("" when none)."""
    parts = []
    if window.other_unit:
        parts.append(f"{window.other_unit} in another unit than {unit}")
    if window.zeros:
        parts.append(f"{window.zeros} of 0")
    if window.invalid:
        parts.append(f"{window.invalid} negative or not finite")
    return f"{' and '.join(parts)} ignored" if parts else ""


def _verdict(
    c: Comparison, direction: Direction, unit: str, rules: BenchmarkRules
) -> tuple[BenchmarkVerdict, str]:
    threshold = rules.max_regression / 100
    worse_change = c.change if direction is Direction.LOWER_IS_BETTER else -c.change
    time = unit == "ns" and direction is Direction.LOWER_IS_BETTER
    worse_word, better_word = ("slower", "faster") if time else ("worse", "better")
    limit = f"the {rules.max_regression:g}% threshold"
    if direction is Direction.HIGHER_IS_BETTER:
        limit += " (higher is better)"
    alpha = rules.significance
    if worse_change > threshold:
        if c.p_worse < alpha:
            return BenchmarkVerdict.REGRESSION, f"{worse_word} than {limit}"
        return BenchmarkVerdict.UNCHANGED, _noisy(worse_word, limit, c, alpha)
    if -worse_change > threshold:
        if c.p_better < alpha:
            return BenchmarkVerdict.IMPROVEMENT, f"{better_word} than {limit}"
        return BenchmarkVerdict.UNCHANGED, _noisy(better_word, limit, c, alpha)
    return BenchmarkVerdict.UNCHANGED, f"within {limit}"


def _noisy(word: str, limit: str, c: Comparison, alpha: float) -> str:
    noise = f"runs vary by ±{math.expm1(c.run_noise):.1%}"
    if c.noise > c.run_noise * 1.0001:
        noise += f", this run by ±{math.expm1(c.noise):.1%}"
    return f"{word} than {limit} but within the noise (p ≥ {alpha:g}; {noise})"


def _over_ceiling(value: float, ceiling: float | None, direction: Direction) -> bool:
    if ceiling is None or not math.isfinite(value):
        return False
    return value > ceiling if direction is Direction.LOWER_IS_BETTER else value < ceiling


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _p(p: float) -> str:
    return f"p={p:.2g}"


_TIME_UNITS = ((1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1.0, "ns"))
_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
# The base units the parsers normalise throughputs to (B/s, elem/s; Google Benchmark's items/s).
_RATES = ("B/s", "elem/s", "items/s")


def _quantity(value: float, unit: str) -> str:
    """A value a human reads: times (ns) in the largest fitting unit, rates with a decimal
    prefix (408 MB/s), 3 significant digits."""
    if unit == "ns" and math.isfinite(value) and value != 0:
        for factor, name in _TIME_UNITS:
            if abs(value) >= factor:
                return f"{_number(value / factor)} {name}"
        return f"{_number(value)} ns"
    if unit in _RATES and math.isfinite(value):
        for factor, prefix in _PREFIXES:
            if abs(value) >= factor:
                return f"{_number(value / factor)} {prefix}{unit}"
    return f"{_number(value)} {unit}"


def _number(x: float) -> str:
    magnitude = abs(x)
    if magnitude < 1e6 and x == int(x):
        return f"{x:.0f}"
    if magnitude >= 1e6 or (0 < magnitude < 1e-2):
        return f"{x:.3g}"
    if magnitude >= 100:
        return f"{x:.0f}"
    if magnitude >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"
