"""Changing a registry by its ownership rules: people own entries, classify owns the evidence."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatekeeper import registry
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

from . import entries, evidence, registries

HUMAN = ("name", "service", "reason", "issue", "owner", "expires", "pinned", "extra")
DAY = dt.date(2025, 11, 27)


def _evidence(**changes: object) -> Evidence:
    base = Evidence(verdict=Verdict.FLAKY, updated=DAY, runs=100, failures=3, failure_rate=0.03)
    return replace(base, **changes)  # type: ignore[arg-type]


@given(entries, evidence(), st.none() | st.booleans())
def test_a_machine_update_never_touches_what_people_own(
    entry: QuarantineEntry, new: Evidence, decision: bool | None
) -> None:
    updated = registry.apply_machine_update(entry, new, quarantined=decision)
    assert {f: getattr(updated, f) for f in HUMAN} == {f: getattr(entry, f) for f in HUMAN}
    if entry.pinned or decision is None:
        assert updated.quarantined == entry.quarantined
    else:
        assert updated.quarantined == decision


@given(registries, st.lists(st.tuples(st.integers(0, 9), evidence(), st.booleans())))
def test_merge_changes_only_the_entries_it_is_told_about(
    reg: Registry, raw: list[tuple[int, Evidence, bool]]
) -> None:
    names = [e.key for e in reg.entries] + [("svc", f"new::{i}") for i in range(3)]
    updates = [
        MachineUpdate(names[i % len(names)][0], names[i % len(names)][1], ev, quarantine=q)
        for i, ev, q in raw
    ]
    merged = registry.merge(reg, updates)
    told = {(u.service, u.name) for u in updates}
    assert merged.entries[: len(reg.entries)] == tuple(
        entry if entry.key not in told else merged.entries[index]
        for index, entry in enumerate(reg.entries)
    )
    for entry in merged.entries[len(reg.entries) :]:  # added by a quarantine, machine-owned
        decisions = [u.quarantine for u in updates if (u.service, u.name) == entry.key]
        assert True in decisions and not entry.pinned
        last = [d for d in decisions[decisions.index(True) :] if d is not None][-1]
        assert entry.quarantined is last
    assert [e.key for e in merged.entries[: len(reg.entries)]] == [e.key for e in reg.entries]


def test_too_little_history_leaves_the_recorded_evidence_as_it_is() -> None:
    """classify on a small history (docs/ci.md's SQLite in a cache, after an eviction): no
    decision, insufficient data; the quarantine keeps the evidence it was decided on."""
    entry = QuarantineEntry(
        "t::a", "svc", "flaky", quarantined=True, pinned=False, evidence=_evidence()
    )
    thin = Evidence(
        verdict=Verdict.INSUFFICIENT_DATA, updated=DAY + dt.timedelta(days=1), runs=1, failures=0
    )
    assert registry.apply_machine_update(entry, thin, quarantined=None) == entry
    # a decision, or evidence that does judge, still applies
    released = registry.apply_machine_update(entry, thin, quarantined=False)
    assert released.quarantined is False and released.evidence is not None
    assert released.evidence.runs == 1
    healed = replace(thin, verdict=Verdict.HEALED, runs=40)
    assert registry.apply_machine_update(entry, healed).evidence == replace(
        healed, detected=None, released=None
    )
    # what classify writes for a quarantine on a one-run history: still "flaky", no failure
    carried = replace(thin, verdict=Verdict.FLAKY, summary="flaky: 0 of 1 executions failed")
    assert registry.apply_machine_update(entry, carried, quarantined=None) == entry
    # fewer runs with failures in them is the classifier's news: applied
    news = replace(carried, runs=20, failures=4, summary="flaky: 4 of 20 executions failed")
    assert registry.apply_machine_update(entry, news).evidence == news
    # an entry whose evidence was thin already is refreshed as before
    unsure = replace(entry, evidence=_evidence(verdict=Verdict.INSUFFICIENT_DATA, runs=2))
    assert registry.apply_machine_update(unsure, thin).evidence == thin


def test_a_new_quarantine_is_unpinned_with_its_detection_day_and_generated_reason() -> None:
    merged = registry.merge(
        Registry(),
        [MachineUpdate("s", "t::a", _evidence(summary="failed 3 of 100 runs"), quarantine=True)],
    )
    (entry,) = merged.entries
    assert (entry.quarantined, entry.pinned, entry.reason) == (True, False, "failed 3 of 100 runs")
    assert entry.evidence is not None and entry.evidence.detected == DAY


def test_updates_that_do_not_quarantine_add_nothing() -> None:
    updates = [
        MachineUpdate("s", "t::a", _evidence(verdict=Verdict.BROKEN), quarantine=None),
        MachineUpdate("s", "t::b", _evidence(verdict=Verdict.HEALED), quarantine=False),
    ]
    assert registry.merge(Registry(), updates) == Registry()


def test_release_stamps_the_day_and_requarantine_clears_it() -> None:
    entry = QuarantineEntry(
        name="t::a",
        service="s",
        reason="r",
        pinned=False,
        evidence=_evidence(detected=dt.date(2025, 10, 1)),
    )
    released = registry.apply_machine_update(
        entry, _evidence(verdict=Verdict.HEALED), quarantined=False
    )
    assert released.quarantined is False
    assert released.evidence is not None
    assert released.evidence.released == DAY
    assert released.evidence.detected == dt.date(2025, 10, 1)  # kept: classify cannot know it

    later = dt.date(2025, 12, 5)
    still = registry.apply_machine_update(released, _evidence(updated=later), quarantined=None)
    assert still.evidence is not None and still.evidence.released == DAY

    again = registry.apply_machine_update(released, _evidence(updated=later), quarantined=True)
    assert again.quarantined is True
    assert again.evidence is not None
    assert (again.evidence.released, again.evidence.detected) == (None, later)


def test_a_pinned_quarantine_is_never_released() -> None:
    pinned = QuarantineEntry(name="t::a", service="s", reason="ours")  # hand-written
    healed = registry.apply_machine_update(
        pinned, _evidence(verdict=Verdict.HEALED), quarantined=False
    )
    assert healed.quarantined is True and healed.pinned is True
    assert healed.evidence is not None and healed.evidence.released is None


def test_nothing_new_but_the_date_leaves_the_entry_alone() -> None:
    entry = QuarantineEntry(
        name="t::a", service="s", reason="r", pinned=False, evidence=_evidence()
    )
    tomorrow = _evidence(updated=DAY + dt.timedelta(days=1))
    assert registry.apply_machine_update(entry, tomorrow) is entry
    more = _evidence(updated=DAY + dt.timedelta(days=1), runs=101)
    updated = registry.apply_machine_update(entry, more)
    assert updated.evidence is not None and updated.evidence.updated == DAY + dt.timedelta(days=1)


def test_unknown_evidence_keys_of_a_newer_gatekeeper_are_kept() -> None:
    entry = QuarantineEntry(
        name="t::a",
        service="s",
        reason="r",
        pinned=False,
        evidence=_evidence(extra=(("change_points", ["1a2b3c"]),)),
    )
    updated = registry.apply_machine_update(entry, _evidence(runs=120))
    assert updated.evidence is not None
    assert updated.evidence.extra == (("change_points", ["1a2b3c"]),)


def test_a_manual_add_is_pinned() -> None:
    added = registry.add_manual(
        Registry(), "t::a", "s", "flaky on ARM", "#12", "@me", dt.date(2026, 1, 31)
    )
    assert added.entries == (
        QuarantineEntry(
            name="t::a",
            service="s",
            reason="flaky on ARM",
            quarantined=True,
            pinned=True,
            issue="#12",
            owner="@me",
            expires=dt.date(2026, 1, 31),
        ),
    )


def test_adding_a_test_twice_is_an_error() -> None:
    once = registry.add_manual(Registry(), "t::a", "s", "r")
    with pytest.raises(RegistryError) as info:
        registry.add_manual(once, "t::a", "s", "again")
    assert str(info.value) == (
        "t::a in s: already in the registry (edit its entry in the file, or remove it first)"
    )
    assert len(registry.add_manual(once, "t::a", "other-service", "r").entries) == 2


def test_a_manual_add_needs_a_reason() -> None:
    with pytest.raises(RegistryError) as info:
        registry.add_manual(Registry(), "t::a", "s", "  ")
    assert str(info.value) == (
        "t::a in s: reason must not be empty (every entry needs a name, a service and a reason)"
    )


def test_remove_and_its_hint() -> None:
    reg = registry.add_manual(Registry(), "tests::it_works", "user-service", "r")
    assert registry.remove(reg, "tests::it_works", "user-service") == Registry()
    with pytest.raises(RegistryError) as info:
        registry.remove(reg, "tests::it_work", "user-service")
    assert str(info.value) == (
        "tests::it_work in user-service: not in the registry (did you mean 'tests::it_works'?)"
    )
    with pytest.raises(RegistryError) as info:
        registry.remove(reg, "tests::it_works", "billing")
    assert str(info.value) == (
        "tests::it_works in billing: not in the registry "
        "(`gatekeeper quarantine list --service billing` shows the names)"
    )


def test_expiry_counts_the_day_itself_and_only_quarantines_in_force() -> None:
    day = dt.date(2026, 3, 31)
    reg = Registry(
        entries=(
            QuarantineEntry(name="a", service="s", reason="r", expires=day),
            QuarantineEntry(name="b", service="s", reason="r", expires=day - dt.timedelta(1)),
            QuarantineEntry(
                name="c", service="s", reason="r", quarantined=False, expires=dt.date(2020, 1, 1)
            ),
            QuarantineEntry(name="d", service="s", reason="r"),
        )
    )
    assert [e.name for e in registry.expired(reg, day)] == ["b"]
    assert [e.name for e in registry.expired(reg, day + dt.timedelta(1))] == ["a", "b"]


def test_changes_name_what_happened() -> None:
    a = QuarantineEntry(name="a", service="s", reason="r", pinned=False, evidence=_evidence())
    b = QuarantineEntry(name="b", service="s", reason="r")
    c = QuarantineEntry(name="c", service="s", reason="r", quarantined=False, pinned=False)
    old = Registry(entries=(a, b, c))
    new = Registry(
        entries=(
            replace(a, quarantined=False),
            replace(c, quarantined=True),
            QuarantineEntry(name="d", service="s", reason="r"),
            replace(b, owner="@me"),
        )
    )
    assert registry.changes(old, new) == (
        RegistryChange(ChangeKind.RELEASED, "s", "a"),
        RegistryChange(ChangeKind.QUARANTINED, "s", "c"),
        RegistryChange(ChangeKind.ADDED, "s", "d"),
        RegistryChange(ChangeKind.UPDATED, "s", "b"),
    )
    assert registry.changes(new, Registry()) == tuple(
        RegistryChange(ChangeKind.REMOVED, "s", name) for name in "acdb"
    )
    assert registry.changes(old, old) == ()


def test_the_registry_answers_the_gate_per_service() -> None:
    reg = Registry(
        entries=(
            QuarantineEntry(name="a", service="s", reason="r"),
            QuarantineEntry(name="b", service="s", reason="r", quarantined=False),
            QuarantineEntry(name="a", service="t", reason="r"),
        )
    )
    assert reg.quarantined_ids("s") == {"a"}
    assert [e.key for e in reg.quarantined()] == [("s", "a"), ("t", "a")]
    assert reg.find("t", "a") is reg.entries[2]
    assert reg.find("u", "a") is None


def test_today_stands_in_for_an_evidence_date_the_classifier_left_out() -> None:
    undated = _evidence(updated=None)
    added = registry.merge(Registry(), [MachineUpdate("s", "t::a", undated, True)], today=DAY)
    (entry,) = added.entries
    assert entry.evidence is not None
    assert (entry.evidence.detected, entry.evidence.updated) == (DAY, DAY)
    later = DAY + dt.timedelta(days=3)
    released = registry.merge(added, [MachineUpdate("s", "t::a", undated, False)], today=later)
    (entry,) = released.entries
    assert entry.quarantined is False
    assert entry.evidence is not None
    assert (entry.evidence.detected, entry.evidence.released) == (DAY, later)
