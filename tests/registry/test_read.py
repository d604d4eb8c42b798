"""Reading flaky-tests.yml: what teams write, the repository's own file, the schema file."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import pytest

from gatekeeper import registry
from gatekeeper.errors import RegistryError
from gatekeeper.model import QuarantineEntry, Registry, Verdict
from gatekeeper.registry import schema, validate
from gatekeeper.registry.reader import parse_document

from ..conftest import ROOT
from . import TEAM_FILE

# The registry example of the design notes, the shape teams already write by hand (copied here:
# the notes live outside the repository, which a user's clone does not have).
DESIGN_EXAMPLE = """\
flaky_tests:
  - name: "messaging_service::tests::test_concurrent_message_delivery"
    service: messaging-service
    reason: "Race condition in Redis cache invalidation"
    quarantined: true
    issue: "#1234"
"""


def test_design_example_reads_as_one_pinned_quarantine() -> None:
    loaded = registry.parse(DESIGN_EXAMPLE, "DESIGN.md")
    assert loaded.entries == (
        QuarantineEntry(
            name="messaging_service::tests::test_concurrent_message_delivery",
            service="messaging-service",
            reason="Race condition in Redis cache invalidation",
            quarantined=True,
            pinned=True,  # written by a person: classify must not release it
            issue="#1234",
        ),
    )


def test_a_team_file_reads_field_by_field() -> None:
    loaded = registry.parse(TEAM_FILE, "flaky-tests.yml")
    first, second, third = loaded.entries
    assert first == QuarantineEntry(
        name="messaging_service::tests::test_concurrent_message_delivery",
        service="messaging-service",
        reason="Race condition in Redis cache invalidation",
        quarantined=True,
        pinned=True,
        issue="#1234",
        owner="@team-messaging",
        expires=dt.date(2026, 3, 31),
    )
    assert second.quarantined is False and second.pinned is True
    assert second.issue == "1301"  # an unquoted ticket number is still the ticket
    assert third.quarantined is True  # the default
    assert third.expires == dt.date(2026, 1, 15)  # quoted dates are dates too
    assert third.extra == (("team", "relevance"),)
    assert loaded.extra == ()
    assert loaded.warnings == ()


def test_the_repositorys_own_registry_is_valid() -> None:
    path = ROOT / "registry" / "flaky-tests.yml"
    loaded = registry.load(path)
    assert isinstance(loaded, Registry)
    _, document, _ = parse_document(path.read_text(encoding="utf-8"), str(path))
    assert validate.reference_problems(document) == []


def test_schema_file_is_the_packaged_schema() -> None:
    on_disk = (ROOT / "registry" / "flaky-tests.schema.json").read_text(encoding="utf-8")
    assert on_disk == schema.render(), (
        "registry/flaky-tests.schema.json is out of date: see gatekeeper/registry/schema.py"
    )


def test_schema_is_valid_draft_2020_12() -> None:
    document = json.loads((ROOT / "registry" / "flaky-tests.schema.json").read_text("utf-8"))
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(document)


def test_schema_uses_only_keywords_the_fast_validator_knows() -> None:
    used: set[str] = set()

    def walk(node: object, under_properties: bool = False) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not under_properties:
                    used.add(key)
                walk(
                    value, under_properties=key in ("properties", "$defs") and not under_properties
                )
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema.SCHEMA)
    assert used - validate.KEYWORDS == set()


def test_schema_lists_the_verdicts_of_the_model() -> None:
    verdicts = schema.SCHEMA["$defs"]["evidence"]["properties"]["verdict"]["enum"]
    assert verdicts == [v.value for v in Verdict]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "# nothing quarantined yet\n",
        "flaky_tests: []\n",
        "flaky_tests:\n",
        "flaky_tests: ~",
    ],
    ids=["empty", "blank", "comments", "empty-list", "null", "tilde"],
)
def test_empty_registries(text: str) -> None:
    assert registry.parse(text, "f.yml") == Registry()


def test_evidence_is_read_into_the_machine_fields() -> None:
    text = """\
flaky_tests:
  - name: a::b
    service: s
    reason: found by classify
    evidence:
      verdict: flaky
      confidence: 0.97
      detected: 2025-11-02
      runs: 412
      failures: 9.0
      failure_rate: 0.0218
      failure_rate_ci95: [0.01, 0.0411]
      first_failure: {commit: 1a2b3c4, date: 2025-10-30, run: 88121}
      model: beta-binomial
"""
    (entry,) = registry.parse(text, "f.yml").entries
    assert entry.pinned is False  # gatekeeper added it: classify may release it
    evidence = entry.evidence
    assert evidence is not None
    assert evidence.verdict is Verdict.FLAKY
    assert evidence.detected == dt.date(2025, 11, 2)
    assert (evidence.runs, evidence.failures) == (412, 9)
    assert isinstance(evidence.failures, int)
    assert evidence.failure_rate_ci95 == (0.01, 0.0411)
    assert evidence.first_failure is not None
    assert evidence.first_failure.run == "88121"
    assert evidence.extra == (("model", "beta-binomial"),)


def test_yaml_11_words_are_read_as_yaml_11_says_but_keys_stay_text() -> None:
    text = "on: 1\nflaky_tests:\n  - {name: a, service: s, reason: r, quarantined: yes, x: 1:30}\n"
    loaded = registry.parse(text, "f.yml")
    assert loaded.extra == (("on", 1),)  # not True: GitHub-Actions-style keys survive
    (entry,) = loaded.entries
    assert entry.quarantined is True
    assert entry.extra == (("x", 90),)  # sexagesimal, as PyYAML and most YAML 1.1 tools read it


def test_a_likely_typo_is_a_warning_with_its_line() -> None:
    text = "flaky_tests:\n  - name: a\n    service: s\n    reason: r\n    expire: 2026-01-01\n"
    loaded = registry.parse(text, "f.yml")
    assert loaded.warnings == (
        "f.yml:5: flaky_tests[0].expire: unknown key, kept as is (did you mean 'expires'?)",
    )
    assert loaded.entries[0].extra == (("expire", "2026-01-01"),)


def test_missing_file_is_empty_only_when_the_caller_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "flaky-tests.yml"
    assert registry.load(missing, missing_ok=True) == Registry()
    with pytest.raises(RegistryError) as info:
        registry.load(missing)
    assert str(info.value) == (
        f"{missing}: no such file (create it with the line `flaky_tests: []`, "
        "or pass --registry PATH)"
    )


def test_a_directory_is_not_a_registry(tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as info:
        registry.load(tmp_path)
    assert str(info.value) == f"{tmp_path}: cannot read it: is a folder, not a regular file"


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "flaky-tests.yml"
    with path.open("wb") as handle:  # sparse: no disk space used
        handle.truncate(40 * 1024 * 1024)
    with pytest.raises(RegistryError) as info:
        registry.load(path)
    assert str(info.value) == (
        f"{path}: 41,943,040 bytes is too large for a registry (the limit is 33,554,432) "
        "(is this the right file?)"
    )


def test_crlf_and_a_bom_read_like_plain_unix_text() -> None:
    unix = registry.parse(TEAM_FILE, "f.yml")
    windows = ("\ufeff" + TEAM_FILE.replace("\n", "\r\n")).encode("utf-8")
    assert registry.parse(windows, "f.yml") == unix


def test_the_read_path_does_not_import_the_write_path(tmp_path: Path) -> None:
    # `quarantine list` must start fast: ruamel.yaml and jsonschema are for writing.
    path = tmp_path / "flaky-tests.yml"
    path.write_text(TEAM_FILE, encoding="utf-8")
    code = (
        "import sys\n"
        "from gatekeeper import registry\n"
        f"assert len(registry.load({str(path)!r}).entries) == 3\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'ruamel', 'jsonschema'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.stdout.strip() == "[]"


def test_the_example_in_the_docs_reads_as_described() -> None:
    page = (ROOT / "docs" / "registry.md").read_text(encoding="utf-8")
    match = re.search(r"```yaml\n(.*?)```", page, re.S)
    assert match, "docs/registry.md has no yaml example"
    by_hand, by_classify = registry.parse(match.group(1), "docs/registry.md").entries
    assert (by_hand.pinned, by_hand.evidence) == (True, None)
    assert by_classify.pinned is False
    assert by_classify.evidence is not None
    assert by_classify.evidence.failure_rate_ci95 == (0.0113, 0.0474)
