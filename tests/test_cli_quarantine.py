"""`gatekeeper quarantine list|add|remove` on real registry files, as a person runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .cli import clean_env, gatekeeper

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


# -- concurrent edits: a lock around read-change-write ------------------------------------------


@pytest.mark.e2e
def test_concurrent_adds_and_a_classify_lose_no_entry(tmp_path: Path) -> None:
    """8 `quarantine add` and a `classify` started together: every add says "quarantined"
    and every entry is in the file afterwards, with classify's own entries."""
    from .test_cli_classify import FLAKY, history_db

    db = history_db(tmp_path / "history")
    (tmp_path / "flaky-tests.yml").write_text(TEAM_FILE, encoding="utf-8")
    names = [f"manual::test_{i}" for i in range(8)]
    adds = [
        ["quarantine", "add", name, "--service", "user-service", "--reason", "by hand"]
        for name in names
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gatekeeper.cli", *args],
            cwd=tmp_path,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in [["classify", "--db", db], *adds]
    ]
    answers = [p.communicate(timeout=180) for p in procs]
    for p, (_out, err) in zip(procs, answers, strict=True):
        assert p.returncode == 0, err
    assert all("quarantined (pinned)" in out for out, _ in answers[1:])
    entries = yaml.safe_load((tmp_path / "flaky-tests.yml").read_text(encoding="utf-8"))
    kept = {e["name"] for e in entries["flaky_tests"]}
    assert set(names) <= kept, sorted(set(names) - kept)
    assert "messaging_service::tests::test_concurrent_message_delivery" in kept
    assert kept >= FLAKY  # classify's verdicts landed too


def test_an_edit_waits_for_the_lock_then_gives_up_writing_nothing(tmp_path: Path) -> None:
    from gatekeeper import registry

    path = tmp_path / "flaky-tests.yml"
    path.write_text(TEAM_FILE, encoding="utf-8")
    env = clean_env(GATEKEEPER_LOCK_TIMEOUT="0.5")
    with registry.locked(path):
        add = gatekeeper(
            "quarantine", "add", "a::b", "--service", "s", "--reason", "r", cwd=tmp_path, env=env
        )
        remove = gatekeeper(
            "quarantine", "remove", "messaging_service::tests::test_concurrent_message_delivery",
            "--service", "messaging-service", cwd=tmp_path, env=env,
        )  # fmt: skip
    for proc in (add, remove):
        assert proc.returncode == 2
        assert proc.stdout == ""
        assert proc.stderr.startswith(
            "gatekeeper: error: flaky-tests.yml: another gatekeeper is editing it (it held "
            ".flaky-tests.yml.lock for 0.5 s); nothing was written"
        ), proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert path.read_text(encoding="utf-8") == TEAM_FILE
    # the lock is free again: the same edit now lands
    assert gatekeeper("quarantine", "add", "a::b", "--service", "s", "--reason", "r",
                      cwd=tmp_path, env=env).returncode == 0  # fmt: skip


def test_threads_adding_at_once_each_land(tmp_path: Path) -> None:
    """The lock is per open file, so it also orders threads of one process (the service)."""
    import threading

    from gatekeeper import api

    path = tmp_path / "flaky-tests.yml"
    path.write_text(TEAM_FILE, encoding="utf-8")
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def add(i: int) -> None:
        start.wait(timeout=30)
        try:
            api.quarantine_add(path, False, name=f"t::{i}", service="s", reason="r")
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    names = {e["name"] for e in yaml.safe_load(path.read_text(encoding="utf-8"))["flaky_tests"]}
    assert {f"t::{i}" for i in range(8)} <= names
