"""The service and the CLI on the same data give the same answers.

For each backend, the CLI ingests the sample history into one database and the service is
sent the same reports, run by run, into another; then the two are asked the same questions:
the ingest results, the history (classify's verdicts), quarantine and skip lists, a test's
history, and the gate on the next push.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..conftest import copy_samples, corpus_files, corpus_params
from .conftest import API, Server, cli, cli_error, make_token, start_app

NEXT = Path("next") / "user-service"


@dataclass
class World:
    root: Path
    samples: Path  # a copy of sample_reports/: the CLI's working directory, the service's too
    registry: Path
    cli_db: str
    service_db: str
    server: Server
    token: str
    runs: list[dict[str, Any]]  # the manifest's runs: metadata and report paths
    cli_outcomes: list[dict[str, Any]]  # `ingest --manifest --json`
    service_outcomes: list[tuple[int, dict[str, Any]]]  # POST /runs: status and body


def _manifest_runs(samples: Path) -> list[dict[str, Any]]:
    runs: dict[tuple[str, str, int], dict[str, Any]] = {}
    for line in (samples / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        key = (entry["service"], entry["run_id"], entry.get("attempt", 1))
        run = runs.setdefault(key, {**entry, "paths": []})
        run["paths"].append(entry["path"])
    return list(runs.values())


def _form(run: dict[str, Any]) -> dict[str, str]:
    keys = ("service", "commit", "branch", "run_id", "timestamp", "attempt")
    return {k: str(run[k]) for k in keys if run.get(k) is not None}


def upload(
    server: Server, token: str, base: Path, paths: list[str], form: dict[str, str], what: str
) -> tuple[int, dict[str, Any]]:
    files = [("files", (p, (base / p).read_bytes())) for p in paths]
    with server.client(token) as c:
        r = c.post(f"{API}/{what}", files=files, data=form)
    return r.status_code, r.json()


@pytest.fixture(scope="module")
def world(databases: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("parity")
    samples = copy_samples(root / "samples")
    cli_db, service_db = databases
    done = cli("ingest", "--manifest", "manifest.jsonl", "--json", "--db", cli_db, cwd=samples)
    assert done.returncode == 0, done.stderr
    cli_outcomes = [json.loads(line) for line in done.stdout.splitlines()]
    registry = root / "flaky-tests.yml"
    registry.write_text("flaky_tests: []\n")
    (root / "dry.yml").write_text("flaky_tests: []\n")
    done = cli("classify", "--registry", str(registry), "--db", cli_db, cwd=samples)
    assert done.returncode == 0, done.stderr
    token = make_token(service_db, "ci", "upload", root)
    server = start_app(
        service_db, samples, "--config", "gatekeeper.yml", "--registry", str(registry)
    )
    try:
        runs = _manifest_runs(samples)
        outcomes = [
            upload(server, token, samples, run["paths"], _form(run), "runs") for run in runs
        ]
        yield World(
            root, samples, registry, cli_db, service_db, server, token, runs, cli_outcomes,
            outcomes,
        )  # fmt: skip
    finally:
        server.stop()


def test_each_upload_answers_what_ingest_prints(world: World) -> None:
    assert len(world.runs) == len(world.cli_outcomes) == 96
    assert [s for s, _ in world.service_outcomes] == [201] * len(world.runs)
    assert [body for _, body in world.service_outcomes] == world.cli_outcomes


def test_the_uploaded_history_is_the_ingested_history(world: World) -> None:
    """classify's verdict on every test, from each database: the same runs, results, times."""
    out = []
    for db in (world.cli_db, world.service_db):
        done = cli(
            "classify", "--dry-run", "--registry", str(world.root / "dry.yml"), "--db", db,
            cwd=world.samples,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        out.append(done.stdout)
    assert out[0] == out[1]
    assert "quarantine" in out[0]  # the sample history has flaky tests to find


def test_uploading_a_run_again_stores_nothing_like_ingest(world: World) -> None:
    run = world.runs[0]
    status, body = upload(
        world.server, world.token, world.samples, run["paths"], _form(run), "runs"
    )
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in _form(run).items()]
    done = cli("ingest", *run["paths"], *flags, "--json", "--db", world.cli_db, cwd=world.samples)
    assert done.returncode == 0, done.stderr
    assert status == 200
    assert body == json.loads(done.stdout)
    assert body["stored"] is False


LISTS = [
    ("quarantine", ["--format", "table"]),
    ("quarantine", ["--format", "json"]),
    ("quarantine", ["--format", "yaml"]),
    ("quarantine", ["--format", "json", "--all"]),
    ("quarantine", ["--format", "table", "--service", "messaging-service"]),
    ("quarantine", ["--format", "yaml", "--service", "search-service", "--all"]),
    ("quarantine", []),
    ("skip-list", []),
    ("skip-list", ["--format", "json"]),
    *(
        ("skip-list", ["--format", fmt, "--service", service])
        for fmt in ("cargo", "nextest", "pytest", "gotest", "text", "json")
        for service in ("user-service", "messaging-service", "search-service")
    ),
]


@pytest.mark.parametrize(("command", "args"), LISTS, ids=[" ".join([c, *a]) for c, a in LISTS])
def test_lists_are_what_the_cli_prints(world: World, command: str, args: list[str]) -> None:
    argv = ["quarantine", "list"] if command == "quarantine" else ["skip-list"]
    done = cli(*argv, *args, "--registry", str(world.registry), cwd=world.samples)
    assert done.returncode == 0, done.stderr
    params: dict[str, str] = {}
    i = 0
    while i < len(args):
        if args[i] == "--all":
            params["all"] = "true"
            i += 1
        else:
            params[args[i].removeprefix("--")] = args[i + 1]
            i += 2
    path = f"{API}/quarantine" if command == "quarantine" else f"{API}/skip-list"
    with world.server.client(world.token) as c:
        r = c.get(path, params=params)
    assert r.status_code == 200, r.text
    assert r.text == done.stdout
    warnings = [w.removeprefix("warning: ") for w in done.stderr.splitlines()]
    assert r.headers.get_list("gatekeeper-warning") == warnings


def test_the_lists_are_not_empty(world: World) -> None:
    """The comparison above means something only if there is something to list."""
    with world.server.client(world.token) as c:
        listed = c.get(f"{API}/quarantine", params={"format": "json"}).json()
        cargo = c.get(f"{API}/skip-list", params={"format": "cargo", "service": "user-service"})
    assert len({e["service"] for e in listed}) >= 2
    assert cargo.text.startswith("--skip\n") and cargo.text.endswith("--exact\n")


def test_a_tests_history_is_what_quarantine_show_prints(world: World) -> None:
    with world.server.client(world.token) as c:
        entries = c.get(f"{API}/quarantine", params={"format": "json"}).json()
        for e in entries[:3]:
            done = cli(
                "quarantine", "show", e["name"], "--service", e["service"], "--registry",
                str(world.registry), "--db", world.cli_db, cwd=world.samples,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            path = f"{API}/tests/{e['service']}/{e['name']}"
            text = c.get(path, params={"format": "text"})
            assert text.status_code == 200
            assert text.text == done.stdout
            detail = c.get(path).json()
            assert detail["entry"] == e
            assert detail["verdict"] == e["verdict"]
            assert f"last {len(detail['history'])} run(s)" in done.stdout
            outcomes = {x["outcome"] for run in detail["history"] for x in run["executions"]}
            assert "failed" in outcomes  # a quarantined test failed somewhere in its history


def test_an_unknown_test_is_404_with_the_clis_message(world: World) -> None:
    done = cli(
        "quarantine", "show", "no::such_test", "--service", "user-service", "--registry",
        str(world.registry), "--db", world.cli_db, cwd=world.samples,
    )  # fmt: skip
    with world.server.client(world.token) as c:
        r = c.get(f"{API}/tests/user-service/no::such_test")
    assert r.status_code == 404
    assert r.json()["error"]["text"] == cli_error(done)


def test_the_gate_decides_as_the_cli_does(world: World) -> None:
    meta = json.loads((world.samples / "next" / "meta.json").read_text())
    form = {k: str(v) for k, v in meta.items()}
    paths = sorted(str(p.relative_to(world.samples)) for p in (world.samples / NEXT).iterdir())
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in form.items()]
    for attempt in ("first", "again"):  # the second time the run is already stored
        done = cli(
            "gate", str(NEXT), *flags, "--format", "json", "--config", "gatekeeper.yml",
            "--registry", str(world.registry), "--db", world.cli_db, cwd=world.samples,
        )  # fmt: skip
        expected = json.loads(done.stdout)
        status, body = upload(world.server, world.token, world.samples, paths, form, "gate")
        assert status == 200, body
        assert body == expected, attempt
        assert done.returncode == (0 if body["passed"] else 1)
        assert body["stored"] is (attempt == "first")
    # the decision says something: tests, coverage and benchmarks were all judged
    assert body["counts"]["tests"] > 0 and body["coverage"] and body["benchmarks"]


# Every eighth file of the real-world corpus, by name: stored alike, or refused alike.
CORPUS = corpus_files("junit", "cobertura", "cargo", "bench")[::8]


@pytest.mark.parametrize("report", corpus_params(CORPUS, [p.name for p in CORPUS]))
def test_real_world_reports_upload_as_they_ingest(world: World, report: Path) -> None:
    form = {
        "service": "corpus",
        "run_id": report.name,
        "commit": "0" * 40,
        "branch": "main",
        "timestamp": "2026-11-20T08:00:00Z",
    }
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in form.items()]
    done = cli("ingest", report.name, *flags, "--json", "--db", world.cli_db, cwd=report.parent)
    status, body = upload(world.server, world.token, report.parent, [report.name], form, "runs")
    if done.returncode == 0:
        assert (status, body) == (201, json.loads(done.stdout))
    else:
        assert status in (409, 413, 422), body
        assert body["error"]["text"] == cli_error(done)


# -- the weekly report and the dashboard ---------------------------------------------------------

PERIOD = {"since": "2026-11-14", "until": "2026-11-21"}


@pytest.mark.parametrize("fmt", ["json", "md"])
def test_the_report_is_what_the_cli_writes(world: World, fmt: str) -> None:
    done = cli(
        "report", "--since", PERIOD["since"], "--until", PERIOD["until"], "--format", fmt,
        "--registry", str(world.registry), "--db", world.cli_db, cwd=world.samples,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with world.server.client(world.token) as c:
        r = c.get(f"{API}/report", params={**PERIOD, "format": fmt})
    assert r.status_code == 200, r.text
    if fmt == "json":
        # generated_at is the moment each was made; everything else must agree
        cli_json, service_json = json.loads(done.stdout), r.json()
        cli_json.pop("generated_at"), service_json.pop("generated_at")
        assert service_json == cli_json
        # the sample's second week (46 runs) and the corpus runs uploaded in it above
        assert service_json["health"]["total"]["runs"] >= 46
    else:
        assert r.text == done.stdout


def test_the_dashboard_needs_a_login_and_shows_the_report(world: World) -> None:
    with world.server.client(follow_redirects=False) as anonymous:
        r = anonymous.get("/", params=PERIOD)
        assert (r.status_code, r.headers["location"]) == (303, "/login")
        assert anonymous.get("/login").status_code == 200
        bad = anonymous.post("/login", data={"token": "gk_read_" + "x" * 43})
        assert bad.status_code == 401 and "not valid" in bad.text
        good = anonymous.post("/login", data={"token": world.token})
        assert good.status_code == 303
        assert "httponly" in good.headers["set-cookie"].lower()
        page = anonymous.get("/", params=PERIOD)  # the cookie is sent back
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert page.text.count("<svg") >= 6
    assert world.token not in world.server.log()
