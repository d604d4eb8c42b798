"""The JUnit XML parser: the real-world corpus, every producer quirk, and hostile input."""

from __future__ import annotations

import csv
import re
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import pytest
from defusedxml import ElementTree as SafeET
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from gatekeeper.errors import (
    EmptyReportError,
    InputError,
    ReportParseError,
    UnsafeInputError,
    WrongFormatError,
)
from gatekeeper.model import Outcome, ParsedReport, RunCounts, TestResult
from gatekeeper.parsers import junit
from tests.conftest import REALWORLD as CORPUS
from tests.conftest import corpus_manifest, corpus_params


def _manifest_rows() -> list[dict[str, str]]:
    # Read at collection time to parametrize; the `realworld` fixture checks the folder exists.
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    with manifest.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [row for row in rows if row["file"].startswith("junit/")]


ROWS = _manifest_rows()
INVALID_ROWS = [r for r in ROWS if "MALFORMED" in r["notes"] or "NOT JUnit" in r["notes"]]
VALID_ROWS = [r for r in ROWS if r not in INVALID_ROWS]


def _id(row: dict[str, str]) -> str:
    return row["file"].removeprefix("junit/").removesuffix(".xml")


def parse(xml: str | bytes, source: str = "inline.xml") -> ParsedReport:
    return junit.parse(xml.encode() if isinstance(xml, str) else xml, source)


def only(report: ParsedReport) -> TestResult:
    assert len(report.tests) == 1, report.tests
    return report.tests[0]


# ---------------------------------------------------------------------------------------------
# The corpus, counted independently (expat through defusedxml, not lxml)
# ---------------------------------------------------------------------------------------------

SKIP_STATUSES = {"disabled", "skipped", "notrun", "ignored"}


def _final_outcome(case: Element) -> Outcome:
    tags = [child.tag for child in case]
    if "error" in tags:
        main = Outcome.ERROR
    elif "failure" in tags:
        main = Outcome.FAILED
    elif "skipped" in tags or (case.get("status") or "").lower() in SKIP_STATUSES:
        main = Outcome.SKIPPED
    else:
        main = Outcome.PASSED
    reruns = [t for t in tags if t in ("rerunFailure", "rerunError")]
    if reruns and main.is_failure:  # re-runs follow a failed first attempt; the last is final
        return Outcome.ERROR if reruns[-1] == "rerunError" else Outcome.FAILED
    return main


def independent_count(data: bytes) -> tuple[RunCounts, int]:
    """(counts over final attempts, number of attempts), from a plain walk of the tree.

    A test is (classname, name), or (enclosing suite, name) without a classname; repeated
    testcases are attempts of one test, the last one final.
    """
    root = SafeET.fromstring(data)
    final: dict[tuple[str, str], Outcome] = {}
    attempts = 0

    def walk(element: Element, suite: str) -> None:
        nonlocal attempts
        for child in element:
            if child.tag in ("testsuite", "testsuites"):
                walk(child, child.get("name") or "")
            elif child.tag == "testcase":
                key = (child.get("classname") or suite, child.get("name") or "")
                final[key] = _final_outcome(child)
                retries = [c for c in child if c.tag.startswith(("flaky", "rerun"))]
                attempts += 1 + len(retries)
            elif child.tag in ("error", "failure"):  # directly in a suite
                failed = Outcome.ERROR if child.tag == "error" else Outcome.FAILED
                final[(suite, "(suite)")] = failed
                attempts += 1

    walk(root, root.get("name") or "")
    outcomes = list(final.values())
    counts = RunCounts(
        tests=len(final),
        passed=outcomes.count(Outcome.PASSED),
        failed=outcomes.count(Outcome.FAILED),
        errors=outcomes.count(Outcome.ERROR),
        skipped=outcomes.count(Outcome.SKIPPED),
    )
    return counts, attempts


@pytest.mark.realworld
def test_the_corpus_is_there(realworld: Path) -> None:
    assert realworld.resolve() == CORPUS.resolve()
    assert len(ROWS) == 130
    assert len(INVALID_ROWS) == 8


@pytest.mark.parametrize("row", corpus_params(VALID_ROWS, [_id(r) for r in VALID_ROWS]))
def test_valid_corpus_file_parses_and_counts_agree(realworld: Path, row: dict[str, str]) -> None:
    data = (realworld / row["file"]).read_bytes()
    assert junit.sniff(data[:65536]) == 90
    report = junit.parse(data, row["file"])
    assert report.format == "junit"
    assert report.source == row["file"]

    expected, attempts = independent_count(data)
    counts = RunCounts.of(report.tests)
    assert (counts.tests, counts.failed, counts.errors, counts.skipped) == (
        expected.tests,
        expected.failed,
        expected.errors,
        expected.skipped,
    )
    assert len(report.tests) == attempts
    if not report.tests:
        assert any("no <testcase> elements" in w for w in report.warnings)
    for result in report.tests:
        assert result.duration is None or result.duration >= 0
        assert result.message is None or 0 < len(result.message) <= junit.MESSAGE_CAP + 30
        assert result.test_id and result.name
    for warning in report.warnings:
        assert warning.startswith(row["file"] + ":")
        assert warning.split(":")[1].isdigit()


def _expected_error(name: str) -> tuple[type[InputError], int | None, str]:
    return {
        "publish-unit-test-result__empty_file.xml": (EmptyReportError, None, "empty"),
        "publish-unit-test-result__not_xml.xml": (ReportParseError, 1, "not XML"),
        "publish-unit-test-result__pytest_corrupt_truncated.xml": (
            ReportParseError,
            11,
            "XML is truncated: <skipped> opened on line 9 is never closed",
        ),
        "action-junit-report__surefire3_schema_cdata.xml": (ReportParseError, 18, "truncated"),
        "action-junit-report__web_test_runner_placeholder_time.xml": (
            ReportParseError,
            9,
            "Unescaped '<' not allowed in attributes values",
        ),
        "jenkins-junit-plugin__xxe_attack_not_junit.xml": (UnsafeInputError, 2, "entities"),
        "publish-unit-test-result__non_junit_suites_case.xml": (
            WrongFormatError,
            2,
            "well-formed XML but not JUnit: root element <suites> "
            "(expected <testsuites> or <testsuite>)",
        ),
        "jenkins-junit-plugin__jenkins_internal_junitResult_not_junit.xml": (
            WrongFormatError,
            2,
            "well-formed XML but not JUnit: root element <result>",
        ),
    }[name]


@pytest.mark.parametrize("row", corpus_params(INVALID_ROWS, [_id(r) for r in INVALID_ROWS]))
def test_invalid_corpus_file_raises_the_right_error(realworld: Path, row: dict[str, str]) -> None:
    data = (realworld / row["file"]).read_bytes()
    error, line, words = _expected_error(row["file"].removeprefix("junit/"))
    with pytest.raises(error) as caught:
        junit.parse(data, row["file"])
    assert caught.type is error  # the subclass itself, not a sibling
    assert caught.value.path == row["file"]
    assert caught.value.line == line
    assert words in caught.value.problem
    where = row["file"] if line is None else f"{row['file']}:{line}"
    assert str(caught.value).startswith(where + ": ")
    assert caught.value.hint


@pytest.mark.parametrize(
    ("name", "tests", "failed", "errors"),
    [
        # the numbers the files' own root elements state, where they match their content
        ("nextest__fixture_project_rerunfailure.xml", 3, 1, 0),
        ("action-junit-report__nextest_basic.xml", 3, 1, 0),
        ("publish-unit-test-result__tst_cpp_disabled.xml", 31, 19, 1),
        ("action-junit-report__tst_disabled_many.xml", 22, 4, 2),
        ("go-junit-report__panic_errors.xml", 2, 0, 2),
        # quick-junit's fixture says failures="2" errors="1": it counts testcase5 (a <failure>
        # whose last re-run is a <rerunError>) as a failure; its final attempt is an error
        ("nextest__quick_junit_all_elements.xml", 7, 1, 2),
    ],
)
def test_counts_match_the_files_own_summary(
    realworld: Path, name: str, tests: int, failed: int, errors: int
) -> None:
    report = junit.parse((realworld / "junit" / name).read_bytes(), name)
    counts = RunCounts.of(report.tests)
    assert (counts.tests, counts.failed, counts.errors) == (tests, failed, errors)


# ---------------------------------------------------------------------------------------------
# Retries: Surefire/nextest flaky and rerun elements, pytest-rerunfailures duplicates
# ---------------------------------------------------------------------------------------------


def test_flaky_failure_records_the_failed_attempt_then_the_pass() -> None:
    report = parse(
        """<testsuite name="S"><testcase classname="com.Flaky" name="t" time="0.5">
        <flakyFailure message="first try" type="java.lang.AssertionError" time="0.25">
          <stackTrace>java.lang.AssertionError: first try</stackTrace>
          <system-out>noise</system-out>
        </flakyFailure>
        </testcase></testsuite>"""
    )
    first, last = report.tests
    assert (first.test_id, first.retry, first.outcome) == ("com.Flaky::t", 0, Outcome.FAILED)
    assert (first.message, first.failure_kind, first.duration) == (
        "first try",
        "java.lang.AssertionError",
        0.25,
    )
    assert (last.test_id, last.retry, last.outcome, last.duration) == (
        "com.Flaky::t",
        1,
        Outcome.PASSED,
        0.5,
    )
    counts = RunCounts.of(report.tests)
    assert (counts.tests, counts.passed, counts.retried, counts.flaky) == (1, 1, 1, 1)


def test_flaky_error_message_falls_back_to_the_stack_trace(realworld: Path) -> None:
    name = "action-junit-report__flakyfailure_mixed.xml"
    report = junit.parse((realworld / "junit" / name).read_bytes(), name)
    flaky = [r for r in report.tests if r.test_id == "com.example.FlakyTest::testFlaky"]
    assert [(r.retry, r.outcome) for r in flaky] == [(0, Outcome.FAILED), (1, Outcome.PASSED)]
    assert flaky[0].message == "java.lang.AssertionError: Flaky failure"


def test_surefire_multiple_flaky_failures_keep_their_order(realworld: Path) -> None:
    name = "jenkins-junit-plugin__surefire_flakyfailure_multiple.xml"
    report = junit.parse((realworld / "junit" / name).read_bytes(), name)
    assert [(r.retry, r.outcome, r.message) for r in report.tests] == [
        (0, Outcome.FAILED, "obvious fail"),
        (1, Outcome.FAILED, "try one more time maybe"),
        (2, Outcome.PASSED, None),
    ]


def test_rerun_failures_are_all_failed_attempts(realworld: Path) -> None:
    name = "jenkins-junit-plugin__surefire_rerunfailure.xml"
    data = (realworld / "junit" / name).read_bytes()
    report = junit.parse(data, name)
    reruns = data.count(b"<rerunFailure")
    assert reruns == 3
    assert [r.retry for r in report.tests] == [0, 1, 2, 3]
    assert {r.outcome for r in report.tests} == {Outcome.FAILED}
    assert {r.test_id for r in report.tests} == {"io.olamy.AlwaysFailTest::testApp"}
    counts = RunCounts.of(report.tests)
    assert (counts.tests, counts.failed, counts.retried, counts.flaky) == (1, 1, 1, 0)


def test_rerun_error_after_failure_makes_the_final_attempt_an_error() -> None:
    report = parse(
        """<testsuite name="S"><testcase name="t" time="1">
        <failure>first</failure>
        <rerunFailure type="retry failure"/>
        <rerunError type="retry error"><stackTrace>boom</stackTrace></rerunError>
        </testcase></testsuite>"""
    )
    assert [(r.retry, r.outcome, r.failure_kind, r.message) for r in report.tests] == [
        (0, Outcome.FAILED, "failure", "first"),
        (1, Outcome.FAILED, "retry failure", None),
        (2, Outcome.ERROR, "retry error", "boom"),
    ]


def test_pytest_rerun_duplicates_are_successive_attempts() -> None:
    report = parse(
        """<testsuites><testsuite name="pytest">
        <testcase classname="tests.test_net" name="test_fetch" time="1.0">
          <failure message="ConnectionError: reset">trace 1</failure></testcase>
        <testcase classname="tests.test_net" name="test_fetch" time="1.1">
          <failure message="ConnectionError: timeout">trace 2</failure></testcase>
        <testcase classname="tests.test_net" name="test_other" time="0.1"/>
        <testcase classname="tests.test_net" name="test_fetch" time="0.9"/>
        </testsuite></testsuites>"""
    )
    fetch = [r for r in report.tests if r.name == "test_fetch"]
    assert [(r.retry, r.outcome, r.message) for r in fetch] == [
        (0, Outcome.FAILED, "ConnectionError: reset"),
        (1, Outcome.FAILED, "ConnectionError: timeout"),
        (2, Outcome.PASSED, None),
    ]
    counts = RunCounts.of(report.tests)
    assert (counts.tests, counts.passed, counts.failed, counts.flaky) == (2, 2, 0, 1)
    (warning,) = report.warnings
    assert warning.startswith("inline.xml:4: 2 <testcase> element(s) repeat an earlier test id")
    assert "'tests.test_net::test_fetch'" in warning


def test_pytest_rerun_corpus_file_ends_in_an_error(realworld: Path) -> None:
    name = "action-junit-report__pytest_rerun_all_failures.xml"
    report = junit.parse((realworld / "junit" / name).read_bytes(), name)
    assert [(r.retry, r.outcome, r.message) for r in report.tests] == [
        (0, Outcome.FAILED, "first failure"),
        (1, Outcome.FAILED, "second failure"),
        (2, Outcome.ERROR, "third error"),
    ]
    assert {(r.file, r.line) for r in report.tests} == {
        ("/home/runner/work/tests/test_always_fails.py", 10)
    }


def test_gotestsum_rerun_makes_a_flaky_test(realworld: Path) -> None:
    name = "action-junit-report__gotestsum_junit.xml"
    report = junit.parse((realworld / "junit" / name).read_bytes(), name)
    race = [r for r in report.tests if r.name == "TestWebSocketReconnectRace"]
    assert [(r.retry, r.outcome) for r in race] == [(0, Outcome.FAILED), (1, Outcome.PASSED)]
    assert race[0].suite == "github.com/example/example/server/v8/channels/api4"


# ---------------------------------------------------------------------------------------------
# Rust: nextest, cargo2junit, libtest's own junit
# ---------------------------------------------------------------------------------------------


def test_nextest_ids_use_the_binary_name(realworld: Path) -> None:
    name = "nextest__fixture_project_rerunfailure.xml"
    report = junit.parse((realworld / "junit" / name).read_bytes(), name)
    ids = list(dict.fromkeys(r.test_id for r in report.tests))
    assert ids == ["basic::test_cwd", "basic::test_failure_assert", "basic::test_flaky_mod_4"]
    assert {r.suite for r in report.tests} == {"basic"}
    failing = [r for r in report.tests if r.name == "test_failure_assert"]
    assert [r.retry for r in failing] == [0, 1, 2]
    assert {r.outcome for r in failing} == {Outcome.FAILED}
    assert failing[0].failure_kind == "test failure"
    assert failing[0].message is not None
    # the panic text as libtest's parser keeps it: no `thread '...' panicked at` header
    assert failing[0].message.startswith("assertion `left == right` failed: this is an assertion")
    assert (failing[0].file, failing[0].line) == ("tests/basic.rs", 19)
    flaky = [r.outcome for r in report.tests if r.name == "test_flaky_mod_4"]
    assert flaky == [Outcome.FAILED, Outcome.FAILED, Outcome.FAILED, Outcome.PASSED]


def test_nextest_binary_ids_inline() -> None:
    report = parse(
        """<testsuites name="nextest-run" tests="4" uuid="45c50042-482e-477e-88a2-60cfcc3eaf95">
        <testsuite name="user-service">
          <testcase name="tests::it_works" classname="user-service" time="0.01"/></testsuite>
        <testsuite name="user-service::integration">
          <testcase name="signup" classname="user-service::integration" time="0.02"/></testsuite>
        <testsuite name="user-service::bin/cli">
          <testcase name="tests::parses" classname="user-service::bin/cli" time="0.03"/>
        </testsuite>
        <testsuite name="user-service::integration@stress-1">
          <testcase name="signup" classname="user-service::integration" time="0.02"/></testsuite>
        </testsuites>"""
    )
    assert [(r.test_id, r.retry) for r in report.tests] == [
        ("user_service::tests::it_works", 0),
        ("integration::signup", 0),
        ("cli::tests::parses", 0),
        ("integration::signup", 1),  # a stress-run iteration is another execution
    ]


def test_nextest_without_its_root_is_recognised_by_the_binary_id_classname() -> None:
    report = parse(
        """<testsuite name="my-crate::api" tests="1">
        <testcase name="routes::health" classname="my-crate::api"/></testsuite>"""
    )
    assert only(report).test_id == "api::routes::health"


def test_nextest_setup_script_keeps_its_name(realworld: Path) -> None:
    name = "nextest__setup_script_no_decl.xml"
    result = only(junit.parse((realworld / "junit" / name).read_bytes(), name))
    assert result.test_id == "@setup-script:build-seed-archive::build-seed-archive"
    assert result.duration == pytest.approx(2.265)


def test_cargo2junit_rebuilds_the_libtest_path(realworld: Path) -> None:
    name = "cargo2junit__cargo_repo_failure.xml"
    report = junit.parse((realworld / "junit" / name).read_bytes(), name)
    by_id = {r.test_id: r for r in report.tests}
    assert by_id["cargo test #0::core::package_id_spec::tests::bad_parsing"].outcome == (
        Outcome.PASSED
    )
    failed = by_id["cargo test #1::build_auth::http_auth_offered"]
    assert failed.outcome == Outcome.FAILED
    assert failed.failure_kind == "cargo test"
    # the body (the panic), not cargo2junit's message attribute "failed build_auth::..."
    assert failed.message is not None
    # the panic text, found in the captured output as the libtest parser finds it
    assert failed.message.startswith("Expected: execs\n    but: expected to find:")
    assert (failed.file, failed.line) == ("tests\\testsuite\\support\\mod.rs", 794)
    top_level = by_id["cargo test #1::aaa_trigger_cross_compile_disabled_check"]
    assert top_level.message is not None
    # the old (rustc < 1.73) panic format, message extracted from `panicked at '...'`
    assert top_level.message.startswith("Cannot cross compile to i686-pc-windows-msvc.")


def test_cargo2junit_doc_tests(realworld: Path) -> None:
    name = "cargo2junit__doctests_edition2024.xml"
    report = junit.parse((realworld / "junit" / name).read_bytes(), name)
    assert [(r.name, r.outcome) for r in report.tests] == [
        ("src/lib.rs - foo (line 15)", Outcome.SKIPPED),
        ("src/lib.rs - foo (line 2)", Outcome.PASSED),
        ("src/lib.rs - foo (line 7)", Outcome.FAILED),
        ("src/lib.rs - foo (line 11)", Outcome.PASSED),
    ]
    assert report.tests[2].message is not None
    assert report.tests[2].message == "assertion `left == right` failed\n  left: 1\n right: 2"


def test_libtest_junit_paths_and_placeholder_times(realworld: Path) -> None:
    name = "rust-lang__libtest_format_junit.xml"
    report = junit.parse((realworld / "junit" / name).read_bytes(), name)
    assert [(r.name, r.outcome, r.duration) for r in report.tests] == [
        ("a", Outcome.PASSED, None),  # time="$TIME"
        ("b", Outcome.FAILED, None),
        ("c", Outcome.PASSED, None),
    ]
    inline = parse(
        """<testsuites><testsuite name="test" package="test" id="0">
        <testcase classname="tests" name="it_works" time="0.001"/>
        <testcase classname="crate" name="top_level" time="0.001"/>
        <testcase classname="src/lib.rs" name="foo (line 5)" time="0.001"/>
        </testsuite></testsuites>"""
    )
    assert [r.name for r in inline.tests] == [
        "tests::it_works",
        "top_level",
        "src/lib.rs - foo (line 5)",
    ]


# ---------------------------------------------------------------------------------------------
# Layout: roots, nesting, suite-level errors, names
# ---------------------------------------------------------------------------------------------


def test_bare_testsuite_root() -> None:
    report = parse(
        """<?xml version="1.0"?>
        <testsuite name="Calc" tests="2">
          <testcase name="adds" time="0.1"/>
          <testcase classname="calc.Sub" name="subtracts" time="0.2"><skipped/></testcase>
        </testsuite>"""
    )
    assert [(r.test_id, r.outcome) for r in report.tests] == [
        ("Calc::adds", Outcome.PASSED),
        ("calc.Sub::subtracts", Outcome.SKIPPED),
    ]
    assert report.warnings == ()


def test_nested_four_levels_take_the_innermost_suite(realworld: Path) -> None:
    name = "action-junit-report__nested_4_levels_no_decl.xml"
    report = junit.parse((realworld / "junit" / name).read_bytes(), name)
    assert [(r.test_id, r.outcome) for r in report.tests] == [
        ("TestA::A", Outcome.FAILED),
        ("TestA::B", Outcome.PASSED),
        ("TestB::A", Outcome.PASSED),
        ("TestB::B", Outcome.FAILED),
        ("packet::A", Outcome.FAILED),  # a testcase beside the nested suites
    ]


def test_nesting_deeper_than_four_levels() -> None:
    inner = '<testcase name="deep"/>'
    xml = inner
    for level in range(12, 0, -1):
        xml = f'<testsuite name="level{level}">{xml}<testcase name="at{level}"/></testsuite>'
    report = parse(f"<testsuites>{xml}</testsuites>")
    assert report.tests[0].test_id == "level12::deep"
    assert [r.test_id for r in report.tests[1:]] == [f"level{n}::at{n}" for n in range(12, 0, -1)]


def test_error_directly_in_testsuite_is_a_suite_result(realworld: Path) -> None:
    name = "jenkins-junit-plugin__error_directly_in_testsuite.xml"
    result = only(junit.parse((realworld / "junit" / name).read_bytes(), name))
    assert result.test_id == "gda.device.detector.XHDetectorTest::(suite)"
    assert result.outcome == Outcome.ERROR
    assert result.failure_kind == "java.lang.NoClassDefFoundError"
    assert result.message == "gda/device/detector/DAServer"


def test_suite_level_error_beside_testcases_is_kept() -> None:
    report = parse(
        """<testsuite name="pkg.Init">
        <properties><property name="a" value="b"/></properties>
        <error type="ExceptionInInitializerError">static init blew up</error>
        <testcase classname="pkg.Init" name="one"/>
        <system-out>out</system-out>
        </testsuite>"""
    )
    assert [(r.test_id, r.outcome, r.message) for r in report.tests] == [
        ("pkg.Init::(suite)", Outcome.ERROR, "static init blew up"),
        ("pkg.Init::one", Outcome.PASSED, None),
    ]


def test_empty_testcase_name_is_the_suite(realworld: Path) -> None:
    name = "jenkins-junit-plugin__surefire_junit5_beforeall_empty_name.xml"
    report = junit.parse((realworld / "junit" / name).read_bytes(), name)
    result = only(report)
    assert result.test_id == "test.TestJUnit5FailingInBeforeAll::(suite)"
    assert result.outcome == Outcome.FAILED
    assert result.failure_kind == "org.opentest4j.AssertionFailedError"
    assert report.warnings == (
        f"{name}:63: 1 <testcase> element(s) without a name: recorded as '(suite)' of their suite",
    )


def test_zero_testcases_is_valid_but_warned() -> None:
    report = parse('<testsuites tests="6"><testsuite name="x" tests="6"/></testsuites>')
    assert report.tests == ()
    assert report.warnings == (
        'inline.xml:1: no <testcase> elements (the root says tests="6"): '
        "a run with no tests is suspicious",
    )


def test_declared_count_mismatch_is_warned() -> None:
    report = parse(
        '<testsuites tests="5">\n<testsuite name="x"><testcase name="a"/></testsuite></testsuites>'
    )
    assert report.warnings == (
        'inline.xml:1: <testsuites tests="5"> but the file holds 1 results; '
        "the results are what gatekeeper records",
    )


def test_properties_system_out_and_unknown_elements_are_ignored() -> None:
    report = parse(
        """<testsuites><testsuite name="S">
        <properties><property name="x">text value</property></properties>
        <testcase name="t" classname="C" assertions="3" custom="1">
          <properties><property name="step" value="1"/></properties>
          <system-out><![CDATA[<failure>not a failure</failure>]]></system-out>
          <system-err>err</system-err>
          <vendor-thing><failure>inside an unknown element</failure></vendor-thing>
        </testcase>
        <system-out/><system-err/>
        </testsuite></testsuites>"""
    )
    assert [(r.test_id, r.outcome) for r in report.tests] == [("C::t", Outcome.PASSED)]


# ---------------------------------------------------------------------------------------------
# Outcomes, messages, kinds, durations, file/line
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        ("<skipped/><failure/><error/>", Outcome.ERROR),
        ("<skipped/><failure/>", Outcome.FAILED),
        ("<skipped/>", Outcome.SKIPPED),
        ("", Outcome.PASSED),
    ],
)
def test_the_worst_result_element_wins(body: str, outcome: Outcome) -> None:
    result = only(parse(f'<testsuite name="S"><testcase name="t">{body}</testcase></testsuite>'))
    assert result.outcome == outcome


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("disabled", Outcome.SKIPPED),  # tst
        ("notrun", Outcome.SKIPPED),  # GoogleTest
        ("Ignored", Outcome.SKIPPED),
        ("run", Outcome.PASSED),  # GoogleTest
        ("passed", Outcome.PASSED),
    ],
)
def test_status_attribute(status: str, outcome: Outcome) -> None:
    xml = f'<testsuite name="S"><testcase name="t" status="{status}"/></testsuite>'
    assert only(parse(xml)).outcome == outcome


def test_disabled_but_failed_counts_as_failed(realworld: Path) -> None:
    name = "action-junit-report__disabled_but_failure.xml"
    result = only(junit.parse((realworld / "junit" / name).read_bytes(), name))
    assert (result.outcome, result.failure_kind, result.message) == (
        Outcome.FAILED,
        "Test Failure",
        "Assert: Boolean true check failed.",
    )


def test_kind_and_message_defaults() -> None:
    report = parse(
        """<testsuite name="S">
        <testcase name="a"><failure/></testcase>
        <testcase name="b"><error>  first line
          second line  </error></testcase>
        <testcase name="c"><failure message="short" type="AssertionError">long trace</failure>
        </testcase>
        <testcase name="d"><skipped message="">why not</skipped></testcase>
        </testsuite>"""
    )
    assert [(r.failure_kind, r.message) for r in report.tests] == [
        ("failure", None),
        ("error", "first line\n          second line"),
        ("AssertionError", "short"),
        (None, "why not"),
    ]


def test_long_messages_are_capped() -> None:
    body = "x" * 10_000
    result = only(
        parse(
            f'<testsuite name="S"><testcase name="t"><failure>{body}</failure>'
            "</testcase></testsuite>"
        )
    )
    assert result.message is not None
    assert result.message.startswith("x" * junit.MESSAGE_CAP)
    assert len(result.message) < junit.MESSAGE_CAP + 30


def test_split_cdata_is_joined(realworld: Path) -> None:
    name = "action-surefire-report__surefire_split_cdata.xml"
    data = (realworld / "junit" / name).read_bytes()
    assert b"]]]]><![CDATA[>" in data
    report = parse(
        """<testsuite name="S"><testcase name="t"><failure><![CDATA[a ]]]]><![CDATA[> b]]>"""
        """</failure></testcase></testsuite>"""
    )
    assert only(report).message == "a ]]> b"
    corpus = only(junit.parse(data, name))
    assert corpus.outcome == Outcome.FAILED
    assert corpus.message is not None and "Expected size:<11> but was:<10>" in corpus.message


def test_entities_and_character_references_are_decoded(realworld: Path) -> None:
    report = parse(
        """<testsuite name="S"><testcase classname="a&amp;b" name="&lt;Component /&gt;">
        <failure message="expected &quot;x&quot; &apos;y&apos;&#13;&#10;z">body</failure>
        </testcase></testsuite>"""
    )
    result = only(report)
    assert result.test_id == "a&b::<Component />"
    assert result.message == "expected \"x\" 'y'\r\nz"
    name = "publish-unit-test-result__xml_entities.xml"
    corpus = junit.parse((realworld / "junit" / name).read_bytes(), name)
    root = SafeET.fromstring((realworld / "junit" / name).read_bytes())
    assert [r.name for r in corpus.tests] == [case.get("name") for case in root.iter("testcase")]
    assert any("&" in r.name for r in corpus.tests)


def test_ampersands_in_every_attribute_read() -> None:
    # libxml2 hands "&" in attribute values to a parser target as "&#38;"; undo exactly that
    report = parse(
        """<testsuites><testsuite name="R&amp;D">
        <testcase name="a &amp; b &amp;#38; c" classname="x&#38;y" file="d&amp;e.py">
          <failure message="1 &amp; 2" type="T&amp;U">body &amp; more</failure></testcase>
        <testcase name="n"/>
        </testsuite></testsuites>"""
    )
    first, second = report.tests
    assert (first.name, first.suite, first.file) == ("a & b &#38; c", "x&y", "d&e.py")
    assert (first.message, first.failure_kind) == ("1 & 2", "T&U")
    assert second.test_id == "R&D::n"


def test_utf8_bom(realworld: Path) -> None:
    name = "publish-unit-test-result__xunit_net_bom.xml"
    data = (realworld / "junit" / name).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf<?xml")
    assert junit.sniff(data) == 90
    assert len(junit.parse(data, name).tests) == 2
    inline = (
        b"\xef\xbb\xbf" + b'<testsuite name="S"><testcase name="\xc3\xa9t\xc3\xa9"/></testsuite>'
    )
    assert only(junit.parse(inline, "bom.xml")).name == "été"


def test_utf16() -> None:
    xml = '<?xml version="1.0" encoding="UTF-16"?>\n<testsuite name="S"><testcase name="ü"/>'
    xml += "</testsuite>"
    data = xml.encode("utf-16")
    assert junit.sniff(data) == 90
    assert only(junit.parse(data, "utf16.xml")).test_id == "S::ü"


def test_file_and_line_attributes() -> None:
    report = parse(
        """<testsuite name="S">
        <testcase name="a" file="tests/test_a.py" line="12"/>
        <testcase name="b" file="tests/test_b.py" line="x"><failure/></testcase>
        </testsuite>"""
    )
    assert [(r.file, r.line) for r in report.tests] == [
        ("tests/test_a.py", 12),
        ("tests/test_b.py", None),
    ]


def test_file_and_line_of_the_failure_element(realworld: Path) -> None:
    name = "action-junit-report__catch2.xml"
    result = only(junit.parse((realworld / "junit" / name).read_bytes(), name))
    assert (result.file, result.line) == ("test/unit/detail/utility/is_constant_evaluated.cpp", 19)
    assert (result.failure_kind, result.message) == (
        "REQUIRE",
        "REQUIRE(v == 1) expands to 0 == 10",
    )


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("1.5", 1.5),
        ("0", 0.0),
        ("2,503.1", 2503.1),  # Jenkins: thousands separator
        ("1,234,567.5", 1234567.5),
        ("0,25", 0.25),  # a decimal comma
        ("0,250", 0.25),  # a decimal comma with three decimals, not 250 grouped
        ("0,003", 0.003),
        ("1.4e-05", 1.4e-05),  # CUnit
        ("4.506e-05", 4.506e-05),
        (" 3 ", 3.0),
        ("-345345", None),  # Jenkins perf test: negative
        ("$TIME", None),  # rustc's test suite placeholder
        ("", None),
        ("nan", None),
        ("inf", None),
        ("1,2,3", None),
        (None, None),
    ],
)
def test_seconds(raw: str | None, seconds: float | None) -> None:
    assert junit.seconds(raw) == (pytest.approx(seconds) if seconds is not None else None)


@given(st.text(max_size=30))
def test_seconds_never_raises(raw: str) -> None:
    value = junit.seconds(raw)
    assert value is None or 0 <= value < float("inf")


def test_nanosecond_times_of_container_structure_test_are_kept_as_written(
    realworld: Path,
) -> None:
    name = "action-junit-report__container_structure_test.xml"
    report = junit.parse((realworld / "junit" / name).read_bytes(), name)
    assert max(r.duration or 0 for r in report.tests) > 1e8  # documented, not converted


# ---------------------------------------------------------------------------------------------
# Hostile input: entity bombs, XXE
# ---------------------------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE testsuites [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<testsuites><testsuite name="&lol9;"><testcase name="t" classname="&lol9;">
<failure message="&lol9;">&lol9;</failure></testcase></testsuite></testsuites>
"""


def _passwd_line() -> str:
    first = Path("/etc/passwd").read_text(encoding="utf-8").splitlines()[0]
    assert first  # something that would show if the file were read
    return first


def _everything_said(err: BaseException) -> str:
    parts = [str(err), repr(err), repr(err.args)]
    cause: BaseException | None = err
    while cause is not None:
        parts += [str(cause), repr(cause)]
        cause = cause.__cause__ or cause.__context__
    return "\n".join(parts)


def test_billion_laughs_is_refused_without_expanding() -> None:
    with pytest.raises(UnsafeInputError) as caught:
        parse(BILLION_LAUGHS, "bomb.xml")
    said = _everything_said(caught.value)
    assert "lollol" not in said
    assert str(caught.value).startswith("bomb.xml:2: the DOCTYPE declares XML entities")
    assert junit.sniff(BILLION_LAUGHS.encode()) == 90  # detected as JUnit, then refused


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE testsuites [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        "<!DOCTYPE testsuites [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>",
        '<!DOCTYPE testsuites PUBLIC "-//X//Y" "http://127.0.0.1:9/x.dtd" '
        '[<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE testsuites [<!-- ]> --><!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE testsuites [<!ATTLIST testsuites a CDATA "]>">'
        '<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE testsuites [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd">%remote;]>',
        '<!DOCTYPE testsuites [<?pi ]> <testsuites ?><!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    ],
    ids=[
        "double-quoted",
        "single-quoted",
        "public-id",
        "comment-trick",
        "attlist-trick",
        "param",
        "pi-trick",
    ],
)
def test_xxe_is_refused_and_nothing_is_read(doctype: str) -> None:
    xml = (
        f'<?xml version="1.0"?>\n{doctype}\n<testsuites><testsuite name="&xxe;">'
        '<testcase name="t"><failure message="&xxe;">&xxe;</failure></testcase>'
        "</testsuite></testsuites>"
    )
    with pytest.raises(UnsafeInputError) as caught:
        parse(xml, "xxe.xml")
    assert caught.value.line == 2
    assert _passwd_line() not in _everything_said(caught.value)


def test_xxe_in_utf16_is_refused() -> None:
    xml = (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        '<!DOCTYPE testsuites [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        '<testsuites><testsuite name="&xxe;"><testcase name="t"/></testsuite></testsuites>'
    )
    with pytest.raises(UnsafeInputError) as caught:
        junit.parse(xml.encode("utf-16"), "xxe16.xml")
    assert _passwd_line() not in _everything_said(caught.value)


def test_entity_declaration_after_a_long_header_is_refused() -> None:
    header = "<!--" + "license text " * 10_000 + "-->\n"  # pushes the DOCTYPE past 64 KiB
    xml = (
        f'{header}<!DOCTYPE testsuites [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        '<testsuites><testsuite name="&xxe;"><testcase name="t"/></testsuite></testsuites>'
    )
    assert len(header) > 65536
    with pytest.raises(UnsafeInputError) as caught:
        parse(xml, "long.xml")
    assert caught.value.line == 2
    assert _passwd_line() not in _everything_said(caught.value)


def test_utf32_is_refused_rather_than_guessed() -> None:
    data = '<testsuite name="S"><testcase name="t"/></testsuite>'.encode("utf-32-le")
    with pytest.raises(ReportParseError, match="encoding"):
        junit.parse(data, "utf32.xml")


def test_external_dtd_without_entities_is_not_fetched() -> None:
    xml = (
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE testsuites SYSTEM "http://127.0.0.1:9/junit.dtd">\n'
        '<testsuites><testsuite name="S"><testcase name="t"/></testsuite></testsuites>'
    )
    assert only(parse(xml)).test_id == "S::t"
    local = xml.replace("http://127.0.0.1:9/junit.dtd", "file:///etc/passwd")
    report = parse(local)
    assert _passwd_line() not in repr(report)


def test_undeclared_entity_reference_is_a_parse_error() -> None:
    with pytest.raises(ReportParseError, match="Entity 'nope' not defined") as caught:
        parse('<testsuite name="S">\n<testcase name="&nope;"/></testsuite>')
    assert caught.value.line == 2


# ---------------------------------------------------------------------------------------------
# Broken and foreign input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \n\t", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"])
def test_empty_input(data: bytes) -> None:
    with pytest.raises(EmptyReportError) as caught:
        junit.parse(data, "empty.xml")
    assert str(caught.value).startswith("empty.xml: the file is empty")


@pytest.mark.parametrize(
    "xml", ['<?xml version="1.0"?>\n', '<?xml version="1.0"?>\n<!-- nothing -->\n', "<!-- cut"]
)
def test_no_element_at_all(xml: str) -> None:
    with pytest.raises(EmptyReportError, match="no XML element"):
        parse(xml)


def test_truncated_xml_reports_the_line() -> None:
    xml = (
        '<?xml version="1.0"?>\n<testsuites>\n  <testsuite name="S">\n'
        '    <testcase name="a"/>\n    <testcase name="b">\n      <failure message="boo'
    )
    with pytest.raises(ReportParseError) as caught:
        parse(xml, "cut.xml")
    assert caught.value.line == 6
    assert caught.value.problem.startswith("XML is truncated")
    assert caught.value.hint == "was the test job killed while writing it?"


def test_missing_closing_root_tag() -> None:
    xml = '<testsuites>\n<testsuite name="S"><testcase name="a"/></testsuite>\n'
    with pytest.raises(ReportParseError) as caught:
        parse(xml, "cut.xml")
    assert caught.value.problem == "XML is truncated: <testsuites> opened on line 1 is never closed"


@pytest.mark.parametrize(
    "data",
    [b"this is not xml", b"PK\x03\x04\x14\x00binary zip", b'{"tests": []}', b"  hello <x/>"],
)
def test_not_xml(data: bytes) -> None:
    with pytest.raises(ReportParseError) as caught:
        junit.parse(data, "x.xml")
    assert caught.value.problem.startswith("not XML")
    assert caught.value.line == 1


def test_extra_content_is_not_called_truncation() -> None:
    with pytest.raises(ReportParseError) as caught:
        parse('<testsuite name="S"><testcase name="a"/></testsuite>\n<testsuite/>')
    assert (
        caught.value.problem == "XML is not well-formed: Extra content at the end of the document"
    )


@pytest.mark.parametrize(
    ("xml", "root"),
    [
        ("<result><suites><suite><case/></suite></suites></result>", "result"),
        ("<suites><suite><case/></suite></suites>", "suites"),
        ('<?xml version="1.0"?>\n<coverage line-rate="0.5"><packages/></coverage>', "coverage"),
        ('<testcase name="lonely"/>', "testcase"),
    ],
)
def test_well_formed_but_not_junit(xml: str, root: str) -> None:
    with pytest.raises(WrongFormatError) as caught:
        parse(xml, "other.xml")
    assert caught.value.problem == (
        f"well-formed XML but not JUnit: root element <{root}> "
        "(expected <testsuites> or <testsuite>)"
    )
    assert junit.sniff(xml.encode()) == 0


def test_namespaced_junit_is_refused_clearly() -> None:
    with pytest.raises(WrongFormatError) as caught:
        parse('<testsuites xmlns="urn:example"><testsuite name="S"/></testsuites>', "ns.xml")
    assert caught.value.problem == (
        "root element <testsuites> is in the XML namespace 'urn:example'; JUnit reports use none"
    )


def test_foreign_root_that_is_also_broken_is_a_parse_error() -> None:
    with pytest.raises(ReportParseError, match="truncated"):
        parse("<result>\n<suites>\n")


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_a_report_or_an_input_error(data: bytes) -> None:
    assert junit.sniff(data) in (0, 90)
    try:
        junit.parse(data, "fuzz.xml")
    except InputError as err:
        assert str(err).startswith("fuzz.xml")


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "pkg.A", "pkg.B"]),
            st.sampled_from(["t1", "t2", "t3"]),
            st.sampled_from(["", "<failure/>", "<error/>", "<skipped/>"]),
        ),
        max_size=12,
    )
)
def test_generated_reports_agree_with_the_independent_count(
    cases: list[tuple[str, str, str]],
) -> None:
    body = "".join(f'<testcase classname="{c}" name="{n}">{r}</testcase>' for c, n, r in cases)
    data = f'<testsuites><testsuite name="S">{body}</testsuite></testsuites>'.encode()
    report = junit.parse(data, "gen.xml")
    expected, attempts = independent_count(data)
    counts = RunCounts.of(report.tests)
    assert (counts.tests, counts.failed, counts.errors, counts.skipped) == (
        expected.tests,
        expected.failed,
        expected.errors,
        expected.skipped,
    )
    assert len(report.tests) == attempts


# ---------------------------------------------------------------------------------------------
# sniff()
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"<testsuites/>",
        b'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="x">',
        b"\xef\xbb\xbf<?xml version='1.0'?>\r\n<testsuites>",
        b"<!-- Copyright (c) 2009 MIT license\n  long header -->\n<?xml-stylesheet href='x'?>\n"
        b"<testsuite>",
        b'<!DOCTYPE testsuites SYSTEM "junit.dtd">\n<testsuites>',
        b"\n\n   <testsuite",  # cut right after the name
    ],
)
def test_sniff_recognises_junit(head: bytes) -> None:
    assert junit.sniff(head) == 90


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"not xml at all",
        b'<?xml version="1.0"?>\n<coverage line-rate="1">',
        b"<result><suites>",
        b"<testsuitesX>",
        b"<!-- a comment that the head cuts off",
        b"running 3 tests\ntest a ... ok\n",
        b'{"type": "suite", "event": "started"}',
    ],
)
def test_sniff_says_no(head: bytes) -> None:
    assert junit.sniff(head) == 0


def test_sniff_reads_the_license_header_file(realworld: Path) -> None:
    data = (realworld / "junit" / "jenkins-junit-plugin__license_comment_header.xml").read_bytes()
    assert data.index(b"<testsuite") > data.index(b"<!--") > 0  # the root comes after it
    assert junit.sniff(data[:65536]) == 90


# ---------------------------------------------------------------------------------------------
# The fast TestResult constructor
# ---------------------------------------------------------------------------------------------


def test_fast_results_equal_real_ones_and_stay_frozen() -> None:
    args = ("S::t", "S", "t", Outcome.FAILED, 0.5, "boom", "AssertionError", 2, "f.py", 7)
    fast = junit._result(*args)
    real = TestResult(*args)
    assert type(fast) is TestResult
    assert fast == real
    assert hash(fast) == hash(real)
    assert repr(fast) == repr(real)
    with pytest.raises(FrozenInstanceError):
        fast.retry = 3  # type: ignore[misc]


def test_a_doctype_the_byte_scan_missed_stops_the_parse() -> None:
    # the second line of defence: libxml2 reports a DOCTYPE that the prolog scan did not see
    target = junit._reader(junit._Read(), prolog_has_doctype=False)
    with pytest.raises(UnsafeInputError):
        etree.fromstring(b"<!DOCTYPE testsuites><testsuites/>", junit._parser(target))
    seen = junit._reader(junit._Read(), prolog_has_doctype=True)
    etree.fromstring(b"<!DOCTYPE testsuites><testsuites/>", junit._parser(seen))


# ---------------------------------------------------------------------------------------------
# Cross-check with junitparser, an independent JUnit reader (too slow for the hot path)
# ---------------------------------------------------------------------------------------------


def _junitparser_names(path: Path) -> set[str]:
    import junitparser

    doc = junitparser.JUnitXml.fromfile(str(path))
    names: set[str] = set()

    def walk(suite: Any) -> None:
        for child in suite:
            if isinstance(child, junitparser.TestSuite):
                walk(child)
            elif child.name:
                names.add(child.name)

    for suite in [doc] if isinstance(doc, junitparser.TestSuite) else list(doc):
        walk(suite)
    return names


def _valid_junit_files() -> list[str]:
    rows = list(csv.DictReader(corpus_manifest(), delimiter="\t", quoting=csv.QUOTE_NONE))
    broken = re.compile(r"MALFORMED|MALICIOUS|NOT JUnit|0-byte")
    return [
        r["file"] for r in rows if r["file"].startswith("junit/") and not broken.search(r["notes"])
    ]


@pytest.mark.parametrize("name", corpus_params(_valid_junit_files()))
def test_junitparser_sees_the_same_tests(realworld: Path, name: str) -> None:
    path = realworld / name
    ours = {t.name for t in junit.parse(path.read_bytes(), name).tests if t.name != "(suite)"}
    # cargo2junit and libtest's own JUnit split the libtest path into (classname, name); we
    # rebuild the path, junitparser keeps the last segment: compare last segments.
    last = {n.rsplit("::", 1)[-1] for n in ours}
    assert {n.rsplit("::", 1)[-1] for n in _junitparser_names(path)} == last
