"""`gatekeeper quarantine ticket`: the issue printed, and filed with --create on a local fake
of GitHub's and GitLab's REST APIs (a real HTTP server on loopback, never the internet): one
issue per test, its number written into the registry, no duplicate on a second call."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from .cli import clean_env, gatekeeper
from .conftest import ROOT
from .test_cli_classify import history_db

TEST = "api::test_concurrent_session_refresh"
SERVICE = "user-service"
TOKEN = "s3cret-token"


class FakeTracker(ThreadingHTTPServer):
    """GitHub (``/repos/o/r/issues``) or GitLab (``/projects/42/issues``), in memory."""

    def __init__(self, kind: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.kind = kind
        self.issues: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeTracker

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        if self.server.kind == "github":
            return self.headers.get("Authorization") == f"Bearer {TOKEN}"
        return self.headers.get("PRIVATE-TOKEN") == TOKEN

    def _path(self) -> str:
        return "/repos/acme/app/issues" if self.server.kind == "github" else "/projects/42/issues"

    def do_GET(self) -> None:
        self.server.requests.append(("GET", self.path, dict(self.headers)))
        if not self._authorised():
            return self._answer(401, {"message": "Bad credentials"})
        if self.path.split("?")[0] != self._path():
            return self._answer(404, {"message": "Not Found"})
        return self._answer(
            200, [i for i in self.server.issues if i["state"] in ("open", "opened")]
        )

    def do_POST(self) -> None:
        self.server.requests.append(("POST", self.path, dict(self.headers)))
        if not self._authorised():
            return self._answer(401, {"message": "Bad credentials"})
        if self.path != self._path():
            return self._answer(404, {"message": "Not Found"})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        number = len(self.server.issues) + 1
        if self.server.kind == "github":
            issue = {
                "number": number,
                "title": body["title"],
                "body": body["body"],
                "state": "open",
                "html_url": f"https://github.example/acme/app/issues/{number}",
            }
        else:
            issue = {
                "iid": number,
                "title": body["title"],
                "description": body["description"],
                "state": "opened",
                "web_url": f"https://gitlab.example/acme/app/-/issues/{number}",
            }
        self.server.issues.append(issue)
        return self._answer(201, issue)


@contextmanager
def serving(kind: str) -> Iterator[FakeTracker]:
    server = FakeTracker(kind)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=["github", "gitlab"])
def tracker(request: pytest.FixtureRequest) -> Iterator[FakeTracker]:
    with serving(request.param) as server:
        yield server


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> str:
    return history_db(tmp_path_factory.mktemp("ticket-history"))


@pytest.fixture
def registry(tmp_path: Path, history: str) -> Path:
    done = gatekeeper("classify", "--db", history, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path / "flaky-tests.yml"


def _env(tracker: FakeTracker) -> dict[str, str]:
    env = clean_env()
    if tracker.kind == "github":
        env.update(GITHUB_TOKEN=TOKEN, GITHUB_REPOSITORY="acme/app", GITHUB_API_URL=tracker.url)
    else:
        env.update(GATEKEEPER_GITLAB_TOKEN=TOKEN, CI_API_V4_URL=tracker.url, CI_PROJECT_ID="42")
    return env


def _issue_of(registry: Path) -> Any:
    [entry] = [e for e in yaml.safe_load(registry.read_text())["flaky_tests"] if e["name"] == TEST]
    return entry.get("issue")


def test_the_ticket_is_printed_as_markdown(registry: Path, history: str) -> None:
    done = gatekeeper("quarantine", "ticket", TEST, "--service", SERVICE, "--db", history,
                      cwd=registry.parent)  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith(f"# Flaky test {TEST} in {SERVICE}\n")
    assert "both refreshes must see the rotated token" in text  # a failure message
    assert "### The last 30 runs" in text and "F" in text.split("### The last 30 runs")[1]
    assert f'  - name: "{TEST}"\n    service: "{SERVICE}"' in text  # the lines to remove
    assert _issue_of(registry) is None  # printing writes nothing


def test_create_files_one_issue_and_writes_its_number(
    registry: Path, history: str, tracker: FakeTracker
) -> None:
    args = ("quarantine", "ticket", TEST, "--service", SERVICE, "--db", history, "--create")
    first = gatekeeper(*args, cwd=registry.parent, env=_env(tracker))
    assert first.returncode == 0, first.stderr
    assert len(tracker.issues) == 1
    issue = tracker.issues[0]
    assert issue["title"] == f"Flaky test {TEST} in {SERVICE}"
    body = issue.get("body") or issue.get("description")
    assert "rotated token" in body and "quarantine remove" in body
    assert _issue_of(registry) == "#1"
    assert "filed #1" in first.stdout and TOKEN not in first.stdout + first.stderr
    # again: the entry has its issue; nothing is filed, not even a search
    asked = len(tracker.requests)
    second = gatekeeper(*args, cwd=registry.parent, env=_env(tracker))
    assert second.returncode == 0, second.stderr
    assert "already has issue #1; nothing filed" in second.stdout
    assert len(tracker.issues) == 1 and len(tracker.requests) == asked
    # the registry lost its issue (a job that could not push): the open issue is found by title
    text = registry.read_text()
    registry.write_text(re.sub(r"^ *issue: .*#1.*\n", "", text, flags=re.M))
    assert _issue_of(registry) is None, registry.read_text()
    third = gatekeeper(*args, cwd=registry.parent, env=_env(tracker))
    assert third.returncode == 0, third.stderr
    assert len(tracker.issues) == 1 and _issue_of(registry) == "#1"
    assert "has its title" in third.stdout


def test_create_without_a_token_is_refused_with_exit_3(registry: Path, history: str) -> None:
    before = registry.read_bytes()
    done = gatekeeper("quarantine", "ticket", TEST, "--service", SERVICE, "--db", history,
                      "--create", cwd=registry.parent, env=clean_env())  # fmt: skip
    assert done.returncode == 3
    [line] = done.stderr.splitlines()
    assert "no issue tracker token" in line and "GITHUB_TOKEN" in line
    assert registry.read_bytes() == before


def test_a_wrong_token_is_a_clear_error(registry: Path, history: str, tracker: FakeTracker) -> None:
    env = _env(tracker)
    for key in ("GITHUB_TOKEN", "GATEKEEPER_GITLAB_TOKEN"):
        if key in env:
            env[key] = "wrong"
    done = gatekeeper("quarantine", "ticket", TEST, "--service", SERVICE, "--db", history,
                      "--create", cwd=registry.parent, env=env)  # fmt: skip
    assert done.returncode == 2
    assert "HTTP 401" in done.stderr and "wrong" not in done.stderr
    assert tracker.issues == [] and _issue_of(registry) is None


def test_the_weekly_ci_job_files_each_quarantine_once(registry: Path, history: str) -> None:
    """docs/ci.md's GitHub ticket step, run as the runner runs it (bash -e -o pipefail),
    twice (the GitLab job's step is the same shell)."""
    with serving("github") as tracker:
        _run_ticket_step(registry, history, tracker)


def _run_ticket_step(registry: Path, history: str, tracker: FakeTracker) -> None:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    section = text.split("## Tickets for new quarantines", 1)[1].split("\n## ", 1)[0]
    workflow = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", section, re.S)[0])
    [step] = [
        s for s in workflow["jobs"]["tickets"]["steps"] if s.get("name", "").startswith("file")
    ]
    env = {**_env(tracker), "GATEKEEPER_DB": history, "PATH": os.environ["PATH"]}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    bin_dir = registry.parent / "bin"
    bin_dir.mkdir()
    gk = bin_dir / "gatekeeper"
    gk.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gatekeeper.cli "$@"\n')
    gk.chmod(0o755)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    quarantined = [
        e for e in yaml.safe_load(registry.read_text())["flaky_tests"] if e["quarantined"]
    ]
    for _ in range(2):
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
            cwd=registry.parent, env=env, capture_output=True, text=True, timeout=600,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert len(tracker.issues) == len(quarantined) >= 5
    issues = [e.get("issue") for e in yaml.safe_load(registry.read_text())["flaky_tests"]
              if e["quarantined"]]  # fmt: skip
    assert sorted(issues) == sorted(f"#{n}" for n in range(1, len(quarantined) + 1))


def test_a_hostile_name_is_printed_harmless(tmp_path: Path, history: str) -> None:
    name = "evil\x1b[2J::error::pwned\u202e\nline`` two"
    (tmp_path / "flaky-tests.yml").write_text(
        "flaky_tests:\n"
        f"  - name: {json.dumps(name)}\n"
        "    service: user-service\n"
        '    reason: "::warning::also hostile\\x07"\n',
        encoding="utf-8",
    )
    done = gatekeeper("quarantine", "ticket", name, "--service", SERVICE, "--db", history,
                      cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert not any(line.lstrip().startswith("::") for line in out.splitlines())
    assert "evil\\x1b[2J" in out  # shown, escaped
