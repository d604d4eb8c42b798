"""`gatekeeper skip-list` run for real: cargo test and pytest skip exactly the quarantined tests."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from gatekeeper.emit import skiplist
from gatekeeper.parsers import parse

from .cli import clean_env, gatekeeper

# ---------------------------------------------------------------------------------------------
# cargo test, for real
# ---------------------------------------------------------------------------------------------

CARGO_TOML = """\
[package]
name = "user-service"
version = "0.1.0"
edition = "2021"

[dependencies]
"""

LIB_RS = """\
pub fn add(a: i32, b: i32) -> i32 { a + b }

#[cfg(test)]
mod tests {
    use super::add;
    #[test] fn flaky() { assert_eq!(add(1, 1), 2); }
    #[test] fn flaky_but_not_this_one() { assert_eq!(add(1, 2), 3); }
    #[test] fn not_flaky() { assert_eq!(add(2, 2), 4); }
    mod inner {
        #[test] fn flaky() { assert!(true); }
    }
}
"""

INTEGRATION_RS = """\
#[test] fn smoke() { assert_eq!(user_service::add(0, 0), 0); }
#[test] fn smoke_twice() { assert_eq!(user_service::add(1, 0), 1); }
"""

# the six tests of the crate, as `binary::path` (docs/test-ids.md); no doc-tests in LIB_RS
ALL_RUST = {
    "user_service::tests::flaky",
    "user_service::tests::flaky_but_not_this_one",
    "user_service::tests::not_flaky",
    "user_service::tests::inner::flaky",
    "integration::smoke",
    "integration::smoke_twice",
}
QUARANTINED_RUST = {"user_service::tests::flaky", "integration::smoke"}

_TEST_LINE = re.compile(r"^test (\S+) \.\.\. (ok|FAILED|ignored)$", re.M)
_RESULT = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", re.M)


@pytest.fixture(scope="module")
def crate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crate")
    (root / "src").mkdir()
    (root / "tests").mkdir()
    (root / "Cargo.toml").write_text(CARGO_TOML, encoding="utf-8")
    (root / "src" / "lib.rs").write_text(LIB_RS, encoding="utf-8")
    (root / "tests" / "integration.rs").write_text(INTEGRATION_RS, encoding="utf-8")
    return root


def _cargo_test(crate: Path, *args: str) -> str:
    env = clean_env(CARGO_TARGET_DIR=str(crate / "target"), CARGO_NET_OFFLINE="true")
    done = subprocess.run(
        ["cargo", "test", "--", *args],
        cwd=crate,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # cargo writes `Running` to stderr, libtest to stdout
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    return done.stdout


def _ran_per_binary(stdout: str) -> set[str]:
    """`binary::path` of every test libtest ran, by the `test x ... ok` lines of each binary."""
    ran: set[str] = set()
    for line in stdout.splitlines():
        test = _TEST_LINE.match(line)
        if test:
            ran.add(test.group(1))
    return ran


@pytest.mark.cargo
def test_cargo_skip_list_skips_exactly_the_quarantined(crate: Path, tmp_path: Path) -> None:
    first = _cargo_test(crate)
    # the ids gatekeeper stores for this log are the ids we quarantine by
    report = parse(first.encode(), "cargo-test.log")
    assert {t.test_id for t in report.tests} == ALL_RUST
    for test_id in sorted(QUARANTINED_RUST):
        add = gatekeeper(
            "quarantine", "add", test_id, "--service", "user-service", "--reason", "flaky",
            cwd=tmp_path,
        )  # fmt: skip
        assert add.returncode == 0, add.stderr
    listed = gatekeeper("skip-list", "--format", "cargo", "--service", "user-service", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    args = shlex.split(listed.stdout)  # what `$(...)` word splitting gives cargo
    assert args == ["--skip", "smoke", "--skip", "tests::flaky", "--exact"]

    second = _cargo_test(crate, *args)
    ran = _ran_per_binary(second)
    assert ran == {"tests::flaky_but_not_this_one", "tests::not_flaky", "tests::inner::flaky"} | {
        "smoke_twice"
    }
    # libtest's own summary lines: lib 3 passed, integration 1 passed, doc-tests 0
    results = [tuple(int(n) for n in m) for m in _RESULT.findall(second)]
    assert sorted(r[0] for r in results) == [0, 1, 3]
    assert all(r[1] == 0 and r[2] == 0 for r in results)


@pytest.mark.cargo
def test_cargo_empty_skip_list_runs_everything(crate: Path, tmp_path: Path) -> None:
    listed = gatekeeper("skip-list", "--format", "cargo", "--service", "user-service", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == ""
    ran = _ran_per_binary(_cargo_test(crate, *shlex.split(listed.stdout)))
    assert len(ran) == len(ALL_RUST)


# ---------------------------------------------------------------------------------------------
# pytest, for real
# ---------------------------------------------------------------------------------------------

PY_FILES = {
    "tests/__init__.py": "",
    "tests/test_top.py": (
        "import pytest\n\n"
        "def test_a():\n    pass\n\n"
        "def test_a_longer():\n    pass\n\n"
        "@pytest.mark.parametrize('x', [1, 2, 'b'])\n"
        "def test_param(x):\n    pass\n\n"
        "class TestGroup:\n"
        "    def test_a(self):\n        pass\n\n"
        "    class TestNested:\n"
        "        def test_deep(self):\n            pass\n"
    ),
    "tests/pkg/__init__.py": "",
    "tests/pkg/test_inner.py": (
        "class TestInner:\n"
        "    def test_x(self):\n        pass\n\n"
        "    def test_y(self):\n        pass\n"
    ),
}
QUARANTINED_PY = {
    "tests.test_top::test_param[2]",
    "tests.test_top.TestGroup.TestNested::test_deep",
    "tests.pkg.test_inner.TestInner::test_x",
}


def _pytest(project: Path, junit: Path, *args: str) -> set[str]:
    """Run pytest in the project; return the node ids it reports as PASSED (-rA)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "-p", "no:randomly",
         f"--junitxml={junit}", *args],
        cwd=project, env=clean_env(PYTHONDONTWRITEBYTECODE="1"), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return set(re.findall(r"^PASSED (\S+)$", done.stdout, re.M))


def test_pytest_skip_list_deselects_exactly_the_quarantined(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for rel, text in PY_FILES.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    first_ran = _pytest(project, tmp_path / "first.xml")
    assert len(first_ran) == 9  # 2 + 3 params + 2 in TestGroup + 2 in TestInner
    report = parse((tmp_path / "first.xml").read_bytes(), "first.xml")
    ids = {t.test_id for t in report.tests}
    assert ids >= QUARANTINED_PY and len(ids) == 9

    for test_id in sorted(QUARANTINED_PY):
        add = gatekeeper(
            "quarantine", "add", test_id, "--service", "search", "--reason", "flaky", cwd=tmp_path
        )
        assert add.returncode == 0, add.stderr
    listed = gatekeeper("skip-list", "--format", "pytest", "--service", "search", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    args = listed.stdout.split()  # `$(...)` word splitting
    second_ran = _pytest(project, tmp_path / "second.xml", *args)
    expected_skipped = {
        "tests/test_top.py::test_param[2]",
        "tests/test_top.py::TestGroup::TestNested::test_deep",
        "tests/pkg/test_inner.py::TestInner::test_x",
    }
    assert first_ran - second_ran == expected_skipped
    assert second_ran == first_ran - expected_skipped
    # pytest's own junit of the second run: 6 tests, none of the quarantined
    second = parse((tmp_path / "second.xml").read_bytes(), "second.xml")
    assert {t.test_id for t in second.tests} == ids - QUARANTINED_PY


# ---------------------------------------------------------------------------------------------
# the emitters on inline ids (runners not available here: nextest, go)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("test_id", "node_id"),
    [
        ("tests.test_x.TestA::test_y[p-1]", "tests/test_x.py::TestA::test_y[p-1]"),
        ("tests.test_x::test_y", "tests/test_x.py::test_y"),
        ("test_root::test_y", "test_root.py::test_y"),
        ("tests/test_x.py::TestA::test_y", "tests/test_x.py::TestA::test_y"),  # already a node id
        ("test_y", "test_y"),
    ],
    ids=["class-param", "module", "root-module", "node-id", "bare"],
)
def test_pytest_node_id(test_id: str, node_id: str) -> None:
    assert skiplist.pytest_node_id(test_id) == node_id


def test_cargo_leaves_doc_tests_out_with_a_warning() -> None:
    out = skiplist.cargo(["user_service::src/lib.rs - add (line 3)", "user_service::tests::a"])
    assert out.lines == ("--skip", "tests::a", "--exact")
    assert len(out.warnings) == 1 and out.warnings[0].startswith("user_service::src/lib.rs")


def test_cargo_same_path_in_two_binaries_is_one_skip() -> None:
    out = skiplist.cargo(["a::tests::x", "b::tests::x"])
    assert out.lines == ("--skip", "tests::x", "--exact")


def test_nextest_filterset() -> None:
    out = skiplist.nextest(["user_service::tests::b", "integration::smoke", "x::tests::b"])
    assert out.lines == ("not (test(=smoke) | test(=tests::b))",)
    assert skiplist.nextest([]).lines == ("all()",)
    odd = skiplist.nextest(["b::weird(name)"])
    assert odd.lines == ("all()",) and "weird(name)" in odd.warnings[0]


def test_gotest_regexp_anchors_every_level() -> None:
    out = skiplist.gotest(["example.com/q::TestParse/empty.case", "example.com/q::TestB"])
    assert out.lines == (r"^TestB$|^TestParse$/^empty\.case$",)
    assert skiplist.gotest([]).lines == ()


def test_gotest_regexp_matches_what_go_would_skip() -> None:
    # Go splits -skip at top-level `|`, then at `/`; each level is matched unanchored by RE2,
    # which agrees with Python's re on these patterns. A test is skipped when an alternative has
    # no more levels than its name and every level matches.
    (pattern,) = skiplist.gotest(["p::TestA", "p::TestB/sub"]).lines

    def skipped(name: str) -> bool:
        levels = name.split("/")
        for alt in pattern.split("|"):
            parts = alt.split("/")
            if len(parts) <= len(levels) and all(
                re.search(p, lv) for p, lv in zip(parts, levels, strict=False)
            ):
                return True
        return False

    assert skipped("TestA") and skipped("TestA/any") and skipped("TestB/sub")
    assert not skipped("TestAB") and not skipped("TestB") and not skipped("TestB/sub2")


def test_runner_formats_need_a_service_and_json_lists_all(tmp_path: Path) -> None:
    for test_id, service in (("a::t1", "svc-a"), ("b::t2", "svc-b")):
        add = gatekeeper(
            "quarantine", "add", test_id, "--service", service, "--reason", "r", "--owner", "o",
            cwd=tmp_path,
        )  # fmt: skip
        assert add.returncode == 0, add.stderr
    no_service = gatekeeper("skip-list", "--format", "cargo", cwd=tmp_path)
    assert no_service.returncode == 2 and "needs --service" in no_service.stderr
    as_json = gatekeeper("skip-list", "--format", "json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)
    assert [(r["name"], r["service"], r["owner"]) for r in rows] == [
        ("a::t1", "svc-a", "o"),
        ("b::t2", "svc-b", "o"),
    ]
    text = gatekeeper("skip-list", "--service", "svc-b", cwd=tmp_path)
    assert text.stdout == "b::t2\n"
    bad = gatekeeper("skip-list", "--format", "yaml", cwd=tmp_path)
    assert bad.returncode == 2 and "not a skip-list format" in bad.stderr


def test_the_services_runner_is_the_default_format(tmp_path: Path) -> None:
    """`services.NAME.runner` in gatekeeper.yml: `skip-list --service NAME` takes that format."""
    (tmp_path / "gatekeeper.yml").write_text(
        "services:\n  search:\n    runner: pytest\n  users:\n    runner: cargo\n  docs: {}\n"
    )
    for service, test_id in (("search", "tests/test_a.py::test_x"), ("users", "tests::flaky")):
        add = gatekeeper(
            "quarantine", "add", test_id, "--service", service, "--reason", "flaky", cwd=tmp_path
        )
        assert add.returncode == 0, add.stderr
    for service, fmt in (("search", "pytest"), ("users", "cargo"), ("docs", "text")):
        default = gatekeeper("skip-list", "--service", service, cwd=tmp_path)
        explicit = gatekeeper("skip-list", "--service", service, "--format", fmt, cwd=tmp_path)
        assert default.returncode == explicit.returncode == 0, default.stderr + explicit.stderr
        assert default.stdout == explicit.stdout
    assert "--deselect" in gatekeeper("skip-list", "--service", "search", cwd=tmp_path).stdout
    assert "--skip" in gatekeeper("skip-list", "--service", "users", cwd=tmp_path).stdout
