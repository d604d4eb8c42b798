"""libtest JSON event streams: the real corpus (cargo2junit, rustc) and inline streams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.errors import EmptyReportError, InputError, ReportParseError, WrongFormatError
from gatekeeper.model import Direction, Outcome, ParsedReport, SpreadKind
from gatekeeper.parsers import libtest, libtest_json

VALID = [
    "cargo2junit__cargo_repo_failure.jsonl",
    "cargo2junit__doctests_edition2024.jsonl",
    "cargo2junit__exec_time_float.jsonl",
    "cargo2junit__exec_time_string.jsonl",
    "cargo2junit__failed_stderr.jsonl",
    "cargo2junit__failed_stdout.jsonl",
    "cargo2junit__interleaved_tracing_json.jsonl",
    "cargo2junit__multi_suite_success.jsonl",
    "cargo2junit__one_suite_no_tests.jsonl",
    "cargo2junit__success.jsonl",
    "cargo2junit__timeout_event.jsonl",
    "cargo2junit__unknown_event_type.jsonl",
    "rust-lang__libtest_json_output_default.jsonl",
]
_EVENT_OUTCOME = {"ok": Outcome.PASSED, "failed": Outcome.FAILED, "ignored": Outcome.SKIPPED}


def _parse(realworld: Path, name: str) -> ParsedReport:
    return libtest_json.parse((realworld / "cargo" / name).read_bytes(), name)


def _events(realworld: Path, name: str) -> list[dict[str, object]]:
    """The file's libtest events, read with the json module line by line (independently)."""
    events = []
    for line in (realworld / "cargo" / name).read_text(encoding="utf-8").splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("type") in ("suite", "test", "bench"):
            events.append(obj)
    return events


@pytest.mark.parametrize("name", VALID)
def test_corpus_outcomes_match_the_events(realworld: Path, name: str) -> None:
    report = _parse(realworld, name)
    events = _events(realworld, name)
    want = {o: 0 for o in Outcome}
    for e in events:
        if e["type"] == "test" and e.get("event") in _EVENT_OUTCOME:
            want[_EVENT_OUTCOME[str(e["event"])]] += 1
    got = {o: 0 for o in Outcome}
    for t in report.tests:
        got[t.outcome] += 1
    assert got == want
    assert report.format == "libtest-json"


@pytest.mark.parametrize("name", VALID)
def test_corpus_outcomes_match_the_suite_counts(realworld: Path, name: str) -> None:
    report = _parse(realworld, name)
    ends = [e for e in _events(realworld, name) if e["type"] == "suite" and e["event"] != "started"]
    passed = sum(int(str(e["passed"])) for e in ends)
    failed = sum(int(str(e["failed"])) for e in ends)
    ignored = sum(int(str(e["ignored"])) for e in ends)
    outcomes = [t.outcome for t in report.tests]
    assert (
        outcomes.count(Outcome.PASSED),
        outcomes.count(Outcome.FAILED),
        outcomes.count(Outcome.SKIPPED),
    ) == (passed, failed, ignored)
    assert not [w for w in report.warnings if "suite event says" in w], report.warnings


def test_streams_without_running_lines_warn_about_ids(realworld: Path) -> None:
    report = _parse(realworld, "cargo2junit__multi_suite_success.jsonl")
    assert len(report.tests) == 13
    assert all(t.suite == "" and t.test_id == t.name for t in report.tests)
    assert any("no cargo `Running` line names" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("name", "durations"),
    [
        ("cargo2junit__exec_time_float.jsonl", [0.001401918]),
        ("cargo2junit__exec_time_string.jsonl", [0.0, 0.001, 0.001, 0.003, 0.072, 0.120]),
        ("rust-lang__libtest_json_output_default.jsonl", [None, None, None, None]),
        ("cargo2junit__success.jsonl", [None]),
    ],
)
def test_exec_time_as_float_string_or_missing(
    realworld: Path, name: str, durations: list[float | None]
) -> None:
    assert [t.duration for t in _parse(realworld, name).tests] == pytest.approx(durations)


@pytest.mark.parametrize(
    "name", ["cargo2junit__failed_stdout.jsonl", "cargo2junit__failed_stderr.jsonl"]
)
def test_panic_text_from_stdout_or_stderr(realworld: Path, name: str) -> None:
    failed = {t.name: t for t in _parse(realworld, name).tests}["tests::fails"]
    assert (failed.outcome, failed.failure_kind) == (Outcome.FAILED, "panic")
    assert failed.message == "assertion failed: `(left == right)`\n  left: `4`,\n right: `3`"
    assert (failed.file, failed.line) == ("src/lib.rs", 10)


def test_rustc_expected_output_with_placeholders(realworld: Path) -> None:
    report = _parse(realworld, "rust-lang__libtest_json_output_default.jsonl")
    by_name = {t.name: t for t in report.tests}
    assert [t.name for t in report.tests] == ["a", "b", "c", "d"]
    assert (by_name["b"].message, by_name["b"].file, by_name["b"].line) == (
        "assertion failed: false",
        "f.rs",
        9,
    )
    assert (by_name["d"].outcome, by_name["d"].message) == (Outcome.SKIPPED, "msg")


def test_doctests_edition2024(realworld: Path) -> None:
    report = _parse(realworld, "cargo2junit__doctests_edition2024.jsonl")
    by_name = {t.name: t for t in report.tests}
    assert by_name["src/lib.rs - foo (line 15)"].outcome is Outcome.SKIPPED
    broken = by_name["src/lib.rs - foo (line 7)"]
    assert broken.message == "assertion `left == right` failed\n  left: 1\n right: 2"
    assert broken.file is None  # the panic is in rustdoc's temporary doctest bundle
    assert broken.duration == pytest.approx(0.058641184)


def test_foreign_and_unknown_lines_are_skipped_with_a_warning(realworld: Path) -> None:
    tracing = _parse(realworld, "cargo2junit__interleaved_tracing_json.jsonl")
    assert [t.outcome for t in tracing.tests] == [Outcome.PASSED]
    assert any(
        w.startswith("cargo2junit__interleaved_tracing_json.jsonl:3: skipped 1 JSON line")
        for w in tracing.warnings
    )
    unknown = _parse(realworld, "cargo2junit__unknown_event_type.jsonl")
    assert any(
        w.startswith("cargo2junit__unknown_event_type.jsonl:4: ") and "unknown-type" in w
        for w in unknown.warnings
    )


def test_a_plain_text_line_among_the_events_is_tolerated(realworld: Path) -> None:
    report = _parse(realworld, "cargo2junit__cargo_repo_failure.jsonl")
    assert len(report.tests) == 1532
    assert sum(t.outcome is Outcome.FAILED for t in report.tests) == 2
    stray = [w for w in report.warnings if "neither cargo nor libtest" in w]
    assert len(stray) == 1 and stray[0].startswith("cargo2junit__cargo_repo_failure.jsonl:1870: ")


def test_timeout_event_is_not_an_outcome(realworld: Path) -> None:
    report = _parse(realworld, "cargo2junit__timeout_event.jsonl")
    assert [(t.name, t.outcome) for t in report.tests] == [
        ("tests::long_execution_time", Outcome.PASSED)
    ]


# ---------------------------------------------------------------------------------------------
# Broken streams (the corpus README: a parser must reject these cleanly)
# ---------------------------------------------------------------------------------------------


def test_unescaped_backslashes_are_rejected_with_the_line(realworld: Path) -> None:
    with pytest.raises(ReportParseError) as err:
        _parse(realworld, "cargo2junit__azure_functions_many_suites.jsonl")
    assert err.value.line == 832
    assert str(err.value).startswith("cargo2junit__azure_functions_many_suites.jsonl:832: ")
    assert "not valid JSON" in err.value.problem
    assert err.value.hint is not None and "backslashes" in err.value.hint


def test_event_split_over_lines_is_rejected_with_the_line(realworld: Path) -> None:
    with pytest.raises(ReportParseError) as err:
        _parse(realworld, "rust-lang__libtest_json_normalized_raw_newlines.jsonl")
    assert err.value.line == 5
    assert err.value.hint is not None and "split over several lines" in err.value.hint


def test_zero_byte_stream_is_empty(realworld: Path) -> None:
    with pytest.raises(EmptyReportError) as err:
        _parse(realworld, "cargo2junit__compile_fail_empty.jsonl")
    assert str(err.value).startswith("cargo2junit__compile_fail_empty.jsonl: the stream is empty")


# ---------------------------------------------------------------------------------------------
# Inline streams
# ---------------------------------------------------------------------------------------------


def _stream(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_running_lines_on_merged_stderr_name_the_suites() -> None:
    data = _stream(
        "    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.00s",
        "     Running unittests src/lib.rs (target/debug/deps/user_service-1a2b3c4d5e6f7a8b)",
        '{ "type": "suite", "event": "started", "test_count": 1 }',
        '{ "type": "test", "event": "started", "name": "tests::it_works" }',
        '{ "type": "test", "name": "tests::it_works", "event": "ok", "exec_time": 0.001 }',
        '{ "type": "suite", "event": "ok", "passed": 1, "failed": 0, "ignored": 0, '
        '"measured": 0, "filtered_out": 0, "exec_time": 0.002 }',
        "   Doc-tests user_service",
        '{ "type": "suite", "event": "started", "test_count": 1 }',
        '{ "type": "test", "event": "started", "name": "src/lib.rs - add (line 5)" }',
        '{ "type": "test", "name": "src/lib.rs - add (line 5)", "event": "ok" }',
        '{ "type": "suite", "event": "ok", "passed": 1, "failed": 0, "ignored": 0, '
        '"measured": 0, "filtered_out": 0 }',
        '{ "type": "report", "total_time": 0.2, "compilation_time": 0.1 }',
    )
    report = libtest_json.parse(data, "merged.jsonl")
    assert [t.test_id for t in report.tests] == [
        "user_service::tests::it_works",
        "user_service::src/lib.rs - add (line 5)",
    ]
    assert report.warnings == ()


def test_same_ids_as_human_output() -> None:
    human = b"""     Running tests/api.rs (target/debug/deps/api-0123456789abcdef)

running 1 test
test checks::status ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
"""
    data = _stream(
        "     Running tests/api.rs (target/debug/deps/api-0123456789abcdef)",
        '{ "type": "suite", "event": "started", "test_count": 1 }',
        '{ "type": "test", "name": "checks::status", "event": "ok" }',
        '{ "type": "suite", "event": "ok", "passed": 1, "failed": 0, "ignored": 0, '
        '"measured": 0, "filtered_out": 0 }',
    )
    from_json = [t.test_id for t in libtest_json.parse(data, "j").tests]
    assert (
        from_json == [t.test_id for t in libtest.parse(human, "h").tests] == ["api::checks::status"]
    )


def test_bench_events() -> None:
    data = _stream(
        '{ "type": "suite", "event": "started", "test_count": 2 }',
        '{ "type": "bench", "name": "parse", "median": 1234, "deviation": 56 }',
        '{ "type": "bench", "name": "copy", "median": 100, "deviation": 3, "mib_per_second": 512 }',
        '{ "type": "suite", "event": "ok", "passed": 0, "failed": 0, "ignored": 0, '
        '"measured": 2, "filtered_out": 0 }',
    )
    report = libtest_json.parse(data, "bench.jsonl")
    parse, copy, rate = report.benchmarks
    assert (parse.name, parse.value, parse.unit, parse.spread) == ("parse", 1234.0, "ns", 56.0)
    assert parse.spread_kind is SpreadKind.RANGE and parse.statistic == "median"
    assert (rate.name, rate.value, rate.unit) == ("copy (thrpt)", 512.0, "MB/s")
    assert rate.direction is Direction.HIGHER_IS_BETTER
    assert copy.unit == "ns"
    assert not [w for w in report.warnings if "says" in w]


def test_failure_reason_message_and_allowed_failure() -> None:
    data = _stream(
        '{ "type": "suite", "event": "started", "test_count": 3 }',
        '{ "type": "test", "name": "slow", "event": "failed", "exec_time": "2.000s", '
        '"reason": "time limit exceeded" }',
        '{ "type": "test", "name": "no_panic", "event": "failed", '
        '"message": "test did not panic as expected" }',
        '{ "type": "test", "name": "allowed", "event": "allowed_failure" }',
        '{ "type": "suite", "event": "failed", "passed": 0, "failed": 3, "allowed_fail": 1, '
        '"ignored": 0, "measured": 0, "filtered_out": 0 }',
    )
    report = libtest_json.parse(data, "r.jsonl")
    by_name = {t.name: t for t in report.tests}
    assert (by_name["slow"].failure_kind, by_name["slow"].duration) == ("timeout", 2.0)
    assert by_name["no_panic"].message == "test did not panic as expected"
    assert by_name["allowed"].outcome is Outcome.SKIPPED
    assert not [w for w in report.warnings if "says" in w], report.warnings


def test_count_mismatch_warns() -> None:
    data = _stream(
        '{ "type": "suite", "event": "started", "test_count": 2 }',
        '{ "type": "test", "name": "a", "event": "ok" }',
        '{ "type": "suite", "event": "ok", "passed": 2, "failed": 0, "ignored": 0, '
        '"measured": 0, "filtered_out": 0 }',
    )
    warnings = libtest_json.parse(data, "m.jsonl").warnings
    assert any(w.startswith("m.jsonl:3: the suite event says 2 passed") for w in warnings)


def test_binary_that_crashed_mid_stream() -> None:
    data = _stream(
        "     Running tests/crash.rs (target/debug/deps/crash-0123456789abcdef)",
        '{ "type": "suite", "event": "started", "test_count": 1 }',
        '{ "type": "test", "event": "started", "name": "aborts" }',
        "error: test failed, to rerun pass `--test crash`",
        "",
        "Caused by:",
        "  process didn't exit successfully: `crash-0123456789abcdef` (signal: 6, SIGABRT: "
        "process abort signal)",
        "     Running tests/ok.rs (target/debug/deps/ok-0123456789abcdef)",
        '{ "type": "suite", "event": "started", "test_count": 1 }',
        '{ "type": "test", "name": "fine", "event": "ok" }',
        '{ "type": "suite", "event": "ok", "passed": 1, "failed": 0, "ignored": 0, '
        '"measured": 0, "filtered_out": 0 }',
    )
    report = libtest_json.parse(data, "crash.jsonl")
    by_id = {t.test_id: t for t in report.tests}
    assert by_id["ok::fine"].outcome is Outcome.PASSED
    aborted = by_id["crash::aborts"]
    assert (aborted.outcome, aborted.failure_kind) == (Outcome.ERROR, "crash")
    assert aborted.message is not None and "SIGABRT" in aborted.message
    assert len(report.warnings) == 1 and report.warnings[0].startswith("crash.jsonl:2: ")


def test_stream_without_any_suite_end_is_an_error() -> None:
    data = _stream(
        '{ "type": "suite", "event": "started", "test_count": 2 }',
        '{ "type": "test", "name": "a", "event": "ok" }',
    )
    with pytest.raises(ReportParseError) as err:
        libtest_json.parse(data, "cut.jsonl")
    assert err.value.line == 1
    assert "no suite `ok`/`failed` event" in err.value.problem


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", EmptyReportError),
        (b"\n  \n", EmptyReportError),
        (b'{"level": "INFO", "message": "hi"}\n', WrongFormatError),
        (b"plain text\n", WrongFormatError),
        (b"error[E0425]: cannot find value\nerror: could not compile `x`\n", EmptyReportError),
        (b'{ "type": "test", "name": "a", "event": "ok" \n', ReportParseError),
    ],
    ids=["empty", "blank", "foreign-json", "text", "build-failed", "truncated-event"],
)
def test_unusable_input(data: bytes, error: type[InputError]) -> None:
    with pytest.raises(error) as err:
        libtest_json.parse(data, "in.jsonl")
    assert str(err.value).startswith("in.jsonl")


@pytest.mark.parametrize(
    ("name", "score"),
    [
        ("cargo/cargo2junit__success.jsonl", 98),
        ("cargo/rust-lang__libtest_json_normalized_raw_newlines.jsonl", 98),
        ("cargo/rust-book__fail_panic.txt", 0),
        ("cargo/nextest__rerun_outstanding_human.txt", 0),
        ("bench/github-action-benchmark__google_benchmark.json", 0),
        ("bench/github-action-benchmark__catch2_v2_bench_windows.txt", 0),
    ],
)
def test_sniff(realworld: Path, name: str, score: int) -> None:
    assert libtest_json.sniff((realworld / name).read_bytes()[:65536]) == score


def test_sniff_claims_broken_event_lines() -> None:
    # Only broken events: still ours, so the user learns which line is broken and why.
    head = b'{ "type": "test", "event": "started", "name": "src\\lib.rs - f (line 1)" }\n'
    assert libtest_json.sniff(head) == 90
    assert libtest_json.sniff(bytes(range(256))) == 0


_PIECES = [
    '{ "type": "suite", "event": "started", "test_count": 1 }',
    '{ "type": "test", "event": "started", "name": "a" }',
    '{ "type": "test", "name": "a", "event": "ok", "exec_time": 0.1 }',
    '{ "type": "test", "name": "b", "event": "failed", "stdout": "thread \'b\' panicked" }',
    '{ "type": "test", "name": "c", "event": "ignored", "message": "m" }',
    '{ "type": "bench", "name": "d", "median": 5, "deviation": 1 }',
    '{ "type": "suite", "event": "ok", "passed": 1, "failed": 0, "ignored": 0 }',
    '{ "type": "suite", "event": "failed", "passed": 0, "failed": 1 }',
    '{ "type": "test", "name": 3, "event": "ok" }',
    '{ "type": "whatever" }',
    "[1, 2]",
    "     Running tests/x.rs (target/debug/deps/x-0123456789abcdef)",
    "noise",
    "",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30))
def test_any_event_sequence_parses_or_raises_an_input_error(pieces: list[str]) -> None:
    try:
        report = libtest_json.parse("\n".join(pieces).encode(), "fuzz.jsonl")
    except InputError:
        return
    assert all(w.startswith("fuzz.jsonl") for w in report.warnings)
