"""Infrastructure bursts: run attempts in which an unusual share of a service's tests fail."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from scipy.special import bdtrc  # binomial upper tail; scipy.stats costs 0.3 s more to import

from gatekeeper import model
from gatekeeper.flaky.config import ClassifierConfig

RunKey = tuple[str, str, int]  # (service, run_id, attempt)
_FAILING = frozenset(o for o in model.Outcome if o.is_failure)

_HEX = re.compile(r"0x[0-9a-fA-F]+")
_NUMBER = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def normalise_message(message: str | None) -> str | None:
    """The part of a failure message that names its cause: first line, addresses and numbers
    blanked (pytest prints ``at 0x7f...`` object addresses that differ on every run)."""
    if not message:
        return None
    first = message.strip().splitlines()[0] if message.strip() else ""
    text = _NUMBER.sub("#", _HEX.sub("0x?", first))
    return _SPACE.sub(" ", text).strip()[:200] or None


@dataclass(slots=True)
class _RunTally:
    """One run attempt: which tests ran, which failed at least once, with what message."""

    commit: str | None = None
    branch: str | None = None
    timestamp: datetime | None = None
    tests: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    messages: Counter[str] = field(default_factory=Counter)  # tests failing with each message
    seen: set[tuple[str, str]] = field(default_factory=set)  # (test, message) already counted

    def shared_message(self) -> tuple[str | None, int]:
        """The message most failing tests share and how many (ties: the first in text order,
        so that the answer never depends on the order of the rows)."""
        if not self.messages:
            return None, 0
        message, count = min(self.messages.items(), key=lambda item: (-item[1], item[0]))
        return message, count


def tally_runs(executions: Iterable[model.TestExecution]) -> dict[RunKey, _RunTally]:
    """Per run attempt, the tests that ran (not skipped) and those with a failing execution."""
    runs: dict[RunKey, _RunTally] = {}
    skipped, failing = model.Outcome.SKIPPED, _FAILING
    for e in executions:
        outcome = e.outcome
        if outcome is skipped:
            continue
        key = (e.service, e.run_id, e.attempt)
        tally = runs.get(key)
        if tally is None:
            tally = runs[key] = _RunTally(e.commit, e.branch, e.timestamp)
        tally.tests.add(e.test_id)
        if outcome in failing:
            tally.failed.add(e.test_id)
            norm = normalise_message(e.message)
            if norm is not None and (e.test_id, norm) not in tally.seen:
                tally.seen.add((e.test_id, norm))
                tally.messages[norm] += 1
    return runs


def find_bursts(
    runs: dict[RunKey, _RunTally], config: ClassifierConfig
) -> dict[RunKey, model.BurstRun]:
    """The run attempts whose failures are infrastructure, not the tests (docs/statistics.md).

    A candidate has at least ``burst_min_failures`` failing tests, either at least
    ``burst_min_share`` of its tests failing or that many failures sharing one normalised
    message, and a binomial tail probability below ``burst_alpha`` under the service's
    typical failure share (``burst_alpha_shared`` when most of its failures share one
    message). A run attempt with fewer failures is a candidate too when at least two of them,
    and most, share a message that one of the service's clear bursts had. A candidate whose
    failing tests mostly fail again in the service's next run attempt on the same branch is a
    persistent regression, not a burst.
    """
    by_service: dict[str, list[RunKey]] = {}
    for key in runs:
        by_service.setdefault(key[0], []).append(key)
    bursts: dict[RunKey, model.BurstRun] = {}
    for keys in by_service.values():
        keys.sort(key=lambda k: (stamp(runs[k].timestamp), k[1], k[2]))
        base = _typical_share([runs[k] for k in keys], config.burst_trim)
        candidates: dict[RunKey, tuple[float, str | None]] = {}
        for key in keys:
            run = runs[key]
            n, f = len(run.tests), len(run.failed)
            if f < max(config.burst_min_failures, 1):
                continue
            top, shared = run.shared_message()
            if f / n < config.burst_min_share and shared < config.burst_min_failures:
                continue
            p_value = float(bdtrc(f - 1, n, base))  # P(X >= f), X ~ Binomial(n, base)
            one_cause = shared >= config.burst_min_failures and shared * 2 >= f
            alpha = config.burst_alpha_shared if one_cause else config.burst_alpha
            if p_value < alpha:
                candidates[key] = (p_value, top if shared * 2 >= f else None)
        confirmed = _not_persistent(keys, runs, candidates)
        # A small burst (too few failures to be improbable by count alone) whose failures share
        # a message that one of the service's confirmed bursts had: the same cause again (the
        # database down once more), not the tests' own failures.
        known = {m for _p, m in confirmed.values() if m is not None}
        small: dict[RunKey, tuple[float, str | None]] = {}
        for key in keys:
            run = runs[key]
            f = len(run.failed)
            if key in candidates or f < 2:
                continue
            top, shared = run.shared_message()
            if top in known and shared >= 2 and shared * 2 >= f:
                small[key] = (float(bdtrc(f - 1, len(run.tests), base)), top)
        confirmed.update(_not_persistent(keys, runs, small))
        for key, (p_value, message) in confirmed.items():
            run = runs[key]
            bursts[key] = model.BurstRun(
                service=key[0],
                run_id=key[1],
                attempt=key[2],
                commit=run.commit,
                timestamp=run.timestamp,
                tests=len(run.tests),
                failures=len(run.failed),
                expected_share=base,
                p_value=p_value,
                message=message,
            )
    return bursts


def _not_persistent(
    keys: list[RunKey],
    runs: dict[RunKey, _RunTally],
    candidates: dict[RunKey, tuple[float, str | None]],
) -> dict[RunKey, tuple[float, str | None]]:
    """The candidates whose failing tests do not mostly fail again in the service's next run
    attempt on the same branch (those are a regression: the tests' own news)."""
    out: dict[RunKey, tuple[float, str | None]] = {}
    for i, key in enumerate(keys):
        if key not in candidates:
            continue
        run = runs[key]
        following = _next_on_branch(keys, i, runs)
        if following is not None and len(run.failed & following.failed) * 2 > len(run.failed):
            continue
        out[key] = candidates[key]
    return out


def _typical_share(runs: list[_RunTally], trim: float) -> float:
    """The pooled share of failing tests per run, without the worst ``trim`` of the runs
    (so that bursts do not raise their own baseline), with a Jeffreys half-count so it is
    never 0."""
    shares = sorted(runs, key=lambda r: len(r.failed) / len(r.tests))
    kept = shares[: len(shares) - math.floor(len(shares) * trim)] or shares
    failed = sum(len(r.failed) for r in kept)
    tests = sum(len(r.tests) for r in kept)
    return (failed + 0.5) / (tests + 1.0)


def _next_on_branch(keys: list[RunKey], i: int, runs: dict[RunKey, _RunTally]) -> _RunTally | None:
    branch = runs[keys[i]].branch
    for key in keys[i + 1 :]:
        if runs[key].branch == branch:
            return runs[key]
    return None


def stamp(ts: datetime | None) -> float:
    """A sortable number for a possibly missing, possibly naive (taken as UTC) time."""
    if ts is None:
        return -math.inf
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.timestamp()
