"""Writing flaky-tests.yml: round trips, comments kept through edits, stable bytes, atomic saves."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from gatekeeper import registry
from gatekeeper.errors import RegistryError
from gatekeeper.model import (
    Evidence,
    Extra,
    FailurePoint,
    MachineUpdate,
    QuarantineEntry,
    Registry,
    Verdict,
)
from gatekeeper.registry.writer import CANONICAL_EMPTY, HEADER

from ..conftest import ROOT
from . import TEAM_FILE, registries

SLOW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------


@SLOW
@given(registries)
def test_dump_then_load_is_the_identity(reg: Registry) -> None:
    text = registry.dump(reg)
    assert registry.parse(text, "f.yml") == reg
    assert registry.dump(registry.parse(text, "f.yml")) == text  # canonical is a fixed point


def _ordered_like(new: Extra, old: Extra) -> Extra:
    """``new``'s unknown keys in the order a file edited from ``old`` has them: the keys
    that were there keep their place, new ones come after (the writer never moves a key)."""
    values = dict(new)
    kept = [(key, values[key]) for key, _ in old if key in values]
    return tuple(kept + [(key, value) for key, value in new if key not in dict(old)])


def _as_edited_from(new: Registry, old: Registry) -> Registry:
    before = {entry.key: entry for entry in old.entries}
    entries = []
    for entry in new.entries:
        previous = before.get(entry.key)
        if previous is not None:
            entry = replace(entry, extra=_ordered_like(entry.extra, previous.extra))
            if entry.evidence is not None and previous.evidence is not None:
                evidence = entry.evidence
                moved = _ordered_like(evidence.extra, previous.evidence.extra)
                entry = replace(entry, evidence=replace(evidence, extra=moved))
        entries.append(entry)
    return replace(new, entries=tuple(entries), extra=_ordered_like(new.extra, old.extra))


@SLOW
@given(registries, registries)
def test_editing_a_canonical_file_gives_the_canonical_file(old: Registry, new: Registry) -> None:
    # Entries added, removed, reordered and changed field by field: the edited text is the
    # text a fresh dump writes, so diffs of machine-written registries stay minimal.
    new = _as_edited_from(new, old)
    edited = registry.dump(new, registry.dump(old))
    assert registry.parse(edited, "f.yml") == new
    assert edited == registry.dump(new)


def _with_comments(text: str) -> str:
    """A canonical file with what a person adds: a note above each entry, a comment at the end
    of its first line, one inside it, and a last line."""
    out = []
    index = 0
    for line in text.splitlines(keepends=True):
        if line.startswith("  - name:"):
            out.append(f"  # gk-note-{index}\n")
            out.append(line.rstrip("\n") + f"  # gk-eol-{index}\n")
            index += 1
        elif line.startswith("    quarantined:"):
            out.append(f"    # gk-inner-{index - 1}\n")
            out.append(line)
        else:
            out.append(line)
    return "".join(out) + "# gk-end\n"


@SLOW
@given(registries, registries)
def test_comments_survive_any_edit(old: Registry, new: Registry) -> None:
    new = _as_edited_from(new, old)
    original = _with_comments(registry.dump(old))
    lines = registry.dump(new, original).splitlines()
    assert registry.parse("\n".join(lines), "f.yml") == new
    assert lines[:2] == HEADER.splitlines() and lines[-1] == "# gk-end"
    kept = {entry.key for entry in new.entries}
    for index, entry in enumerate(old.entries):
        markers = [f"# gk-note-{index}", f"# gk-eol-{index}", f"# gk-inner-{index}"]
        where = [[n for n, line in enumerate(lines) if line.endswith(m)] for m in markers]
        if entry.key not in kept:
            assert where == [[], [], []], f"the comments of removed entry {index} stayed"
            continue
        (note,), (eol,), (inner,) = where
        assert lines[note] == f"  # gk-note-{index}"  # still right above its entry
        assert eol == note + 1 and lines[eol].startswith("  - name:")
        assert lines[inner] == f"    # gk-inner-{index}"
        assert lines[inner + 1].startswith("    quarantined:")
        assert eol < inner and not any(line.startswith("  - ") for line in lines[eol + 1 : inner])


# ---------------------------------------------------------------------------------------------
# A team's file through a classify run and hand edits
# ---------------------------------------------------------------------------------------------

HEALED = Evidence(
    verdict=Verdict.HEALED,
    confidence=0.99,
    summary="passed 300 runs in a row since 2025-11-02",
    updated=dt.date(2025, 11, 27),
    runs=412,
    failures=9,
    failure_rate=0.0218,
    failure_rate_ci95=(0.01, 0.0411),
    flips=14,
    last_failure=FailurePoint("9f8e7d6", dt.date(2025, 11, 1), "90012"),
)
FLAKY = Evidence(
    verdict=Verdict.FLAKY,
    confidence=0.97,
    summary="failed 7 of 300 runs on commits that also passed",
    updated=dt.date(2025, 11, 27),
    runs=300,
    failures=7,
    failure_rate=0.0233,
    failure_rate_ci95=(0.0113, 0.0474),
    flips=12,
    same_commit_flips=5,
    first_failure=FailurePoint("1a2b3c4", dt.date(2025, 10, 3), "88121"),
)

# What that file must look like afterwards, written out by hand: the person's lines as they
# were, the pin made explicit, the evidence added, the removed entry gone with its blank line,
# the new entry in the file's style.
TEAM_FILE_AFTER = """\
# Quarantined tests. Ask in #ci-health before adding one.
flaky_tests:
  # --- messaging ---

  # Redis cache invalidation races with the delivery worker.
  - name: "messaging_service::tests::test_concurrent_message_delivery"
    service: messaging-service
    reason: "Race condition in Redis cache invalidation"
    quarantined: true
    pinned: true
    issue: "#1234"   # the postmortem is linked there
    owner: '@team-messaging'
    expires: 2026-03-31
    evidence:
      verdict: healed
      confidence: 0.99
      summary: passed 300 runs in a row since 2025-11-02
      updated: 2025-11-27
      runs: 412
      failures: 9
      failure_rate: 0.0218
      failure_rate_ci95: [0.01, 0.0411]
      flips: 14
      last_failure: {commit: 9f8e7d6, date: 2025-11-01, run: '90012'}

  # --- search ---
  - name: "tests.test_query.TestRanking::test_boost[title]"
    service: search
    reason: order of equal scores is not stable
    expires: "2026-01-15"
    team: relevance

  - name: search::tests::ranking_is_stable
    service: search
    reason: failed 7 of 300 runs on commits that also passed
    quarantined: true
    evidence:
      verdict: flaky
      confidence: 0.97
      summary: failed 7 of 300 runs on commits that also passed
      detected: 2025-11-27
      updated: 2025-11-27
      runs: 300
      failures: 7
      failure_rate: 0.0233
      failure_rate_ci95: [0.0113, 0.0474]
      flips: 12
      same_commit_flips: 5
      first_failure: {commit: 1a2b3c4, date: 2025-10-03, run: '88121'}
"""


def _classify_and_edit(before: Registry) -> Registry:
    after = registry.merge(
        before,
        [
            # A hand-written quarantine that now looks healed: it is pinned, so it stays.
            MachineUpdate(
                "messaging-service",
                "messaging_service::tests::test_concurrent_message_delivery",
                HEALED,
                quarantine=False,
            ),
            MachineUpdate("search", "search::tests::ranking_is_stable", FLAKY, quarantine=True),
        ],
    )
    return registry.remove(
        after, "messaging_service::tests::retries_after_timeout", "messaging-service"
    )


def test_a_team_file_after_classify_and_a_removal(tmp_path: Path) -> None:
    path = tmp_path / "flaky-tests.yml"
    path.write_text(TEAM_FILE, encoding="utf-8")
    assert registry.save(path, _classify_and_edit(registry.load(path))) is True
    assert path.read_text(encoding="utf-8") == TEAM_FILE_AFTER


def test_human_fields_survive_classify(tmp_path: Path) -> None:
    before = registry.parse(TEAM_FILE, "f.yml")
    after = registry.parse(registry.dump(_classify_and_edit(before), TEAM_FILE), "f.yml")
    for old in before.entries:
        new = after.find(old.service, old.name)
        if new is None:
            continue
        human = ("name", "service", "reason", "quarantined", "issue", "owner", "expires", "extra")
        assert {f: getattr(new, f) for f in human} == {f: getattr(old, f) for f in human}


def test_an_unchanged_registry_is_written_back_byte_for_byte(tmp_path: Path) -> None:
    assert registry.dump(registry.parse(TEAM_FILE, "f.yml"), TEAM_FILE) == TEAM_FILE
    path = tmp_path / "flaky-tests.yml"
    path.write_text(TEAM_FILE, encoding="utf-8")
    before = path.stat()
    time.sleep(0.01)
    assert registry.save(path, registry.load(path)) is False
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_the_repositorys_registry_comes_back_to_its_bytes(tmp_path: Path) -> None:
    original = (ROOT / "registry" / "flaky-tests.yml").read_bytes()
    path = tmp_path / "flaky-tests.yml"
    path.write_bytes(original)
    empty = registry.load(path)
    added = registry.add_manual(empty, "tests.test_x::test_y", "gatekeeper", "flaky on macOS")
    registry.save(path, added)
    assert path.read_text(encoding="utf-8").endswith(
        "flaky_tests:\n"
        "  - name: tests.test_x::test_y\n"
        "    service: gatekeeper\n"
        "    reason: flaky on macOS\n"
        "    quarantined: true\n"
    )
    registry.save(path, registry.remove(added, "tests.test_x::test_y", "gatekeeper"))
    assert path.read_bytes() == original


# ---------------------------------------------------------------------------------------------
# Other shapes people write
# ---------------------------------------------------------------------------------------------

NEW = QuarantineEntry(name="b", service="s", reason="r")


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        (
            # Entries not indented under the key, no blank lines: new ones follow suit.
            "flaky_tests:\n- name: a\n  service: s\n  reason: r\n- name: c\n  service: s\n"
            "  reason: r\n",
            "flaky_tests:\n- name: a\n  service: s\n  reason: r\n  quarantined: false\n"
            "- name: c\n  service: s\n  reason: r\n  quarantined: false\n"
            "- name: b\n  service: s\n  reason: r\n  quarantined: true\n",
        ),
        (
            "flaky_tests:   # none yet\n",
            "flaky_tests:   # none yet\n  - name: b\n    service: s\n    reason: r\n"
            "    quarantined: true\n",
        ),
        (
            "flaky_tests: []  # none yet\n# the end\n",
            "flaky_tests:  # none yet\n  - name: b\n    service: s\n    reason: r\n"
            "    quarantined: true\n# the end\n",
        ),
        (
            "# Nothing here yet.\n",
            "# Nothing here yet.\nflaky_tests:\n  - name: b\n    service: s\n    reason: r\n"
            "    quarantined: true\n",
        ),
        (
            # A flow entry stays a flow entry when it changes (its comment keeps its column
            # where it can); the new one is block style.
            "flaky_tests:\n  - {name: a, service: s, reason: r}  # short\n",
            "flaky_tests:\n  - {name: a, service: s, reason: r, quarantined: false} # short\n\n"
            "  - name: b\n    service: s\n    reason: r\n    quarantined: true\n",
        ),
    ],
    ids=["offset-0", "null-list", "empty-list", "comments-only", "flow-entry"],
)
def test_other_shapes_are_edited_in_their_own_style(original: str, expected: str) -> None:
    reg = registry.parse(original, "f.yml")
    entries = (*(replace(e, quarantined=False) for e in reg.entries), NEW)
    new = replace(reg, entries=entries)
    assert registry.dump(new, original) == expected
    assert registry.parse(expected, "f.yml") == new


def test_top_level_keys_are_edited_line_by_line() -> None:
    original = "# mine\nversion: 1  # bump on format changes\nowners: [a, b]\nflaky_tests: []\n"
    reg = registry.parse(original, "f.yml")
    assert reg.extra == (("version", 1), ("owners", ["a", "b"]))
    changed = replace(reg, extra=(("version", 2), ("team", "ci")))
    assert registry.dump(changed, original) == ("# mine\nversion: 2\nteam: ci\nflaky_tests: []\n")


def test_removing_the_last_entry_leaves_an_empty_list_and_the_comments() -> None:
    original = (
        "flaky_tests:  # reviewed weekly\n"
        "  # --- search ---\n\n"
        "  # flaky since the index change\n"
        "  - name: a\n    service: s\n    reason: r\n"
        "# end\n"
    )
    assert registry.dump(Registry(), original) == (
        "flaky_tests: []  # reviewed weekly\n  # --- search ---\n\n# end\n"
    )


def test_a_registry_with_a_test_twice_is_not_written() -> None:
    twice = Registry(entries=(NEW, replace(NEW, reason="again")))
    with pytest.raises(RegistryError) as info:
        registry.dump(twice)
    assert str(info.value) == "b in s: listed twice (keep one entry per test and service)"


def test_values_that_yaml_11_would_misread_are_quoted() -> None:
    entry = QuarantineEntry(
        name="on",
        service="1:30",
        reason="yes",
        issue="2026-01-01",
        owner="?maybe",
        evidence=Evidence(
            verdict=Verdict.FLAKY, last_failure=FailurePoint(commit="?0", run="0x1F")
        ),
        pinned=False,
    )
    text = registry.dump(Registry(entries=(entry,)))
    assert "\n  - name: 'on'\n    service: '1:30'\n    reason: 'yes'\n" in text
    assert "    issue: '2026-01-01'\n" in text
    assert "      last_failure: {commit: '?0', run: '0x1F'}\n" in text
    assert registry.parse(text, "f.yml").entries == (entry,)


# ---------------------------------------------------------------------------------------------
# save(): the file on disk
# ---------------------------------------------------------------------------------------------


def test_a_new_file_is_canonical_and_readable_by_the_team(tmp_path: Path) -> None:
    path = tmp_path / "flaky-tests.yml"
    assert registry.save(path, Registry()) is True
    assert path.read_text(encoding="utf-8") == CANONICAL_EMPTY
    assert path.stat().st_mode & 0o777 == 0o644
    assert list(tmp_path.iterdir()) == [path]


def test_save_keeps_mode_line_ends_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "flaky-tests.yml"
    path.write_bytes(b"\xef\xbb\xbf" + TEAM_FILE.replace("\n", "\r\n").encode("utf-8"))
    path.chmod(0o640)
    reg = registry.load(path)
    registry.save(path, registry.add_manual(reg, "b", "s", "r"))
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf# Quarantined tests.")
    assert data.count(b"\n") == data.count(b"\r\n")
    assert data.endswith(
        b"  - name: b\r\n    service: s\r\n    reason: r\r\n    quarantined: true\r\n"
    )
    assert path.stat().st_mode & 0o777 == 0o640


def test_save_refuses_to_overwrite_an_invalid_file(tmp_path: Path) -> None:
    path = tmp_path / "flaky-tests.yml"
    path.write_text("flaky_tests:\n  - name: a\n", encoding="utf-8")
    with pytest.raises(RegistryError) as info:
        registry.save(path, Registry())
    assert str(info.value) == (
        f"{path}:2: flaky_tests[0].service: missing "
        "(the service whose runs the test is in, as given to --service)"
    )
    assert path.read_text(encoding="utf-8") == "flaky_tests:\n  - name: a\n"


def _big_registry(count: int) -> Registry:
    return Registry(
        entries=tuple(
            QuarantineEntry(
                name=f"service_{i}::tests::test_number_{i}",
                service="messaging-service",
                reason=f"flaky: failed {i} times",
                pinned=False,
                evidence=replace(FLAKY, runs=1000 + i),
            )
            for i in range(count)
        )
    )


def test_a_write_that_fails_halfway_leaves_the_old_file(tmp_path: Path) -> None:
    # The child may write at most 64 KiB per file (RLIMIT_FSIZE), so writing a ~250 KiB
    # registry fails in the middle with EFBIG, as a full disk would.
    path = tmp_path / "flaky-tests.yml"
    registry.save(path, _big_registry(3))
    original = path.read_bytes()
    big = tmp_path / "big.yml"
    big.write_text(registry.dump(_big_registry(400)), encoding="utf-8")
    assert big.stat().st_size > 200_000
    code = (
        "import resource, signal\n"
        "from gatekeeper import registry\n"
        f"new = registry.load({str(big)!r})\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))\n"
        "try:\n"
        f"    registry.save({str(path)!r}, new)\n"
        "except Exception as err:\n"
        "    print(type(err).__name__, err)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == (
        f"RegistryError {path}: cannot write it: File too large (the registry was left as it was)"
    )
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yml", "flaky-tests.yml"]


def test_a_reader_never_sees_a_half_written_file(tmp_path: Path) -> None:
    # Another process rewrites a ~200 KiB registry back and forth while this one reads it.
    path = tmp_path / "flaky-tests.yml"
    small, large = _big_registry(150), _big_registry(300)
    registry.save(path, large)
    for name, reg in (("small.yml", small), ("large.yml", large)):
        (tmp_path / name).write_text(registry.dump(reg), encoding="utf-8")
    code = (
        "from gatekeeper import registry\n"
        f"small = registry.load({str(tmp_path / 'small.yml')!r})\n"
        f"large = registry.load({str(tmp_path / 'large.yml')!r})\n"
        "for _ in range(6):\n"
        f"    registry.save({str(path)!r}, small)\n"
        f"    registry.save({str(path)!r}, large)\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE)
    seen: dict[int, int] = {}
    try:
        while writer.poll() is None:
            count = len(registry.parse(path.read_bytes(), str(path)).entries)
            assert count in (150, 300)
            seen[count] = seen.get(count, 0) + 1
    finally:
        _, errors = writer.communicate(timeout=300)
    assert writer.returncode == 0, errors.decode()[-2000:]
    assert seen.get(150) and seen.get(300), f"the reader saw only {seen}: the test proved nothing"
    assert registry.load(path) == large
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "flaky-tests.yml",
        "large.yml",
        "small.yml",
    ]


def test_a_symlinked_registry_stays_a_symlink(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    real = shared / "flaky-tests.yml"
    real.write_text(CANONICAL_EMPTY, encoding="utf-8")
    link = tmp_path / "flaky-tests.yml"
    link.symlink_to(real)
    registry.save(link, registry.add_manual(registry.load(link), "b", "s", "r"))
    assert link.is_symlink()
    assert registry.load(real).find("s", "b") is not None
