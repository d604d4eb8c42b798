"""JUnit XML (every producer's dialect) -> TestResult records, streamed, entity-safe."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from lxml import etree

from gatekeeper.errors import (
    EmptyReportError,
    ReportParseError,
    UnsafeInputError,
    WrongFormatError,
)
from gatekeeper.model import Outcome, ParsedReport, TestResult, make_test_id, rust_binary_name
from gatekeeper.parsers._rust import failure_from_output
from gatekeeper.parsers._xml import (
    UNSAFE_PROBLEM,
    check_prolog,
    decode_head,
    scan_prolog,
    unsafe_hint,
)
from gatekeeper.pauses import gc_paused

NAME = "junit"

SUITE_NAME = "(suite)"  # the name of a result that belongs to a suite, not to a named testcase
MESSAGE_CAP = 4000  # characters kept of a failure/skip message

_ROOTS = frozenset({"testsuites", "testsuite"})
_RESULT_TAGS = frozenset(
    {
        "failure",
        "error",
        "skipped",
        # Surefire (rerunFailingTestsCount), nextest/quick-junit: retries of one testcase
        "flakyFailure",
        "flakyError",
        "rerunFailure",
        "rerunError",
    }
)
_SKIP_STATUSES = frozenset({"disabled", "skipped", "notrun", "ignored"})
_PASSED, _FAILED, _ERROR, _SKIPPED = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.SKIPPED

_XML_NAME = re.compile(r"[A-Za-z_:][-A-Za-z0-9._:]*")
_STRESS_SUFFIX = re.compile(r"@stress-\d+$")  # nextest stress runs: one suite per iteration
_CARGO2JUNIT_SUITE = re.compile(r"cargo test #\d+$")
# `2,503.1`: grouped thousands. A leading 0 (`0,250`) is never grouped: that is a decimal comma.
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?$")
_PREMATURE = re.compile(r"Premature end of data in tag (\S+) line (\d+)")
_LXML_WHERE = re.compile(r",? line \d+, column \d+(?: \(.*\))?$")

# Suite dialects: how a testcase's (suite, name) is derived (see docs/formats/junit.md).
_GENERIC, _NEXTEST, _CARGO2JUNIT, _LIBTEST = range(4)


def sniff(head: bytes) -> int:
    """90 when the first element (after declaration, comments, DOCTYPE) is a JUnit root, else 0."""
    try:
        root = scan_prolog(decode_head(head)).root
    except Exception:  # the contract: sniffing never raises
        return 0
    return 90 if root in _ROOTS else 0


# ---------------------------------------------------------------------------------------------
# Attribute values and messages
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


def _amp(value: str) -> str:
    """An attribute value as written: libxml2 hands "&" to a parser target as "&#38;".

    With entity substitution off (``resolve_entities=False``) libxml2 keeps ``&amp;`` and
    ``&#38;`` in attribute values re-escaped as ``&#38;`` (every other reference is decoded), so
    every "&" in a value it reports starts one; replacing them all is the exact inverse.
    """
    return value.replace("&#38;", "&") if "&" in value else value


def _capped(text: str | None) -> str | None:
    """Stripped text, None when blank, cut at MESSAGE_CAP characters."""
    if not text:
        return None
    text = text.strip()
    if len(text) > MESSAGE_CAP:
        return text[:MESSAGE_CAP].rstrip() + "\n[... cut by gatekeeper]"
    return text or None


class _Item:
    """One result element of a testcase (<failure>, <skipped>, <flakyError>, ...) as read."""

    __slots__ = ("attrib", "tag", "text", "trace")

    def __init__(self, tag: str, attrib: Mapping[str, str]) -> None:
        self.tag = tag
        self.attrib = attrib
        self.text: list[str] = []
        self.trace: list[str] | None = None  # Surefire/quick-junit <stackTrace> child

    def message(self, body_first: bool) -> str | None:
        """The ``message`` attribute, else the element's text, else its <stackTrace>."""
        attr, body = _capped(_amp(self.attrib.get("message") or "")), _capped("".join(self.text))
        # cargo2junit's message attribute only says "failed NAME"; its body has the panic
        found = (body or attr) if body_first else (attr or body)
        if found is None and self.trace:
            found = _capped("".join(self.trace))
        return found

    def kind(self) -> str:
        """failure_kind: the ``type`` attribute, else what the element says (failure/error)."""
        kind = self.attrib.get("type")
        if kind:
            return _amp(kind)
        return "error" if self.tag.endswith(("error", "Error")) else "failure"


# ---------------------------------------------------------------------------------------------
# Building results fast
# ---------------------------------------------------------------------------------------------

_RESULT_FIELDS = (
    "test_id",
    "suite",
    "name",
    "outcome",
    "duration",
    "message",
    "failure_kind",
    "retry",
    "file",
    "line",
)


def _result_factory() -> Callable[..., TestResult]:
    """``TestResult(...)`` (positional, all ten fields) at about half the cost.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; on a 100k
    testcase report that is a third of the parse. Setting the slots through their descriptors
    builds the same, equal, immutable object. If ``model.TestResult`` ever changes shape (other
    fields, a ``__post_init__``), this falls back to the real constructor.
    """
    fields = tuple(f.name for f in dataclasses.fields(TestResult))
    if fields != _RESULT_FIELDS or hasattr(TestResult, "__post_init__"):
        return TestResult
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = (
        TestResult.__dict__[name].__set__ for name in _RESULT_FIELDS
    )
    new = object.__new__

    def make(
        test_id: str,
        suite: str,
        name: str,
        outcome: Outcome,
        duration: float | None,
        message: str | None,
        failure_kind: str | None,
        retry: int,
        file: str | None,
        line: int | None,
    ) -> TestResult:
        result: TestResult = new(TestResult)
        s0(result, test_id)
        s1(result, suite)
        s2(result, name)
        s3(result, outcome)
        s4(result, duration)
        s5(result, message)
        s6(result, failure_kind)
        s7(result, retry)
        s8(result, file)
        s9(result, line)
        return result

    return make


_result = _result_factory()


# ---------------------------------------------------------------------------------------------
# Suites: which dialect wrote them, and the (suite, name) of their testcases
# ---------------------------------------------------------------------------------------------


class _Suite:
    """An open <testsuite> (or the <testsuites> root): its name and, once known, its dialect."""

    __slots__ = ("dialect", "name", "package")

    def __init__(self, attrib: Mapping[str, str]) -> None:
        self.name = _amp(attrib.get("name") or "")
        self.package = attrib.get("package")
        self.dialect: int | None = None  # decided at its first testcase


def _dialect(suite: _Suite, classname: str | None, nextest_file: bool) -> int:
    name = suite.name
    if nextest_file or name.startswith("@setup-script:"):
        return _NEXTEST
    # nextest without its <testsuites uuid> root: classname == suite name == a "::" binary id
    if classname and "::" in classname and classname == _STRESS_SUFFIX.sub("", name):
        return _NEXTEST
    if _CARGO2JUNIT_SUITE.match(name):
        return _CARGO2JUNIT
    # libtest's own `--format junit`: <testsuite name="test" package="test" id="0">
    if name == "test" and suite.package == "test":
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


def _suite_and_name(
    dialect: int, suite_name: str, classname: str | None, name: str
) -> tuple[str, str]:
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


def _skip_status(status: str) -> bool:
    # tst and GoogleTest mark disabled tests with status="disabled"/"notrun", no <skipped>
    return status.lower() in _SKIP_STATUSES


# ---------------------------------------------------------------------------------------------
# The reader: lxml parser-target callbacks (SAX style, no tree: the cheapest way through lxml)
# ---------------------------------------------------------------------------------------------

_SUITE_LEVEL: Mapping[str, str] = {}  # the "testcase" of an <error> directly in a suite


class _WrongRoot(Exception):
    def __init__(self, tag: str) -> None:
        super().__init__(tag)
        self.tag = tag


class _Read:
    """What the reader found besides the results (for warnings and the root check)."""

    __slots__ = ("nameless", "ordinal", "repeated", "results", "root", "root_attrib", "suite_level")

    def __init__(self) -> None:
        self.results: list[TestResult] = []
        self.root: str | None = None
        self.root_attrib: Mapping[str, str] = {}
        self.ordinal = 0  # <testcase> elements read
        self.suite_level = 0  # results read from <error>/<failure> directly in a suite
        self.nameless: list[int] = []  # ordinals of testcases without a name
        self.repeated: list[tuple[int, str]] = []  # (ordinal, id) of testcases seen before


class _Target:
    """The object lxml calls back: start/end/data/close (and doctype)."""

    __slots__ = ("close", "data", "doctype", "end", "start")

    def __init__(self, **callbacks: Callable[..., Any]) -> None:
        for name, callback in callbacks.items():
            setattr(self, name, callback)


def _reader(read: _Read, prolog_has_doctype: bool) -> _Target:
    """Parser-target callbacks that append one TestResult per testcase attempt to ``read``.

    SAX style, no element tree: the cheapest way through lxml. The state lives in closure
    variables because this runs for every element of reports with 100k testcases.
    """
    append = read.results.append
    seen: dict[str, int] = {}  # test id -> attempts so far
    seen_get = seen.get
    suites: list[_Suite] = []
    suites_seen: dict[str, str] = {}
    case: Mapping[str, str] | None = None  # attributes of the open <testcase>
    depth = 0  # element depth inside the open testcase
    items: list[_Item] | None = None  # its result elements
    item: _Item | None = None  # the result element being read
    text: list[str] | None = None  # where character data goes now, if anywhere
    other_depth = 0  # depth inside a suite's other children (<properties>, <system-out>)
    nextest_file = False

    def doctype(name: str, pubid: str | None, system: str | None) -> None:
        # libxml2 saw a DOCTYPE that the byte scan did not: the scan was fooled; stop here.
        if not prolog_has_doctype:
            raise UnsafeInputError("", UNSAFE_PROBLEM, line=1, hint=unsafe_hint("JUnit reports"))

    def start(tag: str, attrib: Mapping[str, str]) -> None:
        nonlocal case, depth, items, item, text, other_depth, nextest_file
        if case is not None:  # inside a testcase
            depth += 1
            if depth == 1 and tag in _RESULT_TAGS:
                item = _Item(tag, attrib)
                if items is None:
                    items = [item]
                else:
                    items.append(item)
                text = item.text
            elif depth == 2 and tag == "stackTrace" and item is not None:
                text = item.trace = []
            else:
                text = None
        elif tag == "testcase" and suites:
            case = attrib
            read.ordinal += 1
        elif tag == "testsuite" or tag == "testsuites":
            if read.root is None:
                read.root, read.root_attrib = tag, attrib
                # nextest: <testsuites name="nextest-run" uuid="...">
                nextest_file = tag == "testsuites" and (
                    attrib.get("name") == "nextest-run" or "uuid" in attrib
                )
            suites.append(_Suite(attrib))
        elif read.root is None:
            raise _WrongRoot(tag)
        elif other_depth == 0 and (tag == "error" or tag == "failure"):
            # Ant/Surefire: a class-level init error is an <error> directly in <testsuite>
            case, depth = _SUITE_LEVEL, 1
            item = _Item(tag, attrib)
            items = [item]
            text = item.text
        else:
            other_depth += 1

    def data(chunk: str) -> None:
        if text is not None:
            text.append(chunk)

    def end(tag: str) -> None:
        nonlocal case, depth, items, item, text, other_depth
        if case is None:
            if tag == "testsuite" or tag == "testsuites":
                suites.pop()
            else:
                other_depth -= 1
            return
        if depth:
            depth -= 1
            if depth == 1:  # back in the result element after its <stackTrace>, ...
                text = item.text if item is not None else None
            elif depth == 0:
                item = text = None
                if case is _SUITE_LEVEL:
                    case = None
                    _suite_result(read, items or [], suites[-1], nextest_file, seen)
                    items = None
            return
        # </testcase>: the hot path
        get = case.get
        case = None
        name, classname, time = get("name"), get("classname"), get("time")
        status, file, line = get("status"), get("file"), get("line")
        if name and "&" in name:
            name = _amp(name)
        if classname and "&" in classname:
            classname = _amp(classname)
        if file:
            file = _amp(file)
        if not name:
            # Surefire + JUnit 5 writes name="" for a failure in @BeforeAll
            name = SUITE_NAME
            read.nameless.append(read.ordinal)
        suite_info = suites[-1]
        dialect = suite_info.dialect
        if dialect is None:
            dialect = suite_info.dialect = _dialect(suite_info, classname, nextest_file)
        if dialect == _GENERIC:
            # one string per suite, not one per testcase: 100k results stay smaller and faster
            suite = suites_seen.setdefault(classname, classname) if classname else suite_info.name
        else:
            suite, name = _suite_and_name(dialect, suite_info.name, classname, name)
        test_id = make_test_id(suite, name)
        retry = seen_get(test_id, 0)
        if retry:
            read.repeated.append((read.ordinal, test_id))
        if items is None and status is None:  # a passed testcase: most of them
            lineno = None if line is None else _int(line)
            append(
                _result(
                    test_id, suite, name, _PASSED, seconds(time), None, None, retry, file, lineno
                )
            )
            seen[test_id] = retry + 1
            return
        seen[test_id] = _attempts(
            append,
            items or (),
            test_id,
            suite,
            name,
            retry,
            seconds(time),
            status,
            file,
            _int(line),
            dialect == _CARGO2JUNIT,
            dialect != _GENERIC,
        )
        items = None

    def close() -> None:
        return None

    return _Target(start=start, end=end, data=data, close=close, doctype=doctype)


def _suite_result(
    read: _Read, items: list[_Item], suite_info: _Suite, nextest_file: bool, seen: dict[str, int]
) -> None:
    """A suite-level <error>/<failure>: a result named SUITE_NAME in that suite."""
    item = items[0]
    read.suite_level += 1
    dialect = _dialect(suite_info, None, nextest_file)
    suite, name = _suite_and_name(dialect, suite_info.name, None, SUITE_NAME)
    test_id = make_test_id(suite, name)
    retry = seen.get(test_id, 0)
    seen[test_id] = retry + 1
    outcome = _ERROR if item.tag == "error" else _FAILED
    message, kind = item.message(False), item.kind()
    read.results.append(
        _result(test_id, suite, name, outcome, None, message, kind, retry, None, None)
    )


def _attempts(
    append: Callable[[TestResult], None],
    items: list[_Item] | tuple[()],
    test_id: str,
    suite: str,
    name: str,
    retry: int,
    duration: float | None,
    status: str | None,
    file: str | None,
    line: int | None,
    body_first: bool,
    rust: bool = False,
) -> int:
    """Append one result per attempt of a testcase; return the next retry number.

    Surefire (rerunFailingTestsCount) and nextest write the failed attempts of a test that passed
    in the end as <flakyFailure>/<flakyError>, and the re-runs of a test that kept failing as
    <rerunFailure>/<rerunError> after the first attempt's <failure>/<error>.
    """
    error = failure = skipped = None
    flaky: list[_Item] = []
    reruns: list[_Item] = []
    for item in items:
        tag = item.tag
        if tag == "error":
            error = error or item
        elif tag == "failure":
            failure = failure or item
        elif tag == "skipped":
            skipped = skipped or item
        elif tag.startswith("flaky"):
            flaky.append(item)
        else:
            reruns.append(item)
    # One testcase can hold several results (publish-unit-test-result's multiresult fixture):
    # the worst wins, error > failure > skipped.
    main: tuple[Outcome, float | None, str | None, str | None]
    if error is not None:
        main = (_ERROR, duration, error.message(body_first), error.kind())
    elif failure is not None:
        main = (_FAILED, duration, failure.message(body_first), failure.kind())
    elif skipped is not None:
        main = (_SKIPPED, duration, skipped.message(False), None)
    elif status is not None and _skip_status(status):
        main = (_SKIPPED, duration, None, None)
    else:
        main = (_PASSED, duration, None, None)
    located = error if error is not None else failure
    if file is None and line is None and located is not None:
        # Catch2 (and action-junit-report's fixtures) put file/line on <failure>, not <testcase>
        file, line = located.attrib.get("file"), _int(located.attrib.get("line"))
        file = _amp(file) if file else None
    attempts = [main]
    if flaky or reruns:
        before = [_attempt(item, body_first) for item in flaky]
        after = [_attempt(item, body_first) for item in reruns]
        # a passing (or skipped) main result is the last attempt, a failing one the first
        attempts = [*before, main, *after] if main[0].is_failure else [*before, *after, main]
    for outcome, seconds_, message, kind in attempts:
        if rust and message and outcome.is_failure:
            # The panic text, as the libtest parser keeps it: without the `thread 'x' (id)
            # panicked at` header, whose thread id changes on every run.
            panic = failure_from_output(message.splitlines())
            message = panic.message or message
            if file is None and line is None and panic.file:
                file, line = panic.file, panic.line
        append(_result(test_id, suite, name, outcome, seconds_, message, kind, retry, file, line))
        retry += 1
    return retry


def _attempt(item: _Item, body_first: bool) -> tuple[Outcome, float | None, str | None, str]:
    outcome = _ERROR if item.tag.endswith("Error") else _FAILED
    return outcome, seconds(item.attrib.get("time")), item.message(body_first), item.kind()


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def _parser(target: Any) -> etree.XMLParser:  # Any: lxml-stubs' ParserTarget is stub-only
    # resolve_entities/no_network/load_dtd: nothing is fetched, whatever the prolog check
    # missed; libxml2's own limits (no huge_tree) stay on as a third line against entity bombs.
    return etree.XMLParser(
        target=target, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )


def _syntax_error(err: etree.XMLSyntaxError, data: bytes, source: str) -> ReportParseError:
    msg = _LXML_WHERE.sub("", str(err.msg or err)).strip() or "invalid XML"
    line, column = err.position if err.position else (0, 0)
    # libxml2 says "Premature end of data" for most cut-off files, but not for one cut inside
    # CDATA ("Unregistered error message"): an error at the very end of the data is a cut too.
    content = data.rstrip()
    last_line = content.count(b"\n") + 1
    last_length = len(content) - (content.rfind(b"\n") + 1)
    at_end = line > last_line or (line == last_line and column > last_length)
    if "Premature end of data" in msg or at_end:
        opened = _PREMATURE.search(msg)
        what = (
            f"<{opened.group(1)}> opened on line {opened.group(2)} is never closed"
            if opened
            else f"the file ends in the middle of the markup ({msg})"
        )
        return ReportParseError(
            source,
            f"XML is truncated: {what}",
            line=line or None,
            hint="was the test job killed while writing it?",
        )
    return ReportParseError(
        source,
        f"XML is not well-formed: {msg}",
        line=line or None,
        hint="the tool that wrote it produced broken XML; regenerate or fix the report",
    )


def _case_line(data: bytes, ordinal: int) -> int:
    """The line of the ``ordinal``-th ``<testcase`` tag (1-based), found in the raw bytes."""
    needle = b"<testcase"
    if data.startswith((b"\xff\xfe", b"<\x00")):
        needle = "<testcase".encode("utf-16-le")
    elif data.startswith((b"\xfe\xff", b"\x00<")):
        needle = "<testcase".encode("utf-16-be")
    pos = -1
    for _ in range(ordinal):
        found = data.find(needle, pos + 1)
        if found < 0:
            break
        pos = found
    if pos < 0:
        return 1
    newline = "\n".encode("utf-16-le") if needle[1:2] == b"\x00" else b"\n"
    return data.count(newline, 0, pos) + 1


def parse(data: bytes, source: str) -> ParsedReport:
    """Every testcase execution in a JUnit XML report, in document order."""
    blank = b"\xef\xbb\xbf \t\r\n"
    if not data[:4096].strip(blank) and not data.strip(blank):
        raise EmptyReportError(
            source, "the file is empty", hint="did the test step write its report?"
        )
    prolog, root_line = check_prolog(data, source)
    read = _Read()
    try:
        with gc_paused():
            etree.fromstring(data, _parser(_reader(read, prolog.doctype is not None)))
    except _WrongRoot as wrong:
        try:  # "well-formed XML but ..." must be true before it is said
            etree.fromstring(data, _parser(_Target(close=lambda: None)))
        except etree.XMLSyntaxError as err:
            raise _syntax_error(err, data, source) from err
        namespace, _, local = wrong.tag[1:].partition("}")
        if wrong.tag.startswith("{") and local in _ROOTS:
            problem = (
                f"root element <{local}> is in the XML namespace {namespace!r}; "
                "JUnit reports use none"
            )
        else:
            problem = (
                f"well-formed XML but not JUnit: root element <{wrong.tag}> "
                "(expected <testsuites> or <testsuite>)"
            )
        raise WrongFormatError(
            source,
            problem,
            line=root_line,
            hint="pass the JUnit report itself, or the right --format",
        ) from None
    except UnsafeInputError as err:
        raise UnsafeInputError(source, err.problem, line=err.line, hint=err.hint) from None
    except etree.XMLSyntaxError as err:
        raise _syntax_error(err, data, source) from err
    warnings = _warnings(read, data, source, root_line)
    return ParsedReport(format=NAME, source=source, tests=tuple(read.results), warnings=warnings)


def _warnings(reader: _Read, data: bytes, source: str, root_line: int) -> tuple[str, ...]:
    warnings: list[str] = []
    root = reader.root
    declared = _int(reader.root_attrib.get("tests"))
    if not reader.results:
        said = f' (the root says tests="{declared}")' if declared else ""
        warnings.append(
            f"{source}:{root_line}: no <testcase> elements{said}: a run with no tests is suspicious"
        )
    elif declared is not None and declared != reader.ordinal + reader.suite_level:
        warnings.append(
            f'{source}:{root_line}: <{root} tests="{declared}"> but the file holds '
            f"{reader.ordinal + reader.suite_level} results; the results are what gatekeeper "
            "records"
        )
    if reader.nameless:
        line = _case_line(data, reader.nameless[0])
        warnings.append(
            f"{source}:{line}: {len(reader.nameless)} <testcase> element(s) without a name: "
            f"recorded as {SUITE_NAME!r} of their suite"
        )
    if reader.repeated:
        ordinal, test_id = reader.repeated[0]
        line = _case_line(data, ordinal)
        warnings.append(
            f"{source}:{line}: {len(reader.repeated)} <testcase> element(s) repeat an earlier "
            f"test id (first: {test_id!r}); each repeat is read as a re-run of that test, the "
            "last one final (pytest-rerunfailures and gotestsum --rerun-fails write one per "
            "attempt)"
        )
    return tuple(warnings)
