"""Each command with ``--server`` prints what it prints on a database holding the same data:
the same lines, the same JSON, the same registry file, the same exit code."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ..conftest import corpus_files, corpus_params
from ..service.conftest import make_token, start_server
from ..test_cli_gate import PASSING, pr_project
from .conftest import World, client_env, error_line, run

pytestmark = pytest.mark.e2e  # the CLI asks one real `gatekeeper serve` over sockets

NEXT = Path("next") / "user-service"
STAMP = "2026-11-25T08:00:00Z"  # a run's time, given: the default (now) differs run by run


def _next_flags(world: World) -> list[str]:
    meta = json.loads((world.samples / "next" / "meta.json").read_text())
    return [f"--{k.replace('_', '-')}={v}" for k, v in meta.items()]


def _same(
    local: subprocess.CompletedProcess[str], remote: subprocess.CompletedProcess[str]
) -> None:
    assert remote.returncode == local.returncode, (remote.stderr, local.stderr)
    assert remote.stdout == local.stdout
    assert remote.stderr == local.stderr


# -- ingest -------------------------------------------------------------------------------------


def test_a_backfill_over_the_server_prints_what_ingest_prints(world: World) -> None:
    _same(world.local_ingest, world.remote_ingest)
    lines = world.remote_ingest.stdout.splitlines()
    assert len(lines) == 97  # 96 runs and the total
    assert lines[-1].startswith("96 runs: 96 stored, 0 already in the history")
    assert "warning: search-service/run-19/junit.xml:20:" in world.remote_ingest.stderr


def test_the_uploaded_history_is_the_local_history(world: World) -> None:
    """classify's verdicts on every test, from each database: the same runs and results."""
    out = []
    for db in (world.cli_db, world.service_db):
        dry = world.root / f"dry-{len(out)}.yml"
        dry.write_text("flaky_tests: []\n")
        done = run("classify", "--dry-run", "--registry", str(dry), "--db", db, cwd=world.samples)
        assert done.returncode == 0, done.stderr
        out.append(done.stdout.replace(str(dry), "REGISTRY").replace(dry.name, "REGISTRY"))
    assert out[0] == out[1]
    assert "+ quarantined" in out[0]


def test_a_run_ingested_again_is_already_in_the_history_both_ways(world: World) -> None:
    run_dir = "user-service/run-01"
    flags = ["--service", "user-service", "--run-id", "again-1", "--commit", "a" * 40]
    flags += ["--timestamp", STAMP]
    for as_json in ([], ["--json"]):
        local = world.local("ingest", run_dir, *flags, *as_json)
        remote = world.remote("ingest", run_dir, *flags, *as_json)
        _same(local, remote)
    assert "already in the history, not stored again" in run(
        "ingest", run_dir, *flags, "--server", world.server.url, cwd=world.samples,
        env=world.env(),
    ).stdout  # fmt: skip


def test_ci_metadata_and_passed_over_files_arrive_as_in_a_local_ingest(
    world: World, tmp_path: Path
) -> None:
    """In GitHub Actions, outside the samples' folder, with a README among the reports: the
    CI's run id, commit, branch and provider, and the note on the README, are the client's."""
    reports = tmp_path / "target"
    shutil.copytree(world.samples / "user-service" / "run-02", reports)
    (reports / "README.md").write_text("# how these reports were made\n")
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_RUN_ID": "777001",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_JOB": "test",
        "GITHUB_SHA": "b" * 40,
        "GITHUB_REF_NAME": "main",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/users",
    }
    args = ("ingest", "target", "--service", "user-service", "--json", "--timestamp", STAMP)
    local = run(*args, "--db", world.cli_db, cwd=tmp_path, env=client_env(**github))
    remote = run(
        *args, "--server", world.server.url, cwd=tmp_path, env=client_env(world.token, **github)
    )
    _same(local, remote)
    body = json.loads(remote.stdout)
    assert (body["run_id"], body["attempt"], body["ci_provider"]) == (
        "777001/test",
        2,
        "github-actions",
    )
    assert body["warnings"][0].startswith("target: passed over 1 file(s) that are not reports")


def test_a_run_without_a_run_id_gets_the_same_derived_id(world: World, tmp_path: Path) -> None:
    """Outside CI the run id is derived from the files' content: the client derives it."""
    shutil.copy(world.samples / "search-service" / "run-03" / "junit.xml", tmp_path / "j.xml")
    args = ("ingest", "j.xml", "--service", "derived", "--commit", "c" * 40, "--json")
    args += ("--timestamp", STAMP)
    local = run(*args, "--db", world.cli_db, cwd=tmp_path)
    remote = run(*args, "--server", world.server.url, cwd=tmp_path, env=world.env())
    _same(local, remote)
    assert json.loads(remote.stdout)["run_id"].startswith("local-")


# -- classify -----------------------------------------------------------------------------------

HAND_WRITTEN = (
    "# our quarantine; reviewed in pull requests\r\n"
    "flaky_tests:\r\n"
    "  # pinned by hand while #88 is open\r\n"
    "  - name: integration::test_backpressure_blocks_publisher\r\n"
    "    service: messaging-service\r\n"
    "    reason: 'waits on a real broker'\r\n"
    '    issue: "#88"\r\n'
    "    quarantined: true\r\n"
)


@pytest.mark.parametrize("start", [None, "flaky_tests: []\n", HAND_WRITTEN])
def test_classify_writes_the_registry_local_classify_writes(
    world: World, tmp_path: Path, start: str | None
) -> None:
    folders = [tmp_path / "local", tmp_path / "remote"]
    for folder in folders:
        folder.mkdir()
        if start is not None:
            (folder / "flaky-tests.yml").write_bytes(start.encode())
    local = run("classify", "--db", world.cli_db, cwd=folders[0])
    remote = run("classify", "--server", world.server.url, cwd=folders[1], env=world.env())
    _same(local, remote)
    written = [(f / "flaky-tests.yml").read_bytes() for f in folders]
    assert written[0] == written[1]
    assert b"api::test_concurrent_session_refresh" in written[1]
    assert "change(s) written" in remote.stdout
    if start == HAND_WRITTEN:  # the writer kept the file's comments and line ends
        assert written[1].startswith(b"# our quarantine; reviewed in pull requests\r\n")
        assert b"  # pinned by hand while #88 is open\r\n" in written[1]
    # a second run changes nothing, both ways
    _same(
        run("classify", "--db", world.cli_db, cwd=folders[0]),
        run("classify", "--server", world.server.url, cwd=folders[1], env=world.env()),
    )
    assert (folders[1] / "flaky-tests.yml").read_bytes() == written[1]


def test_classify_dry_run_shows_the_same_diff_and_writes_nothing(
    world: World, tmp_path: Path
) -> None:
    registry = tmp_path / "reg.yml"
    registry.write_text("flaky_tests: []\n")
    args = ("classify", "--dry-run", "--registry", "reg.yml", "--service", "user-service")
    local = run(*args, "--db", world.cli_db, cwd=tmp_path)
    remote = run(*args, "--server", world.server.url, cwd=tmp_path, env=world.env())
    _same(local, remote)
    assert remote.stdout.startswith("--- a/reg.yml\n+++ b/reg.yml\n")
    assert "not written (--dry-run)" in remote.stdout
    assert registry.read_text() == "flaky_tests: []\n"


def test_classify_of_a_broken_registry_is_refused_with_the_local_message(
    world: World, tmp_path: Path
) -> None:
    (tmp_path / "flaky-tests.yml").write_text("flaky_tests:\n  - name: x\n    servce: y\n")
    local = run("classify", "--db", world.cli_db, cwd=tmp_path)
    remote = run("classify", "--server", world.server.url, cwd=tmp_path, env=world.env())
    assert error_line(remote) == error_line(local)
    assert error_line(remote).startswith("flaky-tests.yml:")


# -- the gate -----------------------------------------------------------------------------------


def test_the_gate_prints_decides_and_exits_as_locally(world: World, tmp_path: Path) -> None:
    """The sample's next push fails the gate (coverage and a benchmark regression) with one
    quarantined failure muted: the verdict, the JSON, the summary and the annotations."""
    flags = _next_flags(world)
    local_args = ("--config", "gatekeeper.yml", "--registry", str(world.registry))
    outputs = []
    for fmt in ("text", "json"):
        for side in ("local", "remote"):
            summary = tmp_path / f"{side}-{fmt}.md"
            args = ("gate", str(NEXT), *flags, "--format", fmt, "--annotations")
            args += ("--summary", str(summary))
            done = world.local(*args, *local_args) if side == "local" else world.remote(*args)
            outputs.append((done, summary.read_text()))
        (local, local_md), (remote, remote_md) = outputs[-2:]
        _same(local, remote)
        assert remote_md == local_md
        assert remote.returncode == 1
    body = json.loads(outputs[-1][0].stdout)
    assert body["passed"] is False and body["stored"] is False  # the second gate of the run
    assert {f["kind"] for f in body["failures"]} == {"coverage", "benchmark"}
    assert [m["test_id"] for m in body["muted"]] == ["api::test_concurrent_session_refresh"]
    assert "::notice title=gatekeeper%3A quarantined" in outputs[0][0].stdout


def test_a_passing_gate_exits_0_both_ways(world: World, tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text(PASSING)
    args = ("gate", "junit.xml", "--service", "app", "--run-id", "green-1", "--format", "json")
    config = str(world.samples / "gatekeeper.yml")
    local = run(*args, "--db", world.cli_db, "--registry", str(world.registry), "--config", config,
                cwd=tmp_path)  # fmt: skip
    remote = run(*args, "--server", world.server.url, cwd=tmp_path, env=world.env())
    _same(local, remote)
    assert remote.returncode == 0
    assert json.loads(remote.stdout)["passed"] is True


def test_a_report_the_gate_cannot_read_is_the_same_refusal(world: World) -> None:
    bad = next(p for p in sorted((world.samples / "invalid").iterdir()) if "xxe" in p.name)
    args = ("gate", f"invalid/{bad.name}", "--service", "app", "--run-id", "bad-1")
    for fmt in ("text", "json"):
        local = world.local(*args, "--format", fmt, "--registry", str(world.registry))
        remote = world.remote(*args, "--format", fmt)
        _same(local, remote)
        assert remote.returncode == 2
    assert json.loads(remote.stdout)["decided"] is False


# Every 16th file of the real-world corpus: gated alike, or refused alike.
CORPUS = corpus_files("junit", "cobertura", "cargo", "bench")[3::16]


@pytest.mark.parametrize("report", corpus_params(CORPUS, [p.name for p in CORPUS]))
def test_real_world_reports_gate_as_they_gate_locally(world: World, report: Path) -> None:
    flags = ("--service", "corpus", "--run-id", f"gate-{report.name}", "--format", "json")
    flags += ("--timestamp", STAMP)
    local = run(
        "gate", report.name, *flags, "--db", world.cli_db, "--registry", str(world.registry),
        "--config", str(world.samples / "gatekeeper.yml"), cwd=report.parent,
    )  # fmt: skip
    remote = run(
        "gate", report.name, *flags, "--server", world.server.url, cwd=report.parent,
        env=world.env(),
    )  # fmt: skip
    _same(local, remote)
    assert remote.returncode in (0, 1, 2)


def test_patch_coverage_over_the_server_judges_this_checkouts_diff(tmp_path: Path) -> None:
    """A tiny project with real pytest, pytest-cov and git: ``gate --base main --server``
    sends the lines git says changed, and the server judges them as the local gate does."""
    repo = pr_project(tmp_path, client_env())
    service_db = f"sqlite:///{tmp_path / 'service.db'}"
    token = make_token(service_db, "ci", "upload", tmp_path)
    server = start_server(service_db, repo, "--config", "gatekeeper.yml")
    try:
        args = ("gate", "junit.xml", "coverage.xml", "--service", "calc", "--run-id", "pr-1",
                "--base", "main", "--format", "json")  # fmt: skip
        local = run(*args, "--db", f"sqlite:///{tmp_path / 'cli.db'}", cwd=repo)
        remote = run(*args, "--server", server.url, cwd=repo, env=client_env(token))
    finally:
        server.stop()
    _same(local, remote)
    verdict = json.loads(remote.stdout)
    assert verdict["base_ref"] == "main"
    assert verdict["coverage"]["overall"]["patch"]["lines_valid"] == 4
    assert remote.returncode == 1
    assert "calc/ops.py:7" in verdict["failures"][0]["message"]


# -- lists and the report -----------------------------------------------------------------------

LISTS = [
    ["quarantine", "list"],
    ["quarantine", "list", "--format", "json", "--all"],
    ["quarantine", "list", "--format", "yaml", "--service", "user-service"],
    ["skip-list"],
    ["skip-list", "--format", "nextest", "--service", "user-service"],
    ["skip-list", "--format", "pytest", "--service", "search-service"],
    ["skip-list", "--format", "cargo"],  # refused: a runner's list needs --service
]


@pytest.mark.parametrize("args", LISTS, ids=[" ".join(a) for a in LISTS])
def test_lists_print_what_the_local_command_prints(world: World, args: list[str]) -> None:
    local = world.local(*args, "--registry", str(world.registry), db=False)
    remote = world.remote(*args)
    _same(local, remote)


def test_the_lists_are_not_empty(world: World) -> None:
    remote = world.remote("skip-list", "--format", "nextest", "--service", "user-service")
    assert remote.stdout.startswith("not (test(=")


@pytest.mark.parametrize("fmt", ["md", "json"])
def test_the_report_is_the_local_report(world: World, tmp_path: Path, fmt: str) -> None:
    period = ("--since", "2026-11-14", "--until", "2026-11-21", "--format", fmt)
    local_out, remote_out = tmp_path / f"local.{fmt}", tmp_path / f"remote.{fmt}"
    local = world.local(
        "report", *period, "--registry", str(world.registry), "--out", str(local_out)
    )
    remote = world.remote("report", *period, "--out", str(remote_out))
    _same(local, remote)
    if fmt == "json":  # generated_at is the moment each was made; everything else agrees
        mine, theirs = json.loads(local_out.read_text()), json.loads(remote_out.read_text())
        mine.pop("generated_at"), theirs.pop("generated_at")
        assert theirs == mine
        assert theirs["health"]["total"]["runs"] >= 46
    else:  # the same, but for the minute each was generated at (the clock may tick between)

        def unstamped(path: Path) -> list[str]:
            lines = path.read_text(encoding="utf-8").splitlines()
            return [line for line in lines if not line.startswith("_Generated ")]

        assert unstamped(remote_out) == unstamped(local_out)
        assert len(unstamped(local_out)) == len(local_out.read_text().splitlines()) - 1
        assert "gatekeeper" in remote_out.read_text().lower()
