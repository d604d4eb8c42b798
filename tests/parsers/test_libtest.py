"""libtest human output: the real corpus (cargo test, cargo bench, terse) and small inline logs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.errors import (
    EmptyReportError,
    InputError,
    ReportParseError,
    WrongFormatError,
)
from gatekeeper.model import Direction, Outcome, ParsedReport, SpreadKind
from gatekeeper.parsers import libtest, libtest_json, nextest

CARGO_HUMAN = [
    "rust-book__fail_assert_eq_2022_old_format.txt",
    "rust-book__fail_captured_stdout_assert_eq.txt",
    "rust-book__fail_panic.txt",
    "rust-book__fail_panic_2019_old_format.txt",
    "rust-book__filtered_run.txt",
    "rust-book__ignored_test.txt",
    "rust-book__multi_binary_integration.txt",
    "rust-book__multi_binary_with_empty_common.txt",
    "rust-book__pass_with_empty_doctests.txt",
    "rust-book__refcell_panic_long_name.txt",
    "rust-book__run_ignored_only.txt",
    "rust-book__should_panic_ok.txt",
    "rust-book__should_panic_wrong_message.txt",
    "rust-book__show_output_successes.txt",
    "rust-book__single_integration_target.txt",
    "rust-lang__doctest_failures_compile_and_runtime.txt",
    "rust-lang__doctest_should_panic_failed.txt",
    "rust-lang__libtest_panic_abort_stderr_sections.txt",
    "rust-lang__libtest_terse_format.txt",
]
BENCH = [
    "bencher__cargo_bench_decimal_commas_aligned.txt",
    "bencher__cargo_bench_failed_panic.txt",
    "bencher__cargo_bench_ignored.txt",
    "bencher__cargo_bench_mixed_units_edited.txt",
    "bencher__cargo_bench_multi_target.txt",
    "bencher__cargo_bench_zero.txt",
    "github-action-benchmark__cargo_bench_bare_lines.txt",
    "github-action-benchmark__cargo_bench_decimal_ns.txt",
    "github-action-benchmark__cargo_bench_libtest.txt",
    "github-action-benchmark__bencher_format_custom_units.txt",
]
# Files whose own `test result:` lines disagree with their test lines (see MANIFEST.tsv):
# hand-edited bench fixtures, and terse output, which does not name passing tests.
# Bench lines only, no `test result:` line to compare with.
NO_RESULT_LINE = {
    "github-action-benchmark__cargo_bench_bare_lines.txt",
    "github-action-benchmark__bencher_format_custom_units.txt",
}
INCONSISTENT = {
    "bencher__cargo_bench_mixed_units_edited.txt",
    "bencher__cargo_bench_multi_target.txt",
    "rust-lang__libtest_terse_format.txt",
}

_LINE = re.compile(r"^test (.+?) \.\.\. (ok|FAILED|ignored)\b", re.M)
_TERSE_FAILED = re.compile(r"^\S.* --- FAILED$", re.M)
_BENCH_LINE = re.compile(r"\.\.\. bench:\s+\d", re.M)
_RESULT = re.compile(
    r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored; (\d+) measured", re.M
)


def _corpus(realworld: Path, name: str) -> Path:
    folder = "cargo" if name.startswith("rust-") else "bench"
    return realworld / folder / name


def _parse(realworld: Path, name: str) -> tuple[ParsedReport, str]:
    path = _corpus(realworld, name)
    return libtest.parse(path.read_bytes(), name), path.read_text(encoding="utf-8")


def _outcomes(report: ParsedReport) -> dict[Outcome, int]:
    counts = dict.fromkeys(Outcome, 0)
    for t in report.tests:
        counts[t.outcome] += 1
    return counts


def _ids(report: ParsedReport) -> dict[str, Outcome]:
    return {t.test_id: t.outcome for t in report.tests}


# ---------------------------------------------------------------------------------------------
# The corpus: every file parses, and the counts agree with independent counts of its lines
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CARGO_HUMAN + BENCH)
def test_corpus_counts_match_the_test_lines(realworld: Path, name: str) -> None:
    report, text = _parse(realworld, name)
    statuses = [status for _, status in _LINE.findall(text)]
    got = _outcomes(report)
    assert got[Outcome.PASSED] == statuses.count("ok")
    assert got[Outcome.FAILED] + got[Outcome.ERROR] == (
        statuses.count("FAILED") + len(_TERSE_FAILED.findall(text))
    )
    assert got[Outcome.SKIPPED] == statuses.count("ignored")
    assert len(report.benchmarks) == len(_BENCH_LINE.findall(text))
    assert report.format == "libtest"


@pytest.mark.parametrize("name", sorted(set(CARGO_HUMAN + BENCH) - INCONSISTENT - NO_RESULT_LINE))
def test_corpus_counts_match_the_test_result_lines(realworld: Path, name: str) -> None:
    report, text = _parse(realworld, name)
    sums = [sum(int(row[i]) for row in _RESULT.findall(text)) for i in range(4)]
    got = _outcomes(report)
    assert [
        got[Outcome.PASSED],
        got[Outcome.FAILED] + got[Outcome.ERROR],
        got[Outcome.SKIPPED],
        len(report.benchmarks),
    ] == sums
    assert not [w for w in report.warnings if "says" in w], report.warnings


@pytest.mark.parametrize("name", sorted(INCONSISTENT))
def test_inconsistent_corpus_files_warn(realworld: Path, name: str) -> None:
    report, _ = _parse(realworld, name)
    assert any("says" in w or "terse" in w for w in report.warnings), report.warnings
    assert all(re.match(rf"{re.escape(name)}:\d+: ", w) for w in report.warnings if "says" in w)


# ---------------------------------------------------------------------------------------------
# Ids and suites
# ---------------------------------------------------------------------------------------------

IDS = {
    "rust-book__multi_binary_integration.txt": {
        "adder::tests::internal": Outcome.PASSED,
        "integration_test::it_adds_two": Outcome.PASSED,
    },
    "rust-book__multi_binary_with_empty_common.txt": {
        "adder::tests::internal": Outcome.PASSED,
        "integration_test::it_adds_two": Outcome.PASSED,
    },
    "rust-book__fail_panic_2019_old_format.txt": {  # `Running target/debug/deps/adder-<hash>`
        "adder::tests::another": Outcome.FAILED,
        "adder::tests::exploration": Outcome.PASSED,
    },
    "rust-book__ignored_test.txt": {
        "adder::tests::expensive_test": Outcome.SKIPPED,
        "adder::tests::it_works": Outcome.PASSED,
    },
    "rust-book__should_panic_ok.txt": {"guessing_game::tests::greater_than_100": Outcome.PASSED},
    "rust-book__refcell_panic_long_name.txt": {
        "limit_tracker::tests::it_sends_an_over_75_percent_warning_message": Outcome.FAILED
    },
    "rust-book__show_output_successes.txt": {
        "silly_function::tests::this_test_will_fail": Outcome.FAILED,
        "silly_function::tests::this_test_will_pass": Outcome.PASSED,
    },
    "rust-book__single_integration_target.txt": {"integration_test::it_adds_two": Outcome.PASSED},
    # No `Running` line (a test binary's own output): no suite.
    "rust-lang__libtest_panic_abort_stderr_sections.txt": {
        "it_exits": Outcome.FAILED,
        "it_fails": Outcome.FAILED,
        "it_panics": Outcome.PASSED,  # `- should panic` is not part of the name
        "it_works": Outcome.PASSED,
        "no_residual_environment": Outcome.PASSED,
    },
    "rust-lang__doctest_should_panic_failed.txt": {
        "$DIR/failed-doctest-should-panic.rs:10 - Foo": Outcome.FAILED
    },
    "rust-lang__libtest_terse_format.txt": {
        "abc": Outcome.FAILED,
        "foo": Outcome.FAILED,
        "foo2": Outcome.FAILED,
    },
}


@pytest.mark.parametrize("name", sorted(IDS))
def test_corpus_ids(realworld: Path, name: str) -> None:
    report, _ = _parse(realworld, name)
    assert _ids(report) == IDS[name]


def test_bare_binary_output_warns_that_ids_lack_the_binary(realworld: Path) -> None:
    report, _ = _parse(realworld, "rust-lang__libtest_panic_abort_stderr_sections.txt")
    assert any("no cargo `Running` line" in w for w in report.warnings)
    report, _ = _parse(realworld, "rust-book__multi_binary_integration.txt")
    assert report.warnings == ()


# ---------------------------------------------------------------------------------------------
# Failure messages: three panic formats, notes, doc-tests, panic=abort
# ---------------------------------------------------------------------------------------------

MESSAGES = {
    # (file, test id): (message, failure kind, file, line)
    ("rust-book__fail_panic_2019_old_format.txt", "adder::tests::another"): (
        "Make this test fail",
        "panic",
        "src/lib.rs",
        10,
    ),
    (
        "rust-book__fail_assert_eq_2022_old_format.txt",
        "silly_function::tests::this_test_will_fail",
    ): (
        "assertion failed: `(left == right)`\n  left: `5`,\n right: `10`",
        "panic",
        "src/lib.rs",
        19,
    ),
    (
        "rust-book__fail_captured_stdout_assert_eq.txt",
        "silly_function::tests::this_test_will_fail",
    ): ("assertion `left == right` failed\n  left: 10\n right: 5", "panic", "src/lib.rs", 19),
    ("rust-book__fail_panic.txt", "adder::tests::another"): (
        "Make this test fail",
        "panic",
        "src/lib.rs",
        17,
    ),
    (
        "rust-book__refcell_panic_long_name.txt",
        "limit_tracker::tests::it_sends_an_over_75_percent_warning_message",
    ): ("RefCell already borrowed", "panic", "src/lib.rs", 60),
    ("rust-book__should_panic_wrong_message.txt", "guessing_game::tests::greater_than_100"): (
        "Guess value must be greater than or equal to 1, got 200.\n"
        "note: panic did not contain expected string\n"
        '      panic message: "Guess value must be greater than or equal to 1, got 200."\n'
        ' expected substring: "less than or equal to 100"',
        "panic",
        "src/lib.rs",
        12,
    ),
    ("rust-lang__libtest_panic_abort_stderr_sections.txt", "it_exits"): (
        "note: got unexpected return code 123",
        "exit code",
        None,
        None,
    ),
    ("rust-lang__libtest_panic_abort_stderr_sections.txt", "it_fails"): (
        "assertion failed: `(1 + 1 == 5)`\n  left: `2`\n right: `5`",
        "panic",
        "$DIR/test-panic-abort.rs",
        34,
    ),
    (
        "rust-lang__doctest_failures_compile_and_runtime.txt",
        "$DIR/failed-doctest-output.rs - SomeStruct (line 15)",
    ): ("oh no", "panic", "$DIR/failed-doctest-output.rs", 7),
    (
        "rust-lang__doctest_should_panic_failed.txt",
        "$DIR/failed-doctest-should-panic.rs:10 - Foo",
    ): (
        "note: test did not panic as expected at $DIR/failed-doctest-should-panic.rs:10:0",
        "did not panic",
        None,
        None,
    ),
    ("rust-lang__libtest_terse_format.txt", "foo2"): (
        "explicit panic",
        "panic",
        "$DIR/terse.rs",
        23,
    ),
    ("bencher__cargo_bench_failed_panic.txt", "tests::benchmark_b"): (
        "explicit panic",
        "panic",
        "src/tests.rs",
        28,
    ),
}


@pytest.mark.parametrize(("name", "test_id"), sorted(MESSAGES), ids=lambda v: str(v))
def test_corpus_failure_messages(realworld: Path, name: str, test_id: str) -> None:
    report, _ = _parse(realworld, name)
    test = {t.test_id: t for t in report.tests}[test_id]
    assert (test.message, test.failure_kind, test.file, test.line) == MESSAGES[(name, test_id)]


def test_doctest_compile_failure_keeps_the_compiler_error(realworld: Path) -> None:
    report, _ = _parse(realworld, "rust-lang__doctest_failures_compile_and_runtime.txt")
    test = {t.name: t for t in report.tests}[
        "$DIR/failed-doctest-output.rs - OtherStruct (line 25)"
    ]
    assert test.failure_kind == "compile error"
    assert test.message is not None
    assert test.message.startswith("error[E0425]: cannot find value `no` in this scope")
    assert test.message.endswith("Couldn't compile the test.")


def test_show_output_successes_do_not_become_messages(realworld: Path) -> None:
    report, _ = _parse(realworld, "rust-book__show_output_successes.txt")
    passing = {t.name: t for t in report.tests}["tests::this_test_will_pass"]
    assert passing.message is None
    failing = {t.name: t for t in report.tests}["tests::this_test_will_fail"]
    assert failing.message is not None and "I got the value" not in failing.message


def test_terse_output_warns_about_unnamed_passes(realworld: Path) -> None:
    report, _ = _parse(realworld, "rust-lang__libtest_terse_format.txt")
    terse = [w for w in report.warnings if "--format terse" in w]
    assert len(terse) == 1 and "100 passed tests" in terse[0]
    assert terse[0].startswith("rust-lang__libtest_terse_format.txt:30: ")


def test_compile_error_only_log_says_the_build_failed(realworld: Path) -> None:
    path = realworld / "cargo" / "rust-book__compile_error_no_tests.txt"
    with pytest.raises(EmptyReportError) as err:
        libtest.parse(path.read_bytes(), "build.txt")
    assert err.value.problem == (
        "cargo test printed compiler errors and no test results: the build failed"
    )
    assert err.value.line == 3
    assert err.value.hint is not None and "error[E0596]" in err.value.hint


# ---------------------------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------------------------


def test_bench_values_with_commas_and_decimals(realworld: Path) -> None:
    report, _ = _parse(realworld, "bencher__cargo_bench_decimal_commas_aligned.txt")
    by_name = {b.name: b for b in report.benchmarks}
    batch = by_name["bleu::benchmark::bench_batch_bleu"]  # padded name, 13,967,756.30
    assert (batch.value, batch.spread, batch.unit) == (13967756.30, 266769.64, "ns")
    assert batch.spread_kind is SpreadKind.RANGE and batch.statistic == "median"
    assert batch.direction is Direction.LOWER_IS_BETTER
    assert _outcomes(report)[Outcome.SKIPPED] == 9


def test_bench_time_units_become_nanoseconds(realworld: Path) -> None:
    report, _ = _parse(realworld, "bencher__cargo_bench_mixed_units_edited.txt")
    by_name = {b.name: (b.value, b.unit, b.spread) for b in report.benchmarks}
    assert by_name["tests::one_digit"] == (1_000.0, "ns", 1_000.0)  # 1 μs/iter (+/- 1)
    assert by_name["tests::two_digit"] == (22_000_000.0, "ns", 22_000_000.0)  # 22 ms/iter
    assert by_name["tests::three_digit"] == (333e9, "ns", 333e9)  # 333 s/iter


def test_bench_custom_units_and_throughput(realworld: Path) -> None:
    report, _ = _parse(realworld, "github-action-benchmark__bencher_format_custom_units.txt")
    by_name = {b.name: b for b in report.benchmarks}
    assert (by_name["cmov"].value, by_name["cmov"].unit) == (2835.0, "cycles/iter")
    assert by_name["cmov"].direction is Direction.LOWER_IS_BETTER
    assert (by_name["download"].value, by_name["download"].unit) == (9001.0, "MS/s")
    assert by_name["download"].direction is Direction.HIGHER_IS_BETTER
    assert report.tests == ()


def test_bench_groups_follow_the_running_lines(realworld: Path) -> None:
    report, _ = _parse(realworld, "bencher__cargo_bench_multi_target.txt")
    assert [(b.group, b.name) for b in report.benchmarks] == [
        ("", "tests::benchmark"),
        ("name", "tests::other_benchmark"),  # `Running benches/name.rs (.../deps/name-hash)`
    ]


def test_failed_bench_is_a_failed_test(realworld: Path) -> None:
    report, _ = _parse(realworld, "bencher__cargo_bench_failed_panic.txt")
    assert _ids(report) == {"tests::ignored": Outcome.SKIPPED, "tests::benchmark_b": Outcome.FAILED}
    assert [b.name for b in report.benchmarks] == ["tests::benchmark_a", "tests::benchmark_c"]


def test_bench_throughput_suffix_is_a_second_measurement() -> None:
    log = b"""
running 1 test
test parse_large ... bench:       1,234 ns/iter (+/- 56) = 789 MB/s

test result: ok. 0 passed; 0 failed; 0 ignored; 1 measured; 0 filtered out; finished in 0.5s
"""
    report = libtest.parse(log, "bench.txt")
    time, rate = report.benchmarks
    assert (time.name, time.value, time.unit, time.spread) == ("parse_large", 1234.0, "ns", 56.0)
    assert (rate.name, rate.value, rate.unit) == ("parse_large (thrpt)", 789.0, "MB/s")
    assert rate.direction is Direction.HIGHER_IS_BETTER
    assert report.warnings == ()


# ---------------------------------------------------------------------------------------------
# Inline logs: quirks of real output that the corpus does not show
# ---------------------------------------------------------------------------------------------


def test_no_test_result_line_is_an_error() -> None:
    log = b"""   Running unittests src/lib.rs (target/debug/deps/app-0123456789abcdef)

running 2 tests
test tests::a ... ok
test tests::b ... ok
"""
    with pytest.raises(ReportParseError) as err:
        libtest.parse(log, "cut.txt")
    assert err.value.problem == (
        "no `test result:` line: the log is cut off or the tests did not run"
    )
    assert str(err.value).startswith("cut.txt:4: ")


def test_single_thread_nocapture_output_between_name_and_status() -> None:
    # `--test-threads=1 --nocapture`: libtest writes `test x ... `, the test prints, then the
    # status; a print without a newline glues the status to the output.
    log = "\n".join(
        [
            "",
            "running 4 tests",
            "test tests::prints ... hello",
            "ok",
            "test tests::panics ... ",
            "thread 'tests::panics' panicked at src/lib.rs:7:5:",
            "it broke",
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
            "FAILED",
            "test tests::glued ... no newline hereok",
            "test tests::quiet ... ignored, slow",
            "",
            "failures:",
            "",
            "failures:",
            "    tests::panics",
            "",
            "test result: FAILED. 2 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out",
        ]
    ).encode()
    report = libtest.parse(log, "nocapture.txt")
    assert _ids(report) == {
        "tests::prints": Outcome.PASSED,
        "tests::panics": Outcome.FAILED,
        "tests::glued": Outcome.PASSED,
        "tests::quiet": Outcome.SKIPPED,
    }
    panics = {t.name: t for t in report.tests}["tests::panics"]
    assert (panics.message, panics.file, panics.line) == ("it broke", "src/lib.rs", 7)
    assert not [w for w in report.warnings if "says" in w]


def test_multi_thread_nocapture_panic_is_matched_by_thread_name() -> None:
    log = b"""
running 2 tests

thread 'tests::b' panicked at src/lib.rs:9:5:
bad value
test tests::a ... ok
test tests::b ... FAILED

failures:

failures:
    tests::b

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s
"""
    report = libtest.parse(log, "nocapture.txt")
    failed = {t.name: t for t in report.tests}["tests::b"]
    assert (failed.message, failed.line) == ("bad value", 9)


def test_crashed_binary_keeps_the_other_binaries() -> None:
    log = b"""     Running unittests src/lib.rs (target/debug/deps/app-0123456789abcdef)

running 1 test
test tests::a ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/segv.rs (target/debug/deps/segv-0123456789abcdef)

running 2 tests
test first ... ok
test second ... error: test failed, to rerun pass `--test segv`

Caused by:
  process didn't exit successfully: `segv-0123456789abcdef` (signal: 11, SIGSEGV: invalid \
memory reference)
   Doc-tests app

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
"""
    report = libtest.parse(log, "segv.txt")
    assert _ids(report) == {
        "app::tests::a": Outcome.PASSED,
        "segv::first": Outcome.PASSED,
        "segv::second": Outcome.ERROR,
    }
    second = {t.test_id: t for t in report.tests}["segv::second"]
    assert second.failure_kind == "crash"
    assert second.message is not None and "SIGSEGV" in second.message
    assert len(report.warnings) == 1 and report.warnings[0].startswith("segv.txt:10: ")


def test_report_time_and_time_limit() -> None:
    log = b"""
running 3 tests
test fast ... ok <0.012s>
test slow ... FAILED (time limit exceeded) <1.500s>
test skipped ... ignored

failures (time limit exceeded):
    slow

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.52s
"""
    report = libtest.parse(log, "time.txt")
    by_name = {t.name: t for t in report.tests}
    assert by_name["fast"].duration == pytest.approx(0.012)
    assert (by_name["slow"].outcome, by_name["slow"].failure_kind) == (Outcome.FAILED, "timeout")
    assert by_name["slow"].duration == pytest.approx(1.5)
    assert by_name["skipped"].duration is None


def test_nested_test_result_inside_a_failure_section_is_output() -> None:
    # A test that runs cargo itself (cargo's own suite) prints libtest lines in its stdout.
    log = b"""
running 2 tests
test runs_cargo ... FAILED
test other ... ok

failures:

---- runs_cargo stdout ----
running 1 test
test inner ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out

thread 'runs_cargo' panicked at tests/t.rs:3:5:
outer failure


failures:
    runs_cargo

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.1s
"""
    report = libtest.parse(log, "nested.txt")
    assert _ids(report) == {"runs_cargo": Outcome.FAILED, "other": Outcome.PASSED}
    assert report.tests[0].message == "outer failure"
    assert not [w for w in report.warnings if "says" in w]


@pytest.mark.parametrize(
    ("running", "suite"),
    [
        (
            r"Running unittests src\lib.rs (target\debug\deps\my_crate-0123456789abcdef.exe)",
            "my_crate",
        ),
        ("Running unittests (target/release/deps/log4rs_bench-f36c88332bd25d23)", "log4rs_bench"),
        ("Running target/debug/deps/adder-c8315fb1790f5086", "adder"),
        ("Running tests/api-v2.rs (target/debug/deps/api_v2-0123456789abcdef)", "api_v2"),
        ("Doc-tests user_service", "user_service"),
    ],
)
def test_running_lines_name_the_suite(running: str, suite: str) -> None:
    log = f"""     {running}

running 1 test
test tests::it_works ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
""".encode()
    (test,) = libtest.parse(log, "run.txt").tests
    assert (test.suite, test.test_id) == (suite, f"{suite}::tests::it_works")


def test_colours_crlf_bom_and_github_timestamps() -> None:
    lines = [
        "\x1b[1m\x1b[92m     Running\x1b[0m unittests src/lib.rs (target/debug/deps/app-01234567)",
        "",
        "running 2 tests",
        "test a ... \x1b[32mok\x1b(B\x1b[m",
        "test b ... \x1b[31mFAILED\x1b(B\x1b[m",
        "",
        "failures:",
        "",
        "---- b stdout ----",
        "thread 'b' panicked at src/lib.rs:2:5:",
        "no",
        "",
        "failures:",
        "    b",
        "",
        "test result: \x1b[31mFAILED\x1b(B\x1b[m. 1 passed; 1 failed; 0 ignored; 0 measured",
    ]
    stamped = "".join(
        f"2024-05-01T10:00:0{i % 10}.1234567Z {line}\r\n" for i, line in enumerate(lines)
    )
    report = libtest.parse(b"\xef\xbb\xbf" + stamped.encode(), "gha.log")
    assert _ids(report) == {"app::a": Outcome.PASSED, "app::b": Outcome.FAILED}
    assert report.tests[1].message == "no"
    assert report.warnings == ()


def test_build_error_beside_test_results_warns() -> None:
    log = b"""   Compiling broken v0.1.0 (/src/broken)
error[E0425]: cannot find value `x` in this scope
error: could not compile `broken` (lib test) due to 1 previous error
     Running unittests src/lib.rs (target/debug/deps/fine-0123456789abcdef)

running 1 test
test t ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
"""
    report = libtest.parse(log, "ws.txt")
    assert _ids(report) == {"fine::t": Outcome.PASSED}
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("ws.txt:2: cargo reported build errors (`broken`")


def test_messages_are_capped() -> None:
    body = "\n".join(f"line {i} " + "x" * 80 for i in range(200))
    log = f"""
running 1 test
test big ... FAILED

failures:

---- big stdout ----
thread 'big' panicked at src/lib.rs:1:1:
{body}

failures:
    big

test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out
""".encode()
    (test,) = libtest.parse(log, "big.txt").tests
    assert test.message is not None and len(test.message) <= 4000
    assert test.message.startswith("line 0 ") and test.message.endswith("(truncated)")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", EmptyReportError),
        (b"  \n\n", EmptyReportError),
        (b"   Compiling app v0.1.0\n    Finished `test` profile in 0.1s\n", EmptyReportError),
        (b"hello world\nthis is not a test log\n", WrongFormatError),
        (b"test only_lines ... ok\ntest more ... FAILED\n", ReportParseError),
    ],
    ids=["empty", "blank", "no-run", "not-libtest", "no-result"],
)
def test_unusable_input(data: bytes, error: type[InputError]) -> None:
    with pytest.raises(error) as err:
        libtest.parse(data, "in.txt")
    assert str(err.value).startswith("in.txt")


def test_catch2_is_not_libtest(realworld: Path) -> None:
    data = (
        realworld / "bench" / "github-action-benchmark__catch2_v2_bench_windows.txt"
    ).read_bytes()
    assert (libtest.sniff(data), libtest_json.sniff(data), nextest.sniff(data)) == (0, 0, 0)
    with pytest.raises(WrongFormatError):
        libtest.parse(data, "catch2.txt")


# ---------------------------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------------------------

SNIFF = [
    ("cargo/rust-book__multi_binary_integration.txt", 95),
    ("cargo/rust-lang__libtest_terse_format.txt", 95),
    ("cargo/rust-book__compile_error_no_tests.txt", 60),
    ("bench/github-action-benchmark__cargo_bench_bare_lines.txt", 80),
    ("bench/bencher__cargo_bench_zero.txt", 90),
    # Criterion's console output starts with libtest's `running 9 tests` block: criterion's.
    ("bench/bencher__criterion_human_regressed.txt", 60),
    ("cargo/cargo2junit__success.jsonl", 10),
    ("cargo/nextest__stress_run_replay_human.txt", 20),
    ("junit/nextest__fixture_project_rerunfailure.xml", 0),  # libtest output in <system-out>
    ("bench/github-action-benchmark__catch2_v2_bench_windows.txt", 0),
]


@pytest.mark.parametrize(("name", "score"), SNIFF)
def test_sniff(realworld: Path, name: str, score: int) -> None:
    head = (realworld / name).read_bytes()[:65536]
    if score == 90:
        assert libtest.sniff(head) >= score
    else:
        assert libtest.sniff(head) == score


def test_sniff_never_raises_on_binary() -> None:
    assert libtest.sniff(bytes(range(256)) * 10) == 0


# ---------------------------------------------------------------------------------------------
# Any text: an InputError or a report, never a crash
# ---------------------------------------------------------------------------------------------

_PIECES = [
    "running 2 tests",
    "test a ... ok",
    "test b ... FAILED",
    "test c ... ignored, why",
    "test d ... ",
    "ok",
    "FAILED",
    "failures:",
    "successes:",
    "    a",
    "    b",
    "---- b stdout ----",
    "thread 'b' panicked at src/lib.rs:1:2:",
    "thread 'b' panicked at 'old",
    "msg', src/x.rs:3:4",
    "note: panic did not contain expected string",
    "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
    "     Running unittests src/lib.rs (target/debug/deps/x-0123456789abcdef)",
    "   Doc-tests x",
    "test e ... bench:   1,234.5 ns/iter (+/- 6)",
    "abc --- FAILED",
    "....... 7/10",
    "error[E0001]: nope",
    "",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_any_line_sequence_parses_or_raises_an_input_error(pieces: list[str]) -> None:
    try:
        report = libtest.parse("\n".join(pieces).encode(), "fuzz.txt")
    except InputError:
        return
    assert all(w.startswith("fuzz.txt") for w in report.warnings)
    assert all(t.test_id for t in report.tests)


def test_an_ok_printed_by_a_test_does_not_hide_its_failure() -> None:
    # --test-threads=1 --nocapture: the test's own first print lands on libtest's line and
    # reads like a status; the real `FAILED` comes later, and the failures list names it.
    log = b"""     Running unittests src/lib.rs (target/debug/deps/mycrate-0123456789abcdef)

running 2 tests
test tests::a ... ok
thread 'tests::a' panicked at src/lib.rs:9:9:
assertion `left == right` failed
FAILED
test tests::b ... ok

failures:

failures:
    tests::a

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
"""
    report = libtest.parse(log, "nocapture.txt")
    assert _ids(report) == {
        "mycrate::tests::a": Outcome.FAILED,
        "mycrate::tests::b": Outcome.PASSED,
    }
    failed = {t.name: t for t in report.tests}["tests::a"]
    assert (failed.message, failed.failure_kind, failed.line) == (
        "assertion `left == right` failed", "panic", 9,
    )  # fmt: skip
    assert report.warnings == ()  # the counts agree with `test result:` now


@pytest.mark.parametrize(
    "printed", ["Running migrations (schema v2)", "Running setup", "    Running warm-up (3 s)"]
)
def test_a_running_line_printed_by_a_test_is_output_not_a_binary(printed: str) -> None:
    log = f"""     Running unittests src/lib.rs (target/debug/deps/mycrate-0123456789abcdef)

running 3 tests
{printed}
test tests::a ... preparing
{printed}
ok
test tests::b ... ok
test tests::c ... ok

test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
""".encode()
    report = libtest.parse(log, "nocapture.txt")
    assert _ids(report) == {
        "mycrate::tests::a": Outcome.PASSED,
        "mycrate::tests::b": Outcome.PASSED,
        "mycrate::tests::c": Outcome.PASSED,
    }
    assert report.warnings == ()


def test_the_test_running_when_the_binary_crashed_is_not_passed_by_its_output() -> None:
    log = b"""     Running unittests src/lib.rs (target/debug/deps/mycrate-0123456789abcdef)

running 2 tests
test tests::a ... ok
test tests::b ... loading fixtures
fixtures ok
error: test failed, to rerun pass `--lib`

Caused by:
  process didn't exit successfully: `/w/m-01` (signal: 11, SIGSEGV: invalid memory reference)
     Running tests/api.rs (target/debug/deps/api-0123456789abcdef)

running 1 test
test it_works ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
"""
    report = libtest.parse(log, "crash.txt")
    assert _ids(report) == {
        "mycrate::tests::a": Outcome.PASSED,
        "mycrate::tests::b": Outcome.ERROR,
        "api::it_works": Outcome.PASSED,
    }
    crashed = {t.name: t for t in report.tests}["tests::b"]
    assert crashed.failure_kind == "crash"
    assert "SIGSEGV" in (crashed.message or "")
