"""A run's common shift: most of its benchmarks moved by one factor (a loaded machine).

Pure. docs/gate-benchmarks.md ("A loaded machine: the common shift") has the method and argues
every constant; keep the two in step. In short, on the log scale, with each benchmark's
``worse`` (ln(current / baseline), positive is worse) and ``scale`` from ``benchmarks.compare``:

- only benchmarks with enough history to be judged take part, and at least ``MIN_JUDGED``;
- a benchmark *moved* when, judged alone, it is a regression (or, the other way, an
  improvement): beyond its threshold and significant;
- a common shift is found when more than half of them moved the same way;
- its factor is ``exp(median(worse))``; ``tau``, how much the benchmarks' own factors scatter
  about it beyond their noise, is found from the median of the standardised residuals;
- each benchmark is then judged again on ``worse - median`` with scale ``sqrt(scale^2 +
  tau^2)``, widened a little for the uncertainty of the median.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from gatekeeper.gate.benchmarks import Comparison, Shift, compare, judge, verdict_of
from gatekeeper.model import (
    BenchmarkJudgement,
    BenchmarkResult,
    BenchmarkVerdict,
    Direction,
    RunShift,
)
from gatekeeper.rules import BenchmarkRules, GateConfig

#: Fewest judged benchmarks before "most of them moved together" means anything: of 3 or 4,
#: two or three sharing one slow function move together as often as a busy machine moves them.
MIN_JUDGED = 5
#: The median of a chi-square distribution with 1 degree of freedom (of z^2, z standard normal).
_CHI2_MEDIAN = 0.454936423119572

BenchKey = tuple[str, str]  # (group, name)
RunId = int  # the store's key of an earlier run


@dataclass(frozen=True, slots=True)
class RunJudgement:
    """Each benchmark of a run judged, and the run's common shift if it had one."""

    judgements: tuple[BenchmarkJudgement, ...]
    shift: RunShift | None = None


def find_shift(
    judged: Sequence[tuple[BenchmarkResult, Comparison, BenchmarkRules]],
) -> Shift | None:
    """The run's common shift from its judged benchmarks (each with its comparison and rules,
    before any shift), or None when fewer than ``MIN_JUDGED`` or no majority moved one way."""
    n = len(judged)
    if n < MIN_JUDGED:
        return None
    verdicts = [verdict_of(c, b, r) for b, c, r in judged]
    worse = sum(v is BenchmarkVerdict.REGRESSION for v in verdicts)
    better = sum(v is BenchmarkVerdict.IMPROVEMENT for v in verdicts)
    if 2 * max(worse, better) <= n:
        return None
    centre = statistics.median(c.worse for _, c, _ in judged)
    pairs = [(c.worse - centre, c.scale) for _, c, _ in judged]
    return Shift(worse=centre, scatter=scatter(pairs), judged=n)


def scatter(residuals: Sequence[tuple[float, float]]) -> float:
    """tau: how much (log sd) the benchmarks' own factors scatter about the common one, beyond
    their noise. ``residuals`` are (r, s) pairs: a benchmark's log ratio less the common one,
    and its scale. tau is the smallest value >= 0 for which the median of r^2 / (s^2 + tau^2)
    is at most the median of a chi-square with one degree of freedom (``_CHI2_MEDIAN``): the
    residuals, standardised, then look no wider than normal noise; a median, so the few
    benchmarks a code change moved do not widen it."""

    def wide(tau: float) -> bool:
        return statistics.median(r * r / (s * s + tau * tau) for r, s in residuals) > _CHI2_MEDIAN

    if not residuals or not wide(0.0):
        return 0.0
    # at tau = max|r| / sqrt(_CHI2_MEDIAN) every ratio is at most _CHI2_MEDIAN: not wide
    low, high = 0.0, max(abs(r) for r, _ in residuals) / math.sqrt(_CHI2_MEDIAN)
    for _ in range(60):  # bisection: the median falls as tau grows
        mid = (low + high) / 2
        low, high = (mid, high) if wide(mid) else (low, mid)
    return high


def judge_run(
    current: Sequence[BenchmarkResult],
    history: Mapping[BenchKey, Sequence[BenchmarkResult]],
    config: GateConfig,
    service: str,
) -> RunJudgement:
    """Each benchmark of the run against its own history, with its own rules; when most of
    them moved together, again with the common shift removed."""
    rules = [config.benchmark_rules(service, b.name) for b in current]
    earlier = [history.get((b.group, b.name), ()) for b in current]
    plain = tuple(judge(b, h, r) for b, h, r in zip(current, earlier, rules, strict=True))
    judged: list[tuple[BenchmarkResult, Comparison, BenchmarkRules]] = []
    not_judged = (BenchmarkVerdict.NEW, BenchmarkVerdict.INSUFFICIENT_HISTORY)
    for b, h, r, j in zip(current, earlier, rules, plain, strict=True):
        if j.verdict in not_judged or j.baseline is None:
            continue  # new, too little history, a baseline of 0, or a value not finite
        c = compare(b, h, r)
        if c is not None and math.isfinite(c.worse):  # a value of 0 is no ratio to share
            judged.append((b, c, r))
    shift = find_shift(judged)
    if shift is None:
        return RunJudgement(plain)
    moved = BenchmarkVerdict.REGRESSION if shift.worse > 0 else BenchmarkVerdict.IMPROVEMENT
    return RunJudgement(
        tuple(judge(b, h, r, shift) for b, h, r in zip(current, earlier, rules, strict=True)),
        RunShift(
            factor=math.exp(shift.worse),
            moved=sum(verdict_of(c, b, r) is moved for b, c, r in judged),
            judged=len(judged),
            scatter=shift.scatter,
        ),
    )


def steady_history(
    history: Mapping[BenchKey, Sequence[tuple[RunId, BenchmarkResult]]],
    config: GateConfig,
    service: str,
) -> dict[BenchKey, list[BenchmarkResult]]:
    """The earlier results (each with the run it came from, newest first), with the common
    shift of every earlier run that had one divided out, so that loaded runs in the window
    neither move the baseline nor widen the noise.

    An earlier run had one when it holds at least ``MIN_JUDGED`` of these benchmarks and more
    than half of them are further than their threshold (``max_regression``) from their window's
    median, the same way; its factor is the median of their log ratios to those medians. Other
    runs are left as they are.
    """
    offsets: dict[RunId, list[float]] = defaultdict(list)
    limits: dict[RunId, list[float]] = defaultdict(list)
    for (_group, name), results in history.items():
        rules = config.benchmark_rules(service, name)
        window = results[: max(rules.window, 0)]
        unit = window[0][1].unit if window else ""
        usable = [
            (run, r)
            for run, r in window
            if r.unit == unit and math.isfinite(r.value) and r.value > 0
        ]
        if not usable:
            continue
        centre = statistics.median(math.log(r.value) for _, r in usable)
        for run, r in usable:
            sign = 1.0 if (rules.direction or r.direction) is Direction.LOWER_IS_BETTER else -1.0
            offsets[run].append(sign * (math.log(r.value) - centre))
            limits[run].append(math.log1p(rules.max_regression / 100))
    factors: dict[RunId, float] = {}
    for run, worse in offsets.items():
        if len(worse) < MIN_JUDGED:
            continue
        beyond = [w for w, limit in zip(worse, limits[run], strict=True) if abs(w) > limit]
        same_way = max(sum(w > 0 for w in beyond), sum(w < 0 for w in beyond))
        if 2 * same_way > len(worse):
            factors[run] = statistics.median(worse)
    out: dict[BenchKey, list[BenchmarkResult]] = {}
    for key, results in history.items():
        rules = config.benchmark_rules(service, key[1])
        steady = []
        for run, r in results:
            shift = factors.get(run)
            if shift is None or not (math.isfinite(r.value) and r.value > 0):
                steady.append(r)
                continue
            lower = (rules.direction or r.direction) is Direction.LOWER_IS_BETTER
            steady.append(_scaled(r, math.exp(-shift if lower else shift)))
        out[key] = steady
    return out


def _scaled(r: BenchmarkResult, f: float) -> BenchmarkResult:
    """A result with its value, spread, bounds and samples multiplied by ``f``."""
    return replace(
        r,
        value=r.value * f,
        spread=None if r.spread is None else r.spread * f,
        lower=None if r.lower is None else r.lower * f,
        upper=None if r.upper is None else r.upper * f,
        samples=tuple(x * f for x in r.samples),
    )
