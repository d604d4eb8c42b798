"""Run the real cargo on a tiny crate and check the Rust parsers against what the crate defines."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from gatekeeper.model import Outcome, ParsedReport, RunCounts
from gatekeeper.parsers import libtest, libtest_json

from ..conftest import missing

pytestmark = pytest.mark.cargo

CARGO_TOML = """\
[package]
name = "gk-demo"
version = "0.1.0"
edition = "2024"

[dependencies]
"""

LIB_RS = """\
//! A crate whose tests pass, fail, panic, print and get ignored, for gatekeeper's tests.

/// Adds two numbers.
///
/// ```
/// assert_eq!(gk_demo::add(2, 2), 4);
/// ```
pub fn add(a: u64, b: u64) -> u64 {
    a + b
}

/// A doc example that is wrong on purpose.
///
/// ```
/// assert_eq!(gk_demo::add(1, 1), 3);
/// ```
pub fn broken_example() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_two_and_two() {
        assert_eq!(add(2, 2), 4);
    }

    #[test]
    fn fails_assert_eq() {
        assert_eq!(add(2, 2), 5, "two plus two");
    }

    #[test]
    #[ignore = "needs network"]
    fn ignored_with_reason() {}

    #[test]
    #[should_panic(expected = "boom")]
    fn should_panic_ok() {
        panic!("boom");
    }

    #[test]
    #[should_panic(expected = "kaboom")]
    fn should_panic_wrong_message() {
        panic!("boom");
    }

    #[test]
    fn panics_with_message() {
        panic!("state corrupted: {}", 42);
    }

    #[test]
    fn prints_and_passes() {
        println!("hello from a passing test");
    }

    #[test]
    fn prints_then_fails() {
        print!("partial output without newline");
        panic!("failed after printing");
    }

    #[test]
    fn returns_err() -> Result<(), String> {
        Err("the result was an error".to_string())
    }
}
"""

INTEGRATION_RS = """\
#[test]
fn integration_passes() {
    assert_eq!(gk_demo::add(1, 2), 3);
}

#[test]
#[ignore]
fn integration_ignored() {}
"""

CRASH_RS = """\
#[test]
fn aborts_the_process() {
    std::process::abort();
}
"""


def _doc_line(marker: str) -> int:
    """rustdoc names a doc-test after the line of its opening fence, counted from 1."""
    lines = LIB_RS.split("\n")
    item = next(i for i, line in enumerate(lines) if line.startswith(marker))
    fence = max(i for i in range(item) if lines[i].strip() == "/// ```" and i < item - 2)
    return fence + 1


DOC_OK = f"src/lib.rs - add (line {_doc_line('pub fn add')})"
DOC_BROKEN = f"src/lib.rs - broken_example (line {_doc_line('pub fn broken_example')})"

# What the crate above defines, written down by hand: test id -> outcome.
EXPECTED = {
    "gk_demo::tests::adds_two_and_two": Outcome.PASSED,
    "gk_demo::tests::fails_assert_eq": Outcome.FAILED,
    "gk_demo::tests::ignored_with_reason": Outcome.SKIPPED,
    "gk_demo::tests::should_panic_ok": Outcome.PASSED,
    "gk_demo::tests::should_panic_wrong_message": Outcome.FAILED,
    "gk_demo::tests::panics_with_message": Outcome.FAILED,
    "gk_demo::tests::prints_and_passes": Outcome.PASSED,
    "gk_demo::tests::prints_then_fails": Outcome.FAILED,
    "gk_demo::tests::returns_err": Outcome.FAILED,
    "integration::integration_passes": Outcome.PASSED,
    "integration::integration_ignored": Outcome.SKIPPED,
    f"gk_demo::{DOC_OK}": Outcome.PASSED,
    f"gk_demo::{DOC_BROKEN}": Outcome.FAILED,
}
# Text each failure's message must contain.
MESSAGES = {
    "gk_demo::tests::fails_assert_eq": [
        "assertion `left == right` failed: two plus two",
        "left: 4",
    ],
    "gk_demo::tests::should_panic_wrong_message": ["boom", "panic did not contain expected"],
    "gk_demo::tests::panics_with_message": ["state corrupted: 42"],
    "gk_demo::tests::prints_then_fails": ["failed after printing"],
    "gk_demo::tests::returns_err": ["the result was an error"],
    f"gk_demo::{DOC_BROKEN}": ["assertion `left == right` failed", "right: 3"],
}
PANIC_LINES = {  # test id -> line of the panic in src/lib.rs
    "gk_demo::tests::fails_assert_eq": LIB_RS.split("\n").index(
        '        assert_eq!(add(2, 2), 5, "two plus two");'
    )
    + 1,
    "gk_demo::tests::panics_with_message": LIB_RS.split("\n").index(
        '        panic!("state corrupted: {}", 42);'
    )
    + 1,
}


@dataclass(frozen=True)
class Runs:
    human: str
    nocapture: str
    terse: str
    colour: str
    json: str
    json_returncode: int


def _cargo(crate: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["cargo", "test", "--no-fail-fast", *args],
        cwd=crate,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # 2>&1: cargo's `Running` lines name the binaries
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    if shutil.which("cargo") is None:
        missing("cargo is not on PATH: these tests run the real Rust toolchain")
    root = tmp_path_factory.mktemp("cargo")
    crate = root / "gk-demo"
    (crate / "src").mkdir(parents=True)
    (crate / "tests").mkdir()
    (crate / "Cargo.toml").write_text(CARGO_TOML)
    (crate / "src" / "lib.rs").write_text(LIB_RS)
    (crate / "tests" / "integration.rs").write_text(INTEGRATION_RS)
    (crate / "tests" / "crash.rs").write_text(CRASH_RS)
    # Keep the toolchain's own settings (CARGO_HOME, RUSTUP_TOOLCHAIN, ...), drop the ones
    # that change what libtest prints.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RUST_TEST_", "CARGO_TERM_", "NEXTEST_")) and k != "RUST_LOG"
    }
    env.update(
        CARGO_TARGET_DIR=str(root / "target"),
        CARGO_NET_OFFLINE="true",
        CARGO_TERM_COLOR="never",
        # Lets the stable toolchain take `-Z unstable-options` (libtest's JSON); set for every
        # run so the crate is built once.
        RUSTC_BOOTSTRAP="1",
        RUST_BACKTRACE="1",  # backtraces in the failure output must not end up in messages
    )
    human = _cargo(crate, env)
    assert "running" in human.stdout, f"cargo test did not run the tests:\n{human.stdout}"
    return Runs(
        human=human.stdout,
        nocapture=_cargo(crate, env, "--", "--test-threads=1", "--nocapture").stdout,
        terse=_cargo(crate, env, "-q").stdout,
        colour=_cargo(crate, env, "--color", "always", "--", "--color", "always").stdout,
        json=(
            js := _cargo(
                crate, env, "--", "-Z", "unstable-options", "--format", "json", "--report-time"
            )
        ).stdout,
        json_returncode=js.returncode,
    )


def _final(report: ParsedReport) -> dict[str, Outcome]:
    return {t.test_id: t.outcome for t in report.tests}


def _check_messages(report: ParsedReport) -> None:
    by_id = {t.test_id: t for t in report.tests}
    for test_id, fragments in MESSAGES.items():
        message = by_id[test_id].message or ""
        for fragment in fragments:
            assert fragment in message, (test_id, fragment, message)
        assert "stack backtrace" not in message and "rust_begin_unwind" not in message
        assert "panicked at" not in message  # the header (with its thread id) is dropped


def test_human_output_has_every_test_with_its_outcome(runs: Runs) -> None:
    report = libtest.parse(runs.human.encode(), "cargo-test.txt")
    assert {k: v for k, v in _final(report).items() if not k.startswith("crash::")} == EXPECTED
    _check_messages(report)
    by_id = {t.test_id: t for t in report.tests}
    assert by_id["gk_demo::tests::ignored_with_reason"].message == "needs network"
    for test_id, line in PANIC_LINES.items():
        assert (by_id[test_id].file, by_id[test_id].line) == ("src/lib.rs", line)


def test_human_output_reports_the_aborted_binary(runs: Runs) -> None:
    report = libtest.parse(runs.human.encode(), "cargo-test.txt")
    # The aborting test is named only with its result, which never came (several threads):
    # the binary itself is recorded as an error, so the run is not green.
    [crashed] = [t for t in report.tests if t.suite == "crash"]
    assert (crashed.test_id, crashed.outcome, crashed.failure_kind) == (
        "crash::(binary)",
        Outcome.ERROR,
        "crash",
    )
    assert crashed.message is not None and "SIGABRT" in crashed.message
    crash = [w for w in report.warnings if "`crash`" in w]
    assert len(crash) == 1 and "SIGABRT" in crash[0], report.warnings


def test_human_output_counts_match_the_test_result_lines(runs: Runs) -> None:
    report = libtest.parse(runs.human.encode(), "cargo-test.txt")
    assert not [w for w in report.warnings if "`test result:` says" in w], report.warnings
    counts = RunCounts.of(report.tests)
    assert (counts.passed, counts.failed, counts.skipped) == (
        sum(1 for o in EXPECTED.values() if o is Outcome.PASSED),
        sum(1 for o in EXPECTED.values() if o is Outcome.FAILED),
        sum(1 for o in EXPECTED.values() if o is Outcome.SKIPPED),
    )


def test_nocapture_single_thread_interleaved_output(runs: Runs) -> None:
    # `test x ... ` then the test's own output, then `ok`/`FAILED` on a later line.
    assert "test tests::prints_and_passes ... hello from a passing test" in runs.nocapture
    report = libtest.parse(runs.nocapture.encode(), "cargo-test-nocapture.txt")
    final = _final(report)
    # One thread: the aborting test is named before it runs, and recorded as a crash.
    assert final.pop("crash::aborts_the_process") is Outcome.ERROR
    assert final == EXPECTED
    _check_messages(report)
    by_id = {t.test_id: t for t in report.tests}
    for test_id, line in PANIC_LINES.items():
        assert (by_id[test_id].file, by_id[test_id].line) == ("src/lib.rs", line)


def test_terse_output_records_the_failures(runs: Runs) -> None:
    report = libtest.parse(runs.terse.encode(), "cargo-test-q.txt")
    # `cargo test -q` prints no `Running` lines: the binary is unknown, ids are bare names.
    failed = {k.split("::", 1)[1] for k, v in EXPECTED.items() if v is Outcome.FAILED}
    # ... and the crashed binary is an error without a name to blame
    assert {t.test_id for t in report.tests} == failed | {"(binary)"}
    assert all(t.suite == "" for t in report.tests)
    assert all(t.outcome is Outcome.FAILED for t in report.tests if t.name != "(binary)")
    assert any("terse" in w for w in report.warnings)
    assert any("no cargo `Running` line" in w for w in report.warnings)
    by_name = {t.name: t for t in report.tests}
    for test_id, fragments in MESSAGES.items():
        message = by_name[test_id.split("::", 1)[1]].message or ""
        assert all(f in message for f in fragments), (test_id, message)


def test_coloured_output_parses_like_plain(runs: Runs) -> None:
    assert "\x1b[" in runs.colour
    plain = libtest.parse(runs.human.encode(), "plain.txt")
    colour = libtest.parse(runs.colour.encode(), "colour.txt")
    assert _final(colour) == _final(plain)


def test_json_stream_gives_the_same_ids(runs: Runs) -> None:
    if '{ "type": "suite"' not in runs.json:
        refused = "only accepted on the nightly compiler" in runs.json
        pytest.fail(
            "cargo refused libtest's JSON output even with RUSTC_BOOTSTRAP=1"
            + (" (the known nightly-only refusal)" if refused else "")
            + f"; exit code {runs.json_returncode}:\n{runs.json[-2000:]}"
        )
    report = libtest_json.parse(runs.json.encode(), "cargo-test.jsonl")
    final = _final(report)
    # JSON names a test when it starts, so the aborted one is an error record here.
    assert final.pop("crash::aborts_the_process") is Outcome.ERROR
    assert final == EXPECTED
    _check_messages(report)
    human = libtest.parse(runs.human.encode(), "cargo-test.txt")
    assert set(final) == {t.test_id for t in human.tests} - {"crash::(binary)"}
    # --report-time gives every finished test a duration.
    assert all(
        t.duration is not None
        for t in report.tests
        if t.outcome is not Outcome.SKIPPED and t.failure_kind != "crash"
    )
    assert not [w for w in report.warnings if "suite event says" in w], report.warnings


@pytest.mark.e2e
def test_gatekeeper_ingest_detects_and_stores_what_cargo_printed(
    runs: Runs, tmp_path: Path
) -> None:
    """The whole path: the real `cargo test` output, auto-detected, through `gatekeeper ingest`."""
    import json
    import subprocess
    import sys

    log = tmp_path / "cargo-test.txt"
    log.write_text(runs.human, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "gatekeeper.cli", "ingest", str(log), "--service", "gk-demo",
         "--run-id", "1", "--json", "--db", f"sqlite:///{tmp_path / 'h.db'}"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    outcomes = list(EXPECTED.values())
    assert obj["passed"] == outcomes.count(Outcome.PASSED)
    assert obj["failed"] == outcomes.count(Outcome.FAILED)
    assert obj["skipped"] == outcomes.count(Outcome.SKIPPED)
    assert obj["errors"] == 1  # the aborted binary
    assert obj["tests"] == len(EXPECTED) + 1
