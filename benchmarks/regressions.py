"""How well the benchmark gate tells regressions from noise: simulated histories, scored.

    python benchmarks/regressions.py            # 400 trials per cell, 2,000 unchanged: ~1 min
    python benchmarks/regressions.py --quick    # 10 and 50: 2 seconds, the same tables
    python benchmarks/regressions.py --runs-only --runs 100   # only the whole runs: ~1 min

Each trial simulates one benchmark: 20 earlier runs on the default branch (the default window)
and a current run whose true value is 0 % to 60 % slower, and asks ``gatekeeper.gate.benchmarks
.judge`` (default rules: 20 % threshold, significance 0.01) whether it is a regression. A run
is 10 samples; its value is their mean. Noise: 2 %, 5 %, 10 % or 15 % coefficient of variation
between runs (a quarter of the variance from the samples, three quarters run to run), with

- ``lognormal``: multiplicative noise;
- ``normal``: additive noise on the raw scale;
- ``outliers``: lognormal, and 2 of the 20 earlier runs 1.5x to 2x slow (a noisy neighbour);
- ``spiky``: lognormal, and every run, the current one too, has a 5 % chance of being 1.3x to
  1.8x slow (unchanged code that sometimes looks like a regression);
- ``loaded``: lognormal, and the current run's samples are 3x as noisy (a busy CI machine).

What the results carry, as the producers report it: ``samples`` (raw samples and their standard
deviation: pytest-benchmark, Google Benchmark repetitions, go -count), ``spread`` (only a
standard deviation: Criterion's bencher format and estimates.json), ``interval`` (Criterion's
console: a 95 % interval) and ``none`` (a bare value: go bench, Google Benchmark without
repetitions). ``lognormal`` and ``loaded`` run with all four, ``normal`` and ``outliers`` with
samples and spread, ``spiky`` with samples.

Scores, per noise level and overall, for the ordinary noise (lognormal, normal, outliers) and,
apart, for the stress cases (loaded, spiky):

- **caught**: the share of regressions flagged among those larger than the threshold plus the
  noise (true change > 20 % + CV; CV 10 % -> more than 30 % slower). Target: at least 95 %.
- **false alarms**: the share of unchanged benchmarks flagged. Target: under 1 %.
- the same for the naive rules ``current > last * 1.2`` and ``current > mean(window) * 1.2``,
  and for the **best possible** rule: one that knows the true noise distribution exactly and
  flags above its 99th percentile (and above the threshold), the most any rule can catch from
  one run at 1 % false alarms.

Also: a sweep of the significance level, the window length, and the hypothesis tested.

**Whole runs** (``gatekeeper.gate.shift.judge_run``): a run of 40 benchmarks (noise 2/5/10/15 %,
the four result kinds, ten of each) on a quiet or a loaded machine (1.5x to 3.5x slower, samples
3x as noisy; one factor per run scattered by 15 % per benchmark, or each benchmark its own factor
from the whole range), with or without 4 benchmarks a change made 2.5x slower, and with or
without loaded runs in the history. Scored on seeds ``--seed`` .. ``--seed + 2``: regressions
named per run among the unchanged benchmarks, and the share of the slowed ones named, for the
gate, for the same rule on each benchmark alone ("before": the gate without the common shift)
and for the best possible rule (knows the run's factor and each benchmark's noise).

Writes benchmarks/results/regressions.json and prints the tables (docs/gate-benchmarks.md shows
them).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import stdtr

from gatekeeper.gate.benchmarks import compare, judge
from gatekeeper.gate.shift import judge_run, steady_history
from gatekeeper.model import BenchmarkResult, BenchmarkVerdict, SpreadKind
from gatekeeper.rules import BenchmarkRules, GateConfig

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

SEED = 20240611
RULES = BenchmarkRules()  # the defaults: 20 %, significance 0.01, window 20, min_history 5
THRESHOLD = RULES.max_regression / 100
WINDOW = RULES.window
SAMPLES = 10  # samples per run
WITHIN = 0.25  # share of a run value's variance that comes from its own samples
LOADED = 3.0  # the loaded current run's samples are this many times as noisy
SPIKE_P, SPIKE = 0.05, (1.3, 1.8)
OUTLIERS, OUTLIER = 2, (1.5, 2.0)
NAIVE = 1.2  # the naive rules' factor
BEST_QUANTILE = 0.99

CVS = (0.02, 0.05, 0.10, 0.15)
CHANGES = tuple(round(0.05 * i, 2) for i in range(13))  # 0 %, 5 %, ..., 60 %
KINDS = ("samples", "spread", "interval", "none")
COMBOS: tuple[tuple[str, str], ...] = (
    *(("lognormal", k) for k in KINDS),
    ("normal", "samples"),
    ("normal", "spread"),
    ("outliers", "samples"),
    ("outliers", "spread"),
    *(("loaded", k) for k in KINDS),
    ("spiky", "samples"),
)
#: The noise the targets are about; "loaded" and "spiky" are stress cases, scored apart.
STANDARD = ("lognormal", "normal", "outliers")
STRESS = ("loaded", "spiky")
RULE_NAMES = ("gate", "last_x1.2", "mean_x1.2", "best_possible")
ALPHAS = (0.001, 0.005, 0.01, 0.02, 0.05)
WINDOWS = (5, 10, 20)
_Z975 = 1.959963984540054


# ---------------------------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Simulated:
    """Samples in ns, each trial at its own scale; history oldest first."""

    history: np.ndarray  # [trials, WINDOW, SAMPLES]
    current: np.ndarray  # [trials, SAMPLES]
    scale: np.ndarray  # [trials]: the true value before the change


def simulate(
    rng: np.random.Generator,
    model: str,
    cv: float,
    change: float,
    trials: int,
    window: int = WINDOW,
) -> Simulated:
    scale = 10 ** rng.uniform(2, 7, size=trials)
    if model == "normal":
        between, within = math.sqrt(1 - WITHIN) * cv, math.sqrt(WITHIN * SAMPLES) * cv
        centres = scale[:, None] * (1 + between * rng.standard_normal((trials, window)))
        hist = centres[..., None] * (1 + within * rng.standard_normal((trials, window, SAMPLES)))
        centre = scale * (1 + change) * (1 + between * rng.standard_normal(trials))
        cur = centre[:, None] * (1 + within * rng.standard_normal((trials, SAMPLES)))
        floor = 0.05 * scale  # keep times positive
        return Simulated(
            np.maximum(hist, floor[:, None, None]), np.maximum(cur, floor[:, None]), scale
        )
    sigma = math.sqrt(math.log1p(cv * cv))  # the lognormal sigma of a CV
    between, within = math.sqrt(1 - WITHIN) * sigma, math.sqrt(WITHIN * SAMPLES) * sigma
    logs = np.log(scale)
    centres = logs[:, None] + between * rng.standard_normal((trials, window))
    hist = np.exp(centres[..., None] + within * rng.standard_normal((trials, window, SAMPLES)))
    centre = logs + math.log1p(change) + between * rng.standard_normal(trials)
    noise = within * (LOADED if model == "loaded" else 1.0)
    cur = np.exp(centre[:, None] + noise * rng.standard_normal((trials, SAMPLES)))
    if model == "spiky":
        hist *= _spikes(rng, (trials, window))[..., None]
        cur *= _spikes(rng, (trials,))[:, None]
    elif model == "outliers":
        # OUTLIERS distinct runs per trial: the first few of a random order
        hit = np.argsort(rng.random((trials, window)), axis=1) < OUTLIERS
        hist *= np.where(hit, rng.uniform(*OUTLIER, size=(trials, window)), 1.0)[..., None]
    return Simulated(hist, cur, scale)


def _spikes(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    hit = rng.random(shape) < SPIKE_P
    return np.where(hit, rng.uniform(*SPIKE, size=shape), 1.0)


def results(samples: np.ndarray, kind: str) -> list[list[BenchmarkResult]]:
    """Runs as a producer of this kind reports them: ``samples[..., k]`` -> one result per run
    (a 1-d input is one run), in nested lists of the leading shape."""
    flat = samples.reshape(-1, samples.shape[-1])
    k = flat.shape[1]
    means = flat.mean(axis=1)
    sds = flat.std(axis=1, ddof=1)
    se = np.log(flat).std(axis=1, ddof=1) / math.sqrt(k)
    lowers, uppers = means * np.exp(-_Z975 * se), means * np.exp(_Z975 * se)
    out: list[BenchmarkResult] = []
    rows = flat.tolist() if kind == "samples" else [()] * len(flat)
    for mean, sd, lower, upper, row in zip(
        means.tolist(), sds.tolist(), lowers.tolist(), uppers.tolist(), rows, strict=True
    ):
        if kind == "none":
            out.append(BenchmarkResult("bench", mean, "ns"))
        elif kind == "interval":
            out.append(BenchmarkResult(
                "bench", mean, "ns", "estimate", spread=upper - lower,
                spread_kind=SpreadKind.CI, lower=lower, upper=upper,
            ))  # fmt: skip
        else:
            out.append(BenchmarkResult(
                "bench", mean, "ns", "mean", spread=sd, spread_kind=SpreadKind.STDDEV,
                samples=tuple(row),
            ))  # fmt: skip
    if samples.ndim == 2:
        return [out]
    per = samples.shape[1]
    return [out[i : i + per] for i in range(0, len(out), per)]


# ---------------------------------------------------------------------------------------------
# Running the trials
# ---------------------------------------------------------------------------------------------


@dataclass
class Cell:
    """The trials of one (model, kind, CV, change): how often each rule flagged."""

    model: str
    kind: str
    cv: float
    change: float
    trials: int = 0
    flagged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RULE_NAMES, 0))
    # per trial, for the sweeps: the observed change and the gate's p-value for "worse"
    changes: list[float] = field(default_factory=list)
    p_values: list[float] = field(default_factory=list)
    p_shifted: list[float] = field(default_factory=list)  # lognormal/samples only
    by_window: dict[int, int] = field(default_factory=dict)  # lognormal/samples only


def best_cut(model: str, cv: float, trials: int, seed: list[int]) -> float:
    """The best possible rule's cut on ln(current / true value): the larger of the unchanged
    current's 99th percentile and the threshold above its median (noise known exactly)."""
    sim = simulate(np.random.default_rng(seed), model, cv, 0.0, trials, window=0)
    rel = np.log(sim.current.mean(axis=1) / sim.scale)
    return float(max(np.quantile(rel, BEST_QUANTILE), np.median(rel) + math.log1p(THRESHOLD)))


def run_cell(
    model: str, kind: str, cv: float, change: float, trials: int, cut: float, seed: list[int]
) -> Cell:
    sim = simulate(np.random.default_rng(seed), model, cv, change, trials)
    cell = Cell(model, kind, cv, change, trials)
    detail = model == "lognormal" and kind == "samples"
    if detail:
        cell.by_window = dict.fromkeys(WINDOWS, 0)
    window_rules = {
        w: replace(RULES, window=w, min_history=min(RULES.min_history, w)) for w in WINDOWS
    }
    shift = math.log1p(THRESHOLD)
    flagged = cell.flagged
    histories = results(sim.history, kind)
    currents = results(sim.current, kind)[0]
    for t in range(trials):
        runs = histories[t][::-1]  # newest first, as the store hands them
        current = currents[t]
        judgement = judge(current, runs, RULES)
        flagged["gate"] += judgement.verdict is BenchmarkVerdict.REGRESSION
        flagged["last_x1.2"] += current.value > runs[0].value * NAIVE
        flagged["mean_x1.2"] += current.value > math.fsum(r.value for r in runs) / WINDOW * NAIVE
        cell.changes.append(math.nan if judgement.change is None else judgement.change)
        cell.p_values.append(math.nan if judgement.p_value is None else judgement.p_value)
        if detail:
            c = compare(current, runs, RULES)
            assert c is not None
            cell.p_shifted.append(float(stdtr(c.df, -(c.worse - shift) / c.scale)))
            for w, rules in window_rules.items():
                verdict = judge(current, runs, rules).verdict
                cell.by_window[w] += verdict is BenchmarkVerdict.REGRESSION
    rel = np.log(sim.current.mean(axis=1) / sim.scale)
    flagged["best_possible"] = int(np.sum(rel > cut))
    return cell


def run_all(trials: int, unchanged: int, seed: int) -> list[Cell]:
    cells: list[Cell] = []
    cuts: dict[tuple[str, float], float] = {}
    for mi, (model, kind) in enumerate(COMBOS):
        for ci, cv in enumerate(CVS):
            key = (model, cv)
            if key not in cuts:
                cuts[key] = best_cut(model, cv, max(20 * unchanged, 20_000), [seed, 99, mi, ci])
            for di, change in enumerate(CHANGES):
                n = unchanged if change == 0 else trials
                cells.append(run_cell(model, kind, cv, change, n, cuts[key], [seed, mi, ci, di]))
    return cells


# ---------------------------------------------------------------------------------------------
# Whole runs: a loaded machine moves every benchmark at once
# ---------------------------------------------------------------------------------------------

RUN_BENCHMARKS = 40  # benchmarks per run
RUN_SEEDS = 3  # the whole-run scenarios run on --seed, --seed + 1, --seed + 2
RUN_REGRESSED, RUN_FACTOR = 4, 2.5  # the code change: 4 benchmarks 2.5x slower
LOAD = (1.5, 3.5)  # a loaded machine slows a run by a factor drawn from this range
LOAD_JITTER = 0.15  # "one factor": each benchmark's own factor scatters this much (log sd)
#: (name, load of the current run, benchmarks regressed, loaded runs in the history). Loads:
#: "run" = one factor for the run with per-benchmark jitter; "each" = every benchmark its own
#: factor drawn from the whole range (the harshest reading of "1.5-3.5x slower together").
RUN_SCENARIOS: tuple[tuple[str, str, int, int], ...] = (
    ("quiet, no change", "", 0, 0),
    ("quiet, 4 benchmarks 2.5x slower", "", RUN_REGRESSED, 0),
    ("loaded, no change", "run", 0, 0),
    ("loaded, 4 benchmarks 2.5x slower", "run", RUN_REGRESSED, 0),
    ("loaded each its own factor, no change", "each", 0, 0),
    ("loaded each its own factor, 4 benchmarks 2.5x slower", "each", RUN_REGRESSED, 0),
    ("quiet, 3 of the 20 earlier runs loaded, 4 benchmarks 2.5x slower", "", RUN_REGRESSED, 3),
    ("quiet, 6 of the 20 earlier runs loaded, 4 benchmarks 2.5x slower", "", RUN_REGRESSED, 6),
)


def _load(rng: np.random.Generator, how: str, n: int) -> tuple[np.ndarray, float]:
    """Per-benchmark slow-down factors of one loaded run, and the run's common log factor as
    the best possible rule knows it (for "each": the mean of ln U(1.5, 3.5))."""
    if how == "each":
        a, b = LOAD
        mean_log = (b * math.log(b) - a * math.log(a)) / (b - a) - 1
        return rng.uniform(*LOAD, size=n), mean_log
    factor = rng.uniform(*LOAD)
    return factor * np.exp(LOAD_JITTER * rng.standard_normal(n)), math.log(factor)


_CUTS: dict[tuple[float, str], float] = {}


def oracle_cut(cv: float, load: str) -> float:
    """The best possible rule's cut on ln(current / (true value x the run's common factor)):
    it knows the noise of this benchmark in this kind of run exactly (including how a load
    scatters benchmarks) and flags above the 99th percentile and the threshold."""
    key = (cv, load)
    if key not in _CUTS:
        rng = np.random.default_rng([SEED, 11, int(cv * 100), len(load)])
        n = 20_000
        sigma = math.sqrt(math.log1p(cv * cv))
        between, within = math.sqrt(1 - WITHIN) * sigma, math.sqrt(WITHIN * SAMPLES) * sigma
        spread = within * (LOADED if load else 1.0)
        rel = between * rng.standard_normal(n)
        rel += np.log(np.exp(spread * rng.standard_normal((n, SAMPLES))).mean(axis=1))
        if load:
            factors, common = zip(*(_load(rng, load, 1) for _ in range(n)), strict=True)
            rel += np.log(np.concatenate(factors)) - np.asarray(common)
        median = float(np.median(rel))
        _CUTS[key] = max(float(np.quantile(rel, BEST_QUANTILE)), median + math.log1p(THRESHOLD))
    return _CUTS[key]


def simulate_run(
    rng: np.random.Generator, load: str, regressed: int, loaded_history: int
) -> tuple[
    list[BenchmarkResult],
    dict[tuple[str, str], list[tuple[int, BenchmarkResult]]],
    set[str],
    set[str],
]:
    """One run of RUN_BENCHMARKS benchmarks: (current results, history per benchmark newest
    first with the index of its run, names of the benchmarks a code change slowed, names the
    best possible rule flags).
    Benchmark i has noise CVS[i % 4] and reports KINDS[i // 4 % 4]; a loaded run's samples are
    LOADED times as noisy."""
    current: list[BenchmarkResult] = []
    history: dict[tuple[str, str], list[tuple[int, BenchmarkResult]]] = {}
    best: set[str] = set()
    loaded_runs = rng.permutation(WINDOW)[:loaded_history]
    history_load = {int(i): _load(rng, "run", RUN_BENCHMARKS)[0] for i in loaded_runs}
    now_load, common = _load(rng, load, RUN_BENCHMARKS) if load else (np.ones(RUN_BENCHMARKS), 0.0)
    slowed = {f"bench_{i:02d}" for i in rng.permutation(RUN_BENCHMARKS)[:regressed]}
    for i in range(RUN_BENCHMARKS):
        name, cv, kind = f"bench_{i:02d}", CVS[i % len(CVS)], KINDS[i // len(CVS) % len(KINDS)]
        sigma = math.sqrt(math.log1p(cv * cv))
        between, within = math.sqrt(1 - WITHIN) * sigma, math.sqrt(WITHIN * SAMPLES) * sigma
        centre = math.log(10 ** rng.uniform(2, 7))
        centres = centre + between * rng.standard_normal(WINDOW)
        noisy = np.ones(WINDOW)
        for r, factors in history_load.items():
            centres[r] += math.log(factors[i])
            noisy[r] = LOADED
        hist = np.exp(
            centres[:, None] + (within * noisy)[:, None] * rng.standard_normal((WINDOW, SAMPLES))
        )
        now = centre + between * rng.standard_normal() + math.log(now_load[i])
        if name in slowed:
            now += math.log(RUN_FACTOR)
        spread = within * (LOADED if load else 1.0)
        cur = np.exp(now + spread * rng.standard_normal(SAMPLES))
        runs = [replace(r, name=name) for r in results(hist, kind)[0]]
        history[("", name)] = list(enumerate(runs))[::-1]
        current.append(replace(results(cur[None, :], kind)[0][0], name=name))
        if math.log(cur.mean()) - centre - common > oracle_cut(cv, load):
            best.add(name)
    return current, history, slowed, best


def run_scenarios(trials: int, seed: int) -> list[dict[str, Any]]:
    """Per scenario: regressions named per run by the gate (the history's and the run's common
    shifts removed) and by the same rule without them ("before": each benchmark alone), how many
    of the slowed ones each caught, and how often the gate found a common shift."""
    config = GateConfig()
    out = []
    for si, (name, load, regressed, loaded_history) in enumerate(RUN_SCENARIOS):
        rng = np.random.default_rng([seed, 7, si])
        named: dict[str, list[int]] = {"before": [], "after": [], "best": []}
        caught = dict.fromkeys(named, 0)
        shifts = 0
        for _ in range(trials):
            current, history, slowed, best = simulate_run(rng, load, regressed, loaded_history)
            alone = [
                judge(b, [r for _, r in history[("", b.name)]], config.benchmark_rules("", b.name))
                for b in current
            ]
            run = judge_run(current, steady_history(history, config, ""), config, "")
            shifts += run.shift is not None and run.shift.worse
            flagged = {
                "before": {j.name for j in alone if j.verdict is BenchmarkVerdict.REGRESSION},
                "after": {
                    j.name for j in run.judgements if j.verdict is BenchmarkVerdict.REGRESSION
                },
                "best": best,
            }
            for key, bad in flagged.items():
                named[key].append(len(bad - slowed))
                caught[key] += len(bad & slowed)
        row: dict[str, Any] = {"scenario": name, "trials": trials, "shift_found": shifts / trials}
        for key in named:
            row[key] = {
                "false_per_run": float(np.mean(named[key])),
                "false_max": int(np.max(named[key])),
                "runs_with_at_most_1_false": float(np.mean(np.asarray(named[key]) <= 1)),
                "false_share": float(np.sum(named[key])) / (trials * (RUN_BENCHMARKS - regressed)),
                "caught": caught[key] / (trials * regressed) if regressed else None,
            }
        out.append(row)
    return out


def render_runs(by_seed: dict[int, list[dict[str, Any]]]) -> str:
    """One row per scenario: before -> after, as the mean over seeds [min-max]."""

    def spread(values: list[float], pct: bool) -> str:
        lo, hi, mean = min(values), max(values), sum(values) / len(values)
        f = (lambda x: f"{100 * x:.1f}%") if pct else (lambda x: f"{x:.2f}")
        return f"{f(mean)} [{f(lo)}-{f(hi)}]" if len(values) > 1 else f(mean)

    seeds = sorted(by_seed)
    rows = []
    keys = ("before", "after", "best")
    for i, (name, _load_kind, regressed, _h) in enumerate(RUN_SCENARIOS):
        cells = [by_seed[s][i] for s in seeds]
        row = [name]
        row += [spread([c[k]["false_per_run"] for c in cells], False) for k in keys]
        row += [str(max(c[k]["false_max"] for c in cells)) for k in keys[:2]]
        row.append(spread([c["after"]["runs_with_at_most_1_false"] for c in cells], True))
        for k in keys:
            row.append(spread([c[k]["caught"] for c in cells], True) if regressed else "–")
        row.append(spread([c["shift_found"] for c in cells], True))
        rows.append(row)
    header = [
        "scenario (40 benchmarks)",
        "false per run: before", "after", "best possible",
        "most in a run: before", "after",
        "runs with ≤ 1 false: after",
        "caught: before", "after", "best possible",
        "common shift found",
    ]  # fmt: skip
    trials = by_seed[seeds[0]][0]["trials"]
    head = f"Whole runs ({trials} runs per scenario and seed; seeds {', '.join(map(str, seeds))}; "
    head += "mean [min-max] over seeds):\n"
    return head + "\n" + _table(header, rows)


# ---------------------------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------------------------


def eligible(cell: Cell) -> bool:
    """A regression larger than the threshold plus the benchmark's noise (its CV)."""
    return round(cell.change - THRESHOLD - cell.cv, 9) > 0


def below(cell: Cell) -> bool:
    return cell.change > 0 and round(cell.change - THRESHOLD, 9) < 0


def _share(cells: list[Cell], count: Callable[[Cell], float]) -> float | None:
    trials = sum(c.trials for c in cells)
    return None if trials == 0 else sum(count(c) for c in cells) / trials


def _by_rule(rule: str) -> Callable[[Cell], float]:
    return lambda c: c.flagged[rule]


def _at(alpha: float, shifted: bool = False) -> Callable[[Cell], float]:
    return lambda c: _flags(c, alpha, c.p_shifted if shifted else None)


def _in_window(window: int) -> Callable[[Cell], float]:
    return lambda c: c.by_window[window]


def score(cells: list[Cell]) -> dict[str, Any]:
    """caught / false alarms / below-threshold flags of every rule over these cells."""
    caught = [c for c in cells if eligible(c)]
    unchanged = [c for c in cells if c.change == 0]
    small = [c for c in cells if below(c)]
    out: dict[str, Any] = {
        "eligible_trials": sum(c.trials for c in caught),
        "unchanged_trials": sum(c.trials for c in unchanged),
    }
    for rule in RULE_NAMES:
        out[rule] = {
            "caught": _share(caught, _by_rule(rule)),
            "false_alarms": _share(unchanged, _by_rule(rule)),
            "below_threshold_flagged": _share(small, _by_rule(rule)),
        }
    return out


def _flags(cell: Cell, alpha: float, p_values: list[float] | None = None) -> int:
    changes = np.asarray(cell.changes)
    p = np.asarray(cell.p_values if p_values is None else p_values)
    with np.errstate(invalid="ignore"):
        return int(np.sum((changes > THRESHOLD) & (p < alpha)))


def sweeps(cells: list[Cell]) -> dict[str, Any]:
    significance = []
    for alpha in ALPHAS:
        row: dict[str, Any] = {"alpha": alpha}
        for cv in (*CVS, None):
            part = [c for c in cells if cv is None or c.cv == cv]
            key = "overall" if cv is None else f"{cv:g}"
            row[key] = {
                "caught": _share([c for c in part if eligible(c)], _at(alpha)),
                "false_alarms": _share([c for c in part if c.change == 0], _at(alpha)),
            }
        significance.append(row)
    detail = [c for c in cells if c.model == "lognormal" and c.kind == "samples"]
    alpha = RULES.significance
    hypotheses: dict[str, Any] = {}
    windows: dict[str, Any] = {}
    for cv in CVS:
        part = [c for c in detail if c.cv == cv]
        hit, zero = [c for c in part if eligible(c)], [c for c in part if c.change == 0]
        hypotheses[f"{cv:g}"] = {
            "no_change": {
                "caught": _share(hit, _at(alpha)),
                "false_alarms": _share(zero, _at(alpha)),
            },
            "beyond_threshold": {
                "caught": _share(hit, _at(alpha, shifted=True)),
                "false_alarms": _share(zero, _at(alpha, shifted=True)),
            },
        }
        windows[f"{cv:g}"] = {
            str(w): {
                "caught": _share(hit, _in_window(w)),
                "false_alarms": _share(zero, _in_window(w)),
            }
            for w in WINDOWS
        }
    detectable: dict[str, Any] = {}
    for cv in CVS:
        part = sorted((c for c in detail if c.cv == cv and c.change > 0), key=lambda c: c.change)
        detectable[f"{cv:g}"] = {
            rule: next((c.change for c in part if c.flagged[rule] / c.trials >= 0.95), None)
            for rule in RULE_NAMES
        }
    return {
        "significance": significance,
        "hypotheses": hypotheses,
        "windows": windows,
        "detectable": detectable,
    }


def summarise(cells: list[Cell], settings: dict[str, Any]) -> dict[str, Any]:
    standard = [c for c in cells if c.model in STANDARD]
    stress = [c for c in cells if c.model in STRESS]
    by_noise = {f"{cv:g}": score([c for c in standard if c.cv == cv]) for cv in CVS}
    overall = score(standard)
    models = dict.fromkeys(m for m, _ in COMBOS)
    by_model = {m: score([c for c in cells if c.model == m]) for m in models}
    by_current = {
        m: {k: score([c for c in cells if c.model == m and c.kind == k]) for k in KINDS}
        for m in ("lognormal", "loaded")
    }
    targets = {"caught": 0.95, "false_alarms": 0.01}
    met: dict[str, dict[str, bool]] = {"caught": {}, "false_alarms": {}}
    for key, s in (*by_noise.items(), ("overall", overall)):
        met["caught"][key] = s["gate"]["caught"] >= targets["caught"]
        met["false_alarms"][key] = s["gate"]["false_alarms"] < targets["false_alarms"]
    return {
        "settings": settings,
        "targets": targets,
        "by_noise": by_noise,
        "overall": overall,
        "by_noise_stress": {f"{cv:g}": score([c for c in stress if c.cv == cv]) for cv in CVS},
        "overall_stress": score(stress),
        "by_model": by_model,
        "by_current": by_current,
        **sweeps(standard),
        "met": met,
    }


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{100 * x:.1f}%"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _noise_table(by_noise: dict[str, Any], overall: dict[str, Any]) -> str:
    names = {"gate": "gate", "last_x1.2": "last × 1.2", "mean_x1.2": "mean × 1.2"}
    header = ["noise (CV)"]
    header += [f"caught: {n}" for n in names.values()] + ["caught: best possible"]
    header += [f"false alarms: {n}" for n in names.values()]
    rows = []
    for key, s in (*by_noise.items(), ("overall", overall)):
        label = key if key == "overall" else f"{float(key):.0%}"
        row = [f"**{label}**" if key == "overall" else label]
        row += [_pct(s[r]["caught"]) for r in (*names, "best_possible")]
        row += [_pct(s[r]["false_alarms"]) for r in names]
        rows.append(row)
    return _table(header, rows)


def render(summary: dict[str, Any]) -> str:
    out = ["Per noise level (lognormal, normal, outliers; every result kind):\n"]
    out.append(_noise_table(summary["by_noise"], summary["overall"]))
    out.append("\nStress cases (loaded runner, spiky runs):\n")
    out.append(_noise_table(summary["by_noise_stress"], summary["overall_stress"]))
    out.append("\nPer noise model (gate; naive rules in brackets: last × 1.2 / mean × 1.2):\n")
    rows = []
    for model, s in summary["by_model"].items():
        g, la, me = s["gate"], s["last_x1.2"], s["mean_x1.2"]
        rows.append([
            model,
            f"{_pct(g['caught'])} ({_pct(la['caught'])} / {_pct(me['caught'])})",
            f"{_pct(g['false_alarms'])} ({_pct(la['false_alarms'])} / {_pct(me['false_alarms'])})",
            _pct(g["below_threshold_flagged"]),
            _pct(s["best_possible"]["caught"]),
        ])  # fmt: skip
    out.append(_table(
        ["model", "caught", "false alarms", "flagged below the threshold", "best possible caught"],
        rows,
    ))  # fmt: skip

    out.append("\nWhat the results carry (gate: caught / false alarms):\n")
    rows = []
    for kind in KINDS:
        row = [kind]
        for model in ("lognormal", "loaded"):
            s = summary["by_current"][model][kind]["gate"]
            row.append(f"{_pct(s['caught'])} / {_pct(s['false_alarms'])}")
        rows.append(row)
    out.append(_table(["result carries", "lognormal", "loaded runner"], rows))

    out.append("\nSmallest change caught in 95% of trials (lognormal, samples):\n")
    rows = []
    for key, d in summary["detectable"].items():
        rows.append([f"{float(key):.0%}", *(_pct(d[r]) for r in RULE_NAMES)])
    out.append(_table(["noise (CV)", "gate", "last × 1.2", "mean × 1.2", "best possible"], rows))

    out.append("\nSignificance level (lognormal, normal, outliers; caught / false alarms):\n")
    rows = []
    for row in summary["significance"]:
        cells = [f"{row['alpha']:g}"]
        for key in (*(f"{cv:g}" for cv in CVS), "overall"):
            cells.append(f"{_pct(row[key]['caught'])} / {_pct(row[key]['false_alarms'])}")
        rows.append(cells)
    out.append(_table(["significance", *(f"CV {cv:.0%}" for cv in CVS), "overall"], rows))

    out.append("\nHypothesis tested (lognormal, samples; caught / false alarms):\n")
    rows = []
    for key, h in summary["hypotheses"].items():
        rows.append([
            f"{float(key):.0%}",
            f"{_pct(h['no_change']['caught'])} / {_pct(h['no_change']['false_alarms'])}",
            f"{_pct(h['beyond_threshold']['caught'])} / "
            f"{_pct(h['beyond_threshold']['false_alarms'])}",
        ])  # fmt: skip
    out.append(_table(
        ["noise (CV)", "no change (the gate)", "no more than the threshold worse"], rows
    ))  # fmt: skip

    out.append("\nWindow length (lognormal, samples; caught / false alarms):\n")
    rows = []
    for key, w in summary["windows"].items():
        rows.append([
            f"{float(key):.0%}",
            *(f"{_pct(w[str(n)]['caught'])} / {_pct(w[str(n)]['false_alarms'])}" for n in WINDOWS),
        ])  # fmt: skip
    out.append(_table(["noise (CV)", *(f"{n} runs" for n in WINDOWS)], rows))

    met = summary["met"]
    out.append(
        "\nTargets: caught >= 95% met for "
        + (", ".join(k for k, v in met["caught"].items() if v) or "none")
        + "; false alarms < 1% met for "
        + (", ".join(k for k, v in met["false_alarms"].items() if v) or "none")
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials (a few seconds)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--runs", type=int, default=None, help="whole runs per scenario and seed (default 100)"
    )
    parser.add_argument("--runs-only", action="store_true", help="only the whole-run scenarios")
    parser.add_argument("--out", type=Path, default=RESULTS / "regressions.json")
    args = parser.parse_args(argv)
    parser_runs: int | None = args.runs
    trials, unchanged = (10, 50) if args.quick else (400, 2000)
    started = time.perf_counter()
    cells = [] if args.runs_only else run_all(trials, unchanged, args.seed)
    settings = {
        "quick": args.quick,
        "seed": args.seed,
        "trials_per_cell": trials,
        "unchanged_trials_per_cell": unchanged,
        "window": WINDOW,
        "samples_per_run": SAMPLES,
        "within_run_share": WITHIN,
        "threshold": RULES.max_regression,
        "significance": RULES.significance,
        "min_history": RULES.min_history,
        "cvs": list(CVS),
        "changes": list(CHANGES),
        "combos": [list(c) for c in COMBOS],
    }
    summary = summarise(cells, settings) if cells else {"settings": settings}
    runs = parser_runs or (5 if args.quick else 100)
    seeds = [args.seed + i for i in range(RUN_SEEDS)]
    by_seed = {s: run_scenarios(runs, s) for s in seeds}
    summary["runs"] = {str(s): rows for s, rows in by_seed.items()}
    summary["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if cells:
        print(render(summary))
        print()
    print(render_runs(by_seed))
    print(
        f"\n{sum(c.trials for c in cells):,} trials and {runs * len(RUN_SCENARIOS) * RUN_SEEDS:,} "
        f"whole runs in {summary['seconds']} s; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
