"""What a classification must read of a long history: the window, and who needs more (no I/O).

``classify`` reads every execution; a history of months holds far more than a test's verdict
rests on (its last ``window`` commits). The verdicts stay exactly the same when the reads are
split this way (docs/capacity.md says why; a test compares them on long histories):

- every test that ever failed: its whole history (the common-cause model weighs each failing
  test's own rate over all of it, and counts its charged failures);
- the runs: their tests and what ran, aggregated (the model's run tallies);
- every other test: the runs of its service's newest commits (``window_reads``), and its whole
  history only when those do not hold ``window`` of its commits, all of them newer than
  anything left unread (``complete_tests``): a test that was skipped often, removed, or renamed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from gatekeeper import model
from gatekeeper.flaky.common import RunKey, RunTally, stamp, tally_runs
from gatekeeper.flaky.config import ClassifierConfig

TestKey = tuple[str, str]


def _name(commit: str | None, run_id: str) -> str:
    # as the classifier names a commit: a run with no commit is its own commit
    return commit or f"run {run_id}"


def _on_default(branch: str | None, config: ClassifierConfig) -> bool:
    return branch is None or branch == config.default_branch


def window_reads(
    runs: Sequence[model.RunPoint], config: ClassifierConfig
) -> tuple[float, list[int]]:
    """For one service's runs (oldest first): the cutoff (a ``stamp``) and the runs to read.

    The cutoff is the time of the service's newest default-branch commits, a fifth more than
    the window holds (a test skipped in some runs still finds its window there); the runs read
    are those since the cutoff and every other run of their commits, so that each commit read
    is read whole. Anything not read happened before the cutoff. No window, or a history
    shorter than it: everything (cutoff -inf).
    """
    if not config.window:
        return -math.inf, [r.pk for r in runs]
    wanted = config.window + config.window // 5
    seen: set[str] = set()
    cutoff = -math.inf
    for r in reversed(runs):
        if _on_default(r.branch, config):
            seen.add(_name(r.commit, r.run_id))
            if len(seen) >= wanted:
                cutoff = stamp(r.effective_at)
                break
    names = {_name(r.commit, r.run_id) for r in runs if stamp(r.effective_at) >= cutoff}
    return cutoff, [r.pk for r in runs if _name(r.commit, r.run_id) in names]


def complete_tests(
    by_test: Mapping[TestKey, Sequence[model.TestExecution]],
    cutoff: float,
    config: ClassifierConfig,
) -> set[TestKey]:
    """The tests whose executions read (``window_reads``) decide their verdict as the whole
    history would, for a test that never failed: at least ``window`` of its default-branch
    commits placed at or after the cutoff. Those are its newest commits (everything unread is
    older) and were read whole, and the classifier looks at no others."""
    if cutoff == -math.inf:
        return set(by_test)
    out = set()
    skipped = model.Outcome.SKIPPED
    for key, rows in by_test.items():
        first: dict[str, float] = {}
        for e in rows:
            if e.outcome is skipped or not _on_default(e.branch, config):
                continue
            name = _name(e.commit, e.run_id)
            at = stamp(e.timestamp)
            if at < first.get(name, math.inf):
                first[name] = at
        if sum(1 for at in first.values() if at >= cutoff) >= config.window:
            out.add(key)
    return out


def run_tallies(
    runs: Iterable[model.RunPoint], failing: Iterable[model.TestExecution]
) -> dict[RunKey, RunTally]:
    """``tally_runs`` of the whole history, from the runs' counts of tests that ran and the
    executions of the tests that failed (only those can put a test in a tally's failures)."""
    failed = tally_runs(failing)
    out: dict[RunKey, RunTally] = {}
    for r in runs:
        if r.executed is None:
            continue  # none of its executions ran: no tally, as tally_runs
        key = (r.service, r.run_id, r.attempt)
        tally = failed.get(key) or RunTally(r.commit, r.branch, r.timestamp)
        tally.tests = r.executed
        out[key] = tally
    return out
