"""The evaluation harness: simulated histories through real ingest and classify, scored.

    python benchmarks/evaluate.py            # full scenarios (~2,000 tests each)
    python benchmarks/evaluate.py --quick    # the same scenarios with 300 tests

Per scenario (benchmarks/simulate.py): simulate the history, ingest its manifest into a fresh
SQLite database with ``Gatekeeper.ingest_manifest``, read the executions back, classify, and
score the ``flaky`` verdict against the ground truth at the end of the history, next to the
flip-rate baseline with its threshold chosen in hindsight. Writes
benchmarks/results/evaluation.md and prints the same table.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from simulate import SCENARIOS, GroundTruth, Scenario, simulate  # noqa: E402

from gatekeeper import flaky, model  # noqa: E402
from gatekeeper.api import Gatekeeper  # noqa: E402
from gatekeeper.config import Settings  # noqa: E402

RESULTS = HERE / "results"
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Score:
    precision: float
    recall: float
    f1: float


def score(predicted: set[Key], truth: frozenset[Key]) -> Score:
    tp = len(predicted & truth)
    p = tp / len(predicted) if predicted else 1.0
    r = tp / len(truth) if truth else 1.0
    return Score(p, r, 2 * p * r / (p + r) if p + r else 0.0)


def flip_scores(
    executions: Sequence[model.TestExecution], index: dict[str, int], window: int, alpha: float
) -> dict[Key, float]:
    """The flip-rate baseline (WithSecure flaky-tests-detection): per test, the flip rate
    (pass<->fail changes between consecutive executions / executions) in windows of ``window``
    commits, smoothed by an EWMA over the windows; the score is the last EWMA value."""
    seqs: dict[Key, list[tuple[int, bool]]] = {}
    for e in executions:
        if e.outcome in (model.Outcome.PASSED, model.Outcome.FAILED) and e.commit in index:
            seqs.setdefault((e.service, e.test_id), []).append(
                (index[e.commit], e.outcome is model.Outcome.FAILED)
            )
    out: dict[Key, float] = {}
    for key, seq in seqs.items():
        ewma = 0.0
        first = seq[0][0] // window
        last = max(c for c, _ in seq) // window
        buckets: dict[int, list[bool]] = {}
        for c, failed in seq:  # the store yields each test's executions oldest first
            buckets.setdefault(c // window, []).append(failed)
        for w in range(first, last + 1):
            b = buckets.get(w, [])
            flips = sum(1 for x, y in itertools.pairwise(b) if x != y)
            rate = flips / len(b) if b else 0.0
            ewma = rate if w == first else alpha * rate + (1 - alpha) * ewma
        out[key] = ewma
    return out


def best_threshold(scores: dict[Key, float], truth: frozenset[Key]) -> tuple[Score, float]:
    """The threshold with the best F1 in hindsight (the most favourable case for the baseline)."""
    ranked = sorted(((v, k) for k, v in scores.items() if v > 0), reverse=True)
    best, best_t, tp = Score(1.0, 0.0, 0.0), float("inf"), 0
    for i, (v, k) in enumerate(ranked):
        tp += k in truth
        if i + 1 < len(ranked) and ranked[i + 1][0] == v:
            continue  # a threshold takes every test with the same score
        p, r = tp / (i + 1), tp / len(truth) if truth else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best.f1:
            best, best_t = Score(p, r, f1), v
    return best, best_t


@dataclass(frozen=True, slots=True)
class Row:
    scenario: Scenario
    truth: GroundTruth
    gk: Score
    called: int
    broken_called_flaky: int
    false_broken: int
    broken_found: int
    strict: Score
    baseline: Score
    baseline_threshold: float
    delay_median: float | None
    delay_detected: str
    seconds: float
    missed: list[str]


def detection_delays(
    executions: Sequence[model.TestExecution], truth: GroundTruth, commits: int, step: int
) -> list[int | None]:
    """Per truly flaky test: commits from its flaky phase's start to the first checkpoint (every
    ``step`` commits) at which the classifier, given the history up to there, calls it flaky.
    Rounded up to the checkpoint, so it overstates the delay by up to ``step - 1`` commits."""
    found: dict[Key, int] = {}
    for k in [*range(step - 1, commits - 1, step), commits - 1]:
        upto = [e for e in executions if e.commit and truth.commit_index[e.commit] <= k]
        for v in flaky.classify(upto).verdicts:
            key = (v.service, v.test_id)
            flagged = v.verdict is model.Verdict.FLAKY and key in truth.flaky
            if flagged and key not in found and truth.onset[key] <= k:
                found[key] = k - truth.onset[key]
    return [found.get(key) for key in truth.flaky]


def evaluate(sc: Scenario, work: Path, *, delay_step: int) -> Row:
    started = time.perf_counter()
    truth = simulate(sc, work / "history")
    gk = Gatekeeper(Settings(db_url=f"sqlite:///{work / 'gk.db'}"), env={})
    gk.ingest_manifest(work / "history" / "manifest.jsonl")
    executions = list(gk.store.executions())
    verdicts = flaky.classify(executions).verdicts
    called = {
        (v.service, v.test_id) for v in verdicts if v.verdict is model.Verdict.FLAKY
    } - truth.ambiguous
    broken = {(v.service, v.test_id) for v in verdicts if v.verdict is model.Verdict.BROKEN}
    base, threshold = Score(0, 0, 0), 0.0
    for window in (5, 10, 20, 40):  # the window, too, is chosen in hindsight
        for alpha in (0.1, 0.3):
            scores = flip_scores(executions, truth.commit_index, window, alpha)
            for k in truth.ambiguous:
                scores.pop(k, None)
            s, t = best_threshold(scores, truth.flaky)
            if s.f1 > base.f1:
                base, threshold = s, t
    delays = detection_delays(executions, truth, sc.commits, delay_step) if delay_step else []
    seen = [d for d in delays if d is not None]
    by_key = {(v.service, v.test_id): v for v in verdicts}
    missed = [
        f"{k[1]}: truth flaky, called {by_key[k].verdict} ({by_key[k].evidence.failures}"
        f"/{by_key[k].evidence.runs})"
        for k in sorted(truth.flaky - called)
        if k in by_key
    ] + [f"{k[1]}: truth not flaky, called flaky" for k in sorted(called - truth.flaky)]
    return Row(
        scenario=sc,
        truth=truth,
        gk=score(called, truth.flaky),
        called=sum(v.verdict is model.Verdict.FLAKY for v in verdicts),
        broken_called_flaky=len(called & truth.broken),
        false_broken=len(broken - truth.broken),
        broken_found=len(broken & truth.broken),
        strict=score(
            {(v.service, v.test_id) for v in verdicts if v.verdict is model.Verdict.FLAKY}
            - (truth.ambiguous - truth.one_commit),
            truth.flaky | truth.one_commit,
        ),
        baseline=base,
        baseline_threshold=threshold,
        delay_median=statistics.median(seen) if seen else None,
        delay_detected=f"{len(seen)}/{len(delays)}",
        seconds=time.perf_counter() - started,
        missed=missed,
    )


def table(rows: Sequence[Row]) -> str:
    head = (
        "| scenario | commits | tests | executions | common-cause attempts | flaky | broken "
        "| ambiguous "
        "| gatekeeper P / R / F1 | one-commit flakes | F1 counting them | called flaky "
        "| broken called flaky "
        "| called broken wrongly | broken found "
        "| flip-rate P / R / F1 (hindsight) | delay (median commits, found) |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: "
        "| ---: "
        "| ---: "
        "| --- | --- |\n"
    )
    lines = []
    for r in rows:
        sc, t = r.scenario, r.truth
        delay = "—" if r.delay_median is None else f"{r.delay_median:g} ({r.delay_detected})"
        lines.append(
            f"| {sc.name} | {sc.commits} | {sc.tests} | {t.executions:,} | {len(t.burst_runs)} "
            f"| {len(t.flaky)} | {len(t.broken)} | {len(t.ambiguous)} "
            f"| {r.gk.precision:.3f} / {r.gk.recall:.3f} / **{r.gk.f1:.3f}** "
            f"| {len(t.one_commit)} | {r.strict.f1:.3f} "
            f"| {r.called} ({r.called / max(len(t.flaky), 1):.2f}x) "
            f"| {r.broken_called_flaky} | {r.false_broken} | {r.broken_found}/{len(t.broken)} "
            f"| {r.baseline.precision:.3f} / {r.baseline.recall:.3f} / {r.baseline.f1:.3f} "
            f"| {delay} |"
        )
    mean = statistics.mean(r.gk.f1 for r in rows)
    base = statistics.mean(r.baseline.f1 for r in rows)
    strict = statistics.mean(r.strict.f1 for r in rows)
    foot = (
        f"\nMean F1: gatekeeper {mean:.3f} (counting one-commit flakes: {strict:.3f}), "
        f"flip-rate baseline (hindsight) {base:.3f}.\n"
    )
    return head + "\n".join(lines) + "\n" + foot


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="300 tests per scenario")
    ap.add_argument("--no-delay", action="store_true", help="skip the detection-delay replay")
    ap.add_argument("--only", help="run only the scenarios with these names (comma-separated)")
    ap.add_argument("--seed-offset", type=int, default=0, help="add this to every scenario's seed")
    args = ap.parse_args(argv)
    rows = []
    only = set(args.only.split(",")) if args.only else None
    for sc in SCENARIOS:
        if only and sc.name not in only:
            continue
        sc = dataclasses.replace(sc, seed=sc.seed + args.seed_offset)
        sc = sc.scaled(300) if args.quick else sc
        with tempfile.TemporaryDirectory(prefix="gk-eval-") as tmp:
            step = 0 if args.no_delay else max(5, sc.commits // 15)
            row = evaluate(sc, Path(tmp), delay_step=step)
        rows.append(row)
        print(f"{sc.name}: F1 {row.gk.f1:.3f} in {row.seconds:.0f} s", file=sys.stderr)
        for line in row.missed[:15]:
            print(f"  {line}", file=sys.stderr)
    text = table(rows)
    mode = "--quick (300 tests per scenario)" if args.quick else "full (2,000 tests per scenario)"
    if args.seed_offset:
        mode += f", seeds + {args.seed_offset}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "evaluation.md").write_text(f"Mode: {mode}.\n\n{text}", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
