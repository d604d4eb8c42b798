"""What the verdicts mean for the quarantine registry: quarantine, release, refresh or nothing."""

from __future__ import annotations

from collections.abc import Mapping

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
