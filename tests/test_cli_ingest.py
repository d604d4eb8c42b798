"""`gatekeeper ingest` and `gatekeeper demo` as a user runs them: real processes, real databases."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from .cli import clean_env, gatekeeper, gatekeeper_process
from .conftest import REALWORLD, SAMPLES, missing

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

NEXTEST = REALWORLD / "junit" / "nextest__fixture_project_rerunfailure.xml"
PYTEST_XML = REALWORLD / "junit" / "test-reporter__pytest_properties_subtests.xml"
TARPAULIN = REALWORLD / "cobertura" / "tarpaulin__async_fsm_small.xml"


def sqlite_runs(db: Path) -> list[tuple[str, str, int]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            rows = conn.execute("SELECT service, run_id, attempt FROM runs").fetchall()
        except sqlite3.OperationalError:
            return []
    return sorted(rows)


@pytest.fixture()
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = f"gk_cli_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as err:
        missing(f"PostgreSQL at 127.0.0.1:5432 is down ({err}); start it: {PG_START}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_runs(url: str) -> list[tuple[str, str, int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT service, run_id, attempt FROM runs").fetchall()
    return sorted((str(a), str(b), int(c)) for a, b, c in rows)


# -- the happy path -----------------------------------------------------------------------------


@pytest.mark.realworld
def test_ingest_prints_a_summary_and_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    args = (str(NEXTEST), str(TARPAULIN), "--service", "user-service", "--run-id", "41")
    first = gatekeeper("ingest", *args, "--db", f"sqlite:///{db}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    line = first.stdout.strip()
    assert line.startswith("user-service run 41")
    assert line.endswith(": stored")
    assert "3 tests" in line and "coverage" in line
    again = gatekeeper("ingest", *args, "--db", f"sqlite:///{db}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already in the history" in again.stdout
    assert sqlite_runs(db) == [("user-service", "41", 1)]


@pytest.mark.realworld
def test_json_output_counts_agree_with_the_file(tmp_path: Path) -> None:
    proc = gatekeeper(
        "ingest", str(PYTEST_XML), "--service", "search", "--run-id", "7", "--attempt", "2",
        "--commit", "c" * 40, "--branch", "main", "--timestamp", "2026-11-20T10:00:00Z",
        "--json", "--db", f"sqlite:///{tmp_path / 'h.db'}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    text = PYTEST_XML.read_text(encoding="utf-8")
    assert obj["tests"] == text.count("<testcase ")
    assert obj["failed"] == text.count("<failure")
    assert obj["skipped"] == text.count("<skipped")
    assert obj["passed"] == obj["tests"] - obj["failed"] - obj["errors"] - obj["skipped"]
    assert (obj["service"], obj["run_id"], obj["attempt"], obj["branch"]) == (
        "search",
        "7",
        2,
        "main",
    )
    assert obj["timestamp"].startswith("2026-11-20T10:00:00")
    assert obj["stored"] is True


@pytest.mark.realworld
def test_metadata_comes_from_the_ci_environment(tmp_path: Path) -> None:
    env = clean_env(
        GITHUB_ACTIONS="true",
        GITHUB_SHA="f" * 40,
        GITHUB_REF_NAME="main",
        GITHUB_RUN_ID="9001",
        GITHUB_RUN_ATTEMPT="3",
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_REPOSITORY="nova/platform",
    )
    proc = gatekeeper(
        "ingest", str(NEXTEST), "--service", "user-service", "--json",
        "--db", f"sqlite:///{tmp_path / 'h.db'}", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert (obj["run_id"], obj["attempt"], obj["commit"], obj["ci_provider"]) == (
        "9001",
        3,
        "f" * 40,
        "github-actions",
    )


@pytest.mark.realworld
def test_outside_ci_the_same_files_are_the_same_run(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    one = gatekeeper("ingest", str(NEXTEST), "--service", "s", "--json", "--db", db, cwd=tmp_path)
    two = gatekeeper("ingest", str(NEXTEST), "--service", "s", "--json", "--db", db, cwd=tmp_path)
    a, b = json.loads(one.stdout), json.loads(two.stdout)
    assert a["run_id"] == b["run_id"] and a["run_id"].startswith("local-")
    assert (a["stored"], b["stored"]) == (True, False)


@pytest.mark.realworld
def test_default_database_is_created_under_dot_gatekeeper(tmp_path: Path) -> None:
    proc = gatekeeper("ingest", str(NEXTEST), "--service", "s", "--run-id", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sqlite_runs(tmp_path / ".gatekeeper" / "gatekeeper.db") == [("s", "1", 1)]


@pytest.mark.realworld
def test_env_database_url_is_used(tmp_path: Path) -> None:
    db = tmp_path / "from-env.db"
    env = clean_env(GATEKEEPER_DB=f"sqlite:///{db}")
    proc = gatekeeper(
        "ingest", str(NEXTEST), "--service", "s", "--run-id", "1", cwd=tmp_path, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert sqlite_runs(db) == [("s", "1", 1)]


@pytest.mark.realworld
def test_a_folder_of_reports_is_one_run(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "junit.xml").write_bytes(NEXTEST.read_bytes())
    (reports / "cobertura.xml").write_bytes(TARPAULIN.read_bytes())
    (reports / "notes.md").write_text("# not a report\n")
    proc = gatekeeper(
        "ingest", "reports", "--service", "s", "--run-id", "1", "--json",
        "--db", f"sqlite:///{tmp_path / 'h.db'}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert obj["tests"] == 3 and obj["coverage_files"] > 0


def test_real_pytest_run_is_ingested(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_things.py").write_text(
        textwrap.dedent(
            """
            import pytest

            def test_passes():
                assert 1 + 1 == 2

            def test_fails():
                assert [1, 2] == [1, 3], "lists differ"

            @pytest.mark.skip(reason="needs redis")
            def test_skipped():
                pass

            @pytest.mark.parametrize("n", [1, 2, 3])
            def test_param(n):
                assert n < 3

            def test_errors_in_fixture(missing_fixture):
                pass
            """
        )
    )
    junit = tmp_path / "junit.xml"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1, run.stdout  # pytest exits 1 when tests failed
    proc = gatekeeper(
        "ingest", str(junit), "--service", "py", "--run-id", "1", "--json",
        "--db", f"sqlite:///{tmp_path / 'h.db'}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    # 7 tests: passes, fails, skipped, param[1..3], errors_in_fixture
    assert (obj["tests"], obj["passed"], obj["failed"], obj["errors"], obj["skipped"]) == (
        7,
        3,
        2,
        1,
        1,
    )
    with sqlite3.connect(tmp_path / "h.db") as conn:
        ids = {r[0] for r in conn.execute("SELECT test_id FROM tests")}
        msgs = [r[0] for r in conn.execute("SELECT message FROM results WHERE message IS NOT NULL")]
    assert "tests.test_things::test_param[3]" in ids
    assert any("lists differ" in m for m in msgs)


# -- bad input: one line, exit 2, nothing stored -------------------------------------------------

INVALID = SAMPLES / "invalid"


@pytest.mark.realworld
@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("truncated.xml", "truncated"),
        ("not_xml.xml", "XML"),
        ("empty.xml", "empty"),
        ("billion_laughs.xml", "entit"),
        ("xxe.xml", "entit"),
        ("unknown_format.txt", "not a report format"),
        ("cargo_no_result_line.txt", "test result"),
        ("cobertura_truncated.xml", "truncated"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_stores_nothing(
    tmp_path: Path, name: str, says: str
) -> None:
    db = tmp_path / "h.db"
    proc = gatekeeper(
        "ingest", str(INVALID / name), str(NEXTEST), "--service", "s", "--run-id", "1",
        "--db", f"sqlite:///{db}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"gatekeeper: error: {INVALID / name}")
    assert says.lower() in lines[0].lower()
    assert "root:" not in proc.stderr + proc.stdout  # nothing of /etc/passwd
    assert sqlite_runs(db) == []


def test_zero_tests_is_stored_but_flagged(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    proc = gatekeeper(
        "ingest", str(INVALID / "zero_tests.xml"), "--service", "s", "--run-id", "1",
        "--db", f"sqlite:///{db}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "no tests" in proc.stderr
    assert sqlite_runs(db) == [("s", "1", 1)]


def test_a_glob_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    proc = gatekeeper(
        "ingest", "reports/**/*.xml", "--service", "s", "--db", f"sqlite:///{tmp_path / 'h.db'}",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "gatekeeper: error: reports/**/*.xml: the pattern matched no file "
        "(did the test step write its reports there?)"
    )


def test_bad_manifest_names_the_line(tmp_path: Path) -> None:
    proc = gatekeeper(
        "ingest", "--manifest", str(INVALID / "bad_manifest.jsonl"),
        "--db", f"sqlite:///{tmp_path / 'h.db'}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert re.search(r"bad_manifest\.jsonl:\d+: ", proc.stderr), proc.stderr
    assert sqlite_runs(tmp_path / "h.db") == []


@pytest.mark.realworld
def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    proc = gatekeeper(
        "ingest", str(NEXTEST), "--service", "s", "--run-id", "1",
        "--db", "postgresql://gk:secret@127.0.0.1:1/nope", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("gatekeeper: error: postgresql")
    assert "cannot connect" in proc.stderr
    assert "secret" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.realworld
def test_locked_sqlite_waits_then_fails_clearly(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    ok = gatekeeper(
        "ingest",
        str(NEXTEST),
        "--service",
        "s",
        "--run-id",
        "0",
        "--db",
        f"sqlite:///{db}",
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        proc = gatekeeper(
            "ingest", str(NEXTEST), "--service", "s", "--run-id", "1", "--lock-timeout", "0.5",
            "--db", f"sqlite:///{db}", cwd=tmp_path,
        )  # fmt: skip
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 2
    assert "locked" in proc.stderr
    assert sqlite_runs(db) == [("s", "0", 1)]


# -- concurrency ---------------------------------------------------------------------------------


def _parallel_ingest(
    db_url: str, cwd: Path, run_ids: list[str]
) -> list[subprocess.CompletedProcess[str]]:
    def one(run_id: str) -> subprocess.CompletedProcess[str]:
        return gatekeeper_process(
            "ingest", str(NEXTEST), str(TARPAULIN), "--service", "user-service",
            "--run-id", run_id, "--db", db_url, cwd=cwd,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, run_ids))


@pytest.mark.e2e
@pytest.mark.realworld
def test_parallel_ingest_into_one_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    procs = _parallel_ingest(f"sqlite:///{db}", tmp_path, [str(i) for i in range(8)])
    assert all(p.returncode == 0 for p in procs), [p.stderr for p in procs]
    assert sqlite_runs(db) == sorted(("user-service", str(i), 1) for i in range(8))


@pytest.mark.e2e
@pytest.mark.realworld
def test_parallel_ingest_of_the_same_run_stores_it_once_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    procs = _parallel_ingest(f"sqlite:///{db}", tmp_path, ["same"] * 8)
    assert all(p.returncode == 0 for p in procs), [p.stderr for p in procs]
    assert sum("stored" in p.stdout and "not stored" not in p.stdout for p in procs) == 1
    assert sqlite_runs(db) == [("user-service", "same", 1)]


@pytest.mark.e2e
@pytest.mark.realworld
@pytest.mark.postgres
def test_parallel_ingest_into_postgresql(tmp_path: Path, pg_url: str) -> None:
    procs = _parallel_ingest(pg_url, tmp_path, [str(i) for i in range(8)] + ["same"] * 4)
    assert all(p.returncode == 0 for p in procs), [p.stderr for p in procs]
    expected = sorted(
        [("user-service", str(i), 1) for i in range(8)] + [("user-service", "same", 1)]
    )
    assert pg_runs(pg_url) == expected


# -- backfill and demo ---------------------------------------------------------------------------


def _manifest_runs(manifest: Path) -> set[tuple[str, str, int]]:
    runs = set()
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            runs.add((obj["service"], str(obj["run_id"]), int(obj.get("attempt", 1))))
    return runs


def test_manifest_backfill_stores_every_run_once(tmp_path: Path) -> None:
    manifest = SAMPLES / "manifest.jsonl"
    db = tmp_path / "h.db"
    proc = gatekeeper(
        "ingest", "--manifest", str(manifest), "--json", "--db", f"sqlite:///{db}", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    expected = _manifest_runs(manifest)
    assert set(sqlite_runs(db)) == expected
    assert len(proc.stdout.strip().splitlines()) == len(expected)
    again = gatekeeper(
        "ingest", "--manifest", str(manifest), "--json", "--db", f"sqlite:///{db}", cwd=tmp_path
    )
    assert all(json.loads(line)["stored"] is False for line in again.stdout.splitlines())


@pytest.mark.postgres
def test_manifest_backfill_into_postgresql(tmp_path: Path, pg_url: str) -> None:
    manifest = SAMPLES / "manifest.jsonl"
    proc = gatekeeper("ingest", "--manifest", str(manifest), "--db", pg_url, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert set(pg_runs(pg_url)) == _manifest_runs(manifest)


def test_demo_ingests_the_samples_and_summarises(tmp_path: Path) -> None:
    proc = gatekeeper("demo", "--dir", "demo", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    runs = _manifest_runs(SAMPLES / "manifest.jsonl")
    assert f"Stored {len(runs)} runs" in proc.stdout
    for service in {s for s, _, _ in runs}:
        assert f"\n{service}: " in proc.stdout
    assert "most failing tests" in proc.stdout
    # The summary is pinned by a golden file (refresh: GATEKEEPER_REFRESH_GOLD=1 pytest ...);
    # the lines before it name a temporary path and a time.
    summary = proc.stdout.split("\n\n", 1)[1]
    gold_dir = Path(__file__).parent / "gold"
    # the demo ends with the gate on the next push: its terminal verdict is in the summary, and
    # its JSON and Markdown outputs are pinned too (golden files for all three outputs)
    assert "gatekeeper gate: FAILED  user-service run 18407742368" in summary
    outputs = {
        "demo_summary.txt": summary,
        "demo_gate.json": (tmp_path / "demo" / "gate.json").read_text(encoding="utf-8"),
        "demo_gate.md": (tmp_path / "demo" / "gate-summary.md").read_text(encoding="utf-8"),
    }
    for name, text in outputs.items():
        gold = gold_dir / name
        if os.environ.get("GATEKEEPER_REFRESH_GOLD"):
            gold.write_text(text, encoding="utf-8")
        assert text == gold.read_text(encoding="utf-8"), f"{name} differs from tests/gold/{name}"


# -- one run is stored once, from all of its reports ---------------------------------------------


@pytest.mark.realworld
def test_another_job_with_the_same_run_key_is_refused_not_lost(tmp_path: Path) -> None:
    """A second ingest under the same (service, run id, attempt) from other files: exit 2."""
    db = f"sqlite:///{tmp_path / 'h.db'}"
    args = ("--service", "user-service", "--run-id", "555", "--db", db)
    first = gatekeeper("ingest", str(NEXTEST), *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = gatekeeper("ingest", str(TARPAULIN), *args, cwd=tmp_path)
    assert second.returncode == 2
    assert second.stderr.startswith(
        "gatekeeper: error: user-service run 555 attempt 1: already stored from other report files"
    )
    # the same files again are still a no-op
    again = gatekeeper("ingest", str(NEXTEST), *args, cwd=tmp_path)
    assert again.returncode == 0 and "already in the history" in again.stdout


@pytest.mark.realworld
def test_github_jobs_of_one_workflow_run_are_different_runs(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    base = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "555", "GITHUB_SHA": "a" * 40}
    tests = gatekeeper(
        "ingest", str(NEXTEST), "--service", "s", "--json", "--db", db, cwd=tmp_path,
        env=clean_env(**base, GITHUB_JOB="tests"),
    )  # fmt: skip
    cover = gatekeeper(
        "ingest", str(TARPAULIN), "--service", "s", "--json", "--db", db, cwd=tmp_path,
        env=clean_env(**base, GITHUB_JOB="coverage"),
    )  # fmt: skip
    assert tests.returncode == 0 and cover.returncode == 0, tests.stderr + cover.stderr
    assert sqlite_runs(tmp_path / "h.db") == [("s", "555/coverage", 1), ("s", "555/tests", 1)]


@pytest.mark.realworld
def test_outside_ci_another_commit_is_another_run(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    one = gatekeeper(
        "ingest", str(NEXTEST), "--service", "s", "--commit", "a" * 40, "--json", "--db", db,
        cwd=tmp_path,
    )  # fmt: skip
    two = gatekeeper(
        "ingest", str(NEXTEST), "--service", "s", "--commit", "b" * 40, "--json", "--db", db,
        cwd=tmp_path,
    )  # fmt: skip
    a, b = json.loads(one.stdout), json.loads(two.stdout)
    assert a["run_id"] != b["run_id"]
    assert (a["stored"], b["stored"]) == (True, True)


@pytest.mark.realworld
def test_a_test_in_two_reports_of_one_run_is_stored_as_re_runs(tmp_path: Path) -> None:
    copy = tmp_path / "copy-of-junit.xml"
    # the same tests in another file (not byte-identical): a second execution of each
    copy.write_text(NEXTEST.read_text(encoding="utf-8") + "\n<!-- rerun -->\n", encoding="utf-8")
    db = tmp_path / "h.db"
    proc = gatekeeper(
        "ingest", str(NEXTEST), str(copy), "--service", "s", "--run-id", "1", "--json",
        "--db", f"sqlite:///{db}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "stored as re-runs" in proc.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT t.test_id, r.retry, count(*) FROM results r JOIN tests t ON t.id = r.test_fk "
            "GROUP BY t.test_id, r.retry HAVING count(*) > 1"
        ).fetchall()
    assert rows == [], "two executions of one test with the same retry number"


@pytest.mark.realworld
def test_the_same_report_twice_is_read_once(tmp_path: Path) -> None:
    copy = tmp_path / "same.xml"
    copy.write_bytes(NEXTEST.read_bytes())
    proc = gatekeeper(
        "ingest", str(NEXTEST), str(copy), "--service", "s", "--run-id", "1", "--json",
        "--db", f"sqlite:///{tmp_path / 'h.db'}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tests"] == 3
    assert "read once" in proc.stderr


@pytest.mark.realworld
def test_an_empty_report_in_a_folder_is_refused(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "junit.xml").write_bytes(NEXTEST.read_bytes())
    (reports / "junit2.xml").write_bytes(b"")
    proc = gatekeeper(
        "ingest", "reports", "--service", "s", "--run-id", "1",
        "--db", f"sqlite:///{tmp_path / 'h.db'}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "junit2.xml: the file is empty" in proc.stderr
    assert sqlite_runs(tmp_path / "h.db") == []


@pytest.mark.e2e
@pytest.mark.realworld
def test_a_fifo_in_a_folder_is_never_opened(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "junit.xml").write_bytes(NEXTEST.read_bytes())
    os.mkfifo(reports / "pipe")
    # real processes: were the FIFO opened, the command would block, and the timeout says so
    proc = gatekeeper_process(
        "ingest", "reports", "--service", "s", "--run-id", "1",
        "--db", f"sqlite:///{tmp_path / 'h.db'}", cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    direct = gatekeeper_process(
        "ingest", "reports/pipe", "--service", "s", cwd=tmp_path, timeout=60
    )
    assert direct.returncode == 2
    assert "reports/pipe: not a regular file" in direct.stderr


def test_manifest_refuses_flags_it_would_ignore(tmp_path: Path) -> None:
    proc = gatekeeper(
        "ingest", "--manifest", str(SAMPLES / "manifest.jsonl"), "--format", "junit",
        "--commit", "abc", "--db", f"sqlite:///{tmp_path / 'h.db'}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "gatekeeper: error: --manifest: --commit, --format cannot be combined with a manifest"
    )


@pytest.mark.realworld
@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('{"path": ".", "service": "s", "run_id": "1"}', ". is not a file"),
        ('{"path": "x.xml", "service": "s", "run_id": 1e400}', "'run_id' must be a string"),
        ('{"path": "x.xml", "service": "s", "run_id": "1", "attempt": 1e9}', "'attempt' must"),
        ("[" * 100_000 + "]" * 100_000, "not a JSON object"),
        ('{"a": ' + "9" * 5000 + "}", "not a JSON object"),
        (
            '{"path": "x.xml", "service": "s", "run_id": "1", "atempt": 2}',
            "m.jsonl:1: unknown key 'atempt' (did you mean 'attempt'?)",
        ),
        ('{"path": 5, "service": "s", "run_id": "1"}', "m.jsonl:1: missing 'path'"),
        (
            '{"path": "x.xml", "service": "s", "run_id": "1", "attempt": "\\u00b2"}',
            "m.jsonl:1: 'attempt' must",
        ),
        (
            '{"path": "a\\u0000b.xml", "service": "s", "run_id": "1"}',
            "m.jsonl:1: 'a\\x00b.xml' is not",
        ),
        ('{"path": "' + "a" * 300 + '", "service": "s", "run_id": "1"}', "m.jsonl:1: aaaa"),
        (
            '{"path": "nope.xml", "service": "s", "run_id": "1"}',
            "m.jsonl:1: nope.xml does not exist",
        ),
    ],
    ids=[
        "dot-path",
        "float-run-id",
        "float-attempt",
        "deep-nesting",
        "huge-number",
        "misspelt-key",
        "path-not-a-string",
        "superscript-attempt",
        "nul-in-path",
        "name-too-long",
        "missing-file",
    ],
)
def test_manifest_edge_cases_are_one_line_errors(tmp_path: Path, line: str, says: str) -> None:
    (tmp_path / "x.xml").write_bytes(NEXTEST.read_bytes())
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(line + "\n", encoding="utf-8")
    proc = gatekeeper(
        "ingest",
        "--manifest",
        str(manifest),
        "--db",
        f"sqlite:///{tmp_path / 'h.db'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert says in proc.stderr


@pytest.mark.realworld
def test_manifest_lines_keep_their_own_format_and_a_bom_is_fine(tmp_path: Path) -> None:
    (tmp_path / "tests.xml").write_bytes(NEXTEST.read_bytes())
    (tmp_path / "coverage.xml").write_bytes(TARPAULIN.read_bytes())
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        "\ufeff"  # Windows PowerShell's byte order mark
        '{"path": "tests.xml", "format": "junit", "service": "s", "run_id": "1", "attempt": null}\n'
        '{"path": "coverage.xml", "format": "cobertura", "service": "s", "run_id": "1"}\n',
        encoding="utf-8",
    )
    proc = gatekeeper(
        "ingest", "--manifest", str(manifest), "--json", "--db", f"sqlite:///{tmp_path / 'h.db'}",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (out,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert (out["service"], out["run_id"], out["attempt"]) == ("s", "1", 1)
    assert out["tests"] > 0
    assert out["coverage_files"] > 0  # read as Cobertura, as its line asked
    assert sqlite_runs(tmp_path / "h.db") == [("s", "1", 1)]


@pytest.mark.realworld
def test_an_empty_report_argument_is_refused(tmp_path: Path) -> None:
    # `gatekeeper ingest "$REPORT"` with REPORT unset must not read the whole working folder.
    (tmp_path / "junit.xml").write_bytes(NEXTEST.read_bytes())
    for args in ([""], ["  "], ["junit.xml", ""]):
        proc = gatekeeper(
            "ingest", *args, "--service", "s", "--db", f"sqlite:///{tmp_path / 'h.db'}",
            cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 2
        assert "an empty report path (an unset variable?)" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "h.db").exists() or sqlite_runs(tmp_path / "h.db") == []


def test_a_report_path_that_is_too_long_is_a_clear_error(tmp_path: Path) -> None:
    for arg in ("a" * 300 + ".xml", "a" * 300 + "/*.xml"):
        proc = gatekeeper(
            "ingest", arg, "--service", "s", "--db", f"sqlite:///{tmp_path / 'h.db'}",
            cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 2
        assert proc.stderr.startswith("gatekeeper: error: aaaa")
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.realworld
def test_a_report_whose_file_name_is_not_utf8_is_stored(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / os.fsdecode(b"\xff-junit.xml")).write_bytes(NEXTEST.read_bytes())
    db = tmp_path / "h.db"
    proc = gatekeeper(
        "ingest", "reports", "--service", "s", "--run-id", "1", "--db", f"sqlite:///{db}",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(db) as conn:
        (path,) = conn.execute("SELECT path FROM source_files").fetchone()
    assert path.endswith("\ufffd-junit.xml")


@pytest.mark.realworld
def test_a_stored_run_ingested_again_is_shown_as_stored(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_bytes(NEXTEST.read_bytes())
    db = f"sqlite:///{tmp_path / 'h.db'}"
    base = ("ingest", "junit.xml", "--service", "s", "--run-id", "7", "--json", "--db", db)
    first = gatekeeper(*base, "--commit", "aaaa", "--branch", "main", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = gatekeeper(*base, "--commit", "bbbb", "--branch", "feature", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    out = json.loads(again.stdout)
    assert (out["stored"], out["commit"], out["branch"]) == (False, "aaaa", "main")
    assert again.stderr.strip() == (
        "warning: s run 7 attempt 1 was already stored with commit aaaa on branch main; "
        "the commit bbbb and branch feature given now were not used"
    )
    same = gatekeeper(*base, "--commit", "aaaa", "--branch", "main", cwd=tmp_path)
    assert (same.returncode, same.stderr) == (0, "")
    assert json.loads(same.stdout)["stored"] is False


@pytest.mark.realworld
def test_other_files_under_a_cleaned_run_key_are_still_a_conflict(tmp_path: Path) -> None:
    # A service name that is not UTF-8 (surrogateescape) is stored cleaned (U+FFFD); ingesting
    # other files under the same key must still be refused, not called "already stored".
    (tmp_path / "a.xml").write_bytes(NEXTEST.read_bytes())
    (tmp_path / "b.xml").write_bytes(
        (REALWORLD / "junit" / "action-junit-report__pytest_single_line.xml").read_bytes()
    )
    service = os.fsdecode(b"svc-\xff")
    db = f"sqlite:///{tmp_path / 'h.db'}"
    first = gatekeeper("ingest", "a.xml", "--service", service, "--run-id", "1", "--db", db,
                       cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    other = gatekeeper("ingest", "b.xml", "--service", service, "--run-id", "1", "--db", db,
                       cwd=tmp_path)  # fmt: skip
    assert other.returncode == 2
    assert "already stored from other report files" in other.stderr
    assert sqlite_runs(tmp_path / "h.db") == [("svc-\ufffd", "1", 1)]


@pytest.mark.realworld
def test_manifest_lines_of_one_run_must_agree(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(NEXTEST.read_bytes())
    (tmp_path / "b.xml").write_bytes(TARPAULIN.read_bytes())
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        '{"path": "a.xml", "service": "s", "run_id": "1", "commit": "aaa"}\n'
        '{"path": "b.xml", "service": "s", "run_id": "1", "commit": "bbb"}\n',
        encoding="utf-8",
    )
    proc = gatekeeper(
        "ingest",
        "--manifest",
        str(manifest),
        "--db",
        f"sqlite:///{tmp_path / 'h.db'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "m.jsonl:2: run 1 attempt 1 of s is listed again with another commit" in proc.stderr


def test_demo_into_a_folder_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file")
    proc = gatekeeper("demo", "--dir", "taken", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("gatekeeper: error: taken: cannot make a fresh demo database")


def test_criterion_glob_skips_the_previous_run(tmp_path: Path) -> None:
    estimates = (
        '{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,'
        '"upper_bound":3.0},"point_estimate":2.0,"standard_error":0.1},'
        '"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,'
        '"upper_bound":3.0},"point_estimate":2.0,"standard_error":0.1},'
        '"std_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":0.1,'
        '"upper_bound":0.3},"point_estimate":0.2,"standard_error":0.01}}'
    )
    for run in ("new", "base"):
        folder = tmp_path / "target" / "criterion" / "parse" / "small" / run
        folder.mkdir(parents=True)
        (folder / "estimates.json").write_text(estimates)
    proc = gatekeeper(
        "ingest", "target/criterion/**/estimates.json", "--service", "s", "--run-id", "1",
        "--json", "--db", f"sqlite:///{tmp_path / 'h.db'}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["benchmarks"] == 1


@pytest.mark.e2e
def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    """`gatekeeper --help` must answer in a blink (under 0.25 s, benchmarks/run.py --only help):
    it may not import the model, the API, the database, XML, statistics or web stacks."""
    probe = (
        "import sys\n"
        "sys.argv = ['gatekeeper', '--help']\n"
        "from gatekeeper.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('gatekeeper.model', 'gatekeeper.api', 'gatekeeper.store', 'sqlalchemy', "
        "'lxml', 'scipy', 'numpy', 'fastapi', 'httpx', 'matplotlib', 'yaml')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy),"
        " file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=clean_env(), capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "Usage" in done.stdout and "ingest" in done.stdout
    assert done.stderr.strip() == "[]"


@pytest.mark.e2e
@pytest.mark.realworld
def test_racing_ingest_processes_of_one_run_key_never_both_succeed(tmp_path: Path) -> None:
    """Two `gatekeeper ingest` processes with report A and one with another report B for the
    same run key, started together: the processes whose content was kept exit 0, the other
    content's exit 2 naming the run (never "already in the history"); it is stored once."""
    (tmp_path / "a.xml").write_bytes(NEXTEST.read_bytes())
    (tmp_path / "b.xml").write_bytes(
        (REALWORLD / "junit" / "action-junit-report__pytest_single_line.xml").read_bytes()
    )
    db = f"sqlite:///{tmp_path / 'h.db'}"
    warm = gatekeeper("ingest", "a.xml", "--service", "warm", "--db", db, cwd=tmp_path)
    assert warm.returncode == 0, warm.stderr  # the schema exists: the race is about the key
    files = ["a.xml", "b.xml", "a.xml"]
    args = ["--service", "svc", "--run-id", "7", "--db", db]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gatekeeper.cli", "ingest", name, *args],
            cwd=tmp_path,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in files
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    with sqlite3.connect(tmp_path / "h.db") as conn:
        (sha,) = conn.execute(
            "SELECT s.sha256 FROM source_files s JOIN runs r ON s.run_fk = r.id "
            "WHERE r.service = 'svc'"
        ).fetchone()
    conn.close()
    digest = {n: hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in set(files)}
    kept = next(n for n, d in digest.items() if d == sha)
    for name, (code, out, err) in zip(files, results, strict=True):
        if name == kept:
            assert code == 0, err
        else:
            assert code == 2, out
            assert "svc run 7 attempt 1: already stored from other report files" in err
    assert sqlite_runs(tmp_path / "h.db").count(("svc", "7", 1)) == 1
