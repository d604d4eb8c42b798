"""A newcomer's likeliest mistakes end in exit 2 with one line that says what to do, and nothing
written: a misspelt --service, an empty or misplaced --db, a history that does not exist yet."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from .cli import clean_env, gatekeeper
from .conftest import SAMPLES

CONFIG = """\
services:
  pricing-service:
    runner: pytest
  user-service:
    runner: nextest
  search-service: {}
"""
RUN = SAMPLES / "user-service" / "run-01"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository with three configured services and one CI run's reports."""
    root = tmp_path / "shop"
    root.mkdir()
    (root / "gatekeeper.yml").write_text(CONFIG, encoding="utf-8")
    shutil.copytree(RUN, root / "reports")
    return root


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a command that could not decide (exit 2)."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    errors = [x for x in lines if x.startswith("gatekeeper: error: ")]
    assert len(errors) == 1, lines
    return errors[0].removeprefix("gatekeeper: error: ")


def runs(db: Path) -> list[tuple[str, str | None]]:
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute("SELECT service, branch FROM runs").fetchall())


# -- service names are checked against the configuration ------------------------------------


def test_a_misspelt_service_is_refused_by_the_gate_naming_the_right_one(project: Path) -> None:
    db = project / ".gatekeeper" / "gatekeeper.db"
    done = gatekeeper("gate", "reports", "--service", "pricing-servce", cwd=project)
    message = error_line(done)
    assert message.startswith("--service pricing-servce: not a service of gatekeeper.yml")
    assert "did you mean pricing-service?" in message
    assert not db.exists()  # no new history was started


def test_a_skip_list_for_a_service_name_cut_short_is_refused(project: Path) -> None:
    done = gatekeeper("skip-list", "--format", "pytest", "--service", "pricing", cwd=project)
    assert "did you mean pricing-service?" in error_line(done)
    assert done.stdout == ""


COMMANDS = {
    "ingest": ["ingest", "reports"],
    "gate": ["gate", "reports"],
    "classify": ["classify"],
    "skip-list": ["skip-list", "--format", "text"],
    "report": ["report", "--since", "7d"],
    "quarantine list": ["quarantine", "list"],
    "quarantine show": ["quarantine", "show", "t::a"],
    "quarantine add": ["quarantine", "add", "t::a", "--reason", "slow"],
    "quarantine remove": ["quarantine", "remove", "t::a"],
}


@pytest.mark.parametrize("args", COMMANDS.values(), ids=COMMANDS.keys())
def test_every_command_refuses_an_unknown_service(project: Path, args: list[str]) -> None:
    # a history, so that the commands that read one get as far as the service check
    seeded = gatekeeper("ingest", "reports", "--service", "user-service", cwd=project)
    assert seeded.returncode == 0, seeded.stderr
    before = runs(project / ".gatekeeper" / "gatekeeper.db")
    done = gatekeeper(*args, "--service", "user-servic", cwd=project)
    assert error_line(done).startswith("--service user-servic: not a service of gatekeeper.yml")
    assert "did you mean user-service?" in done.stderr
    assert runs(project / ".gatekeeper" / "gatekeeper.db") == before
    assert not (project / "flaky-tests.yml").exists()


def test_a_service_far_from_every_name_lists_them(project: Path) -> None:
    done = gatekeeper("skip-list", "--service", "zzz", cwd=project)
    assert "use one of: pricing-service, search-service, user-service" in error_line(done)


def test_the_environment_variable_is_checked_too(project: Path) -> None:
    env = clean_env(GATEKEEPER_SERVICE="pricing-servce")
    done = gatekeeper("ingest", "reports", cwd=project, env=env)
    assert error_line(done).startswith("$GATEKEEPER_SERVICE pricing-servce: not a service")


def test_without_configured_services_any_name_is_a_service(tmp_path: Path) -> None:
    shutil.copytree(RUN, tmp_path / "reports")
    done = gatekeeper("ingest", "reports", "--service", "anything-goes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "not a service" not in done.stderr


def test_without_service_the_run_says_which_service_it_was_stored_under(project: Path) -> None:
    done = gatekeeper("ingest", "reports", cwd=project)
    assert done.returncode == 0, done.stderr
    assert (
        "warning: no --service: the run is stored under 'shop' (the checkout's folder name), "
        "which is not a service of gatekeeper.yml; pass --service NAME"
    ) in done.stderr
    assert [s for s, _ in runs(project / ".gatekeeper" / "gatekeeper.db")] == ["shop"]


# -- no silent success: the database ---------------------------------------------------------


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_an_empty_database_url_is_an_error_not_the_default(tmp_path: Path, how: str) -> None:
    if how == "flag":
        done = gatekeeper("classify", "--db", "", cwd=tmp_path)
        name = "--db"
    else:
        done = gatekeeper("classify", cwd=tmp_path, env=clean_env(GATEKEEPER_DB=""))
        name = "$GATEKEEPER_DB"
    message = error_line(done)
    assert message.startswith(f"{name} is empty (an unset secret or variable?)")
    assert "sqlite:///" in message  # says what to write
    assert list(tmp_path.iterdir()) == []  # no default database was made


def test_a_sqlite_path_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    shutil.copytree(RUN, tmp_path / "reports")
    missing = tmp_path / "no" / "such" / "dir"
    url = f"sqlite:///{missing / 'x.db'}"
    classify = gatekeeper("classify", "--db", url, cwd=tmp_path)
    assert error_line(classify).startswith(f"{missing / 'x.db'}: no history database here")
    ingest = gatekeeper("ingest", "reports", "--service", "s", "--db", url, cwd=tmp_path)
    assert error_line(ingest) == (
        f"{missing / 'x.db'}: the folder {missing} does not exist (create it first, or check "
        "--db / $GATEKEEPER_DB (a SQLite file under .gatekeeper/ is created with its folder))"
    )
    assert not (tmp_path / "no").exists()


def test_gatekeepers_own_folder_is_still_made_on_first_use(tmp_path: Path) -> None:
    shutil.copytree(RUN, tmp_path / "reports")
    url = "sqlite:///.gatekeeper/user-service.db"  # docs/ci.md's cache, after an eviction
    done = gatekeeper("ingest", "reports", "--service", "user-service", "--db", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".gatekeeper" / "user-service.db").is_file()


READERS = {
    "classify": ["classify"],
    "report": ["report", "--since", "7d"],
    "quarantine show": ["quarantine", "show", "t::a", "--service", "s"],
}


@pytest.mark.parametrize("args", READERS.values(), ids=READERS.keys())
def test_a_command_that_reads_the_history_refuses_a_database_not_there(
    tmp_path: Path, args: list[str]
) -> None:
    done = gatekeeper(*args, cwd=tmp_path)
    db = tmp_path / ".gatekeeper" / "gatekeeper.db"
    assert error_line(done) == (
        f"{db}: no history database here (run gatekeeper ingest first, or check --db / "
        "$GATEKEEPER_DB)"
    )
    assert not db.exists() and not (tmp_path / "flaky-tests.yml").exists()


# -- no silent success: runs without a commit ------------------------------------------------


def test_a_run_without_a_commit_outside_ci_warns_and_is_not_default_branch_history(
    tmp_path: Path,
) -> None:
    shutil.copytree(RUN, tmp_path / "reports")
    done = gatekeeper("ingest", "reports", "--service", "s", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no commit (none from CI or git, no --commit): stored without one" in done.stderr
    assert "never default-branch history (pass --commit and --branch)" in done.stderr
    ((service, branch),) = runs(tmp_path / ".gatekeeper" / "gatekeeper.db")
    assert service == "s" and branch not in (None, "main")


def test_a_run_given_its_branch_keeps_it(tmp_path: Path) -> None:
    shutil.copytree(RUN, tmp_path / "reports")
    done = gatekeeper("ingest", "reports", "--service", "s", "--branch", "main", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no commit" in done.stderr and "default-branch" not in done.stderr
    assert runs(tmp_path / ".gatekeeper" / "gatekeeper.db") == [("s", "main")]


# -- a service's folder as it is after `pip install -e .` ------------------------------------


def test_a_python_services_folder_ingests_past_its_egg_info(tmp_path: Path) -> None:
    service = tmp_path / "services" / "pricing"
    shutil.copytree(SAMPLES / "search-service" / "run-01", service / "reports")
    meta = service / "pricing.egg-info"
    meta.mkdir()
    (meta / "dependency_links.txt").write_text("")  # empty by design (setuptools)
    (meta / "top_level.txt").write_text("pricing\n")
    done = gatekeeper("ingest", "services/pricing", "--service", "pricing", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "egg-info" not in done.stderr
    # an empty report beside it is still an error
    (service / "reports" / "junit-2.xml").write_text("")
    again = gatekeeper("ingest", "services/pricing", "--service", "pricing", cwd=tmp_path)
    assert error_line(again).startswith("services/pricing/reports/junit-2.xml: the file is empty")


def test_a_configured_service_without_a_coverage_report_gets_a_word(project: Path) -> None:
    args = ("gate", "reports/junit.xml", "--commit", "c" * 40, "--branch", "main")
    done = gatekeeper(*args, "--service", "user-service", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "user-service: no coverage report in this run, so its coverage was not judged "
        "(name the coverage file among the gate's reports)"
    ) in done.stdout
    (project / "gatekeeper.yml").unlink()  # no services configured: nothing to expect
    again = gatekeeper(*args, "--service", "user-service", "--run-id", "2", cwd=project)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "coverage was not judged" not in again.stdout


# -- annotations name the file as the repository does ----------------------------------------

CARGO_LOG = """\
   Compiling orders-core v0.1.0 (/ci/services/orders/crates/orders-core)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.52s
     Running unittests src/lib.rs (target/debug/deps/orders_core-1a2b3c4d5e6f7a8b)

running 2 tests
test tests::totals ... ok
test tests::refund_rounds_down ... FAILED

failures:

---- tests::refund_rounds_down stdout ----

thread 'tests::refund_rounds_down' panicked at crates/orders-core/src/lib.rs:12:9:
assertion `left == right` failed
  left: 3
 right: 2
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    tests::refund_rounds_down

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

"""


def test_annotations_name_a_workspace_file_from_the_repository_root(tmp_path: Path) -> None:
    """cargo names files relative to its workspace (services/orders/); the gate runs at the
    repository's root, where the annotation must point."""
    workspace = tmp_path / "services" / "orders"
    source = workspace / "crates" / "orders-core" / "src" / "lib.rs"
    source.parent.mkdir(parents=True)
    source.write_text("// the crate\n")
    (workspace / "target").mkdir()
    (workspace / "target" / "cargo-test.txt").write_text(CARGO_LOG)
    done = gatekeeper(
        "gate", "services/orders/target/cargo-test.txt", "--service", "orders",
        "--annotations", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    (annotation,) = [x for x in done.stdout.splitlines() if x.startswith("::error ")]
    assert annotation.startswith(
        "::error file=services/orders/crates/orders-core/src/lib.rs,line=12,"
    ), annotation
    assert "(left: 3, right: 2)" in annotation


# -- classify on a history smaller than the registry's evidence ------------------------------

QUARANTINED = """\
flaky_tests:
  - name: user_service::cache::tests::test_ttl_expiry
    service: user-service
    reason: 'flaky: 6 of 38 executions failed since commit dcce2eb12a'
    quarantined: true
    evidence:
      verdict: flaky
      confidence: 1.0
      summary: 'flaky: 6 of 38 executions failed since commit dcce2eb12a'
      detected: 2026-11-20
      updated: 2026-11-20
      runs: 38
      failures: 6
      failure_rate: 0.1579
"""


def test_classify_on_a_one_run_history_keeps_the_quarantines_evidence(tmp_path: Path) -> None:
    """docs/ci.md's SQLite in the CI cache, after an eviction: one run in the history."""
    registry = tmp_path / "flaky-tests.yml"
    registry.write_text(QUARANTINED, encoding="utf-8")
    shutil.copytree(SAMPLES / "user-service" / "run-05", tmp_path / "reports")
    db = "sqlite:///.gatekeeper/user-service.db"
    meta = ("--service", "user-service", "--commit", "d" * 40, "--branch", "main")
    stored = gatekeeper("ingest", "reports", *meta, "--db", db, cwd=tmp_path)
    assert stored.returncode == 0, stored.stderr
    done = gatekeeper("classify", "--db", db, "--service", "user-service", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert registry.read_text(encoding="utf-8") == QUARANTINED
