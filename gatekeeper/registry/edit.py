"""Changing a registry by its ownership rules: people own an entry, classify owns its evidence.

Pure functions from a Registry (and what changed) to a new Registry; nothing here reads or
writes a file.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable
from dataclasses import replace

from gatekeeper.errors import RegistryError
from gatekeeper.model import (
    ChangeKind,
    Evidence,
    MachineUpdate,
    QuarantineEntry,
    Registry,
    RegistryChange,
    Verdict,
)


def apply_machine_update(
    entry: QuarantineEntry,
    evidence: Evidence,
    *,
    quarantined: bool | None = None,
    today: dt.date | None = None,
) -> QuarantineEntry:
    """``entry`` with its machine fields replaced by ``evidence``; the human fields untouched.

    ``quarantined`` is the classifier's decision (None: none); a pinned entry ignores it.
    ``today`` stands in for ``evidence.updated`` when the classifier left it empty.
    Dates the classifier cannot know are kept: ``detected`` (set when gatekeeper quarantines
    the test) and ``released`` (set when it releases it). ``updated`` only moves when something
    else in the evidence changed, so a nightly run with nothing new leaves the file as it was.
    Unknown keys in the old evidence (a newer gatekeeper's) are kept.
    """
    previous = entry.evidence
    decided = entry.quarantined
    if quarantined is not None and not entry.pinned:
        decided = quarantined
    if decided == entry.quarantined and previous is not None and _thinner(evidence, previous):
        # Too little history to judge -- a SQLite history in a CI cache that was evicted, a
        # new database -- never overwrites evidence that did judge: it stands as recorded.
        return entry
    if today is not None and evidence.updated is None:
        evidence = replace(evidence, updated=today)
    detected = evidence.detected or (previous.detected if previous else None)
    released = evidence.released
    if decided and not entry.quarantined:  # quarantined again, from today
        detected = evidence.detected or evidence.updated or detected
        released = None
    elif not decided and entry.quarantined:  # released today
        released = evidence.released or evidence.updated
    elif not decided:  # still released: keep the day it happened
        released = evidence.released or (previous.released if previous else None)
    extra = dict(previous.extra) if previous else {}
    extra.update(evidence.extra)
    new = replace(evidence, detected=detected, released=released, extra=tuple(extra.items()))
    unchanged = previous is not None and decided == entry.quarantined
    if unchanged and replace(new, updated=previous.updated if previous else None) == previous:
        return entry  # nothing new but the date
    return replace(entry, quarantined=decided, evidence=new)


def _thinner(new: Evidence, old: Evidence) -> bool:
    """``new`` says less than ``old``: no data to judge by, or "flaky" with no failure at all in
    fewer runs than ``old`` counted (a quarantine carried on, not confirmed: "0 of 1
    executions"). A healed, stable or broken verdict is news, however few its runs."""
    if old.verdict is Verdict.INSUFFICIENT_DATA:
        return False
    if new.verdict is Verdict.INSUFFICIENT_DATA:
        return True
    carried = new.verdict is Verdict.FLAKY and not new.failures
    return carried and (new.runs or 0) < (old.runs or 0)


def merge(
    registry: Registry, updates: Iterable[MachineUpdate], *, today: dt.date | None = None
) -> Registry:
    """Apply the classifier's updates: refresh, quarantine (adding entries) and release.

    An update for a test that has no entry adds one only when it quarantines the test; the
    entry is not pinned and its ``reason`` is the update's generated reason. Entries no update
    mentions are left alone. Nothing is ever removed here (see ``remove``). ``today`` fills in
    ``evidence.updated`` where the classifier left it empty (see ``apply_machine_update``).
    """
    entries = list(registry.entries)
    where = {entry.key: index for index, entry in enumerate(entries)}
    for update in updates:
        index = where.get((update.service, update.name))
        if index is not None:
            entries[index] = apply_machine_update(
                entries[index], update.evidence, quarantined=update.quarantine, today=today
            )
        elif update.quarantine:
            _require_text(
                update.name, update.service, {"name": update.name, "service": update.service}
            )
            updated = update.evidence.updated or today
            evidence = replace(
                update.evidence,
                detected=update.evidence.detected or updated,
                updated=updated,
                released=None,
            )
            reason = (update.reason or evidence.summary or "").strip() or (
                f"quarantined by gatekeeper classify: {evidence.verdict.value}"
            )
            entries.append(
                QuarantineEntry(
                    name=update.name,
                    service=update.service,
                    reason=reason,
                    quarantined=True,
                    pinned=False,
                    evidence=evidence,
                )
            )
            where[(update.service, update.name)] = len(entries) - 1
    return replace(registry, entries=tuple(entries))


def add_manual(
    registry: Registry,
    name: str,
    service: str,
    reason: str,
    issue: str | None = None,
    owner: str | None = None,
    expires: dt.date | None = None,
) -> Registry:
    """Quarantine a test by hand: the entry is pinned, so classify never releases it."""
    _require_text(name, service, {"name": name, "service": service, "reason": reason})
    if registry.find(service, name) is not None:
        raise RegistryError(
            f"{name} in {service}",
            "already in the registry",
            hint="edit its entry in the file, or remove it first",
        )
    entry = QuarantineEntry(
        name=name,
        service=service,
        reason=reason,
        quarantined=True,
        pinned=True,
        issue=issue or None,
        owner=owner or None,
        expires=expires,
    )
    return replace(registry, entries=(*registry.entries, entry))


def remove(registry: Registry, name: str, service: str) -> Registry:
    """The registry without the entry of ``name`` in ``service``."""
    kept = tuple(e for e in registry.entries if e.key != (service, name))
    if len(kept) == len(registry.entries):
        names = [e.name for e in registry.entries if e.service == service]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}?" if close else None
        if hint is None:
            hint = f"`gatekeeper quarantine list --service {service}` shows the names"
        raise RegistryError(f"{name} in {service}", "not in the registry", hint=hint)
    return replace(registry, entries=kept)


def expired(registry: Registry, today: dt.date) -> tuple[QuarantineEntry, ...]:
    """Quarantines past their ``expires`` day (an entry still holds on the day itself)."""
    return tuple(entry for entry in registry.entries if entry.is_expired(today))


def changes(old: Registry, new: Registry) -> tuple[RegistryChange, ...]:
    """What ``new`` changed against ``old``, entry by entry, in ``new``'s order then removals."""
    before = {entry.key: entry for entry in old.entries}
    after = {entry.key for entry in new.entries}
    out: list[RegistryChange] = []
    for entry in new.entries:
        previous = before.get(entry.key)
        if previous is None:
            kind = ChangeKind.ADDED
        elif previous == entry:
            continue
        elif previous.quarantined != entry.quarantined:
            kind = ChangeKind.QUARANTINED if entry.quarantined else ChangeKind.RELEASED
        else:
            kind = ChangeKind.UPDATED
        out.append(RegistryChange(kind, entry.service, entry.name))
    out += [
        RegistryChange(ChangeKind.REMOVED, entry.service, entry.name)
        for entry in old.entries
        if entry.key not in after
    ]
    return tuple(out)


def _require_text(name: str, service: str, fields: dict[str, str]) -> None:
    for label, value in fields.items():
        if not value or not value.strip():
            raise RegistryError(
                f"{name or '?'} in {service or '?'}",
                f"{label} must not be empty",
                hint="every entry needs a name, a service and a reason",
            )
