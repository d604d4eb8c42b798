"""docs/ci.md's GitHub Actions and GitLab CI jobs, run: every shell step of the documented
YAML, as the runner runs it (`bash -e -o pipefail`), against a small project whose tests fail.

The gate must still run and name the failure (exit 1), never stop at a missing report (exit 2);
the classify job must open its first merge request for a registry that is new (untracked).

What a CI image provides and this machine may not is a fake on PATH: `pip` (the install is
already done), `apt-get`, `cargo` (it writes what `cargo llvm-cov nextest` and `cargo bench`
write: the sample reports, one test failed, and exits as nextest does on a failure). pytest,
pytest-cov, pytest-benchmark, git and gatekeeper are the real ones.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .cli import clean_env
from .conftest import ROOT, SAMPLES

pytestmark = pytest.mark.e2e

CI_MD = ROOT / "docs" / "ci.md"
FAILED_RUST = "auth::token::tests::test_issue_and_validate"
FAILED_PY = "test_tokenize_lowercases"


def blocks(after: str) -> list[str]:
    """The ```yaml blocks of docs/ci.md under the heading ``after`` (up to the next ## one)."""
    text = CI_MD.read_text(encoding="utf-8")
    section = text.split(after, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```yaml\n(.*?)```", section, re.S)


def config_block() -> str:
    (config,) = blocks("## The configuration file")
    return config


# -- the project and the fakes -------------------------------------------------------------------

FAKE_CARGO = """\
import shutil, sys
from pathlib import Path

SAMPLES = Path({samples!r})
args = sys.argv[1:]
if args[:2] == ["llvm-cov", "nextest"]:
    junit = Path("target/llvm-cov-target/nextest/ci/junit.xml")
    junit.parent.mkdir(parents=True, exist_ok=True)
    xml = (SAMPLES / "user-service/run-01/junit.xml").read_text()
    name = 'name="{failed}" classname="user-service"'
    head, tail = xml.split(name, 1)
    start, rest = tail.split(">", 1)
    xml = (head + name + start + '><failure message="assertion failed: valid" type="panic">'
           "thread panicked at src/auth/token.rs:88:9</failure>" + rest)
    xml = xml.replace('failures="0"', 'failures="1"', 2)
    junit.write_text(xml)
    out = Path(args[args.index("--output-path") + 1])
    shutil.copy(SAMPLES / "user-service/run-01/cobertura.xml", out)
    print("error: test run failed", file=sys.stderr)
    sys.exit(100)  # nextest: tests failed
if args[:1] == ["bench"]:
    sys.stdout.write((SAMPLES / "user-service/run-01/cargo-bench.txt").read_text())
    sys.exit(0)
sys.exit("fake cargo: unexpected arguments %r" % args)
"""

SEARCH_PY = "def tokenize(text):\n    return text.split()\n"
TEST_SEARCH_PY = f"""\
from search import tokenize


def test_tokenize():
    assert tokenize("a b") == ["a", "b"]


def {FAILED_PY}():
    assert tokenize("A B") == ["a", "b"]


def test_bench_tokenize(benchmark):
    benchmark(tokenize, "a b c")
"""
SEARCH_PYPROJECT = """\
[project]
name = "search-service"
version = "0"

[project.optional-dependencies]
test = ["pytest", "pytest-cov", "pytest-benchmark"]

[tool.pytest.ini_options]
pythonpath = ["."]
"""


def _script(path: Path, body: str) -> None:
    path.write_text(body, encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    """A folder of stand-ins, first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _script(bin_dir / "pip", '#!/bin/sh\necho "(fake pip) pip $*"\n')
    _script(bin_dir / "apt-get", '#!/bin/sh\necho "(fake apt-get) apt-get $*"\n')
    _script(bin_dir / "cargo", f"#!{sys.executable}\n" + FAKE_CARGO.format(
        samples=str(SAMPLES), failed=FAILED_RUST
    ))  # fmt: skip
    # this checkout's gatekeeper, whatever `gatekeeper` an install put on PATH
    _script(bin_dir / "gatekeeper", f'#!/bin/sh\nexec "{sys.executable}" -m gatekeeper.cli "$@"\n')
    return bin_dir


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The repository of docs/ci.md: its gatekeeper.yml, a Rust service and a Python one."""
    repo = tmp_path / "shop"
    (repo / "services" / "user-service").mkdir(parents=True)
    search = repo / "services" / "search-service"
    (search / "tests").mkdir(parents=True)
    (repo / "gatekeeper.yml").write_text(config_block(), encoding="utf-8")
    (search / "search.py").write_text(SEARCH_PY, encoding="utf-8")
    (search / "tests" / "test_search.py").write_text(TEST_SEARCH_PY, encoding="utf-8")
    (search / "pyproject.toml").write_text(SEARCH_PYPROJECT, encoding="utf-8")
    return repo


def job_env(fakes: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = clean_env(**extra)
    env["PATH"] = f"{fakes}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    env["GATEKEEPER_DB"] = f"sqlite:///{tmp_path / 'history.db'}"
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A step as the runners run it: GitHub's `bash --noprofile --norc -eo pipefail {0}`."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def need_tools() -> None:
    for module in ("pytest_cov", "pytest_benchmark"):
        try:
            __import__(module)
        except ImportError:
            from .conftest import missing

            missing(f"{module} is not installed: the documented Python job runs it")


# -- GitHub Actions ------------------------------------------------------------------------------


def _github_expr(text: str, service: str) -> str:
    text = text.replace("${{ matrix.service }}", service)
    return re.sub(r"\$\{\{.*?\}\}", "", text)  # BASE on a push, secrets (given as env)


def run_github_job(
    job: dict[str, Any], kind: str, service: str, project: Path, env: dict[str, str]
) -> list[tuple[str, subprocess.CompletedProcess[str]]]:
    """The job's run steps in order, with GitHub's step conditions: a step runs after a failed
    one only when its `if` says `!cancelled()` (or `always()`), or the failed one had
    `continue-on-error`."""
    default_dir = job.get("defaults", {}).get("run", {}).get("working-directory", ".")
    failed = False
    done = []
    for step in job["steps"]:
        if "run" not in step:
            continue  # `uses:` actions: checkout (the project is there), setup-python
        condition = str(step.get("if", ""))
        kinds = re.findall(r"matrix\.kind == '(\w+)'", condition)
        if kinds and kind not in kinds:
            continue
        if failed and "!cancelled()" not in condition and "always()" not in condition:
            continue
        step_env = dict(env)
        for key, value in step.get("env", {}).items():
            step_env[key] = _github_expr(str(value), service)
        folder = project / _github_expr(step.get("working-directory", default_dir), service)
        result = bash(_github_expr(step["run"], service), folder, step_env)
        done.append((step.get("name", step["run"].split()[0]), result))
        if result.returncode != 0 and not step.get("continue-on-error"):
            failed = True
    return done


def github_ci_job() -> dict[str, Any]:
    workflow = yaml.safe_load(blocks("## GitHub Actions")[0])
    job: dict[str, Any] = workflow["jobs"]["test"]
    return job


@pytest.mark.parametrize(("kind", "service", "failed"), [
    ("rust", "user-service", FAILED_RUST),
    ("python", "search-service", FAILED_PY),
])  # fmt: skip
def test_github_job_with_a_failing_test_ends_in_the_gate_naming_it(
    kind: str, service: str, failed: str, project: Path, fakes: Path, tmp_path: Path
) -> None:
    need_tools()
    summary = tmp_path / "summary.md"
    env = job_env(
        fakes, tmp_path, GITHUB_ACTIONS="true", GITHUB_RUN_ID="9001", GITHUB_JOB="test",
        GITHUB_RUN_ATTEMPT="1", GITHUB_SHA="a" * 40, GITHUB_REF_NAME="main",
        GITHUB_EVENT_NAME="push", GITHUB_STEP_SUMMARY=str(summary),
    )  # fmt: skip
    steps = run_github_job(github_ci_job(), kind, service, project, env)
    names = [name for name, _ in steps]
    assert names[-1] == f"gate ({kind.capitalize()})", names
    for name, result in steps[:-1]:  # the tests failed, and the steps still went on
        assert result.returncode == 0, (name, result.stdout, result.stderr)
    gate = steps[-1][1]
    assert gate.returncode == 1, (gate.stdout, gate.stderr)
    assert failed in gate.stdout
    assert failed in summary.read_text(encoding="utf-8")


def test_github_classify_job_writes_the_report_and_the_new_registry(
    project: Path, fakes: Path, tmp_path: Path
) -> None:
    output = tmp_path / "github_output"
    env = job_env(fakes, tmp_path, GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(output))
    seed = bash("gatekeeper ingest --manifest manifest.jsonl", SAMPLES, env)
    assert seed.returncode == 0, seed.stderr
    workflow = yaml.safe_load(blocks("### The nightly classify job")[0])
    (run,) = [s["run"] for s in workflow["jobs"]["classify"]["steps"] if "run" in s][1:]
    done = bash(run, project, env)
    assert done.returncode == 0, done.stderr
    report = output.read_text(encoding="utf-8")
    assert report.startswith("report<<EOF\n") and report.endswith("\nEOF\n")
    assert "quarantined" in report
    assert "flaky_tests:" in (project / "flaky-tests.yml").read_text(encoding="utf-8")


# -- GitLab CI -----------------------------------------------------------------------------------


def gitlab() -> dict[str, Any]:
    (block,) = blocks("## GitLab CI")
    document: dict[str, Any] = yaml.safe_load(block)
    return document


def _flatten(items: list[Any]) -> list[str]:
    out: list[str] = []
    for item in items:
        out.extend(_flatten(item) if isinstance(item, list) else [str(item)])
    return out


def gitlab_script(job: dict[str, Any]) -> str:
    """A job's script as the runner runs it: the lines in one shell, stopping on an error."""
    return "\n".join(_flatten(job["script"]))


def gitlab_env(job: dict[str, Any], env: dict[str, str], **matrix: str) -> dict[str, str]:
    """GitLab's variables: the pipeline's, the matrix's, the job's; `$NAME` expanded."""
    out = dict(env)
    out.update(matrix)
    for key, value in {**gitlab()["variables"], **job.get("variables", {})}.items():
        if key in matrix:
            continue
        expanded = re.sub(r"\$(\w+)", lambda m: out.get(m.group(1), ""), str(value))
        out[key] = expanded
    return out


@pytest.mark.parametrize(("job_name", "service", "failed"), [
    ("rust", "user-service", FAILED_RUST),
    ("python", "search-service", FAILED_PY),
])  # fmt: skip
def test_gitlab_job_with_a_failing_test_ends_in_the_gate_naming_it(
    job_name: str, service: str, failed: str, project: Path, fakes: Path, tmp_path: Path
) -> None:
    need_tools()
    job = gitlab()[job_name]
    base = job_env(
        fakes, tmp_path, CI="true", GITLAB_CI="true", CI_JOB_ID="4242", CI_COMMIT_SHA="b" * 40,
        CI_COMMIT_REF_NAME="main",
    )  # fmt: skip
    matrix = {"SERVICE": service} if "parallel" in job else {}
    done = bash(gitlab_script(job), project, gitlab_env(job, base, **matrix))
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert failed in done.stdout
    assert failed in (project / "gate-summary.md").read_text(encoding="utf-8")


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


def test_gitlab_classify_job_opens_its_first_merge_request(
    project: Path, fakes: Path, tmp_path: Path
) -> None:
    if shutil.which("git") is None:
        from .conftest import missing

        missing("git is not on PATH: the classify job commits and pushes with it")
    remote = tmp_path / "remote.git"
    _git("init", "--bare", "-q", str(remote), cwd=tmp_path)
    _git("config", "receive.advertisePushOptions", "true", cwd=remote)
    env = job_env(fakes, tmp_path, CI="true", GITLAB_CI="true", CI_DEFAULT_BRANCH="main")
    env.update(
        GATEKEEPER_PUSH_TOKEN="glpat-test", CI_SERVER_HOST="gitlab.example.com",
        CI_PROJECT_PATH="acme/shop", GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp_path),
    )  # fmt: skip
    _git("init", "-q", "-b", "main", cwd=project)
    _git("config", "user.email", "dev@example.com", cwd=project)
    _git("config", "user.name", "dev", cwd=project)
    # the push URL of the recipe, sent to the bare repository above
    url = "https://oauth2:glpat-test@gitlab.example.com/acme/shop.git"
    _git("config", f"url.{remote}.insteadOf", url, cwd=project)
    _git("add", "-A", cwd=project)
    _git("commit", "-q", "-m", "the project, no registry yet", cwd=project)
    seed = bash("gatekeeper ingest --manifest manifest.jsonl", SAMPLES, env)
    assert seed.returncode == 0, seed.stderr

    job = gitlab()["classify"]
    done = bash(gitlab_script(job), project, gitlab_env(job, env))
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "registry unchanged" not in done.stdout
    pushed = _git("show", "gatekeeper/flaky-tests:flaky-tests.yml", cwd=remote)
    assert pushed == (project / "flaky-tests.yml").read_text(encoding="utf-8")
    assert "flaky_tests:" in pushed

    # the next night, nothing new: no commit, no push
    again = bash(gitlab_script(job), project, gitlab_env(job, env))
    assert again.returncode == 0, again.stderr
    assert "registry unchanged" in again.stdout


def test_the_recipes_keep_the_runner_shell_in_mind() -> None:
    """No `|| true` that would also hide a broken install; no `git diff --quiet` that misses a
    new registry file."""
    text = CI_MD.read_text(encoding="utf-8")
    assert "|| true" not in text
    assert "git diff --quiet" not in text
    assert json.dumps(gitlab()["classify"]["script"]).count("git status --porcelain") == 1
