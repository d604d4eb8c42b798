"""cargo-nextest human output: nextest's snapshots (status catalogue, stress, rerun) and logs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.errors import EmptyReportError, InputError, ReportParseError, WrongFormatError
from gatekeeper.model import Outcome, ParsedReport, RunCounts
from gatekeeper.parsers import libtest, libtest_json, nextest


def _parse(realworld: Path, name: str) -> ParsedReport:
    return nextest.parse((realworld / "cargo" / name).read_bytes(), name)


# What each status in nextest's catalogue snapshot means, by its `# label:` comment (written
# from nextest's reporter: a pass is a pass even when slow or leaky; XFAIL means the test binary
# could not be executed; FLKY-FL is a flaky test whose profile fails flaky tests).
CATALOGUE = {
    "pass": Outcome.PASSED,
    "leak pass": Outcome.PASSED,
    "timeout pass": Outcome.PASSED,
    "pass slow": Outcome.PASSED,
    "leak pass slow": Outcome.PASSED,
    "timeout pass slow": Outcome.PASSED,
    "flaky": Outcome.PASSED,
    "flaky fail": Outcome.PASSED,  # the attempt passed (TRY 2 PASS); see the final FLKY-FL below
    "fail": Outcome.FAILED,
    "fail leak": Outcome.FAILED,
    "exec fail": Outcome.ERROR,
    "leak fail": Outcome.FAILED,
    "timeout fail": Outcome.FAILED,
    "abort unix": Outcome.FAILED,
    "abort windows": Outcome.FAILED,
    "fail retry": Outcome.FAILED,
    "fail leak retry": Outcome.FAILED,
    "leak fail retry": Outcome.FAILED,
    "timeout fail retry": Outcome.FAILED,
}


def test_status_catalogue_every_label(realworld: Path) -> None:
    text = (realworld / "cargo" / "nextest__status_line_all_variants.txt").read_text()
    labels = []  # (section, label, line number of the status line under it)
    section = ""
    for no, line in enumerate(text.split("\n"), start=1):
        if line.startswith("=== "):
            section = line.strip("= ")
        elif m := re.match(r"^# (.+):\s*$", line):
            labels.append((section, m[1], no + 1))
    report = _parse(realworld, "nextest__status_line_all_variants.txt")
    assert len(report.tests) == len(labels) == 38
    for test, (section, label, _no) in zip(report.tests, labels, strict=True):
        want = CATALOGUE[label]
        if label == "flaky fail" and section == "final":
            want = Outcome.FAILED  # FLKY-FL 2/2: the run fails on it
        assert test.outcome is want, (section, label, test)
        assert test.test_id == "my_binary_id::test_name"
        if "timeout fail" in label:
            assert test.failure_kind == "timeout"
    by_label = dict(zip([(s, lb) for s, lb, _ in labels], report.tests, strict=True))
    windows = by_label[("final", "abort windows")]
    assert windows.message == "with code 0xc0000005: Access violation"
    assert by_label[("final", "abort unix")].failure_kind == "signal SIGSEGV"
    assert by_label[("intermediate", "flaky fail")].message == "test configured to fail if flaky"
    assert [t.duration for t in report.tests[:3]] == [1.0, 2.0, 240.0]
    # 38 executions of one test, numbered in order; the catalogue has no Summary line.
    assert [t.retry for t in report.tests] == list(range(38))
    assert report.warnings == (
        "nextest__status_line_all_variants.txt: no `Summary` line: the log may be cut off; "
        "the 38 status lines it has are kept",
    )


def test_stress_run(realworld: Path) -> None:
    report = _parse(realworld, "nextest__stress_run_replay_human.txt")
    text = (realworld / "cargo" / "nextest__stress_run_replay_human.txt").read_text()
    runs = [t for t in report.tests if t.test_id == "basic::test_success"]
    assert len(runs) == len(re.findall(r"^\s+PASS \[", text, re.M)) == 5
    assert [t.retry for t in runs] == [0, 1, 2, 3, 4]
    assert all(t.outcome is Outcome.PASSED and t.duration is None for t in runs)  # `[ duration]`
    skipped = {t.test_id for t in report.tests if t.outcome is Outcome.SKIPPED}
    # 31 SKIP lines per iteration, recorded once; `fixture-project::bin/fixture-project
    # fake_test_name` and `...::example/fixture-project fake_test_name` share an id.
    assert len(skipped) == 30
    assert {"fixture_project::tests::unit_test_success", "segfault::test_segfault"} <= skipped
    assert "basic::test_success" not in skipped
    assert report.warnings == ()  # each iteration's `1 test run: 1 passed, 31 skipped` agrees


def test_rerun_outstanding(realworld: Path) -> None:
    report = _parse(realworld, "nextest__rerun_outstanding_human.txt")
    assert [(t.test_id, t.outcome) for t in report.tests] == [
        ("basic::test_success", Outcome.PASSED)
    ]
    assert report.warnings == ()


# ---------------------------------------------------------------------------------------------
# Inline logs in the shapes nextest prints
# ---------------------------------------------------------------------------------------------

FAILING_RUN = """\
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.06s
────────────
 Nextest run ID 4c2f8dd6-2ff4-4de0-b4b5-9a7709c6749b with nextest profile: ci
    Starting 3 tests across 2 binaries (1 test skipped)
        PASS [   0.004s] (1/3) user-service tests::it_works
        FAIL [   0.151s] (2/3) user-service::integration api::rejects_bad_token
  stdout ───

    running 1 test
    test api::rejects_bad_token ... FAILED

    failures:

    failures:
        api::rejects_bad_token

    test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 4 filtered out

  stderr ───

    thread 'api::rejects_bad_token' (2930666) panicked at tests/integration.rs:42:5:
    assertion `left == right` failed: status
      left: 200
     right: 401
    note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

        PASS [   0.010s] (3/3) user-service::bin/cli tests::parses_args
────────────
     Summary [   0.166s] 3 tests run: 2 passed, 1 failed, 1 skipped
        FAIL [   0.151s] (2/3) user-service::integration api::rejects_bad_token
  stdout ───

    running 1 test
    test api::rejects_bad_token ... FAILED

  stderr ───

    thread 'api::rejects_bad_token' (2930666) panicked at tests/integration.rs:42:5:
    assertion `left == right` failed: status
      left: 200
     right: 401

error: test run failed
"""


def test_failing_run_with_output_blocks_and_final_recap() -> None:
    report = nextest.parse(FAILING_RUN.encode(), "nextest.log")
    assert [(t.test_id, t.outcome, t.duration) for t in report.tests] == [
        ("user_service::tests::it_works", Outcome.PASSED, 0.004),
        ("integration::api::rejects_bad_token", Outcome.FAILED, 0.151),  # once, not twice
        ("cli::tests::parses_args", Outcome.PASSED, 0.010),
    ]
    failed = report.tests[1]
    assert failed.message == "assertion `left == right` failed: status\n  left: 200\n right: 401"
    assert (failed.failure_kind, failed.file, failed.line) == ("panic", "tests/integration.rs", 42)
    assert report.warnings == ()


def test_output_shown_only_in_the_final_recap_gives_the_message() -> None:
    # failure-output = "final": the output comes after `Summary`, with the repeated FAIL line.
    log = """\
    Starting 1 test across 1 binary
        FAIL [   0.020s] app::db pool::times_out
────────────
     Summary [   0.021s] 1 test run: 0 passed, 1 failed, 0 skipped
        FAIL [   0.020s] app::db pool::times_out
  stderr ───
    Note: the pool had 0 idle connections
    thread 'pool::times_out' panicked at tests/db.rs:12:5:
    timed out waiting for a connection

error: test run failed
"""
    report = nextest.parse(log.encode(), "final.log")
    (test,) = report.tests
    assert (test.test_id, test.message, test.line) == (
        "db::pool::times_out",
        "timed out waiting for a connection",
        12,
    )
    assert report.warnings == ()


def test_colour_codes_are_ignored() -> None:
    coloured = re.sub(r"\b(PASS|FAIL|Summary)\b", "\x1b[32;1m\\1\x1b[0m", FAILING_RUN)
    assert "\x1b[" in coloured
    plain = nextest.parse(FAILING_RUN.encode(), "a")
    assert nextest.parse(coloured.encode(), "a") == plain


def test_retries_are_attempts_of_one_test() -> None:
    log = """\
    Starting 1 test across 1 binary
   TRY 1 FAIL [   0.004s] nextest-tests::basic test_flaky_mod_3
--- TRY 1 STDERR:        nextest-tests::basic test_flaky_mod_3 ---
thread 'main' panicked at 'Failed because attempt 1 % 3 != 0', tests/basic.rs:60:5
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

  RETRY 2/3 [         ] nextest-tests::basic test_flaky_mod_3
   TRY 2 FAIL [   0.003s] nextest-tests::basic test_flaky_mod_3
  RETRY 3/3 [         ] nextest-tests::basic test_flaky_mod_3
   TRY 3 PASS [   0.003s] nextest-tests::basic test_flaky_mod_3
------------
     Summary [   0.012s] 1 test run: 1 passed (1 flaky), 0 skipped
   FLAKY 3/3 [   0.003s] nextest-tests::basic test_flaky_mod_3
"""
    report = nextest.parse(log.encode(), "retry.log")
    assert [(t.retry, t.outcome) for t in report.tests] == [
        (0, Outcome.FAILED),
        (1, Outcome.FAILED),
        (2, Outcome.PASSED),
    ]
    assert {t.test_id for t in report.tests} == {"basic::test_flaky_mod_3"}
    first = report.tests[0]
    assert (first.message, first.line) == ("Failed because attempt 1 % 3 != 0", 60)
    counts = RunCounts.of(report.tests)
    assert (counts.tests, counts.passed, counts.retried, counts.flaky) == (1, 1, 1, 1)
    assert report.warnings == ()


def test_signal_and_timeout_messages() -> None:
    log = """\
    Starting 2 tests across 1 binary
     SIGSEGV [   0.050s] fixture-project::segfault test_segfault

    (test aborted with signal 11: SIGSEGV)

     TIMEOUT [  60.002s] fixture-project::basic test_slow_timeout

    (test timed out)

────────────
     Summary [  60.100s] 2 tests run: 0 passed, 1 failed, 1 timed out, 0 skipped
"""
    report = nextest.parse(log.encode(), "sig.log")
    segv, slow = report.tests
    assert (segv.test_id, segv.failure_kind, segv.message) == (
        "segfault::test_segfault",
        "signal SIGSEGV",
        "aborted with signal 11: SIGSEGV",
    )
    assert (slow.failure_kind, slow.message, slow.duration) == ("timeout", "timed out", 60.002)
    assert report.warnings == ()


def test_failure_without_a_panic_keeps_stderr_not_libtest_lines() -> None:
    log = """\
    Starting 1 test across 1 binary
        FAIL [   0.005s] apache-avro::nullable_union nullable_enum::encodes
  stdout ───

    running 1 test
    test nullable_enum::encodes ... FAILED

    failures:

    failures:
        nullable_enum::encodes

    test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 35 filtered out

  stderr ───

    The application panicked (crashed).
      Error: expected Schema::Union
    in avro/tests/nullable_union.rs, line 214

────────────
     Summary [   0.006s] 1 test run: 0 passed, 1 failed, 0 skipped
"""
    (test,) = nextest.parse(log.encode(), "eyre.log").tests
    assert test.message == (
        "The application panicked (crashed).\n  Error: expected Schema::Union\n"
        "in avro/tests/nullable_union.rs, line 214"
    )


def test_summary_mismatch_warns() -> None:
    # `--status-level fail`: passing tests print no status line.
    log = """\
    Starting 3 tests across 1 binary
        FAIL [   0.001s] app tests::bad
────────────
     Summary [   0.010s] 3 tests run: 2 passed, 1 failed, 0 skipped
"""
    report = nextest.parse(log.encode(), "quiet.log")
    assert [t.outcome for t in report.tests] == [Outcome.FAILED]
    (warning,) = report.warnings
    assert warning.startswith("quiet.log:4: the summary says 3 tests run (2 passed, 1 failed)")
    assert "--status-level" in warning


@pytest.mark.parametrize(
    ("binary", "test_id"),
    [
        ("nextest-tests", "nextest_tests::test_x"),
        ("fixture-project::basic", "basic::test_x"),
        ("user-service::bin/cli", "cli::test_x"),
        ("user-service::example/demo", "demo::test_x"),
    ],
)
def test_binary_ids(binary: str, test_id: str) -> None:
    log = f"""\
    Starting 1 test across 1 binary
        PASS [   0.004s] {binary} test_x
     Summary [   0.005s] 1 test run: 1 passed, 0 skipped
"""
    (test,) = nextest.parse(log.encode(), "ids.log").tests
    assert test.test_id == test_id


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", EmptyReportError),
        (b"   Starting 3 tests across 1 binary\n", ReportParseError),
        (b"     Summary [   0.010s] 3 tests run: 3 passed, 0 skipped\n", EmptyReportError),
        (b"hello\n", WrongFormatError),
    ],
    ids=["empty", "cut-off", "summary-only", "not-nextest"],
)
def test_unusable_input(data: bytes, error: type[InputError]) -> None:
    with pytest.raises(error) as err:
        nextest.parse(data, "in.log")
    assert str(err.value).startswith("in.log")


@pytest.mark.parametrize(
    ("name", "score"),
    [
        ("cargo/nextest__rerun_outstanding_human.txt", 95),
        ("cargo/nextest__stress_run_replay_human.txt", 95),
        ("cargo/nextest__status_line_all_variants.txt", 85),
        ("cargo/rust-book__fail_panic.txt", 0),
        ("cargo/cargo2junit__success.jsonl", 0),
        ("junit/nextest__fixture_project_rerunfailure.xml", 0),
        ("bench/github-action-benchmark__catch2_v2_bench_windows.txt", 0),
    ],
)
def test_sniff(realworld: Path, name: str, score: int) -> None:
    assert nextest.sniff((realworld / name).read_bytes()[:65536]) == score


def test_nextest_logs_are_not_taken_for_libtest(realworld: Path) -> None:
    # nextest shows libtest's own lines inside a failing test's output.
    head = FAILING_RUN.encode()
    assert nextest.sniff(head) > libtest.sniff(head) > 0
    assert libtest_json.sniff(head) == 0


_PIECES = [
    "    Starting 2 tests across 1 binary",
    "        PASS [   0.004s] app tests::a",
    "        FAIL [   0.004s] (1/2) app::it tests::b",
    "   TRY 2 FAIL [   0.004s] app tests::b",
    "  RETRY 2/3 [         ] app tests::b",
    "        SKIP [         ] app tests::c",
    "     SIGABRT [   0.004s] app tests::d",
    "     WEIRD [   0.004s] app tests::e",
    "  stderr ───",
    "    thread 'b' panicked at src/lib.rs:1:1:",
    "    boom",
    "           - with code 0xc0000005: Access violation",
    "────────────",
    "     Summary [   0.010s] 2 tests run: 1 passed, 1 failed, 0 skipped",
    " Stress test iteration 1/2 (00:00:00 elapsed so far, 2 iterations remaining)",
    " Stress test [ duration] iteration 1/2: 1 test run: 1 passed, 0 skipped",
    "",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30))
def test_any_line_sequence_parses_or_raises_an_input_error(pieces: list[str]) -> None:
    try:
        report = nextest.parse("\n".join(pieces).encode(), "fuzz.log")
    except InputError:
        return
    assert all(w.startswith("fuzz.log") for w in report.warnings)
    assert all(t.retry >= 0 for t in report.tests)


def test_a_log_line_in_the_output_is_not_a_status_line() -> None:
    # flexi_logger's `LEVEL [module] message` looks like `STATUS [duration] binary name`.
    log = """    Starting 2 tests across 1 binary
        PASS [   0.004s] my-crate tests::ok_one
        FAIL [   0.010s] my-crate tests::db_connect
  stdout ───

    running 1 test
    INFO [my_crate::db] connecting to postgres://localhost
    WARN [my_crate::db] retrying
    test tests::db_connect ... FAILED

  stderr ───
    thread 'tests::db_connect' panicked at src/db.rs:42:9:
    connection refused
    note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

------------
     Summary [   0.012s] 2 tests run: 1 passed, 1 failed, 0 skipped
        FAIL [   0.010s] my-crate tests::db_connect
error: test run failed
""".encode()
    report = nextest.parse(log, "nextest.txt")
    failed = {t.name: t for t in report.tests}["tests::db_connect"]
    assert (failed.message, failed.failure_kind, failed.file, failed.line) == (
        "connection refused", "panic", "src/db.rs", 42,
    )  # fmt: skip
    assert report.warnings == ()


def test_an_error_line_of_the_test_does_not_end_an_unindented_block() -> None:
    # Older nextest: `--- STDERR: ... ---` and the output at column 0, where a test's own
    # `error: ...` looks like nextest's.
    log = b"""    Starting 1 test across 1 binary
        FAIL [   0.003s] my-crate tests::cli_run

--- STDOUT:              my-crate tests::cli_run ---

running 1 test
test tests::cli_run ... FAILED

--- STDERR:              my-crate tests::cli_run ---
error: config file not found: /tmp/x.toml
thread 'tests::cli_run' panicked at src/lib.rs:5:5:
expected exit code 0, got 2
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

------------
     Summary [   0.004s] 1 test run: 0 passed, 1 failed, 0 skipped
        FAIL [   0.003s] my-crate tests::cli_run
error: test run failed
"""
    report = nextest.parse(log, "nextest.txt")
    (failed,) = report.tests
    assert (failed.message, failed.failure_kind, failed.file, failed.line) == (
        "expected exit code 0, got 2", "panic", "src/lib.rs", 5,
    )  # fmt: skip
