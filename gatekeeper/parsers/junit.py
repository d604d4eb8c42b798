"""JUnit XML (every producer's dialect) -> TestResult records, streamed, entity-safe."""

from __future__ import annotations

import math
import re
from io import BytesIO
from typing import Any

from lxml import etree

from gatekeeper.errors import (
    EmptyReportError,
    ReportParseError,
    UnsafeInputError,
    WrongFormatError,
)
from gatekeeper.model import Outcome, ParsedReport, TestResult, make_test_id, rust_binary_name

NAME = "junit"

SUITE_NAME = "(suite)"  # name of a result that belongs to a suite, not to one named testcase
MESSAGE_CAP = 4000

_ROOTS = ("testsuites", "testsuite")
_UNSAFE_HINT = "JUnit reports never need a DOCTYPE: remove it, or check where this file came from"
_EVENT_TAGS = ("testcase", "testsuite", "testsuites", "error", "failure")
_SKIP_STATUSES = frozenset({"disabled", "skipped", "notrun", "ignored"})
_PASSED, _FAILED, _ERROR, _SKIPPED = (
    Outcome.PASSED,
    Outcome.FAILED,
    Outcome.ERROR,
    Outcome.SKIPPED,
)

_XML_NAME = re.compile(r"[A-Za-z_:][-A-Za-z0-9._:]*")
_STRESS_SUFFIX = re.compile(r"@stress-\d+$")  # nextest stress runs: one suite per iteration
_CARGO2JUNIT_SUITE = re.compile(r"cargo test #\d+$")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d*)?$")
_LXML_WHERE = re.compile(r",? line \d+, column \d+$")

# Suite dialects: how a testcase's (suite, name) is derived.
_GENERIC, _NEXTEST, _CARGO2JUNIT, _LIBTEST = range(4)


# ---------------------------------------------------------------------------------------------
# The prolog: what comes before the root element (sniffing and the entity check)
# ---------------------------------------------------------------------------------------------


def _decode_head(head: bytes) -> str:
    """Enough of ``head`` as text to read markup: UTF-16 decoded, else byte-per-char."""
    if head.startswith((b"\xff\xfe", b"<\x00")):
        return head.decode("utf-16-le", errors="replace").lstrip("\ufeff")
    if head.startswith((b"\xfe\xff", b"\x00<")):
        return head.decode("utf-16-be", errors="replace").lstrip("\ufeff")
    # latin-1 maps every byte to one char, so ASCII markup reads the same in any ASCII-compatible
    # encoding (UTF-8, ISO-8859-1, ...); a UTF-8 BOM becomes these three chars.
    text = head.decode("latin-1")
    return text[3:] if text.startswith("\xef\xbb\xbf") else text


def _doctype_end(text: str, start: int) -> int:
    """Index just past the ``<!DOCTYPE ...>`` at ``start``, or -1 if it does not end in ``text``."""
    j, n, in_subset = start + 9, len(text), False
    while j < n:
        c = text[j]
        if c == '"' or c == "'":
            k = text.find(c, j + 1)
            if k < 0:
                return -1
            j = k + 1
            continue
        if in_subset and text.startswith("<!--", j):
            k = text.find("-->", j + 4)
            if k < 0:
                return -1
            j = k + 3
            continue
        if c == "[":
            in_subset = True
        elif c == "]":
            in_subset = False
        elif c == ">" and not in_subset:
            return j + 1
        j += 1
    return -1


def _scan_prolog(text: str) -> tuple[str | None, str | None, bool]:
    """(root element name, DOCTYPE text, complete) of a document's start.

    Skips whitespace, the XML declaration and other processing instructions, comments (license
    headers) and the DOCTYPE. ``complete`` is False when ``text`` ended before the root element
    (read more and ask again); the root name is None then, or when the text is not XML.
    """
    i, n, doctype = 0, len(text), None
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return None, doctype, False
        if text.startswith("<?", i):
            j = text.find("?>", i + 2)
            if j < 0:
                return None, doctype, False
            i = j + 2
        elif text.startswith("<!--", i):
            j = text.find("-->", i + 4)
            if j < 0:
                return None, doctype, False
            i = j + 3
        elif text.startswith("<!DOCTYPE", i):
            j = _doctype_end(text, i)
            if j < 0:
                return None, text[i:], False
            doctype, i = text[i:j], j
        elif text.startswith("<", i):
            m = _XML_NAME.match(text, i + 1)
            return (m.group() if m else None), doctype, True
        else:
            return None, doctype, True


def sniff(head: bytes) -> int:
    """90 when the first element (after declaration, comments, DOCTYPE) is a JUnit root, else 0."""
    try:
        root, _doctype, _complete = _scan_prolog(_decode_head(head))
    except Exception:  # the contract: sniffing never raises
        return 0
    return 90 if root in _ROOTS else 0


def _refuse_entities(data: bytes, source: str) -> None:
    """Raise UnsafeInputError when a DOCTYPE declares entities (defusedxml's forbid_entities).

    Checked on the raw bytes before libxml2 sees them, so nothing is ever expanded or fetched:
    billion-laughs bombs and XXE (``SYSTEM "file:///etc/passwd"``) both need an ``<!ENTITY``.
    """
    head = data[:65536]
    _root, doctype, complete = _scan_prolog(_decode_head(head))
    if not complete and len(head) < len(data):  # a prolog longer than 64 KiB: read it all
        _root, doctype, complete = _scan_prolog(_decode_head(data))
    if doctype is not None and "<!ENTITY" in doctype:
        raise UnsafeInputError(
            source,
            "the DOCTYPE declares XML entities; refusing to read it (entity expansion and "
            "external entities are how billion-laughs and XXE attacks work)",
            line=1,
            hint=_UNSAFE_HINT,
        )


# ---------------------------------------------------------------------------------------------
# Attribute values
# ---------------------------------------------------------------------------------------------


def seconds(raw: str | None) -> float | None:
    """A ``time`` attribute in seconds; None when missing, negative or not a number.

    Tolerates ``2,503.1`` (thousands separators, a Jenkins test file), ``0,25`` (a decimal comma
    from a localised writer), scientific notation (CUnit, TAP::Formatter::JUnit) and placeholders
    such as ``$TIME`` (rustc's test suite).
    """
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        text = raw.strip()
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
        elif text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            return None
    if 0.0 <= value < math.inf:
        return value
    return None  # negative (a Jenkins perf-test generator), NaN, infinity


def _int(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


def _capped(text: str | None) -> str | None:
    """Stripped text, None when blank, cut at MESSAGE_CAP characters."""
    if not text:
        return None
    text = text.strip()
    if len(text) > MESSAGE_CAP:
        return text[:MESSAGE_CAP].rstrip() + "\n[... cut by gatekeeper]"
    return text or None


def _message(el: Any) -> str | None:
    """The ``message`` attribute, else the element's own text, else its <stackTrace> text."""
    found = _capped(el.get("message")) or _capped(el.text)
    if found is None:
        # Surefire/quick-junit put the trace of a flaky/rerun attempt in a <stackTrace> child
        trace = el.find("stackTrace")
        found = _capped(trace.text) if trace is not None else None
    return found


def _body_message(el: Any) -> str | None:
    """The element text first: cargo2junit's message attribute only says "failed NAME"."""
    return _capped(el.text) or _message(el)


# ---------------------------------------------------------------------------------------------
# Suites: which dialect wrote them, and the (suite, name) of their testcases
# ---------------------------------------------------------------------------------------------


def _suite_dialect(suite_el: Any, nextest_file: bool) -> int:
    name = suite_el.get("name") or ""
    if nextest_file or name.startswith("@setup-script:"):
        return _NEXTEST
    if _CARGO2JUNIT_SUITE.match(name):
        return _CARGO2JUNIT
    # libtest's own `--format junit`: <testsuite name="test" package="test" id="0">
    if name == "test" and suite_el.get("package") == "test":
        return _LIBTEST
    return _GENERIC


def _rust_suite(binary_id: str) -> str:
    binary_id = _STRESS_SUFFIX.sub("", binary_id)
    if binary_id.startswith("@"):  # nextest setup scripts: "@setup-script:NAME" is no binary
        return binary_id
    return rust_binary_name(binary_id)


def _libtest_path(classname: str, name: str) -> str:
    """The libtest test path that libtest's junit formatter split into (classname, name)."""
    if classname in ("", "unknown", "integration", "crate"):
        return name
    if classname.endswith(".rs"):  # doc-tests: classname "src/lib.rs", name "foo (line 5)"
        return f"{classname} - {name}"
    return f"{classname}::{name}"


def _nextest_by_classname(case_el: Any, suite_el: Any) -> int:
    """nextest without its <testsuites uuid> (a lone suite): classname is the "::" binary id."""
    classname = case_el.get("classname") or ""
    suite_name = _STRESS_SUFFIX.sub("", suite_el.get("name") or "")
    return _NEXTEST if "::" in classname and classname == suite_name else _GENERIC


def _suite_and_name(
    dialect: int, suite_el: Any, classname: str | None, name: str
) -> tuple[str, str]:
    suite_name = suite_el.get("name") or ""
    if dialect == _NEXTEST:
        # nextest: classname == testsuite name == the binary id ("my-crate::integration")
        return _rust_suite(classname or suite_name), name
    if dialect == _CARGO2JUNIT:
        # cargo2junit splits the libtest path at the last "::" into (classname, name); the test
        # binary is lost, so the suite is its "cargo test #N" (see docs/formats/junit.md)
        return suite_name, f"{classname}::{name}" if classname else name
    if dialect == _LIBTEST:
        return suite_name, _libtest_path(classname or "", name)
    if classname and classname.strip():
        return classname, name
    return suite_name, name


def _skip_status(status: str | None) -> bool:
    # tst and GoogleTest mark disabled tests with status="disabled"/"notrun", no <skipped>
    return status is not None and status.lower() in _SKIP_STATUSES


def _check_docinfo(el: Any, source: str) -> None:
    """Second line of defence: libxml2's own view of the DTD (entities are never expanded)."""
    dtd = el.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise UnsafeInputError(
            source,
            "the DOCTYPE declares XML entities; refusing to read it",
            line=1,
            hint=_UNSAFE_HINT,
        )


def _testcase_attempts(
    el: Any,
    test_id: str,
    suite: str,
    name: str,
    retry: int,
    body_first: bool,
    append: Any,
) -> int:
    """Append one TestResult per attempt of a testcase that has children; return the next retry.

    Surefire (rerunFailingTestsCount) and nextest write earlier failed attempts of a test that
    passed in the end as <flakyFailure>/<flakyError>, and the re-runs of a test that kept
    failing as <rerunFailure>/<rerunError> after the first attempt's <failure>/<error>.
    """
    error = failure = skipped = None
    flaky: list[Any] = []
    reruns: list[Any] = []
    for child in el:
        tag = child.tag
        if tag == "failure":
            if failure is None:
                failure = child
        elif tag == "error":
            if error is None:
                error = child
        elif tag == "skipped":
            if skipped is None:
                skipped = child
        elif tag == "flakyFailure" or tag == "flakyError":
            flaky.append(child)
        elif tag == "rerunFailure" or tag == "rerunError":
            reruns.append(child)
    get = el.get
    message = _body_message if body_first else _message
    # One testcase can hold several results (publish-unit-test-result's multiresult fixture):
    # the worst wins, error > failure > skipped.
    main: tuple[Outcome, float | None, str | None, str | None]
    if error is not None:
        main = (_ERROR, seconds(get("time")), message(error), error.get("type") or "error")
    elif failure is not None:
        main = (_FAILED, seconds(get("time")), message(failure), failure.get("type") or "failure")
    elif skipped is not None:
        main = (_SKIPPED, seconds(get("time")), _message(skipped), None)
    else:
        status_skip = _skip_status(get("status"))
        main = (_SKIPPED if status_skip else _PASSED, seconds(get("time")), None, None)
    attempts = [main]
    if flaky or reruns:
        before = [_attempt(child, message) for child in flaky]
        after = [_attempt(child, message) for child in reruns]
        # a passing (or skipped) main result is the last attempt, a failing one the first
        attempts = [*before, main, *after] if main[0].is_failure else [*before, *after, main]
    file, line = get("file"), _int(get("line"))
    for outcome, duration, text, kind in attempts:
        append(TestResult(test_id, suite, name, outcome, duration, text, kind, retry, file, line))
        retry += 1
    return retry


def _attempt(child: Any, message: Any) -> tuple[Outcome, float | None, str | None, str | None]:
    is_error = child.tag.endswith("Error")  # flakyError, rerunError
    return (
        _ERROR if is_error else _FAILED,
        seconds(child.get("time")),
        message(child),
        child.get("type") or ("error" if is_error else "failure"),
    )


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def _suite_result(el: Any, suite_el: Any, nextest_file: bool, seen: dict[str, int]) -> TestResult:
    """A <failure>/<error> directly inside <testsuite>: Ant/Surefire's class-level init error."""
    suite, name = _suite_and_name(
        _suite_dialect(suite_el, nextest_file), suite_el, None, SUITE_NAME
    )
    test_id = make_test_id(suite, name)
    retry = seen.get(test_id, 0)
    seen[test_id] = retry + 1
    is_error = el.tag == "error"
    return TestResult(
        test_id,
        suite,
        name,
        _ERROR if is_error else _FAILED,
        None,
        _message(el),
        el.get("type") or el.tag,
        retry,
    )


def _syntax_error(err: etree.XMLSyntaxError, data: bytes, source: str) -> ReportParseError:
    msg = _LXML_WHERE.sub("", str(err.msg or err)).strip()
    line = err.lineno or None
    last_line = data.count(b"\n") + 1
    if line == 1 and msg.startswith("Start tag expected"):
        return ReportParseError(
            source,
            f"not XML ({msg})",
            line=line,
            hint="is this a JUnit XML report? check the path and the test step's output",
        )
    if "Premature end of data" in msg or (line is not None and line >= last_line):
        return ReportParseError(
            source,
            f"XML is truncated: the file ends before its elements are closed ({msg})",
            line=line,
            hint="was the test job killed while writing it?",
        )
    return ReportParseError(
        source,
        f"XML is not well-formed: {msg}",
        line=line,
        hint="the tool that wrote it produced broken XML; regenerate or fix the report",
    )


def _not_junit(source: str, root: str, line: int | None) -> WrongFormatError:
    return WrongFormatError(
        source,
        f"well-formed XML but not JUnit: root element <{root}> "
        "(expected <testsuites> or <testsuite>)",
        line=line,
        hint="pass the JUnit report itself, or the right --format",
    )


def parse(data: bytes, source: str) -> ParsedReport:
    """Every testcase execution in a JUnit XML report, in document order."""
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise EmptyReportError(
            source, "the file is empty", hint="did the test step write its report?"
        )
    _refuse_entities(data, source)

    tests: list[TestResult] = []
    append = tests.append
    seen: dict[str, int] = {}  # test id -> attempts so far (pytest-rerunfailures repeats cases)
    seen_get = seen.get
    root: Any = None
    root_line: int | None = None
    declared: int | None = None
    nextest_file = False
    cases = 0
    nameless: list[int | None] = []
    last_parent: Any = None
    dialect = _GENERIC

    # resolve_entities/no_network/load_dtd: nothing is expanded or fetched even if the entity
    # check above were fooled. huge_tree: Surefire's system-out can pass libxml2's 10 MB text
    # limit; the limits it lifts guard against entity bombs, which are refused above.
    events = etree.iterparse(
        BytesIO(data),
        events=("end",),
        tag=_EVENT_TAGS,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
        remove_comments=True,
    )
    try:
        for _event, el in events:
            if root is None:
                root = el.getroottree().getroot()
                if root.tag not in _ROOTS:
                    raise _not_junit(source, str(root.tag), root.sourceline)
                _check_docinfo(root, source)
                root_line, declared = root.sourceline, _int(root.get("tests"))
                # nextest: <testsuites name="nextest-run" uuid="...">
                nextest_file = root.tag == "testsuites" and (
                    root.get("name") == "nextest-run" or root.get("uuid") is not None
                )
            tag = el.tag
            parent = el.getparent()
            if tag == "testcase":
                cases += 1
                if parent is not last_parent:
                    last_parent = parent
                    dialect = _suite_dialect(parent, nextest_file)
                    if dialect == _GENERIC:
                        dialect = _nextest_by_classname(el, parent)
                get = el.get
                name = get("name")
                if not name:
                    # Surefire + JUnit 5 writes name="" for a failure in @BeforeAll
                    name = SUITE_NAME
                    nameless.append(el.sourceline)
                classname = get("classname")
                if dialect == _GENERIC:
                    suite = classname if classname else (parent.get("name") or "")
                else:
                    suite, name = _suite_and_name(dialect, parent, classname, name)
                test_id = make_test_id(suite, name)
                retry = seen_get(test_id, 0)
                if len(el):
                    retry = _testcase_attempts(
                        el, test_id, suite, name, retry, dialect == _CARGO2JUNIT, append
                    )
                else:  # the common case, kept inline: a passed (or status-skipped) testcase
                    status = get("status")
                    append(
                        TestResult(
                            test_id,
                            suite,
                            name,
                            _SKIPPED if status and _skip_status(status) else _PASSED,
                            seconds(get("time")),
                            None,
                            None,
                            retry,
                            get("file"),
                            _int(get("line")),
                        )
                    )
                    retry += 1
                seen[test_id] = retry
            elif tag == "failure" or tag == "error":
                if parent is not None and parent.tag in _ROOTS:
                    append(_suite_result(el, parent, nextest_file, seen))
                continue  # read with its testcase (or suite), freed with it
            # free what was read: this element's subtree and the siblings before it
            el.clear(keep_tail=False)
            if parent is not None:
                while el.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as err:
        raise _syntax_error(err, data, source) from err

    if root is None:  # no testcase/testsuite at all: what was the root?
        root = events.root
        if root is None:
            raise EmptyReportError(
                source, "no XML element in the file", hint="did the test step write its report?"
            )
        if root.tag not in _ROOTS:
            raise _not_junit(source, str(root.tag), root.sourceline)
        _check_docinfo(root, source)
        root_line, declared = root.sourceline, _int(root.get("tests"))

    warnings: list[str] = []
    if not tests:
        warnings.append(
            f"{source}:{root_line}: no <testcase> elements: a run with no tests is suspicious"
        )
    elif declared is not None and declared != cases:
        warnings.append(
            f'{source}:{root_line}: <{root.tag} tests="{declared}"> but the file holds {cases} '
            "<testcase> elements (a partial or merged report?)"
        )
    if nameless:
        warnings.append(
            f"{source}:{nameless[0]}: {len(nameless)} <testcase> element(s) without a name: "
            f"recorded as {SUITE_NAME!r} of their suite"
        )
    return ParsedReport(format=NAME, source=source, tests=tuple(tests), warnings=tuple(warnings))
