"""`gatekeeper classify` end to end: the sample history in, the registry file out.

The expected verdicts are the stories in sample_reports/README.md, written by the generator of
the history, not by the classifier.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .cli import gatekeeper
from .conftest import SAMPLES


def _story_ids(heading: str) -> set[str]:
    """The test ids in the first column of a table under a heading of the samples' README."""
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    section = readme.split(heading, 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", section, re.M))


FLAKY = _story_ids("### Flaky tests")
BROKEN = "api::test_get_missing_user_returns_404"

TEAM_FILE = """\
# Nova's flaky tests. Review quarantines like code.
flaky_tests:
  - name: "tests.test_index.TestIndexer::test_concurrent_writers"
    service: search-service
    reason: "lock contention in the indexer (hand-written)"
    quarantined: true
    issue: "#77"
    owner: bob
"""


def history_db(folder: Path) -> str:
    """The sample history ingested into a SQLite file in ``folder``; its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "h.db"
    proc = gatekeeper(
        "ingest", "--manifest", str(SAMPLES / "manifest.jsonl"), "--db", f"sqlite:///{db}",
        cwd=db.parent,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return f"sqlite:///{db}"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> str:
    return history_db(tmp_path_factory.mktemp("history"))


def test_the_stories_sanity() -> None:
    assert len(FLAKY) == 9, FLAKY  # three per service


def test_classify_quarantines_the_flaky_tests_and_reports_the_broken_one(
    tmp_path: Path, history: str
) -> None:
    (tmp_path / "flaky-tests.yml").write_text(TEAM_FILE, encoding="utf-8")
    proc = gatekeeper("classify", "--db", history, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "flaky-tests.yml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    quarantined = {e["name"] for e in doc["flaky_tests"] if e["quarantined"]}
    assert quarantined == FLAKY
    assert BROKEN not in {e["name"] for e in doc["flaky_tests"]}
    assert re.search(rf"! broken +user-service +{re.escape(BROKEN)} since \w+", proc.stdout)
    # what a person wrote stays, comment included
    assert text.startswith("# Nova's flaky tests. Review quarantines like code.\n")
    [hand] = [e for e in doc["flaky_tests"] if e["name"].endswith("test_concurrent_writers")]
    assert (hand["reason"], hand["issue"], hand["owner"]) == (
        "lock contention in the indexer (hand-written)",
        "#77",
        "bob",
    )
    new = [e for e in doc["flaky_tests"] if "evidence" in e and e["name"] != hand["name"]]
    assert all(e["reason"].startswith("flaky: ") for e in new)
    assert all(e["evidence"]["verdict"] == "flaky" for e in new)
    # a second run changes nothing, byte for byte
    again = gatekeeper("classify", "--db", history, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.rstrip().endswith("flaky-tests.yml: unchanged")
    assert (tmp_path / "flaky-tests.yml").read_text(encoding="utf-8") == text


def test_dry_run_shows_the_diff_and_writes_nothing(tmp_path: Path, history: str) -> None:
    (tmp_path / "flaky-tests.yml").write_text(TEAM_FILE, encoding="utf-8")
    proc = gatekeeper("classify", "--db", history, "--dry-run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("--- a/flaky-tests.yml\n+++ b/flaky-tests.yml\n")
    assert "not written (--dry-run)" in proc.stdout
    assert (tmp_path / "flaky-tests.yml").read_text(encoding="utf-8") == TEAM_FILE


def test_a_machine_quarantined_test_that_is_now_broken_is_released(
    tmp_path: Path, history: str
) -> None:
    machine = (
        "flaky_tests:\n"
        f"  - name: {BROKEN}\n"
        "    service: user-service\n"
        "    reason: 'flaky: quarantined by gatekeeper'\n"
        "    quarantined: true\n"
        "    evidence:\n"
        "      verdict: flaky\n"
        "      detected: 2026-11-01\n"
    )
    (tmp_path / "flaky-tests.yml").write_text(machine, encoding="utf-8")
    proc = gatekeeper("classify", "--db", history, "--service", "user-service", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [entry] = [
        e
        for e in yaml.safe_load((tmp_path / "flaky-tests.yml").read_text())["flaky_tests"]
        if e["name"] == BROKEN
    ]
    assert entry["quarantined"] is False
    assert entry["evidence"]["verdict"] == "broken"
    assert re.search(rf"- released +user-service  {re.escape(BROKEN)}", proc.stdout)


def test_classify_without_history_is_a_clear_error(tmp_path: Path) -> None:
    proc = gatekeeper("classify", "--db", "postgresql://gk@127.0.0.1:1/none", cwd=tmp_path)
    assert proc.returncode == 2
    assert "cannot connect" in proc.stderr
    assert not (tmp_path / "flaky-tests.yml").exists()


def test_quarantine_show_prints_the_evidence_and_the_run_by_run_history(
    tmp_path: Path, history: str
) -> None:
    (tmp_path / "flaky-tests.yml").write_text(TEAM_FILE, encoding="utf-8")
    assert gatekeeper("classify", "--db", history, cwd=tmp_path).returncode == 0
    name = "api::test_concurrent_session_refresh"
    proc = gatekeeper("quarantine", "show", name, "--db", history, "--runs", "40", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{name}  (user-service)"
    assert lines[1].startswith("  quarantined: flaky: ")
    # sample_reports/README.md: this test failed an attempt in 7 runs; nextest retried it, so
    # a failing run shows as FP (failed, then passed) or FFF (failed all three attempts)
    strip = lines[-1].split()
    assert sum(1 for s in strip if "F" in s) == 7
    assert "[FFF]" in strip  # run-09: the flaky test failed all its attempts
    # a test that is not in the registry still has its history
    other = gatekeeper(
        "quarantine", "show", BROKEN, "--service", "user-service", "--db", history, cwd=tmp_path
    )
    assert other.returncode == 0, other.stderr
    assert "not in the registry" in other.stdout
    unknown = gatekeeper("quarantine", "show", "no::such_test", "--db", history, cwd=tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("gatekeeper: error: no::such_test: not in the registry")


def test_the_configured_default_branch_and_registry_are_used(tmp_path: Path) -> None:
    """A team whose default branch is `trunk`: its history there makes a flaky test, and the
    registry lives where gatekeeper.yml says; with the defaults (main) nothing is found."""
    import json

    from .test_cli_gate import junit

    (tmp_path / "runs").mkdir()
    manifest = []
    fails_at = {2, 5, 9, 13}  # fails now and then, passes otherwise: flaky on trunk
    for i in range(16):
        name = f"runs/{i:02d}.xml"
        outcome = "fail" if i in fails_at else "pass"
        (tmp_path / name).write_text(junit(("test_a", "pass"), ("test_b", outcome)))
        manifest.append(
            json.dumps(
                {
                    "path": name,
                    "service": "app",
                    "commit": f"{i:040x}",
                    "branch": "trunk",
                    "run_id": str(i),
                    "timestamp": f"2026-11-{i + 1:02d}T10:00:00Z",
                    "attempt": 1,
                }
            )
        )
    (tmp_path / "manifest.jsonl").write_text("\n".join(manifest) + "\n")
    assert gatekeeper("ingest", "--manifest", "manifest.jsonl", cwd=tmp_path).returncode == 0

    defaults = gatekeeper("classify", "--dry-run", cwd=tmp_path)
    assert defaults.returncode == 0, defaults.stderr
    assert "tests.test_app::test_b" not in defaults.stdout  # trunk is not main: no evidence

    (tmp_path / "quality").mkdir()
    (tmp_path / "gatekeeper.yml").write_text("default_branch: trunk\nregistry: quality/flaky.yml\n")
    done = gatekeeper("classify", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = yaml.safe_load((tmp_path / "quality" / "flaky.yml").read_text())
    assert [(e["name"], e["quarantined"]) for e in written["flaky_tests"]] == [
        ("tests.test_app::test_b", True)
    ]
    assert not (tmp_path / "flaky-tests.yml").exists()
    listed = gatekeeper("quarantine", "list", "--format", "json", cwd=tmp_path)
    assert [e["name"] for e in json.loads(listed.stdout)] == ["tests.test_app::test_b"]


def _mass_history(root: Path) -> Path:
    """Two services over 20 commits, every failed job retried once (the retry passes). In
    `pricing` (60 tests) eight tests each fail once, alone, with a message of their own: eight
    new flaky tests at once, 13% of the suite. In `orders` (60 tests) one test is flaky."""
    lines = []
    for service, flaky in (("pricing", {t: 4 + t for t in range(8)}), ("orders", {0: 5})):
        for c in range(20):
            for attempt in (1, 2):
                failing = {t for t, at in flaky.items() if attempt == 1 and c in (at, at + 9)}
                cases = "".join(
                    f'<testcase classname="tests.test_{service}" name="test_{t:02d}" time="0.01">'
                    + (
                        f'<failure message="assert {chr(97 + t)} == 1">boom</failure>'
                        if t in failing
                        else ""
                    )
                    + "</testcase>"
                    for t in range(60)
                )
                path = root / f"{service}-{c:02d}-{attempt}.xml"
                path.write_text(f'<testsuite name="s">{cases}</testsuite>', encoding="utf-8")
                lines.append(
                    f'{{"path": "{path.name}", "service": "{service}", "run_id": "{service}-{c}", '
                    f'"attempt": {attempt}, "commit": "{c:040x}", "branch": "main", '
                    f'"timestamp": "2026-11-{1 + c:02d}T10:{10 * attempt:02d}:00Z"}}'
                )
                if not failing:
                    break
    manifest = root / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def test_a_mass_quarantine_is_refused_for_its_service_and_names_the_runs(tmp_path: Path) -> None:
    manifest = _mass_history(tmp_path)
    db = f"sqlite:///{tmp_path / 'h.db'}"
    assert (
        gatekeeper("ingest", "--manifest", str(manifest), "--db", db, cwd=tmp_path).returncode == 0
    )
    proc = gatekeeper("classify", "--db", db, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith(
        "gatekeeper: error: pricing: classify would newly quarantine 8 of 60 tests (13%, more "
        "than the 5% allowed); nothing was written for it; likely infrastructure: runs "
    )
    assert "runs pricing-10: 1 of them, pricing-11: 1 of them" in line  # its own failures
    assert "--allow-mass-quarantine" in line
    # the other service's new quarantine was written; none of pricing's
    doc = yaml.safe_load((tmp_path / "flaky-tests.yml").read_text(encoding="utf-8"))
    assert {(e["service"], e["name"]) for e in doc["flaky_tests"]} == {
        ("orders", "tests.test_orders::test_00")
    }
    # a person who checked the runs lets it through; a higher limit in gatekeeper.yml too
    allowed = gatekeeper("classify", "--db", db, "--allow-mass-quarantine", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    doc = yaml.safe_load((tmp_path / "flaky-tests.yml").read_text(encoding="utf-8"))
    assert sum(e["service"] == "pricing" and e["quarantined"] for e in doc["flaky_tests"]) == 8
    (tmp_path / "flaky-tests.yml").unlink()
    (tmp_path / "gatekeeper.yml").write_text(
        "classify:\n  max_new_quarantine_share: 0.2\n", encoding="utf-8"
    )
    assert gatekeeper("classify", "--db", db, cwd=tmp_path).returncode == 0
