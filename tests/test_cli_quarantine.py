"""`gatekeeper quarantine list|add|remove` on real registry files, as a person runs them."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from .test_cli_ingest import clean_env, gatekeeper

TEAM_FILE = """\
# Nova's flaky tests. Review quarantines like code.
flaky_tests:
  # messaging
  - name: "messaging_service::tests::test_concurrent_message_delivery"
    service: messaging-service
    reason: "Race condition in Redis cache invalidation"
    quarantined: true
    issue: "#1234"
"""


def test_add_list_remove_keep_what_people_wrote(tmp_path: Path) -> None:
    (tmp_path / "flaky-tests.yml").write_text(TEAM_FILE, encoding="utf-8")
    add = gatekeeper(
        "quarantine", "add", "api::test_login_rate_limit_window", "--service", "user-service",
        "--reason", "times out under load", "--owner", "alice", "--expires", "2026-01-31",
        cwd=tmp_path,
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    text = (tmp_path / "flaky-tests.yml").read_text(encoding="utf-8")
    assert text.startswith(TEAM_FILE), "the existing entry and the comments are kept as written"
    entries = yaml.safe_load(text)["flaky_tests"]
    assert entries[1] == {
        "name": "api::test_login_rate_limit_window",
        "service": "user-service",
        "reason": "times out under load",
        "quarantined": True,
        "owner": "alice",
        "expires": __import__("datetime").date(2026, 1, 31),
    }

    listed = gatekeeper("quarantine", "list", "--format", "json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["service"], r["expired"]) for r in rows] == [
        ("messaging_service::tests::test_concurrent_message_delivery", "messaging-service", False),
        ("api::test_login_rate_limit_window", "user-service", True),
    ]
    assert "the quarantine expired on 2026-01-31" in listed.stderr

    table = gatekeeper("quarantine", "list", "--service", "user-service", cwd=tmp_path)
    header = table.stdout.splitlines()[0].split()
    assert header[:2] == ["test", "service"] and "expires" in header
    assert "messaging_service" not in table.stdout
    assert table.stdout.rstrip().endswith("1 quarantined, 1 expired")

    typo = gatekeeper(
        "quarantine", "remove", "api::test_login_rate_limit_windo", "--service", "user-service",
        cwd=tmp_path,
    )  # fmt: skip
    assert typo.returncode == 2
    assert typo.stderr.strip() == (
        "gatekeeper: error: api::test_login_rate_limit_windo in user-service: not in the "
        "registry (did you mean 'api::test_login_rate_limit_window'?)"
    )
    gone = gatekeeper(
        "quarantine", "remove", "api::test_login_rate_limit_window", "--service", "user-service",
        cwd=tmp_path,
    )  # fmt: skip
    assert gone.returncode == 0, gone.stderr
    assert (tmp_path / "flaky-tests.yml").read_text(encoding="utf-8") == TEAM_FILE


def test_list_without_a_registry_is_empty_but_a_named_missing_file_is_an_error(
    tmp_path: Path,
) -> None:
    empty = gatekeeper("quarantine", "list", cwd=tmp_path)
    assert (empty.returncode, empty.stdout) == (0, "No quarantined tests.\n")
    missing = gatekeeper("quarantine", "list", "--registry", "ci/flaky.yml", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith("gatekeeper: error: ")
    assert "flaky.yml" in missing.stderr and "no such file" in missing.stderr


def test_registry_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "flaky.yml").write_text(TEAM_FILE, encoding="utf-8")
    env = clean_env(GATEKEEPER_REGISTRY="ci/flaky.yml")
    listed = gatekeeper("quarantine", "list", "--format", "yaml", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert yaml.safe_load(listed.stdout)["flaky_tests"][0]["issue"] == "#1234"


def test_an_invalid_registry_names_the_line(tmp_path: Path) -> None:
    bad = TEAM_FILE + '    expires: "2026-13-01"\n'
    (tmp_path / "flaky-tests.yml").write_text(bad, encoding="utf-8")
    proc = gatekeeper("quarantine", "list", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("gatekeeper: error: flaky-tests.yml:9: ")
    assert "expires" in proc.stderr and "YYYY-MM-DD" in proc.stderr


def test_the_repositorys_own_registry_lists(tmp_path: Path) -> None:
    own = Path(__file__).resolve().parent.parent / "registry" / "flaky-tests.yml"
    proc = gatekeeper("quarantine", "list", "--registry", str(own), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
