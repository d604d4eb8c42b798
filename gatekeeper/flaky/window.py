"""The classification's horizon: which runs of a long history the verdicts rest on (no I/O).

A test's verdict rests on its last ``window`` commits (docs/statistics.md). ``classify`` reads,
per service, the runs of the service's newest default-branch commits, a fifth more than the
window (so that a test skipped in some runs still finds its window there), and every run of
those commits, whenever it ran. The common-cause model sees the same runs. So the cost of a
classification follows the window, not the history's length, and a history classifies exactly
as its own truncation to those runs (docs/capacity.md; a test checks it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gatekeeper import model
from gatekeeper.flaky.config import ClassifierConfig


def _name(commit: str | None, run_id: str) -> str:
    # as the classifier names a commit: a run with no commit is its own commit
    return commit or f"run {run_id}"


def horizon(runs: Sequence[model.RunPoint], config: ClassifierConfig) -> list[int]:
    """Of one service's runs (oldest first), the keys of those the classification reads: the
    runs since the time of the service's ``window`` + 20% newest default-branch commits, and
    every other run of their commits. No window (``window = 0``), or fewer commits: all."""
    if not config.window:
        return [r.pk for r in runs]
    wanted = config.window + config.window // 5
    default = config.default_branch
    seen: set[str] = set()
    cutoff = -math.inf
    for r in reversed(runs):
        if r.branch is None or r.branch == default:
            seen.add(_name(r.commit, r.run_id))
            if len(seen) >= wanted:
                cutoff = r.effective_at.timestamp()
                break
    names = {_name(r.commit, r.run_id) for r in runs if r.effective_at.timestamp() >= cutoff}
    return [r.pk for r in runs if _name(r.commit, r.run_id) in names]
