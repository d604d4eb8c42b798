"""The classifier: test executions in, one verdict with evidence per test out (no I/O)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter

import numpy as np

from gatekeeper import model
from gatekeeper.flaky.common import Charge, find_common_causes, stamp, tally_runs
from gatekeeper.flaky.config import ClassifierConfig
from gatekeeper.flaky.segment import (
    Prior,
    Segment,
    cost_of,
    deterministic_cost,
    jeffreys_interval,
    rate_below,
    segment,
)

TestKey = tuple[str, str]  # (service, test_id), as model.QuarantineEntry.key


def classify(
    executions: Iterable[model.TestExecution],
    config: ClassifierConfig | None = None,
    *,
    quarantined: Collection[TestKey] = (),
) -> model.Classification:
    """Classify every test in ``executions`` (any order; one service or many).

    ``quarantined`` holds the (service, test_id) keys quarantined now: they stay flaky until
    their passes make the old failure rate implausible (hysteresis, docs/statistics.md).
    """
    config = config or ClassifierConfig()
    rows = list(executions)
    by_test: dict[TestKey, list[model.TestExecution]] = {}
    failed: set[TestKey] = set()
    for e in rows:
        key = (e.service, e.test_id)
        by_test.setdefault(key, []).append(e)
        if e.outcome in _FAILED:
            failed.add(key)
    sizes: dict[str, int] = {}
    for service, _test in by_test:
        sizes[service] = sizes.get(service, 0) + 1
    failing = {k: by_test[k] for k in sorted(failed)}  # sorted: sums in one order, every run
    causes = find_common_causes(tally_runs(rows), failing, config, sizes)
    held = frozenset(quarantined)
    prior = Prior(flaky=config.flaky_prior, change=config.change_prior)
    stamps = _Stamps()
    verdicts = tuple(
        _classify_test(
            key,
            _history(by_test[key], causes.charged, config, stamps, need_order=key in held),
            config,
            prior,
            key in held,
        )
        for key in sorted(by_test)
    )
    return model.Classification(verdicts=verdicts, bursts=causes.bursts())


# ---------------------------------------------------------------------------------------------
# One test's history: executions grouped by commit, in time order
# ---------------------------------------------------------------------------------------------


OrderKey = tuple[float, str, int, int, str]
_FAILED = frozenset({model.Outcome.FAILED, model.Outcome.ERROR})


class _Stamps(dict[datetime | None, float]):
    """stamp() per distinct time: a run's executions share one datetime object."""

    def __missing__(self, ts: datetime | None) -> float:
        value = self[ts] = stamp(ts)
        return value


@dataclass(slots=True)
class _Commit:
    key: str
    first: OrderKey  # where it sits in time: its first default-branch execution, else its first
    executions: list[model.TestExecution] = field(default_factory=list)
    failures: int = 0
    on_default: bool = False

    @property
    def mixed(self) -> bool:
        return 0 < self.failures < len(self.executions)


@dataclass(slots=True)
class _History:
    commits: list[_Commit]
    burst_failures: int
    #: For a test that did not fail (and is not quarantined): (commits, executions) on its
    #: timeline, counted without building the commits (most tests of a suite; ``commits`` is
    #: then empty).
    clean: tuple[int, int] | None = None


def _history(
    executions: list[model.TestExecution],
    charged: frozenset[Charge],
    config: ClassifierConfig,
    stamps: _Stamps,
    need_order: bool,
) -> _History:
    usable: list[model.TestExecution] = []
    burst_failures = 0
    failed = False
    for e in executions:
        outcome = e.outcome
        if outcome is model.Outcome.SKIPPED:
            continue
        if outcome in _FAILED:
            if (e.service, e.run_id, e.attempt, e.test_id) in charged:
                burst_failures += 1
                continue
            failed = True
        usable.append(e)
    if not failed and not need_order:
        # Most tests never fail: their verdict needs only how many commits and executions
        # their timeline holds, unless the window cuts it (or they are quarantined: a flaky
        # verdict says since when). A clean commit counts when it is on the default branch
        # (another branch's commit only where the test both passed and failed: never here).
        default = config.default_branch
        names = [e.commit or f"run {e.run_id}" for e in usable]
        on_default = {
            name
            for name, e in zip(names, usable, strict=True)
            if e.branch is None or e.branch == default
        }
        if not config.window or len(on_default) <= config.window:
            executions_on = sum(1 for name in names if name in on_default)
            return _History([], burst_failures, clean=(len(on_default), executions_on))
    # The outcome last, so that even duplicate rows sort the same whatever the input order.
    keyed = [
        ((stamps[e.timestamp], e.run_id, e.attempt, e.retry, e.outcome.value), e) for e in usable
    ]
    keyed.sort(key=itemgetter(0))
    commits = _group([e for _, e in keyed], config, [k for k, _ in keyed])
    commits.sort(key=lambda c: (c.first, c.key))
    if config.window and len(commits) > config.window:
        commits = commits[-config.window :]
    return _History(commits, burst_failures)


_UNORDERED: OrderKey = (0.0, "", 0, 0, "")


def _group(
    executions: list[model.TestExecution], config: ClassifierConfig, keys: list[OrderKey] | None
) -> list[_Commit]:
    """The commits on the test's timeline; ``keys`` (the executions' order) place them in time."""
    groups: dict[str, _Commit] = {}
    default = config.default_branch
    for i, e in enumerate(executions):
        # A run with no commit is its own commit (its attempts share the code).
        name = e.commit or f"run {e.run_id}"
        commit = groups.get(name)
        if commit is None:
            commit = groups[name] = _Commit(name, keys[i] if keys else _UNORDERED)
        commit.executions.append(e)
        if e.outcome in _FAILED:
            commit.failures += 1
        if not commit.on_default and (e.branch is None or e.branch == default):
            commit.on_default = True
            if keys:
                commit.first = keys[i]
    # Another branch's commit is evidence only where it passed and failed: a branch that
    # breaks a test is the branch's business, not a flake.
    any_branch = config.same_commit_any_branch
    return [c for c in groups.values() if c.on_default or (any_branch and c.mixed)]


# ---------------------------------------------------------------------------------------------
# The verdict
# ---------------------------------------------------------------------------------------------


def _classify_test(
    key: TestKey,
    history: _History,
    config: ClassifierConfig,
    prior: Prior,
    is_quarantined: bool,
) -> model.TestVerdict:
    if history.clean is not None:
        return _clean_verdict(key, history.clean, history.burst_failures, config)
    commits = history.commits
    seq = [e for c in commits for e in c.executions]
    failing = [e for e in seq if e.outcome in _FAILED]
    same_commit = sum(1 for c in commits if c.mixed)
    facts = _Facts(
        executions=len(seq),
        failures=len(failing),
        flips=sum(
            1
            for a, b in itertools.pairwise(seq)
            if (a.outcome in _FAILED) != (b.outcome in _FAILED)
        ),
        same_commit=same_commit,
        burst_failures=history.burst_failures,
        first=failing[0] if failing else None,
        last=failing[-1] if failing else None,
    )
    fails = np.array([c.failures for c in commits], dtype=np.int64)
    totals = np.array([len(c.executions) for c in commits], dtype=np.int64)
    if not failing:
        segments = [Segment(0, len(commits), 0, len(seq))] if commits else []
        best = cost_of(segments, prior)
    else:
        segments, best = segment(fails, totals, prior)
    det = deterministic_cost(fails, totals, prior)
    has_flaky = any(s.mixed for s in segments)
    # P(flaky | history) against the best deterministic explanation (equal footing: both
    # costs already hold the priors). When the best explanation is deterministic, the single
    # flaky segment over the whole history is the alternative we weigh.
    flaky_cost = (
        best if has_flaky else cost_of([Segment(0, len(commits), len(failing), len(seq))], prior)
    )
    p_flaky = 1.0 if math.isinf(det) else _sigmoid(det - flaky_cost)
    changes = tuple(_change_point(commits, a, b) for a, b in itertools.pairwise(segments))
    last = segments[-1] if segments else None

    def verdict(
        kind: model.Verdict, confidence: float, current: Segment | None
    ) -> model.TestVerdict:
        return _verdict(key, kind, confidence, current, commits, facts, changes)

    if last is not None and last.failing and last.executions:
        # Failing on every execution since the start of the last segment: a regression.
        alternative = _merged_cost(segments, prior)
        return verdict(model.Verdict.BROKEN, _sigmoid(alternative - best), last)
    if is_quarantined:
        p_old, passes = _old_rate_and_passes_since(seq, segments, commits, config)
        still = (1.0 - p_old) ** passes  # P(this many passes in a row | still flaky)
        if still < config.heal_alpha:
            return verdict(model.Verdict.HEALED, 1.0 - still, last)
        return verdict(model.Verdict.FLAKY, max(p_flaky, still), _since_flaky(segments))
    if facts.executions < config.min_runs and not same_commit:
        return verdict(model.Verdict.INSUFFICIENT_DATA, 1.0, last)
    if last is not None and last.mixed and p_flaky >= config.enter_confidence:
        newest = commits[-1]
        rate = (last.failures + 0.5) / (last.executions + 1.0)
        failing_now = newest.failures >= 2 and newest.failures == len(newest.executions)
        if failing_now and rate**newest.failures < config.heal_alpha:
            # Failing on every execution of the newest commit, retries included, which its
            # flaky rate makes implausible (1 in 20): a test failing deterministically now is
            # not quarantined (a regression inside a flaky stretch); the next commit settles it.
            since = Segment(len(commits) - 1, len(commits), newest.failures, newest.failures)
            return verdict(model.Verdict.BROKEN, 1.0 - rate**newest.failures, since)
        return verdict(model.Verdict.FLAKY, p_flaky, last)
    k, m = (last.failures, last.executions) if last is not None else (0, 0)
    return verdict(model.Verdict.STABLE, rate_below(k, m, config.stable_rate), last)


def _clean_verdict(
    key: TestKey, clean: tuple[int, int], burst_failures: int, config: ClassifierConfig
) -> model.TestVerdict:
    """The verdict of a test that did not fail and is not quarantined, as ``_classify_test``
    would give it: one passing segment, insufficient-data below ``min_runs``, else stable."""
    commits, executions = clean
    facts = _Facts(executions, 0, 0, 0, burst_failures, None, None)
    last = Segment(0, commits, 0, executions) if commits else None
    if executions < config.min_runs:
        return _verdict(key, model.Verdict.INSUFFICIENT_DATA, 1.0, last, [], facts, ())
    confidence = rate_below(0, executions, config.stable_rate)
    return _verdict(key, model.Verdict.STABLE, confidence, last, [], facts, ())


def _since_flaky(segments: list[Segment]) -> Segment | None:
    """For a test held in quarantine: from its last flaky segment to now (its passes since
    included), or the last segment when none was flaky."""
    flaky = [i for i, s in enumerate(segments) if s.mixed]
    if not flaky:
        return segments[-1] if segments else None
    tail = segments[flaky[-1] :]
    return Segment(tail[0].start, tail[-1].end, sum(s.failures for s in tail),
                   sum(s.executions for s in tail))  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Facts:
    executions: int
    failures: int
    flips: int
    same_commit: int
    burst_failures: int
    first: model.TestExecution | None
    last: model.TestExecution | None


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _merged_cost(segments: list[Segment], prior: Prior) -> float:
    """The cost of the same history with its final failing segment folded into the one before
    it as one flaky segment (for a test that always failed: one flaky segment)."""
    last = segments[-1]
    if len(segments) == 1:
        return prior.flaky_cost(last.failures, last.executions)
    before = segments[-2]
    merged = Segment(before.start, last.end, before.failures + last.failures,
                     before.executions + last.executions)  # fmt: skip
    return cost_of([*segments[:-2], merged], prior)


def _old_rate_and_passes_since(
    seq: list[model.TestExecution],
    segments: list[Segment],
    commits: list[_Commit],
    config: ClassifierConfig,
) -> tuple[float, int]:
    """The failure rate to heal from (Jeffreys mean of the segment holding the last failure)
    and how many executions passed since that failure."""
    last_fail = max((i for i, e in enumerate(seq) if e.outcome in _FAILED), default=None)
    if last_fail is None:
        return config.heal_reference_rate, len(seq)
    offsets = np.cumsum([0, *(len(c.executions) for c in commits)])
    seg = next(s for s in segments if offsets[s.start] <= last_fail < offsets[s.end])
    return (seg.failures + 0.5) / (seg.executions + 1.0), len(seq) - 1 - last_fail


def _point(e: model.TestExecution | None) -> model.FailurePoint | None:
    if e is None:
        return None
    return model.FailurePoint(
        commit=e.commit, date=e.timestamp.date() if e.timestamp else None, run=e.run_id
    )


def _change_point(commits: list[_Commit], before: Segment, after: Segment) -> model.ChangePoint:
    first = commits[after.start].executions[0]
    return model.ChangePoint(
        commit=first.commit,
        run_id=first.run_id,
        timestamp=first.timestamp,
        rate_before=before.rate,
        rate_after=after.rate,
    )


def _verdict(
    key: TestKey,
    kind: model.Verdict,
    confidence: float,
    current: Segment | None,
    commits: list[_Commit],
    facts: _Facts,
    changes: tuple[model.ChangePoint, ...],
) -> model.TestVerdict:
    k, m = (current.failures, current.executions) if current is not None else (0, 0)
    since = None
    if current is not None and kind in (model.Verdict.BROKEN, model.Verdict.FLAKY) and k:
        since = _point(commits[current.start].executions[0])
    low, high = jeffreys_interval(k, m)
    evidence = model.Evidence(
        verdict=kind,
        confidence=min(max(confidence, 0.0), 1.0),
        summary=_summary(kind, k, m, (low, high), since, facts),
        runs=m,
        failures=k,
        failure_rate=k / m if m else 0.0,
        failure_rate_ci95=(low, high),
        flips=facts.flips,
        same_commit_flips=facts.same_commit,
        burst_failures=facts.burst_failures,
        first_failure=_point(facts.first),
        last_failure=_point(facts.last),
    )
    return model.TestVerdict(
        service=key[0],
        test_id=key[1],
        verdict=kind,
        evidence=evidence,
        executions=facts.executions,
        failed_executions=facts.failures,
        since=since,
        change_points=changes,
        first_failure_at=facts.first.timestamp if facts.first else None,
        last_failure_at=facts.last.timestamp if facts.last else None,
    )


def _summary(
    kind: model.Verdict,
    k: int,
    m: int,
    interval: tuple[float, float],
    since: model.FailurePoint | None,
    facts: _Facts,
) -> str:
    """The evidence in one sentence, for the registry's reason and for reviewers."""
    where = ""
    if since is not None and since.commit:
        where = f" since commit {since.commit[:10]}"
    elif since is not None and since.run:
        where = f" since run {since.run}"
    rate = f"{k} of {m} executions failed{where}"
    if m:
        rate += f" ({k / m:.1%}, 95% interval {interval[0]:.1%}-{interval[1]:.1%})"
    parts = [f"{kind.value}: {rate}"]
    if facts.same_commit:
        parts.append(f"passed and failed on the same commit {facts.same_commit} time(s)")
    if facts.burst_failures:
        parts.append(
            f"{facts.failures} failure(s) charged to the test, {facts.burst_failures} to common"
            " causes"
        )
    return "; ".join(parts)
