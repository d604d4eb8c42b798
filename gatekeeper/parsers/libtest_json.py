"""libtest's JSON event stream (`cargo test -- -Z unstable-options --format json`) -> results."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.errors import EmptyReportError, ReportParseError, WrongFormatError
from gatekeeper.model import BenchmarkResult, Outcome, ParsedReport, TestResult, make_test_id
from gatekeeper.parsers import _rust

NAME = "libtest-json"

# A line libtest wrote as an event (even if it is not valid JSON).
_EVENT_LIKE = re.compile(r'^\{\s*"type"\s*:\s*"(?:suite|test|bench)"')
# What cargo and rustc print on stderr, merged into the stream by `2>&1`: expected, not noise.
_CARGO_NOISE = re.compile(
    r"^\s*(?:Compiling|Checking|Finished|Fresh|Blocking|Downloading|Downloaded|Updating|"
    r"Locking|Adding|Building|Documenting|Executable|warning|error|note|help)\b|"
    r"^\s*(?:-->|\||\d+\s+\||= )|^\s*`--[^`]*`$|^Caused by:|^\s*process didn't exit successfully|"
    r"^all doctests ran in "
)
_TEST_OUTCOMES = {
    "ok": Outcome.PASSED,
    "failed": Outcome.FAILED,
    "ignored": Outcome.SKIPPED,
    "allowed_failure": Outcome.SKIPPED,  # #[allow_fail], an attribute older Rust had
}
# Events that carry nothing for us: test listing (`--list --format json`), rustdoc's timing.
_QUIET_SUITE_EVENTS = {"discovery", "completed"}
_QUIET_TEST_EVENTS = {"started", "discovered", "timeout"}


def sniff(head: bytes) -> int:
    try:
        text = _rust.head_text(head)
    except Exception:  # the contract: a sniffer never raises
        return 0
    lines = text.split("\n")
    if len(head) >= 64 * 1024:
        lines = lines[:-1]  # the last line may be cut by the head limit
    broken = False
    for line in lines[:200]:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            broken = broken or _EVENT_LIKE.match(line) is not None
            continue
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "bench" or (kind in ("suite", "test") and "event" in obj):
            return 98
    # Event-shaped lines that are not valid JSON: ours, so the user gets the line and the cause.
    return 90 if broken else 0


@dataclass
class _Suite:
    name: str
    line: int
    test_count: int | None
    started: dict[str, int] = field(default_factory=dict)  # test name -> line, still running
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    allowed: int = 0
    benches: int = 0
    exit_note: str | None = None  # cargo's `process didn't exit successfully: ... (signal: 6, ...)`


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.next_suite = ""
        self.suite: _Suite | None = None
        self.results: list[TestResult] = []
        self.benchmarks: list[BenchmarkResult] = []
        self.warnings: list[str] = []
        self.finished_suites = 0
        self.first_event: int | None = None
        self.foreign: list[int] = []  # JSON lines that are not libtest events
        self.unknown: dict[str, int] = {}  # unknown event kind -> first line
        self.stray: list[int] = []  # non-JSON lines that are not cargo's
        self.build_errors: list[tuple[int, str]] = []

    def warn(self, line: int, text: str) -> None:
        self.warnings.append(f"{self.source}:{line}: {text}")

    def run(self, lines: list[str]) -> ParsedReport:
        for idx, raw in enumerate(lines):
            no = idx + 1
            line = raw.strip()
            if not line:
                continue
            if line.startswith("{"):
                self._json_line(line, no)
            else:
                self._text_line(raw, no)
        if self.suite is not None:
            self._end_of_stream(len(lines))
        return self._report()

    # -- lines --------------------------------------------------------------------------------

    def _json_line(self, line: str, no: int) -> None:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            if _EVENT_LIKE.match(line):
                raise ReportParseError(
                    self.source,
                    f"a libtest event is not valid JSON ({err.msg}, column {err.colno})",
                    line=no,
                    hint=_broken_json_hint(line, err),
                ) from err
            self.stray.append(no)
            return
        if not isinstance(obj, dict):
            self.foreign.append(no)
            return
        kind = obj.get("type")
        if kind == "suite":
            self._suite_event(obj, no)
        elif kind == "test":
            self._test_event(obj, no)
        elif kind == "bench":
            self._bench_event(obj, no)
        elif kind == "report":
            pass  # rustdoc's merged doc-test timing: {"type": "report", "total_time": ...}
        elif isinstance(kind, str):
            self.unknown.setdefault(f"type {kind!r}", no)
        else:
            self.foreign.append(no)  # a test's own JSON logging (tracing-subscriber, ...)

    def _text_line(self, raw: str, no: int) -> None:
        suite = _rust.suite_of_cargo_line(raw)
        if suite is not None:
            # cargo prints `Running ...` / `Doc-tests NAME` on stderr before each binary.
            self.next_suite = suite
            return
        if _rust.ERROR_LINE.match(raw):
            self.build_errors.append((no, raw))
        died = _rust.PROCESS_DIED.search(raw)
        if died and self.suite is not None:
            self.suite.exit_note = died["why"]
        if not _CARGO_NOISE.match(raw):
            self.stray.append(no)

    # -- events -------------------------------------------------------------------------------

    def _suite_event(self, obj: dict[str, Any], no: int) -> None:
        event = obj.get("event")
        if event == "started":
            if self.suite is not None:
                self._end_of_stream(no, next_suite=True)
            count = obj.get("test_count")
            self.suite = _Suite(self.next_suite, no, count if isinstance(count, int) else None)
            self.next_suite = ""
            self._mark_event(no)
        elif event in ("ok", "failed"):
            suite = self._current(no)
            self._check(suite, obj, no)
            self._crashed_tests(suite, no, reason="finished without a result")
            self.suite = None
            self.finished_suites += 1
        elif event not in _QUIET_SUITE_EVENTS:
            self.unknown.setdefault(f"suite event {event!r}", no)

    def _test_event(self, obj: dict[str, Any], no: int) -> None:
        event = obj.get("event")
        name = obj.get("name")
        if not isinstance(name, str):
            self.unknown.setdefault(f"test event {event!r} without a name", no)
            return
        suite = self._current(no)
        if event == "started":
            suite.started[name] = no
            return
        if event == "timeout":
            return  # the 60 s "has been running for a long time" warning; the result follows
        outcome = _TEST_OUTCOMES.get(event) if isinstance(event, str) else None
        if outcome is None:
            if event not in _QUIET_TEST_EVENTS:
                self.unknown.setdefault(f"test event {event!r}", no)
            return
        suite.started.pop(name, None)
        suite.counts[outcome] += 1
        message: str | None = None
        failure_kind: str | None = None
        file: str | None = None
        line: int | None = None
        extra = obj.get("message")
        if outcome is Outcome.FAILED:
            output = "".join(
                obj[key] for key in ("stdout", "stderr") if isinstance(obj.get(key), str)
            )
            failure = _rust.failure_from_output(output.split("\n"))
            message, failure_kind = failure.message, failure.kind
            file, line = failure.file, failure.line
            if isinstance(extra, str) and extra:
                # TrFailedMsg: libtest's own reason, e.g. a should_panic without the panic.
                message = _rust.cap(f"{message}\n{extra}" if message else extra)
            if obj.get("reason") == "time limit exceeded":
                failure_kind = "timeout"
                message = message or "time limit exceeded (--ensure-time)"
        elif event == "allowed_failure":
            suite.allowed += 1
            message = "failed, but the test is #[allow_fail]"
        elif isinstance(extra, str) and extra:
            message = _rust.cap(extra)  # #[ignore = "reason"]
        self.results.append(
            TestResult(
                test_id=make_test_id(suite.name, name),
                suite=suite.name,
                name=name,
                outcome=outcome,
                duration=_rust.seconds(obj.get("exec_time")),
                message=message,
                failure_kind=failure_kind,
                file=file,
                line=line,
            )
        )

    def _bench_event(self, obj: dict[str, Any], no: int) -> None:
        name = obj.get("name")
        median = _number(obj.get("median"))
        if not isinstance(name, str) or median is None:
            self.unknown.setdefault("bench event without a name or median", no)
            return
        suite = self._current(no)
        suite.benches += 1
        spread = _number(obj.get("deviation"))
        self.benchmarks.append(_rust.bench_result(name, median, "ns/iter", spread, suite.name))
        mbps = _number(obj.get("mib_per_second"))
        if mbps:
            # The human output prints the same number as `= N MB/s`: the same result here.
            self.benchmarks.append(
                _rust.bench_result(f"{name} (thrpt)", mbps, "MB/s", None, suite.name)
            )

    def _current(self, no: int) -> _Suite:
        if self.suite is None:
            # An event outside `suite started` ... `suite ok`: a stream with its head cut off.
            self.suite = _Suite(self.next_suite, no, None)
            self.next_suite = ""
            self._mark_event(no)
        return self.suite

    def _mark_event(self, no: int) -> None:
        if self.first_event is None:
            self.first_event = no

    # -- checks -------------------------------------------------------------------------------

    def _check(self, suite: _Suite, obj: dict[str, Any], no: int) -> None:
        def num(key: str) -> int:
            value = obj.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        # libtest counts #[allow_fail] failures in `failed` and again in `allowed_fail`.
        want = (num("passed"), num("failed") - num("allowed_fail"), num("ignored"), num("measured"))
        got = (
            suite.counts[Outcome.PASSED],
            suite.counts[Outcome.FAILED],
            suite.counts[Outcome.SKIPPED] - suite.allowed,
            suite.benches,
        )
        if want != got:
            name = f" for `{suite.name}`" if suite.name else ""
            self.warn(
                no,
                f"the suite event says {want[0]} passed, {want[1]} failed, {want[2]} ignored, "
                f"{want[3]} measured{name}, but the stream has {got[0]} passed, {got[1]} failed, "
                f"{got[2]} ignored, {got[3]} bench events",
            )

    def _crashed_tests(self, suite: _Suite, no: int, *, reason: str) -> None:
        if suite.exit_note:
            reason += f" ({suite.exit_note})"
        for name, started in suite.started.items():
            self.results.append(
                TestResult(
                    test_id=make_test_id(suite.name, name),
                    suite=suite.name,
                    name=name,
                    outcome=Outcome.ERROR,
                    message=f"the test started (line {started}) but {reason}",
                    failure_kind="crash",
                )
            )
        suite.started.clear()

    def _end_of_stream(self, no: int, *, next_suite: bool = False) -> None:
        """The suite never sent `ok`/`failed`: the binary crashed or the stream was cut."""
        suite = self.suite
        assert suite is not None
        self.suite = None
        where = f" `{suite.name}`" if suite.name else ""
        running = len(suite.started)
        self._crashed_tests(suite, no, reason="the test binary stopped before its result")
        if self.finished_suites == 0 and not next_suite:
            return  # _report() raises: nothing in this stream finished
        why = f" ({suite.exit_note})" if suite.exit_note else ""
        self.warn(
            suite.line,
            f"the suite{where} has no `ok`/`failed` event{why}: the test binary crashed or the "
            "stream is cut off; its results so far are kept"
            + (
                f", and {_rust.plural(running, 'test')} still running are recorded as errors"
                if running
                else ""
            ),
        )

    # -- the whole stream ---------------------------------------------------------------------

    def _report(self) -> ParsedReport:
        if self.finished_suites == 0 and self.first_event is not None:
            raise ReportParseError(
                self.source,
                "no suite `ok`/`failed` event: the stream is cut off or the tests did not run",
                line=self.first_event,
                hint="keep the whole output of `cargo test -- --format json`, up to its last line",
            )
        if self.first_event is None:
            self._no_events()
        unnamed = sum(1 for r in self.results if not r.suite)
        if unnamed:
            self.warnings.append(_rust.unnamed_suite_warning(self.source, unnamed))
        if self.stray:
            self.warn(
                self.stray[0],
                f"skipped {_rust.plural(len(self.stray), 'line')} that neither cargo nor libtest "
                "wrote (a test writing to stdout directly?)",
            )
        if self.foreign:
            self.warn(
                self.foreign[0],
                f"skipped {_rust.plural(len(self.foreign), 'JSON line')} that libtest did not "
                "write (a test's own JSON logging?)",
            )
        for what, no in self.unknown.items():
            self.warn(no, f"skipped an unknown libtest {what} (a newer libtest?)")
        if any(_rust.BUILD_FAILED.match(text) for _, text in self.build_errors):
            self.warn(
                self.build_errors[0][0],
                "cargo reported build errors: the tests of the targets that did not compile "
                "are missing from this report",
            )
        return ParsedReport(
            format=NAME,
            source=self.source,
            tests=tuple(self.results),
            benchmarks=tuple(self.benchmarks),
            warnings=tuple(self.warnings),
        )

    def _no_events(self) -> None:
        if any(_rust.BUILD_FAILED.match(text) for _, text in self.build_errors):
            no, text = self.build_errors[0]
            raise EmptyReportError(
                self.source,
                "cargo test printed compiler errors and no test events: the build failed",
                line=no,
                hint=f"first error: {text.strip()}; fix the build, then run the tests again",
            )
        if self.foreign or self.unknown:
            raise WrongFormatError(
                self.source,
                "JSON lines, but no libtest event (`suite`, `test` or `bench`)",
                hint="is this `cargo test -- -Z unstable-options --format json` output?",
            )
        raise WrongFormatError(
            self.source,
            "no libtest JSON events in the file",
            hint="is this `cargo test -- -Z unstable-options --format json` output?",
        )


def _broken_json_hint(line: str, err: json.JSONDecodeError) -> str:
    if "escape" in err.msg and "\\" in line:
        return (
            "old libtest versions on Windows wrote the backslashes of doc-test names "
            "(`src\\lib.rs - foo (line 5)`) unescaped; run the tests with a newer toolchain"
        )
    if "Unterminated string" in err.msg or "control character" in err.msg:
        return (
            "the event is split over several lines (a raw newline inside a string): was the "
            "stream edited or re-wrapped after libtest wrote it?"
        )
    return "the line was cut or mangled after libtest wrote it; re-run the tests"


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def parse(data: bytes, source: str) -> ParsedReport:
    lines = _rust.decode_lines(data)
    if not any(line.strip() for line in lines):
        raise EmptyReportError(
            source,
            "the stream is empty: no libtest JSON events",
            hint="did the build fail before the tests ran? see the cargo step's log",
        )
    return _Parser(source).run(lines)
