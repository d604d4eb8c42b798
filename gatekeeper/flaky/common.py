"""Common causes: failures that many tests share are charged to their run's environment.

Before any test is charged with a failure, the classifier asks what the failure shares with
others (docs/statistics.md, "Step 1: common causes"). The model has two latent parts, fitted
together by alternating between them:

- an **environment** per run attempt: with probability ``e`` (0 in a healthy run) the
  attempt's environment fails any of its tests, whatever the test; estimated from all the
  attempt's tests (one binomial likelihood), or, for a co-failure, from the tests that failed
  with one normalised message;
- an **own failure rate** per test, estimated from the failures charged to it.

A test fails in an attempt with probability ``1 - (1 - e)(1 - p)``. An attempt is degraded when
its failures are better explained with an environment than by its tests' own rates (a
likelihood ratio against the prior odds of a degraded attempt; its neighbours in time and
across services raise those odds). A failure in a degraded attempt is then charged to the
environment when the test's own behaviour explains it worse:

- a failure on a commit where the test also passed: when the environment is the likelier
  cause, ``p < e / (1 + e)``, the odds of the test's own failure weighed by its message (how
  much likelier the service's own failures make it than the attempt's other failures do);
- a block of consecutive commits on which the test failed every time: when the environment
  failing it that often (the product of its attempts' ``e``) is likelier than the test changing
  its behaviour (``change_prior`` per change point a regression needs). A block that runs
  through a healthy attempt is always the test's own (a regression).

Pure: executions in, charges out; no I/O.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from scipy.special import pdtrc  # Poisson upper tail, for the evidence's p-value

from gatekeeper import model
from gatekeeper.flaky.config import ClassifierConfig

RunKey = tuple[str, str, int]  # (service, run_id, attempt)
TestKey = tuple[str, str]  # (service, test_id)
Charge = tuple[str, str, int, str]  # (service, run_id, attempt, test_id)

_FAILING = frozenset(o for o in model.Outcome if o.is_failure)
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_NUMBER = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
_ROUNDS = 6  # alternations at most; a history settles in two or three


def normalise_message(message: str | None) -> str | None:
    """The part of a failure message that names its cause: first line, addresses and numbers
    blanked (pytest prints ``at 0x7f...`` object addresses that differ on every run)."""
    if not message:
        return None
    first = message.strip().splitlines()[0] if message.strip() else ""
    text = _NUMBER.sub("#", _HEX.sub("0x?", first))
    return _SPACE.sub(" ", text).strip()[:200] or None


def stamp(ts: datetime | None) -> float:
    """A sortable number for a possibly missing, possibly naive (taken as UTC) time."""
    if ts is None:
        return -math.inf
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.timestamp()


@dataclass(slots=True)
class RunTally:
    """One run attempt: which tests ran, which failed, with what normalised message."""

    commit: str | None = None
    branch: str | None = None
    timestamp: datetime | None = None
    tests: int = 0  # tests that ran (their first execution not skipped)
    #: test -> the normalised message of its first failing execution (retry order; ties of one
    #: retry number: the smallest message, so that row order never matters)
    failed: dict[str, tuple[int, str | None]] = field(default_factory=dict)


def tally_runs(executions: Iterable[model.TestExecution]) -> dict[RunKey, RunTally]:
    """Per run attempt, the tests that ran (not skipped) and those with a failing execution."""
    runs: dict[RunKey, RunTally] = {}
    skipped, failing = model.Outcome.SKIPPED, _FAILING
    for e in executions:
        outcome = e.outcome
        if outcome is skipped:
            continue
        key = (e.service, e.run_id, e.attempt)
        tally = runs.get(key)
        if tally is None:
            tally = runs[key] = RunTally(e.commit, e.branch, e.timestamp)
        if not e.retry:
            tally.tests += 1
        if outcome in failing:
            norm = normalise_message(e.message)
            seen = tally.failed.get(e.test_id)
            if seen is None or (e.retry, norm or "") < (seen[0], seen[1] or ""):
                tally.failed[e.test_id] = (e.retry, norm)
    return runs


@dataclass(frozen=True, slots=True)
class Degraded:
    """A run attempt whose environment failed tests: all of them (``message`` None) or those
    failing with one normalised message (a co-failure)."""

    environment: float  # e: the chance that the environment failed any one test
    llr: float  # log-likelihood ratio of the environment against the tests' own rates
    message: str | None  # the co-failure's message; None: the whole attempt
    expected: float  # failures the tests' own rates predict in the attempt


@dataclass(frozen=True, slots=True)
class CommonCauses:
    """What the model concluded: the degraded attempts and the failures charged to them."""

    degraded: Mapping[RunKey, Degraded]
    #: (service, run id, attempt, test id) of every failing attempt charged to the environment
    charged: frozenset[Charge]
    runs: Mapping[RunKey, RunTally]

    def bursts(self) -> tuple[model.BurstRun, ...]:
        """The degraded attempts that were charged with at least one failure, as the
        classification reports them, in (service, time, run id, attempt) order."""
        per_run = Counter((s, r, a) for s, r, a, _t in self.charged)
        out = []
        for key, d in self.degraded.items():
            if not per_run[key]:
                continue
            run = self.runs[key]
            charged = per_run[key]
            message = d.message
            if message is None:
                shared = Counter(m for _r, m in run.failed.values() if m is not None)
                if shared:
                    top, count = min(shared.items(), key=lambda kv: (-kv[1], kv[0]))
                    message = top if count * 2 >= len(run.failed) else None
            out.append(
                model.BurstRun(
                    service=key[0],
                    run_id=key[1],
                    attempt=key[2],
                    commit=run.commit,
                    timestamp=run.timestamp,
                    tests=run.tests,
                    failures=charged,
                    expected_share=d.expected / run.tests if run.tests else 0.0,
                    p_value=float(pdtrc(len(run.failed) - 1, d.expected)),
                    message=message,
                )
            )
        out.sort(key=lambda b: (b.service, stamp(b.timestamp), b.run_id, b.attempt))
        return tuple(out)


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Attempt:
    """One failing test's executions in one run attempt."""

    run: RunKey
    executions: int
    failures: int
    message: str | None


@dataclass(slots=True)
class _Timeline:
    """A test that failed at least once, in the shapes the model reads it in (all fixed by its
    history; only the charges change between rounds)."""

    attempts: int  # its attempts (of run attempts in which it ran)
    #: (attempt, its commit's name) for every attempt, in time order
    placed: list[tuple[RunKey, str]]
    #: its failing attempts in time order
    failing: list[_Attempt]
    #: the failing attempts of commits on which it also passed, in time order
    loose: list[_Attempt]
    #: blocks of consecutive commits on which every execution failed: (their attempts, the
    #: change points a regression there needs: one at either end that is not the history's)
    blocks: list[tuple[list[_Attempt], int]]
    #: its attempts per commit name
    per_commit: dict[str, int] = field(default_factory=dict)


def find_common_causes(
    runs: dict[RunKey, RunTally],
    failing: Mapping[TestKey, Sequence[model.TestExecution]],
    config: ClassifierConfig,
    sizes: Mapping[str, int],
) -> CommonCauses:
    """Fit the model. ``runs`` tallies every run attempt (``tally_runs``); ``failing`` holds
    every execution of each test that failed at least once (any order); ``sizes`` the number
    of tests of each service."""
    timelines = {key: _timeline(rows) for key, rows in failing.items()}
    service_attempts: Counter[str] = Counter()
    for (service, _r, _a), run in runs.items():
        service_attempts[service] += run.tests
    order = _service_order(runs)
    # Start from the failures no other test shared in their attempt: whatever more than one
    # test shared may be a common cause until the tests' own rates explain it.
    shared = frozenset(
        (*key, t) for key, run in runs.items() if len(run.failed) >= 2 for t in run.failed
    )
    members: dict[RunKey, list[tuple[TestKey, str]]] = {}
    for key, tl in timelines.items():
        for attempt, commit in tl.placed:
            members.setdefault(attempt, []).append((key, commit))
    own = _own_rates(
        timelines, runs, service_attempts, sizes, dict.fromkeys(shared, 0.0), {}, frozenset(),
        members,
    )  # fmt: skip
    degraded: dict[RunKey, Degraded] = {}
    charged: frozenset[Charge] = frozenset()
    broken: frozenset[Charge] = frozenset()
    seen: list[frozenset[RunKey]] = []
    for _ in range(_ROUNDS):
        found = _degraded_runs(runs, own, order, config)
        if frozenset(found) in seen[:-1]:
            # A borderline attempt flips in and out as the rates move: take every attempt the
            # cycle found degraded (the side that quarantines less), charge once more, stop.
            found = {**degraded, **found}
        weights, new_broken = _charge(timelines, runs, found, own, config)
        new_charged = frozenset(weights)
        if found == degraded and new_charged == charged and new_broken == broken:
            break
        cycled = frozenset(found) in seen[:-1]
        seen.append(frozenset(found))
        degraded, charged, broken = found, new_charged, new_broken
        if cycled:
            break
        episodes = _episodes(runs, degraded)
        own = _own_rates(
            timelines, runs, service_attempts, sizes, weights, episodes, broken, members
        )
    return CommonCauses(degraded=degraded, charged=charged, runs=runs)


def _timeline(rows: Sequence[model.TestExecution]) -> _Timeline:
    """The commits of one test, each with its attempts, in time order (all branches: a commit
    is the code, whichever branch ran it). A run with no commit is its own commit."""
    first: dict[str, tuple[float, str, int]] = {}
    by_attempt: dict[RunKey, list[model.TestExecution]] = {}
    commit_of: dict[RunKey, str] = {}
    at_of: dict[RunKey, tuple[float, str, int]] = {}
    stamps: dict[datetime | None, float] = {}
    skipped = model.Outcome.SKIPPED
    for e in rows:
        if e.outcome is skipped:
            continue
        key = (e.service, e.run_id, e.attempt)
        attempt = by_attempt.get(key)
        if attempt is not None:
            attempt.append(e)
            continue
        by_attempt[key] = [e]
        name = e.commit or f"run {e.run_id}"
        commit_of[key] = name
        ts = e.timestamp
        when = stamps.get(ts)
        if when is None:
            when = stamps[ts] = stamp(ts)
        at = at_of[key] = (when, e.run_id, e.attempt)
        if name not in first or at < first[name]:
            first[name] = at
    commits: dict[str, list[_Attempt]] = {}
    for key in sorted(by_attempt, key=lambda k: (at_of[k][0], k)):
        execs = by_attempt[key]
        fails = [
            (e.retry, normalise_message(e.message) or "") for e in execs if e.outcome in _FAILING
        ]
        message = min(fails)[1] or None if fails else None
        commits.setdefault(commit_of[key], []).append(
            _Attempt(key, len(execs), len(fails), message)
        )
    ordered = sorted(commits, key=lambda name: (first[name], name))
    tl = _Timeline(len(by_attempt), [], [], [], [])
    block: list[_Attempt] = []
    start = 0
    for i, name in enumerate(ordered):
        attempts = commits[name]
        tl.per_commit[name] = len(attempts)
        tl.placed += [(a.run, name) for a in attempts]
        tl.failing += [a for a in attempts if a.failures]
        if all(a.failures == a.executions for a in attempts):
            if not block:
                start = i
            block += attempts
            continue
        if block:
            tl.blocks.append((block, (start > 0) + 1))
            block = []
        tl.loose += [a for a in attempts if a.failures]
    if block:
        tl.blocks.append((block, int(start > 0)))
    return tl


@dataclass(frozen=True, slots=True)
class _Own:
    """The tests' own failures and the services' message mix, from the failures charged to
    the tests themselves."""

    counts: dict[TestKey, tuple[float, int]]  # failing tests: (own failing attempts, attempts)
    #: the same, per test and stretch of its history that is left out when one of its attempts
    #: is judged: ("commit", name), ("episode", id) and ("both", (id, name)); own failing
    #: attempts (only where there are some) and attempts (commits: the timeline's own count)
    own_parts: dict[tuple[TestKey, tuple[str, object]], float]
    episode_parts: dict[tuple[TestKey, tuple[str, object]], int]
    timelines: Mapping[TestKey, _Timeline]
    place: dict[RunKey, tuple[str, int | None]]  # attempt -> (commit name, episode)
    #: per service: the Beta prior of its tests' own rates, (mean, weight in attempts)
    prior: dict[str, tuple[float, float]]
    messages: dict[tuple[str, str], float]  # (service, message) -> own failing attempts with it
    with_message: dict[str, float]  # per service: own failing attempts with a message
    charged: frozenset[Charge]
    broken: frozenset[Charge]  # attempts inside a test's own deterministic failing block

    def rate(self, service: str, test: str, run: RunKey) -> float:
        """The test's own rate ``(k + w p̄) / (m + w)`` for judging its failure in ``run``: its
        own failing attempts ``k`` of ``m`` (a failure charged to the environment counts by the
        probability that the test, not the environment, failed it), shrunk towards the
        service's pooled rate ``p̄`` with the weight ``w`` that the spread of the service's
        rates gives (``_prior``). What happened in the same stretch is left out (the commit's
        other attempts, and the episode of consecutive degraded attempts ``run`` is in): a
        failure, or its retry's, is no evidence for its own explanation. Inside a block of the
        test's own deterministic failures (a regression): 1."""
        if (*run, test) in self.broken:
            return 1.0
        key = (service, test)
        k, m = self.counts.get(key, (0, 0))
        commit, episode = self.place[run]
        gone_k = self.own_parts.get((key, ("commit", commit)), 0.0)
        tl = self.timelines.get(key)
        gone_m = tl.per_commit.get(commit, 0) if tl is not None else 0
        if episode is not None:
            ek = self.own_parts.get((key, ("episode", episode)), 0.0)
            bk = self.own_parts.get((key, ("both", (episode, commit))), 0.0)
            em = self.episode_parts.get((key, ("episode", episode)), 0)
            bm = self.episode_parts.get((key, ("both", (episode, commit))), 0)
            gone_k, gone_m = gone_k + ek - bk, gone_m + em - bm
        mean, weight = self.prior.get(service, (0.5, 1.0))
        return (max(k - gone_k, 0) + weight * mean) / (max(m - gone_m, 0) + weight)

    def message_share(self, key: RunKey, run: RunTally, message: str) -> float:
        """How often the service's own failures carry ``message`` (Jeffreys: never 0), the
        attempt's own failures left out (as for the rates)."""
        here = [
            m
            for t, (_r, m) in run.failed.items()
            if m is not None and (*key, t) not in self.charged
        ]
        count = self.messages.get((key[0], message), 0) - here.count(message)
        total = self.with_message.get(key[0], 0) - len(here)
        return (max(count, 0) + 0.5) / (max(total, 0) + 1)


def _commit_name(key: RunKey, run: RunTally) -> str:
    return run.commit or f"run {key[1]}"


def _episodes(
    runs: Mapping[RunKey, RunTally], degraded: Mapping[RunKey, Degraded]
) -> dict[RunKey, int]:
    """Consecutive degraded attempts of a service (in time order) share an episode number."""
    by_service: dict[str, list[RunKey]] = {}
    for key in runs:
        by_service.setdefault(key[0], []).append(key)
    out: dict[RunKey, int] = {}
    number = 0
    for service in sorted(by_service):
        keys = sorted(by_service[service], key=lambda k: (stamp(runs[k].timestamp), k[1], k[2]))
        previous = False
        for key in keys:
            if key in degraded:
                if not previous:
                    number += 1
                out[key] = number
            previous = key in degraded
    return out


def _own_rates(
    timelines: Mapping[TestKey, _Timeline],
    runs: Mapping[RunKey, RunTally],
    service_attempts: Mapping[str, int],
    sizes: Mapping[str, int],
    charged: Mapping[Charge, float],
    episodes: Mapping[RunKey, int],
    broken: frozenset[Charge],
    members: Mapping[RunKey, list[tuple[TestKey, str]]],
) -> _Own:
    """``charged`` maps each failure charged to the environment to the probability that the
    test failed it on its own: the failure counts by that much (soft, so that two failures that
    are each charged never both make their test look clean). ``members``: per attempt, the
    failing tests that ran in it (with the commit's name)."""
    place = {key: (_commit_name(key, run), episodes.get(key)) for key, run in runs.items()}
    counts: dict[TestKey, tuple[float, int]] = {}
    own_parts: dict[tuple[TestKey, tuple[str, object]], float] = {}
    per_service: dict[str, float] = {}
    rates: dict[str, list[float]] = {}
    messages: dict[tuple[str, str], float] = {}
    for key, tl in timelines.items():
        k = 0.0
        for a in tl.failing:
            own = charged.get((*a.run, key[1]), 1.0)
            k += own
            commit, episode = place[a.run]
            slots: list[tuple[str, object]] = [("commit", commit)]
            if episode is not None:
                slots += [("episode", episode), ("both", (episode, commit))]
            for slot in slots:
                own_parts[(key, slot)] = own_parts.get((key, slot), 0.0) + own
            if own and a.message is not None:
                mk = (key[0], a.message)
                messages[mk] = messages.get(mk, 0.0) + own
        counts[key] = (k, tl.attempts)
        per_service[key[0]] = per_service.get(key[0], 0.0) + k
        rates.setdefault(key[0], []).append(k / tl.attempts if tl.attempts else 0.0)
    episode_parts: dict[tuple[TestKey, tuple[str, object]], int] = {}
    for run, episode in episodes.items():
        for key, commit in members.get(run, ()):
            for slot in (("episode", episode), ("both", (episode, commit))):
                episode_parts[(key, slot)] = episode_parts.get((key, slot), 0) + 1
    prior = {
        s: _prior(per_service.get(s, 0.0), n, sizes.get(s, 1), rates.get(s, []))
        for s, n in service_attempts.items()
    }
    with_message: dict[str, float] = {}
    for (svc, _m), count in messages.items():
        with_message[svc] = with_message.get(svc, 0.0) + count
    return _Own(
        counts, own_parts, episode_parts, timelines, place, prior, messages, with_message,
        frozenset(charged), broken,
    )  # fmt: skip


def _prior(failures: float, attempts: int, tests: int, failing: list[float]) -> tuple[float, float]:
    """The Beta prior of a service's own rates by the method of moments: its mean is the
    pooled rate, its weight ``w = p̄(1 - p̄)/τ² - 1`` from the spread ``τ²`` of the tests'
    rates beyond what binomial noise makes (``failing``: the rates of the tests that failed;
    the others' are 0). Few flaky tests with high rates: a small weight (a clean test may still
    be one of them); many alike: a large one. At least 1 attempt, at most 10,000."""
    tests = max(tests, len(failing), 1)
    mean = (failures + 0.5) / (attempts + 1.0)
    per_test = max(attempts / tests, 1.0)
    square = sum((r - mean) ** 2 for r in failing) + (tests - len(failing)) * mean**2
    spread = square / tests - mean * (1.0 - mean) / per_test
    if spread <= 0.0:
        return mean, 10_000.0
    return mean, min(max(mean * (1.0 - mean) / spread - 1.0, 1.0), 10_000.0)


def _service_order(runs: Mapping[RunKey, RunTally]) -> dict[RunKey, list[RunKey]]:
    """Each attempt's neighbours: the service's attempts just before and after it in time, and
    the other services' attempts of the same commit."""
    by_service: dict[str, list[RunKey]] = {}
    by_commit: dict[str, list[RunKey]] = {}
    for key, run in runs.items():
        by_service.setdefault(key[0], []).append(key)
        if run.commit:
            by_commit.setdefault(run.commit, []).append(key)
    near: dict[RunKey, list[RunKey]] = {key: [] for key in runs}
    for keys in by_service.values():
        keys.sort(key=lambda k: (stamp(runs[k].timestamp), k[1], k[2]))
        for a, b in itertools.pairwise(keys):
            near[a].append(b)
            near[b].append(a)
    for keys in by_commit.values():
        if len(keys) > 1:
            for k in keys:
                near[k].extend(o for o in keys if o[0] != k[0])
    return near


def _degraded_runs(
    runs: Mapping[RunKey, RunTally],
    own: _Own,
    near: Mapping[RunKey, list[RunKey]],
    config: ClassifierConfig,
) -> dict[RunKey, Degraded]:
    """The attempts whose failures an environment explains: first against the prior odds of
    any attempt, then, for the attempts next to one found so, against the neighbours' odds."""
    fits: dict[RunKey, list[Degraded]] = {}
    for key, run in runs.items():
        if len(run.failed) >= 2:
            fits[key] = [d for d in _fit_run(key, run, own) if d.llr > 0.0]
    base = _log_odds(config.common_cause_prior)
    close = _log_odds(config.neighbour_prior)
    found: dict[RunKey, Degraded] = {}
    for key, candidates in fits.items():
        pick = _pick(candidates, base, runs[key].tests)
        if pick is not None:
            found[key] = pick
    for key, candidates in fits.items():
        if key in found or not any(n in found and found[n].message is None for n in near[key]):
            continue
        pick = _pick(candidates, close, runs[key].tests)
        if pick is not None:
            found[key] = pick
    return found


def _log_odds(prior: float) -> float:
    return math.log((1.0 - prior) / prior)


def _pick(candidates: list[Degraded], log_odds: float, n: int) -> Degraded | None:
    """The whole-attempt environment if it passes, else the strongest co-failure that does.
    The bar: the prior odds against a degraded attempt, plus half a log of the attempt's
    size for the fitted ``e`` (the BIC's price of one free parameter)."""
    bar = log_odds + 0.5 * math.log(max(n, 1))
    passing = [d for d in candidates if d.llr > bar]
    if not passing:
        return None
    whole = [d for d in passing if d.message is None]
    if whole:
        return max(whole, key=lambda d: d.llr)
    return max(passing, key=lambda d: (d.llr, d.message or ""))


#: A common cause explains at least this many failing tests of an attempt (the tests' own
#: deterministic failures not counted): two rare failures in one attempt happen by chance in
#: any long history of a suite with many low-rate flaky tests; three in one attempt do not.
MIN_SHARED = 3
#: ... or two, when they share a message the service's own failures carry at most this
#: rarely (a known infrastructure message: the database down once more).
RARE_MESSAGE = 0.05


def _fit_run(key: RunKey, run: RunTally, own: _Own) -> list[Degraded]:
    """The whole-attempt fit, and one fit per message that failing tests share (their own
    rates scaled by how often the service's own failures carry that message)."""
    service = key[0]
    rates = {t: own.rate(service, t, key) for t in sorted(run.failed)}  # sorted: row order
    n = max(run.tests, len(run.failed))
    mean = own.prior.get(service, (0.5, 1.0))[0]
    expected = math.fsum(rates.values()) + mean * (n - len(rates))
    open_ = [t for t, p in rates.items() if p < 1.0]  # not the tests' own regressions
    out = []
    if len(open_) >= MIN_SHARED:
        e, llr = _fit(np.fromiter(rates.values(), float, len(rates)), n)
        out.append(Degraded(e, llr, None, expected))
    groups: dict[str, list[str]] = {}
    for t, (_retry, m) in sorted(run.failed.items()):
        if m is not None and rates[t] < 1.0:
            groups.setdefault(m, []).append(t)
    for m, tests in sorted(groups.items()):
        share = own.message_share(key, run, m)
        if len(tests) < (MIN_SHARED if share >= RARE_MESSAGE else 2):
            continue
        q = np.fromiter((rates[t] * share for t in tests), float, len(tests))
        e_m, llr_m = _fit(q, n)
        whole = len(tests) == len(open_)
        out.append(Degraded(e_m, llr_m, None if whole else m, expected * share))
    return out


def _fit(p: np.ndarray, n: int) -> tuple[float, float]:
    """Maximise over ``e`` the log-likelihood ratio of "the environment fails each test with
    probability e" against "e = 0", for an attempt of ``n`` tests in which the tests with own
    rates ``p`` failed: ``sum log((e + p - e p) / p) + (n - f) log(1 - e)``. Concave in ``e``;
    returns (e, ratio)."""
    f = len(p)
    p = np.clip(p, 1e-12, 1.0 - 1e-12)
    rest = n - f
    if rest <= 0:
        return 1.0, float(np.sum(-np.log(p)))
    if float(np.sum((1.0 - p) / p)) <= rest:
        return 0.0, 0.0
    # The slope in e falls from positive at 0 to -inf at 1: Newton's method inside a shrinking
    # bracket, bisecting whenever a step would leave it.
    q = 1.0 - p
    lo, hi, e = 0.0, 1.0, 0.5
    for _ in range(100):
        d = q / (p + e * q)
        slope = float(d.sum()) - rest / (1.0 - e)
        if slope > 0:
            lo = e
        else:
            hi = e
        curve = -float((d * d).sum()) - rest / (1.0 - e) ** 2
        step = e - slope / curve
        e_next = step if lo < step < hi else 0.5 * (lo + hi)
        if abs(e_next - e) <= 1e-15 or hi - lo <= 1e-15:
            e = e_next
            break
        e = e_next
    llr = float(np.sum(np.log((e + p - e * p) / p))) + rest * math.log1p(-e)
    return e, max(llr, 0.0)


def _charge(
    timelines: Mapping[TestKey, _Timeline],
    runs: Mapping[RunKey, RunTally],
    degraded: Mapping[RunKey, Degraded],
    own: _Own,
    config: ClassifierConfig,
) -> tuple[dict[Charge, float], frozenset[Charge]]:
    """The failing attempts the environment explains better than the test (module doc), each
    with the probability that the test failed it on its own, ``p / (e + p - e p)``, and
    the attempts of the blocks the tests' own deterministic failures explain (at least two
    failing attempts in a row: a regression, failing with certainty while it lasts)."""
    out: dict[Charge, float] = {}
    broken: set[Charge] = set()
    change = config.change_prior

    message_odds = _MessageOdds(runs, degraded, own)

    def own_share(key: TestKey, a: _Attempt, e: float) -> float:
        p = own.rate(*key, a.run)
        odds = p * message_odds(a)
        return odds / (odds + e * (1.0 - p)) if odds else 0.0

    def env(a: _Attempt) -> float:
        d = degraded.get(a.run)
        if d is None or (d.message is not None and d.message != a.message):
            return 0.0
        return d.environment

    for key, tl in timelines.items():
        for a in tl.loose:
            e = env(a)
            if e > 0.0:
                share = own_share(key, a, e)
                if share < 0.5:
                    out[(*a.run, key[1])] = share
        for block, changes in tl.blocks:
            chance = math.prod(env(a) for a in block)
            if chance > 0.0 and chance >= change ** max(changes, 1):
                out.update({(*a.run, key[1]): own_share(key, a, env(a)) for a in block})
            elif len(block) >= 2:
                broken.update((*a.run, key[1]) for a in block)
    return out, frozenset(broken)


class _MessageOdds:
    """How much likelier a test's own failure makes the message it failed with than its
    attempt's environment does (``_charge``): the service's own failures' share of that
    message over the attempt's other failures' share of it (both Jeffreys, never 0); 1 when
    the message says nothing (no message, or a co-failure found by its message). A test
    failing with its own assertion in an outage that fails everything else with "connection
    refused" is its own failure; one failing with the outage's message is not."""

    def __init__(
        self, runs: Mapping[RunKey, RunTally], degraded: Mapping[RunKey, Degraded], own: _Own
    ) -> None:
        self.runs, self.degraded, self.own = runs, degraded, own
        self.counts: dict[RunKey, Counter[str | None]] = {}
        self.shares: dict[tuple[RunKey, str], float] = {}

    def __call__(self, a: _Attempt) -> float:
        d = self.degraded.get(a.run)
        if a.message is None or d is None or d.message is not None:
            return 1.0
        run = self.runs[a.run]
        counts = self.counts.get(a.run)
        if counts is None:
            counts = self.counts[a.run] = Counter(m for _r, m in run.failed.values())
        others = counts[a.message] - 1  # the attempt's other failures with this message
        env_share = (max(others, 0) + 0.5) / max(len(run.failed), 1)
        own_share = self.shares.get((a.run, a.message))
        if own_share is None:
            own_share = self.own.message_share(a.run, run, a.message)
            self.shares[(a.run, a.message)] = own_share
        return own_share / env_share
