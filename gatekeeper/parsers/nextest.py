"""cargo-nextest's human output (`cargo nextest run`, stress runs, retries) -> test results."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from gatekeeper.errors import EmptyReportError, ReportParseError, WrongFormatError
from gatekeeper.model import Outcome, ParsedReport, TestResult, make_test_id, rust_binary_name
from gatekeeper.parsers import _rust

NAME = "nextest"

# `        PASS [   0.004s] (  1/100) fixture-project::basic test_cwd`: the status is
# right-aligned in 12 columns, then the bracketed duration, an optional stress index `[1/5]`, an
# optional counter `( 1/10)` (`(───)` when padded), the binary id and the test name.
# The bracket holds a duration (`   0.004s`, `>  60.000s`), blanks (SKIP), or `duration` where a
# log was redacted: a test's own `INFO [my_crate::db] connecting` is output, not a status.
_STATUS_LINE = re.compile(
    r"^\s*(?P<status>[A-Z][A-Z0-9+/ \-]*?)\s+"
    r"\[(?P<dur>\s*(?:>\s*)?(?:\d+(?:\.\d+)?s|duration)?\s*)\]\s+"
    r"(?:\[(?P<stress>[^\]]*)\]\s+)?(?:\((?P<counter>[^)]*)\)\s+)?"
    r"(?P<binary>\S+)\s+(?P<name>\S.*?)\s*$"
)
_TRY = re.compile(r"^TRY (?P<attempt>\d+) (?P<status>.+)$")
_FLAKY = re.compile(r"^(?P<kind>FLAKY|FLKY-FL) \d+/\d+$")
_DURATION = re.compile(r"^\s*(?P<s>\d+(?:\.\d+)?)s\s*$")
# Windows abort codes and "configured to fail if flaky" continue the status line:
# `           - with code 0xc0000005: Access violation`.
_CONTINUATION = re.compile(r"^\s{4,}- (?P<text>\S.*)$")
_SUMMARY = re.compile(r"^\s*Summary \[[^\]]*\] (?P<rest>.*)$")
_RUN_SUMMARY = re.compile(r"^(?P<finished>\d+)(?:/(?P<initial>\d+))? tests? run: (?P<counts>.*)$")
_STRESS_ITERATION_START = re.compile(r"^\s*Stress test iteration \d+")
_STRESS_ITERATION_END = re.compile(
    r"^\s*Stress test \[[^\]]*\] iteration [^:]*: "
    r"(?P<finished>\d+)(?:/(?P<initial>\d+))? tests? run: (?P<counts>.*)$"
)
_STARTING = re.compile(r"^\s*Starting \d+ tests? across \d+ binar")
_COUNT = re.compile(r"(\d+) (passed|failed|exec failed|timed out|skipped)\b")
# Lines that end a failing test's output block.
_BLOCK_END = re.compile(
    r"^\s*(?:Summary \[|Starting \d+ tests? across|Cancell?ing (?:due to|\d)|Killing (?:due to|\d)|"
    r"Stress test |Nextest run ID |Note \d+ outstanding|Replaying recorded run)|"
    r"^(?:─{6,}|-{12})$"
)
# nextest's own messages end a block too, but only where the output is indented (nextest >=
# 0.9.8x): in the older layout a test's `error: config file not found` is at column 0 as well.
_MESSAGE = re.compile(r"^(?:error|warning|info): ")
_OLD_HEADER_START = r"^--- (?:TRY \d+ )?(?:STDOUT|STDERR|OUTPUT):\s"
_OLD_HEADER = re.compile(_OLD_HEADER_START)
# Output headers: `  stdout ───` (nextest >= 0.9.8x, content indented by 4), `── stdout ──`
# (--no-output-indent), and `--- STDOUT:   nextest-tests::basic test_x ---` (older nextest).
_OUTPUT_HEADER = re.compile(
    r"^\s*(?:[─-]{1,3} )?(?:stdout|stderr|output|execfail)(?: [─-]{1,3})?\s*$|"
    rf"{_OLD_HEADER_START}.*---$"
)
# nextest's own line after the output: `    (test aborted with signal 11: SIGSEGV)`.
_INFO_LINE = re.compile(r"^\s*\((?:test|script) (?P<what>[^)]*)\)\s*$")
_NOT_CAPTURED = re.compile(r"^\s*\(output not captured\)\s*$")
# libtest's own lines inside a test's captured stdout: not the failure.
_LIBTEST_NOISE = re.compile(
    r"^running \d+ tests?$|^test .+ \.\.\. \S|^(?:failures|successes):$|^test result: "
)

_SNIFF_STARTING = re.compile(r"^\s*Starting \d+ tests? across \d+ binar|^\s*Nextest run ID ", re.M)
_SNIFF_STATUS = re.compile(
    r"^\s*(?:PASS|FAIL|SKIP|SLOW|LEAK|TIMEOUT|TIMEOUT-PASS|LEAK-FAIL|XFAIL|SIG[A-Z0-9]+|ABORT|"
    r"FAIL \+ LEAK|TRY \d+ [A-Z+]+|FLAKY \d+/\d+|RETRY \d+/\d+) +\[[^\]]*\] +"
    r"(?:\[[^\]]*\] +)?(?:\([^)]*\) +)?\S+ \S",
    re.M,
)
_SNIFF_SUMMARY = re.compile(r"^\s*Summary \[[^\]]*\] \d+(?:/\d+)? (?:tests? run|stress run)", re.M)

_PASSING = {"PASS", "LEAK", "TIMEOUT-PASS", "SLOW", "SLOW + LEAK", "SLOW+TMPASS"}
# status -> failure kind (nextest's status_str for the first attempt)
_FAILING = {
    "FAIL": "test failure",
    "FAIL + LEAK": "test failure",
    "LEAK-FAIL": "leaked handles",
    "TIMEOUT": "timeout",
    "ABORT": "abort",
}
# short_status_str, used after `TRY n `
_SHORT_FAILING = {
    "FAIL": "test failure",
    "FL+LK": "test failure",
    "LKFAIL": "leaked handles",
    "TMT": "timeout",
    "ABORT": "abort",
}
# Progress lines, not executions: a retry is starting, a test is slow or being killed.
_PROGRESS = re.compile(
    r"^(?:RETRY|DELAY) \d+/\d+$|^START$|^SETUP\b|^TERMINATING$|^TRY \d+ (?:SLOW|TRMNTG)$"
)


def sniff(head: bytes) -> int:
    try:
        text = _rust.head_text(head)
    except Exception:  # the contract: a sniffer never raises
        return 0
    if _SNIFF_STARTING.search(text):
        return 95
    if _SNIFF_SUMMARY.search(text):
        return 90
    if _SNIFF_STATUS.search(text):
        return 85
    return 0


@dataclass(frozen=True, slots=True)
class _Kind:
    """What a status word means: an execution with an outcome, a skip, or progress only."""

    role: str  # "run" | "skip" | "progress" | "unknown"
    outcome: Outcome | None = None
    failure_kind: str | None = None


@functools.lru_cache(maxsize=256)
def classify(status: str, slow_marker: bool = False) -> _Kind:
    """Map a nextest status word (`PASS`, `TRY 2 FL+LK`, `SIGSEGV`, ...) to its meaning."""
    status = " ".join(status.split())
    if status == "SKIP":
        return _Kind("skip", Outcome.SKIPPED)
    if _PROGRESS.match(status):
        return _Kind("progress")
    if status == "SLOW" and slow_marker:
        return _Kind("progress")  # `SLOW [> 60.000s]`: still running past the slow timeout
    if status in _PASSING:
        return _Kind("run", Outcome.PASSED)
    if status in _FAILING:
        return _Kind("run", Outcome.FAILED, _FAILING[status])
    if status == "XFAIL":
        return _Kind("run", Outcome.ERROR, "exec fail")  # the test binary could not start
    if status.startswith("SIG") or status.startswith("ABORT SIG"):
        return _Kind("run", Outcome.FAILED, f"signal {status.removeprefix('ABORT ')}")
    m = _FLAKY.match(status)
    if m:
        if m["kind"] == "FLAKY":
            return _Kind("run", Outcome.PASSED)
        # FLKY-FL: passed on a retry, but the profile says a flaky test fails the run.
        return _Kind("run", Outcome.FAILED, "flaky")
    m = _TRY.match(status)
    if m:
        short = m["status"]
        if short in ("PASS", "LEAK"):
            return _Kind("run", Outcome.PASSED)
        if short == "XFAIL":
            return _Kind("run", Outcome.ERROR, "exec fail")
        if short in _SHORT_FAILING:
            return _Kind("run", Outcome.FAILED, _SHORT_FAILING[short])
        if (short.isalnum() and short.isupper()) or short.startswith("SIG "):
            return _Kind("run", Outcome.FAILED, f"signal {short}")  # `SEGV`, `SIG 42`
    return _Kind("unknown")


@dataclass
class _Exec:
    test_id: str
    suite: str
    name: str
    outcome: Outcome
    line: int
    duration: float | None
    failure_kind: str | None
    retry: int
    output: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    message: str | None = None
    file: str | None = None
    file_line: int | None = None


@dataclass
class _Segment:
    """The status lines since `Starting` or a stress iteration began, for the summary check."""

    line: int
    final: dict[str, Outcome] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)


class _Parser:
    def __init__(self, lines: list[str], source: str) -> None:
        self.lines = lines
        self.source = source
        self.execs: list[_Exec] = []
        self.last_of: dict[str, _Exec] = {}
        self.attempts: dict[str, int] = {}
        self.warnings: list[str] = []
        self.segment = _Segment(1)
        self.recap = False  # after `Summary`: nextest repeats final statuses, not new runs
        self.collecting: _Exec | None = None  # a failing execution whose output follows
        self.summaries = 0
        self.saw_start = False
        self.unknown: dict[str, int] = {}
        self.suites: dict[str, str] = {}  # binary id -> suite
        self.after_status: _Exec | None = None  # continuation lines (`- with code ...`) go here

    def warn(self, line: int, text: str) -> None:
        self.warnings.append(f"{self.source}:{line}: {text}")

    def run(self) -> ParsedReport:
        for idx, line in enumerate(self.lines):
            self._line(line, idx + 1)
        self._stop_collecting()
        return self._report()

    def _line(self, line: str, no: int) -> None:
        m = _STATUS_LINE.match(line)
        if m:
            self._stop_collecting()
            self._status(m, no)
            return
        if self.after_status is not None:
            m = _CONTINUATION.match(line)
            if m:
                self.after_status.notes.append(m["text"])
                return
            self.after_status = None
        if self.collecting is not None and self._collect(line):
            return
        if _STARTING.match(line):
            self.saw_start = True
            self.recap = False
            self.segment = _Segment(no)
        elif _STRESS_ITERATION_START.match(line):
            self.segment = _Segment(no)
        elif m := _STRESS_ITERATION_END.match(line):
            self._check(m["finished"], m["counts"], no)
            self.segment = _Segment(no)
        elif m := _SUMMARY.match(line):
            self.summaries += 1
            run = _RUN_SUMMARY.match(m["rest"])
            if run:
                self._check(run["finished"], run["counts"], no)
            self.recap = True

    def _collect(self, line: str) -> bool:
        """Take a line of the output block under a failing test; False: the block is over."""
        assert self.collecting is not None
        output = self.collecting.output
        if not output:
            # The block starts with a header (`  stdout ───`, `--- STDOUT: ...`) or nextest's
            # `(test ...)` / `(output not captured)` line; anything else means there is none.
            if not line.strip():
                return True
            if not (
                _OUTPUT_HEADER.match(line) or _INFO_LINE.match(line) or _NOT_CAPTURED.match(line)
            ):
                self._stop_collecting()
                return False
        elif _BLOCK_END.match(line) or (_MESSAGE.match(line) and not _OLD_HEADER.match(output[0])):
            self._stop_collecting()
            return False
        output.append(line)
        return True

    def _status(self, m: re.Match[str], no: int) -> None:
        kind = classify(m["status"], m["dur"].lstrip().startswith(">"))
        binary = m["binary"]
        suite = self.suites.get(binary)
        if suite is None:
            suite = self.suites[binary] = rust_binary_name(binary)
        name = m["name"]
        test_id = make_test_id(suite, name)
        # The summary check counts status lines per binary id: `bin/x` and `example/x` of
        # one package normalise to the same test id, but nextest counts both.
        key = f"{binary} {name}"
        self.after_status = None
        if kind.role == "progress":
            return
        if kind.role == "unknown":
            self.unknown.setdefault(m["status"].strip(), no)
            return
        assert kind.outcome is not None
        if self.recap:
            # The final list after `Summary` repeats statuses (and maybe the output) of tests
            # already counted; only use it to fill in a message that was not shown before.
            last = self.last_of.get(test_id)
            if last is not None and last.outcome.is_failure and not last.output:
                self.collecting = last
            self.after_status = last
            return
        if kind.role == "skip":
            self.segment.skipped.add(key)
            if test_id not in self.last_of:
                # A stress run prints the same SKIP in every iteration: record it once.
                self._add(_Exec(test_id, suite, name, Outcome.SKIPPED, no, None, None, 0))
                self.attempts[test_id] = 1
            return
        dur = _DURATION.match(m["dur"])
        retry = self.attempts.get(test_id, 0)
        self.attempts[test_id] = retry + 1
        execution = _Exec(
            test_id,
            suite,
            name,
            kind.outcome,
            no,
            float(dur["s"]) if dur else None,
            kind.failure_kind,
            retry,
        )
        self._add(execution)
        self.segment.final[key] = kind.outcome
        self.segment.skipped.discard(key)
        self.after_status = execution
        if kind.outcome.is_failure:
            self.collecting = execution

    def _add(self, execution: _Exec) -> None:
        self.execs.append(execution)
        self.last_of[execution.test_id] = execution

    def _stop_collecting(self) -> None:
        execution = self.collecting
        self.collecting = None
        if execution is None or not execution.output:
            return
        message, kind, file, line = _failure(execution.output, execution.name)
        if message:
            execution.message = message
            if execution.failure_kind in (None, "test failure") and kind:
                execution.failure_kind = kind
            execution.file, execution.file_line = file, line

    def _check(self, finished: str, counts_text: str, no: int) -> None:
        counts = {kind: int(n) for n, kind in _COUNT.findall(counts_text)}
        seen_passed = sum(1 for o in self.segment.final.values() if o is Outcome.PASSED)
        seen_failed = len(self.segment.final) - seen_passed
        want_failed = counts.get("failed", 0) + counts.get("exec failed", 0)
        want_failed += counts.get("timed out", 0)
        want = (int(finished), counts.get("passed", 0), want_failed)
        got = (len(self.segment.final), seen_passed, seen_failed)
        if want != got:
            hint = ""
            if got[0] < want[0]:
                hint = " (was --status-level set below `pass`, hiding status lines?)"
            self.warn(
                no,
                f"the summary says {want[0]} tests run ({want[1]} passed, {want[2]} failed), "
                f"but the log has status lines for {got[0]} ({got[1]} passed, {got[2]} "
                f"failed){hint}",
            )
        skipped = counts.get("skipped")
        if self.segment.skipped and skipped is not None and skipped != len(self.segment.skipped):
            self.warn(
                no,
                f"the summary says {skipped} skipped, but the log has "
                f"{len(self.segment.skipped)} SKIP lines",
            )

    def _report(self) -> ParsedReport:
        if not self.execs:
            if self.summaries:
                raise EmptyReportError(
                    self.source,
                    "nextest printed its summary but no status line for any test",
                    hint="run with --status-level pass (the default) or --status-level all, "
                    "or give gatekeeper nextest's JUnit report",
                )
            if self.saw_start:
                raise ReportParseError(
                    self.source,
                    "nextest started but no test finished: the log is cut off",
                    hint="keep the whole `cargo nextest run` output (stderr), up to `Summary`",
                )
            raise WrongFormatError(
                self.source,
                "no cargo-nextest status lines (`PASS [   0.004s] binary test`)",
                hint="is this `cargo nextest run` output? pass --format NAME for another format",
            )
        if self.summaries == 0:
            self.warnings.append(
                f"{self.source}: no `Summary` line: the log may be cut off; "
                f"the {len(self.execs)} status lines it has are kept"
            )
        for status, no in self.unknown.items():
            self.warn(no, f"skipped a line with an unknown nextest status `{status}`")
        tests = []
        for e in self.execs:
            message = e.message
            if e.notes:
                message = _rust.cap("\n".join([*e.notes, message] if message else e.notes))
            tests.append(
                TestResult(
                    test_id=e.test_id,
                    suite=e.suite,
                    name=e.name,
                    outcome=e.outcome,
                    duration=e.duration,
                    message=message,
                    failure_kind=e.failure_kind,
                    retry=e.retry,
                    file=e.file,
                    line=e.file_line,
                )
            )
        return ParsedReport(
            format=NAME, source=self.source, tests=tuple(tests), warnings=tuple(self.warnings)
        )


def _failure(output: list[str], name: str) -> tuple[str | None, str | None, str | None, int | None]:
    """Message, kind and location from the output block nextest shows under a failing test."""
    indented = any(_OUTPUT_HEADER.match(line) and line.startswith("  ") for line in output)
    content: list[str] = []
    info: list[str] = []
    for line in output:
        if _OUTPUT_HEADER.match(line) or _NOT_CAPTURED.match(line):
            continue
        m = _INFO_LINE.match(line)
        if m:
            info.append(m["what"])
            continue
        if indented and line.startswith("    "):
            line = line[4:]
        content.append(line)
    failure = _rust.failure_from_output(content)
    if failure.kind == "panic":
        return failure.message, failure.kind, failure.file, failure.line
    # No panic (color-eyre, process::exit, a signal): the output without libtest's boilerplate.
    text = "\n".join(
        line for line in content if not _LIBTEST_NOISE.match(line) and line.strip() != name
    ).strip()
    parts = [p for p in (text, "\n".join(info)) if p]
    if not parts:
        return None, None, None, None
    return _rust.cap("\n".join(parts)), None, None, None


def parse(data: bytes, source: str) -> ParsedReport:
    lines = _rust.decode_lines(data)
    if not any(line.strip() for line in lines):
        raise EmptyReportError(
            source, "the file is empty", hint="did the test step write its output?"
        )
    return _Parser(lines, source).run()
