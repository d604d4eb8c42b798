"""What the verdicts mean for the quarantine registry: quarantine, release, refresh or nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from gatekeeper import model
from gatekeeper.flaky.classifier import TestKey
from gatekeeper.model import MachineUpdate, Verdict


def registry_updates(
    classification: model.Classification, entries: Mapping[TestKey, bool]
) -> list[MachineUpdate]:
    """One update per test the registry should hear about.

    ``entries`` maps each (service, test id) in the registry to whether it is quarantined now.

    - ``flaky``: quarantine (an entry is added with the evidence's summary as its reason).
    - ``healed``: release.
    - ``broken``: a broken test must keep failing the gate, so a quarantine is released; a
      broken test without an entry is only reported, never quarantined.
    - anything else: an existing entry's evidence is refreshed; no entry is added.

    A pinned entry (quarantined by a person) keeps its ``quarantined`` whatever the update
    says; ``registry.merge`` enforces that.
    """
    updates: list[MachineUpdate] = []
    for v in classification.verdicts:
        known = v.key in entries
        if v.verdict is Verdict.FLAKY:
            updates.append(
                MachineUpdate(
                    v.service, v.test_id, v.evidence, quarantine=True, reason=v.evidence.summary
                )
            )
        elif v.verdict in (Verdict.HEALED, Verdict.BROKEN) and known:
            updates.append(MachineUpdate(v.service, v.test_id, v.evidence, quarantine=False))
        elif known:
            updates.append(MachineUpdate(v.service, v.test_id, v.evidence))
    return updates


#: Below this many new quarantines a service is never refused: a few flaky tests of a
#: small service are a normal night's news, not an outage.
MASS_MINIMUM = 5


def mass_quarantines(
    classification: model.Classification,
    entries: Mapping[TestKey, bool],
    executions: Iterable[model.TestExecution],
    share: float,
) -> tuple[model.MassQuarantine, ...]:
    """The services in which the flaky verdicts would newly quarantine more than ``share`` of
    the tests classified (and at least ``MASS_MINIMUM``), each with the run attempts in which
    most of those tests failed (what likely drove them: infrastructure the model missed)."""
    tests: Counter[str] = Counter()
    new: dict[str, set[str]] = {}
    for v in classification.verdicts:
        tests[v.service] += 1
        if v.verdict is Verdict.FLAKY and not entries.get(v.key, False):
            new.setdefault(v.service, set()).add(v.test_id)
    over = {
        s: names
        for s, names in new.items()
        if len(names) >= MASS_MINIMUM and len(names) > share * tests[s]
    }
    if not over:
        return ()
    runs: dict[str, Counter[tuple[str, int]]] = {s: Counter() for s in over}
    seen: set[tuple[str, str, str, int]] = set()
    for e in executions:
        names = over.get(e.service)
        if names is None or e.test_id not in names or not e.outcome.is_failure:
            continue
        key = (e.service, e.test_id, e.run_id, e.attempt)
        if key not in seen:
            seen.add(key)
            runs[e.service][(e.run_id, e.attempt)] += 1
    out = []
    for s in sorted(over):
        top = sorted(runs[s].items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        shown = tuple(
            f"{run_id}{'' if attempt == 1 else f' (attempt {attempt})'}: {count} of them"
            for (run_id, attempt), count in top
        )
        out.append(model.MassQuarantine(s, len(over[s]), tests[s], share, shown))
    return tuple(out)
