"""`gatekeeper gate` as CI runs it: real processes, real report files, real SQLite databases.

The table below is the contract of the gate's decisions: each row gives the run's reports, the
configuration and the registry, and the exit code and reasons the gate must give.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .cli import clean_env, gatekeeper
from .conftest import REALWORLD


def junit(*cases: tuple[str, str]) -> str:
    """A pytest-style JUnit file; each case is (name, outcome) with outcome pass|fail|error|skip,
    or "fail>pass" for a failure followed by a passing re-run (pytest-rerunfailures)."""
    body = []
    for name, outcome in cases:
        attempts = outcome.split(">")
        for a in attempts:
            inner = {
                "pass": "",
                "fail": f'<failure message="assert {name}">AssertionError</failure>',
                "error": '<error message="fixture broke">E</error>',
                "skip": '<skipped message="not today"/>',
            }[a]
            body.append(
                f'<testcase classname="tests.test_app" name="{name}" time="0.01" '
                f'file="tests/test_app.py" line="10">{inner}</testcase>'
            )
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" '
        f'tests="{len(body)}">' + "".join(body) + "</testsuite></testsuites>\n"
    )


def cobertura(files: dict[str, tuple[int, int]], package: str = "app") -> str:
    """A coverage.py-style report: path -> (valid lines, covered lines)."""
    classes = []
    for path, (valid, covered) in files.items():
        lines = "".join(
            f'<line number="{n}" hits="{1 if n <= covered else 0}"/>' for n in range(1, valid + 1)
        )
        classes.append(
            f'<class name="{Path(path).name}" filename="{path}" line-rate="0" branch-rate="0" '
            f'complexity="0"><methods/><lines>{lines}</lines></class>'
        )
    valid_total = sum(v for v, _ in files.values())
    covered_total = sum(c for _, c in files.values())
    return (
        '<?xml version="1.0" ?><coverage version="7.6.1" timestamp="1" '
        f'lines-valid="{valid_total}" lines-covered="{covered_total}" line-rate="0" '
        'branches-covered="0" branches-valid="0" branch-rate="0" complexity="0">'
        "<sources><source>.</source></sources>"
        f'<packages><package name="{package}" line-rate="0" branch-rate="0" complexity="0">'
        f"<classes>{''.join(classes)}</classes></package></packages></coverage>\n"
    )


def bench_log(values: dict[str, float], noise: float = 0.0) -> str:
    """A libtest `cargo bench` log: name -> ns/iter."""
    lines = ["", f"running {len(values)} tests"]
    for name, ns in values.items():
        lines.append(f"test {name} ... bench: {ns:>12,.0f} ns/iter (+/- {noise * ns:,.0f})")
    lines += [
        "",
        f"test result: ok. 0 passed; 0 failed; 0 ignored; {len(values)} measured; "
        "0 filtered out; finished in 1.00s",
        "",
    ]
    return "\n".join(lines)


PASSING = junit(("test_a", "pass"), ("test_b", "pass"), ("test_c", "pass"))
ONE_FAILS = junit(("test_a", "pass"), ("test_b", "fail"), ("test_c", "pass"))
RETRIED = junit(("test_a", "pass"), ("test_b", "fail>pass"), ("test_c", "pass"))
EMPTY = junit()
QUARANTINE_B = """\
flaky_tests:
  - name: "tests.test_app::test_b"
    service: app
    reason: "races the clock"
    issue: "#1234"
"""
EXPIRED_B = QUARANTINE_B + '    expires: "2020-01-01"\n'


@dataclass
class Row:
    files: dict[str, str]
    exit: int
    failures: list[tuple[str, str]] = field(default_factory=list)  # (kind, subject)
    config: str | None = None
    registry: str | None = None
    args: tuple[str, ...] = ()
    muted: list[str] = field(default_factory=list)
    history: Callable[[Path], None] | None = None


def _bench_history(stable: dict[str, float], cv: float) -> Callable[[Path], None]:
    """Ten earlier runs on main of the same benchmarks, with `cv` run-to-run noise."""

    def write(root: Path) -> None:
        rnd = random.Random(7)
        manifest = []
        for i in range(10):
            name = f"hist/bench-{i}.txt"
            (root / "hist").mkdir(exist_ok=True)
            values = {k: v * rnd.lognormvariate(0, cv) for k, v in stable.items()}
            (root / name).write_text(bench_log(values, 0.01))
            manifest.append(
                json.dumps(
                    {
                        "path": name,
                        "service": "app",
                        "commit": f"{i:040x}",
                        "branch": "main",
                        "run_id": f"hist-{i}",
                        "timestamp": f"2026-11-{i + 1:02d}T10:00:00Z",
                        "attempt": 1,
                    }
                )
            )
        (root / "hist" / "manifest.jsonl").write_text("\n".join(manifest) + "\n")
        (root / "hist" / "manifest.jsonl").rename(root / "manifest.jsonl")
        done = gatekeeper("ingest", "--manifest", "manifest.jsonl", cwd=root)
        assert done.returncode == 0, done.stderr

    return write


def _test_count_history(root: Path) -> None:
    """Five earlier runs on main with 20 tests each."""
    many = junit(*[(f"test_{i}", "pass") for i in range(20)])
    for i in range(5):
        (root / f"old-{i}.xml").write_text(many)
        done = gatekeeper(
            "ingest", f"old-{i}.xml", "--service", "app", "--branch", "main",
            "--run-id", f"old-{i}", "--timestamp", f"2026-11-0{i + 1}T10:00:00Z", cwd=root,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr


COV_82 = cobertura({"app/core.py": (100, 82)})
COV_TWO = cobertura({"api/main.py": (100, 90), "worker/jobs.py": (100, 70)})
# The job's own service (`app`, the gate's --service) is configured too: the files no other
# service claims count for it.
TWO_SERVICES = """\
services:
  api:
    paths: ["api/**"]
  worker:
    paths: ["worker/**"]
  app: {}
"""

ROWS: dict[str, Row] = {
    "all pass": Row({"junit.xml": PASSING}, 0),
    "a failure fails": Row({"junit.xml": ONE_FAILS}, 1, [("test", "tests.test_app::test_b")]),
    "a quarantined failure is muted": Row(
        {"junit.xml": ONE_FAILS}, 0, registry=QUARANTINE_B, muted=["tests.test_app::test_b"]
    ),
    "an expired quarantine still mutes by default": Row(
        {"junit.xml": ONE_FAILS}, 0, registry=EXPIRED_B, muted=["tests.test_app::test_b"]
    ),
    "an expired quarantine fails when configured": Row(
        {"junit.xml": ONE_FAILS}, 1, [("test", "tests.test_app::test_b")],
        config="tests:\n  expired_quarantine: fail\n", registry=EXPIRED_B,
    ),
    "failed then passed on retry passes": Row({"junit.xml": RETRIED}, 0),
    "flaky_result fail": Row(
        {"junit.xml": RETRIED}, 1, [("test", "tests.test_app::test_b")],
        config="tests: {flaky_result: fail}\n",
    ),
    "no tests fails": Row({"junit.xml": EMPTY}, 1, [("test", "app")]),
    "no tests allowed": Row({"junit.xml": EMPTY}, 0, config="tests: {allow_empty: true}\n"),
    "far fewer tests than usual": Row(
        {"junit.xml": PASSING}, 1, [("test", "app")], history=_test_count_history
    ),
    "a glob that matches nothing cannot decide": Row({}, 2, args=("reports/*.xml",)),
    "an unreadable report cannot decide": Row({"junit.xml": PASSING[:-40]}, 2),
    "a bad config cannot decide": Row(
        {"junit.xml": PASSING}, 2, config="coverage:\n  line: 120\n"
    ),
    "a typo in the config cannot decide": Row(
        {"junit.xml": PASSING}, 2, config="coverage:\n  lnie: 80\n"
    ),
    "--base outside a git checkout cannot decide": Row(
        {"junit.xml": PASSING}, 2, args=("junit.xml", "--base", "main")
    ),
    "a broken registry cannot decide": Row(
        {"junit.xml": PASSING}, 2, registry="flaky_tests:\n  - name: x\n"
    ),
    "coverage above the default 80%": Row({"junit.xml": PASSING, "coverage.xml": COV_82}, 0),
    "coverage below a configured minimum": Row(
        {"junit.xml": PASSING, "coverage.xml": COV_82}, 1, [("coverage", "overall")],
        config="coverage: {line: 85}\n",
    ),
    "coverage shortfall, informational": Row(
        {"junit.xml": PASSING, "coverage.xml": COV_82}, 0,
        config="coverage: {line: 85, informational: true}\n",
    ),
    "one service of two below 75%": Row(
        {"junit.xml": PASSING, "coverage.xml": COV_TWO}, 1, [("coverage", "worker")],
        config=TWO_SERVICES + "coverage: {line: 50}\n",
    ),
    "a service's own minimum": Row(
        {"junit.xml": PASSING, "coverage.xml": COV_TWO}, 1, [("coverage", "api")],
        config=TWO_SERVICES.replace('["api/**"]', '["api/**"]\n    coverage: {line: 95}')
        + "coverage: {line: 50, service_line: 60}\n",
    ),
    "a benchmark 40% slower than a quiet history": Row(
        {"bench.txt": bench_log({"bench_parse": 1400.0, "bench_route": 5000.0}, 0.01)}, 1,
        [("benchmark", "bench_parse")],
        history=_bench_history({"bench_parse": 1000.0, "bench_route": 5000.0}, 0.02),
    ),
    "a benchmark 25% slower but its history is noisy": Row(
        {"bench.txt": bench_log({"bench_parse": 1250.0}, 0.01)}, 0,
        history=_bench_history({"bench_parse": 1000.0}, 0.30),
    ),
    "a regression under a generous override": Row(
        {"bench.txt": bench_log({"bench_parse": 1400.0}, 0.01)}, 0,
        config="benchmarks:\n  overrides:\n    - {name: 'bench_p*', max_regression: 60}\n",
        history=_bench_history({"bench_parse": 1000.0}, 0.02),
    ),
    "a benchmark with no history is recorded, not judged": Row(
        {"bench.txt": bench_log({"bench_parse": 99_999.0})}, 0
    ),
    "a benchmark over its ceiling": Row(
        {"bench.txt": bench_log({"bench_parse": 2_000_000.0})}, 1, [("benchmark", "bench_parse")],
        config="benchmarks: {ceiling: 1000000}\n",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", ROWS)
def test_gate_decisions(name: str, tmp_path: Path) -> None:
    row = ROWS[name]
    if row.history:
        row.history(tmp_path)
    for fname, text in row.files.items():
        (tmp_path / fname).write_text(text)
    if row.config is not None:
        (tmp_path / "gatekeeper.yml").write_text(row.config)
    if row.registry is not None:
        (tmp_path / "flaky-tests.yml").write_text(row.registry)
    args = row.args or tuple(row.files)
    done = gatekeeper(
        "gate", *args, "--service", "app", "--branch", "main", "--run-id", "now",
        "--timestamp", "2026-11-27T10:00:00Z", "--format", "json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == row.exit, done.stdout + done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["passed"] is (row.exit == 0)
    kinds = {(f["kind"], f["subject"]) for f in verdict["failures"]}
    if row.exit == 2:
        assert {k for k, _ in kinds} == {"input"}
        assert done.stderr.startswith("gatekeeper: error: "), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        # nothing half-written: the run was not stored
        db = tmp_path / ".gatekeeper" / "gatekeeper.db"
        if db.exists():
            with sqlite3.connect(db) as conn:
                assert conn.execute("SELECT count(*) FROM runs WHERE run_id='now'").fetchone() == (
                    0,
                )
        return
    assert kinds == set(row.failures), verdict["failures"]
    assert [m["test_id"] for m in verdict["muted"]] == row.muted


def test_text_markdown_and_annotations(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text(ONE_FAILS)
    (tmp_path / "coverage.xml").write_text(COV_82)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = clean_env(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    done = gatekeeper(
        "gate", "junit.xml", "coverage.xml", "--service", "app", "--run-id", "r1",
        "--branch", "main", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    out = done.stdout
    title = "title=gatekeeper%3A test tests.test_app%3A%3Atest_b"
    assert f"::error file=tests/test_app.py,line=10,{title}::failed: assert test_b" in out
    assert "gatekeeper gate: FAILED  app run r1" in out
    assert "  test      tests.test_app::test_b: failed: assert test_b" in out
    text = summary.read_text()
    assert text.startswith("earlier step\n### ❌ gatekeeper: app failed")  # appended
    assert "| ❌ | test | `tests.test_app::test_b` | failed: assert test\\_b |" in text
    assert "| overall | 82/100 | 82.00% | 80% |" in text


def test_rerunning_the_gate_decides_again_and_replaces_the_decision(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text(ONE_FAILS)
    args = ("gate", "junit.xml", "--service", "app", "--run-id", "r1", "--format", "json")
    first = gatekeeper(*args, cwd=tmp_path)
    assert first.returncode == 1
    (tmp_path / "flaky-tests.yml").write_text(QUARANTINE_B)  # quarantined in between
    second = gatekeeper(*args, cwd=tmp_path)
    assert second.returncode == 0, second.stdout
    assert json.loads(second.stdout)["stored"] is False
    with sqlite3.connect(tmp_path / ".gatekeeper" / "gatekeeper.db") as conn:
        rows = conn.execute("SELECT passed FROM gate_decisions").fetchall()
    assert rows == [(1,)]


def test_the_ratchet_uses_the_last_passing_run_on_main(tmp_path: Path) -> None:
    def gate(run: str, covered: int, *extra: str) -> dict[str, object]:
        (tmp_path / "coverage.xml").write_text(cobertura({"app/core.py": (1000, covered)}))
        (tmp_path / "junit.xml").write_text(PASSING)
        done = gatekeeper(
            "gate", "junit.xml", "coverage.xml", "--service", "app", "--branch", "main",
            "--run-id", run, "--format", "json", *extra, cwd=tmp_path,
        )  # fmt: skip
        out: dict[str, object] = json.loads(done.stdout)
        out["exit"] = done.returncode
        return out

    assert gate("r1", 900)["exit"] == 0
    # 89.6% is 0.4 points down: within the default max_drop of 0.5
    assert gate("r2", 896)["exit"] == 0
    # 89.0% is 0.6 points below r2 (the last passing run): fails
    third = gate("r3", 890)
    assert third["exit"] == 1
    assert [f["kind"] for f in third["failures"]] == ["coverage"]  # type: ignore[index]
    # the failed r3 is no baseline: r4 at 89.5% is compared with r2 (89.6%) and passes
    assert gate("r4", 895)["exit"] == 0


@pytest.mark.realworld
def test_real_corpus_reports_gate(tmp_path: Path) -> None:
    """A real nextest JUnit with retries and a real tarpaulin report, through the gate."""
    nextest = REALWORLD / "junit" / "nextest__fixture_project_rerunfailure.xml"
    tarpaulin = REALWORLD / "cobertura" / "tarpaulin__async_fsm_small.xml"
    done = gatekeeper(
        "gate", str(nextest), str(tarpaulin), "--service", "fixture", "--run-id", "r1",
        "--format", "json", "--config", str(tmp_path / "gk.yml"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2  # the named config file does not exist: cannot decide
    (tmp_path / "gk.yml").write_text(
        textwrap.dedent(
            """\
            coverage: {line: 0, max_drop: null}
            """
        )
    )
    done = gatekeeper(
        "gate", str(nextest), str(tarpaulin), "--service", "fixture", "--run-id", "r1",
        "--format", "json", "--config", str(tmp_path / "gk.yml"), cwd=tmp_path,
    )  # fmt: skip
    verdict = json.loads(done.stdout)
    failed = {f["subject"] for f in verdict["failures"] if f["kind"] == "test"}
    assert done.returncode == (1 if failed else 0)
    assert verdict["counts"]["tests"] > 0
    assert set(verdict["coverage"]) == {"overall"} or "fixture" in verdict["coverage"]


def _git(repo: Path, *args: str) -> None:
    env = clean_env(
        HOME=str(repo.parent), GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )  # fmt: skip
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def pr_project(tmp_path: Path, env: dict[str, str]) -> Path:
    """A tiny Python project on a feature branch, tested for real: ``main`` has ``add``; the
    branch adds ``div``, whose error branch (line 7) no test reaches (lines 5-8 are new).
    pytest with --junitxml and pytest-cov has written junit.xml and coverage.xml; the
    (uncommitted) gatekeeper.yml asks for 50% coverage overall and 80% on the patch."""
    repo = tmp_path / "proj"
    (repo / "calc").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "calc" / "__init__.py").write_text("")
    (repo / "calc" / "ops.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "tests" / "test_ops.py").write_text(
        "from calc.ops import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "checkout", "-qb", "feature")
    (repo / "calc" / "ops.py").write_text(
        "def add(a, b):\n    return a + b\n\n\n"
        "def div(a, b):\n    if b == 0:\n        raise ZeroDivisionError('b')\n    return a / b\n"
    )
    (repo / "tests" / "test_ops.py").write_text(
        "from calc.ops import add, div\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
        "def test_div():\n    assert div(4, 2) == 2\n"
    )
    _git(repo, "commit", "-qam", "div")
    env = {k: v for k, v in env.items() if not k.startswith("PYTEST_")}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--cov=calc",
         "--cov-report=xml:coverage.xml", "--junitxml=junit.xml", "tests"],
        cwd=repo, env=env, check=True, capture_output=True,
    )  # fmt: skip
    (repo / "gatekeeper.yml").write_text("coverage: {line: 50, patch: 80}\n")
    return repo


def test_a_real_pytest_run_gated_with_patch_coverage(tmp_path: Path) -> None:
    """A tiny project: real pytest with --junitxml and pytest-cov, real git, the real gate."""
    repo = pr_project(tmp_path, clean_env())
    done = gatekeeper(
        "gate", "junit.xml", "coverage.xml", "--service", "calc", "--run-id", "pr-1",
        "--base", "main", "--format", "json", cwd=repo,
    )  # fmt: skip
    verdict = json.loads(done.stdout)
    # 2 tests passed; coverable lines 1, 2, 5, 6, 7, 8 of which 7 (the raise) never ran:
    # 5 of 6 = 83.3% overall; the changed coverable lines are 5-8, 3 of 4 covered = 75% < 80%
    assert verdict["counts"]["tests"] == 2 and verdict["counts"]["passed"] == 2
    overall = verdict["coverage"]["overall"]
    assert (overall["lines_covered"], overall["lines_valid"]) == (5, 6)
    assert overall["patch"] == {
        "lines_covered": 3,
        "lines_valid": 4,
        "rate": 0.75,
        "threshold": 80.0,
    }
    assert done.returncode == 1, done.stdout + done.stderr
    assert [(f["kind"], f["subject"]) for f in verdict["failures"]] == [("coverage", "overall")]
    assert "calc/ops.py:7" in verdict["failures"][0]["message"]
    # an unknown base is "cannot decide", never a pass
    bad = gatekeeper("gate", "junit.xml", "--service", "calc", "--run-id", "pr-2", "--base",
                     "origin/nope", cwd=repo)  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.startswith(
        "gatekeeper: error: --base origin/nope: git cannot diff against it"
    )


CRATE_TOML = '[package]\nname = "ledger"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n'
CRATE_LIB = """\
pub fn balance(xs: &[i64]) -> i64 { xs.iter().sum() }

#[cfg(test)]
mod tests {
    use super::balance;
    #[test] fn sums() { assert_eq!(balance(&[1, 2, 3]), 6); }
    #[test] fn empty() { assert_eq!(balance(&[]), 0); }
    #[test] fn racy_clock() { assert_eq!(balance(&[1]), 2, "the clock moved"); }
}
"""


@pytest.mark.cargo
def test_a_real_cargo_test_run_through_the_gate(tmp_path: Path) -> None:
    """A tiny crate, the real `cargo test` (one failing test), the real gate: the failure fails
    the gate until it is quarantined, then it is muted with its issue."""
    crate = tmp_path / "ledger"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text(CRATE_TOML)
    (crate / "src" / "lib.rs").write_text(CRATE_LIB)
    env = clean_env(CARGO_TARGET_DIR=str(crate / "target"), CARGO_NET_OFFLINE="true")
    done = subprocess.run(
        ["cargo", "test"], cwd=crate, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 101, done.stdout  # cargo's exit code for failed tests
    (tmp_path / "cargo-test.log").write_text(done.stdout)
    args = ("gate", "cargo-test.log", "--service", "ledger", "--branch", "main", "--format", "json")
    first = gatekeeper(*args, "--run-id", "1", cwd=tmp_path)
    verdict = json.loads(first.stdout)
    assert first.returncode == 1, first.stdout + first.stderr
    assert verdict["counts"]["tests"] == 3 and verdict["counts"]["failed"] == 1
    (failure,) = verdict["failures"]
    assert (failure["kind"], failure["subject"]) == ("test", "ledger::tests::racy_clock")
    assert "the clock moved" in failure["message"]
    quarantined = gatekeeper(
        "quarantine", "add", "ledger::tests::racy_clock", "--service", "ledger",
        "--reason", "depends on the wall clock", "--issue", "#7", cwd=tmp_path,
    )  # fmt: skip
    assert quarantined.returncode == 0, quarantined.stderr
    second = gatekeeper(*args, "--run-id", "2", cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    verdict = json.loads(second.stdout)
    assert verdict["failures"] == []
    assert [(m["test_id"], m["issue"]) for m in verdict["muted"]] == [
        ("ledger::tests::racy_clock", "#7")
    ]


# ---------------------------------------------------------------------------------------------
# A loaded machine: most benchmarks moved together (benchmarks.common_shift)
# ---------------------------------------------------------------------------------------------

LOADED_STABLE = {f"bench_{n}": 1000.0 * 1.9**i for i, n in enumerate("abcdefgh")}
# a machine 2.4x slower; each benchmark its own share of it (2.2x to 2.6x)
LOADED_JITTER = (0.93, 1.05, 0.97, 1.08, 1.0, 0.95, 1.03, 0.99)


def _loaded_gate(
    tmp_path: Path, config: str | None, slowed: tuple[str, ...] = (), fmt: str = "text"
) -> subprocess.CompletedProcess[str]:
    _bench_history(LOADED_STABLE, 0.02)(tmp_path)
    values = {
        name: ns * 2.4 * j * (2.5 if name in slowed else 1.0)
        for (name, ns), j in zip(LOADED_STABLE.items(), LOADED_JITTER, strict=True)
    }
    (tmp_path / "bench.txt").write_text(bench_log(values, 0.03))  # a busy machine's wider +/-
    if config is not None:
        (tmp_path / "gatekeeper.yml").write_text(config)
    return gatekeeper(
        "gate", "bench.txt", "--service", "app", "--branch", "main", "--run-id", "now",
        "--timestamp", "2026-11-27T10:00:00Z", "--format", fmt, cwd=tmp_path,
    )  # fmt: skip


def test_a_loaded_run_cannot_be_decided_by_default(tmp_path: Path) -> None:
    done = _loaded_gate(tmp_path, None)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("gatekeeper: error: benchmarks: 8 of 8 moved together by x2.")
    assert lines[0].endswith(
        "(likely a loaded machine); re-run on a quieter machine, or set benchmarks.common_shift"
    )
    # the run is kept (the next runs' history), and its decision is not a pass
    with sqlite3.connect(tmp_path / ".gatekeeper" / "gatekeeper.db") as conn:
        assert conn.execute("SELECT count(*) FROM runs WHERE run_id='now'").fetchone() == (1,)
        passed = conn.execute(
            "SELECT d.passed FROM gate_decisions d JOIN runs r ON r.id = d.run_fk "
            "WHERE r.run_id = 'now'"
        ).fetchall()
    assert passed == [(0,)]


def test_a_loaded_run_as_json_is_one_undecided_object(tmp_path: Path) -> None:
    done = _loaded_gate(tmp_path, None, fmt="json")
    assert done.returncode == 2, done.stderr
    verdict = json.loads(done.stdout)
    assert (verdict["passed"], verdict["decided"], verdict["exit_code"]) == (False, False, 2)
    assert "moved together" in verdict["failures"][0]["message"]


def test_a_loaded_run_fails_with_one_finding_when_set_to_fail(tmp_path: Path) -> None:
    done = _loaded_gate(tmp_path, "benchmarks:\n  common_shift: fail\n", fmt="json")
    assert done.returncode == 1, done.stdout + done.stderr
    verdict = json.loads(done.stdout)
    assert [(f["kind"], f["subject"]) for f in verdict["failures"]] == [("benchmark", "benchmarks")]
    assert verdict["common_shift"]["moved"] == verdict["common_shift"]["judged"] == 8
    assert 2.2 < verdict["common_shift"]["factor"] < 2.6
    assert {b["verdict"] for b in verdict["benchmarks"]} == {"unchanged"}


def test_a_loaded_run_passes_with_a_warning_when_set_to_warn(tmp_path: Path) -> None:
    done = _loaded_gate(tmp_path, "benchmarks:\n  common_shift: warn\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gatekeeper gate: PASSED" in done.stdout
    assert "(after removing the common shift: 8 of 8 moved together by x2." in done.stdout
    assert "likely a loaded machine" in done.stdout


def test_a_change_inside_a_loaded_run_still_fails(tmp_path: Path) -> None:
    """bench_b and bench_g a change made 2.5x slower, on a machine 2.4x slower: those two are
    named, whatever benchmarks.common_shift says; 6 of 8 moved by the load alone."""
    done = _loaded_gate(
        tmp_path, "benchmarks:\n  common_shift: warn\n", ("bench_b", "bench_g"), fmt="json"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    verdict = json.loads(done.stdout)
    assert {f["subject"] for f in verdict["failures"]} == {"bench_b", "bench_g"}
    regressed = {b["name"] for b in verdict["benchmarks"] if b["verdict"] == "regression"}
    assert regressed == {"bench_b", "bench_g"}
