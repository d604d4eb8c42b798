"""libtest's human output (`cargo test`, `cargo bench`, `--format terse`) -> results, benchmarks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gatekeeper.errors import EmptyReportError, ReportParseError, WrongFormatError
from gatekeeper.model import BenchmarkResult, Outcome, ParsedReport, TestResult, make_test_id
from gatekeeper.parsers import _rust

NAME = "libtest"
# The name of the error recorded for a test binary that crashed with no test to blame.
BINARY_NAME = "(binary)"

# `running 3 tests`, `running 1 test`, `running 2 tests (shuffle seed: 42)`; merged doc-tests
# may add a qualifier word before "tests".
_RUNNING_N = re.compile(r"^running (?P<n>\d+) (?:\w+ )?tests?(?: \(shuffle seed: \d+\))?\s*$")
_TEST_LINE = re.compile(r"^test (?P<name>.+?) \.\.\. (?P<rest>.*)$")
# The status libtest writes after `test NAME ... ` (pretty formatter); `<0.001s>` comes with
# `--report-time`.
_STATUS = re.compile(
    r"^(?:(?P<ok>ok)|(?P<failed>FAILED)(?P<tle> \(time limit exceeded\))?"
    r"|(?P<ignored>ignored)(?:, (?P<reason>.*?))?)(?: <(?P<time>[\d.]+)s>)?\s*$"
)
_BENCH = re.compile(
    r"^bench:\s+(?P<value>\d[\d,]*(?:\.\d+)?) (?P<unit>\S+)"
    r"(?: \(\+/- (?P<spread>\d[\d,]*(?:\.\d+)?)\))?"
    r"(?: = (?P<tp>\d[\d,]*(?:\.\d+)?) (?P<tpunit>\S+))?\s*$"
)
_RESULT = re.compile(r"^test result: (?:ok|FAILED)\. (?P<counts>.*)$")
_COUNT = re.compile(r"(\d+) (passed|failed|ignored|measured|filtered out)")
# --format terse: failures are named on their own line, everything else is a progress character.
_TERSE_FAILED = re.compile(r"^(?P<name>\S.*?) --- FAILED\s*$")
_TERSE_PROGRESS = re.compile(r"^[.iFb]+(?: \d+/\d+)?$|^ \d+/\d+$")
_SECTION = re.compile(r"^---- (?P<name>.+) (?:stdout|stderr) ----$")
_LIST_HEADERS = ("failures:", "successes:", "failures (time limit exceeded):")
# rustdoc and libtest append the test's mode to its name: `foo - should panic ... ok`.
_MODE_SUFFIX = re.compile(r" - (?:should panic|compile fail|compile)$")

_SNIFF_RUNNING = re.compile(r"^running \d+ tests?\b", re.M)
_SNIFF_STATUS = re.compile(r"^test .+? \.\.\. (?:ok|FAILED|ignored)\b", re.M)
_SNIFF_BENCH = re.compile(r"^test .+? \.\.\. bench:\s+\d", re.M)
_SNIFF_RESULT = re.compile(r"^test result: (?:ok|FAILED)\. \d+ passed", re.M)
_SNIFF_TERSE = re.compile(r"^\S.*? --- FAILED$|^[.i]{3,}(?: \d+/\d+)?$", re.M)
_SNIFF_CRITERION = re.compile(r"time:\s+\[|Gnuplot not found|Criterion\.rs|^Benchmarking \S", re.M)
_SNIFF_NEXTEST = re.compile(
    r"^\s*Starting \d+ tests? across \d+ binar|^\s*Nextest run ID |"
    r"^\s*(?:PASS|FAIL|SKIP|SIGSEGV|TIMEOUT|LEAK) \[[^\]]*\] ",
    re.M,
)
_SNIFF_JSON_EVENT = re.compile(r'^\{\s*"type":\s*"(?:suite|test|bench)"', re.M)
_SNIFF_BUILD = re.compile(r"^error\[E\d{4}\]: |^error: could not compile ", re.M)
_SNIFF_CARGO = re.compile(r"^\s*(?:Compiling|Finished|Running|Doc-tests) \S", re.M)


def sniff(head: bytes) -> int:
    try:
        text = _rust.head_text(head)
    except Exception:  # the contract: a sniffer never raises
        return 0
    if text.lstrip().startswith("<"):
        return 0  # XML (nextest's JUnit keeps libtest's output in <system-out>)
    if _SNIFF_JSON_EVENT.search(text):
        return 10  # cargo's stderr merged into a JSON stream: libtest-json's file
    running = _SNIFF_RUNNING.search(text) is not None
    status = _SNIFF_STATUS.search(text) is not None
    result = _SNIFF_RESULT.search(text) is not None
    bench = _SNIFF_BENCH.search(text) is not None
    if _SNIFF_NEXTEST.search(text):
        return 20  # nextest shows libtest's output of failing tests inside its own
    criterion = _SNIFF_CRITERION.search(text) is not None
    if running and (status or result or bench or _SNIFF_TERSE.search(text)):
        return 60 if criterion else 95
    if result:
        return 60 if criterion else 90
    if bench:
        return 40 if criterion else 80
    if status:
        return 70
    if _SNIFF_BUILD.search(text) and _SNIFF_CARGO.search(text):
        return 60  # so a failed build gets "the build failed", not "unknown format"
    return 0


# ---------------------------------------------------------------------------------------------
# The parser: one pass over the lines, one _Block per `running N tests` ... `test result:`
# ---------------------------------------------------------------------------------------------


@dataclass
class _Test:
    name: str
    outcome: Outcome | None  # None: the status never came (interleaved output, crash)
    line: int
    duration: float | None = None
    message: str | None = None
    failure_kind: str | None = None
    captured: list[str] = field(default_factory=list)  # output between `test x ... ` and status


@dataclass
class _Block:
    suite: str
    line: int
    declared: int | None
    tests: dict[str, _Test] = field(default_factory=dict)
    benches: int = 0
    terse: bool = False  # --format terse: passing and ignored tests are dots, not names
    sections: dict[str, list[str]] = field(default_factory=dict)
    listed_failures: list[str] = field(default_factory=list)
    free: list[str] = field(default_factory=list)  # output outside any test (--nocapture)
    exit_note: str | None = None


# libtest's status words, in the order a glued status is looked for (`...doneok`).
_STATUS_WORDS = (("FAILED", Outcome.FAILED), ("ignored", Outcome.SKIPPED), ("ok", Outcome.PASSED))
_LONE_STATUS = frozenset(word for word, _ in _STATUS_WORDS)


class _Parser:
    def __init__(self, lines: list[str], source: str) -> None:
        self.lines = lines
        self.source = source
        self.suite = ""
        self.block: _Block | None = None
        self.pending: _Test | None = None
        # Where we are in a block: the test lines, or after them: a `failures:`/`successes:`
        # header, a `---- name stdout ----` section, or the indented list of names.
        self.mode = "tests"
        self.header = ""
        self.section: list[str] | None = None
        self.results: list[TestResult] = []
        self.benchmarks: list[BenchmarkResult] = []
        self.warnings: list[str] = []
        self.crashed: list[_Block] = []
        self.result_lines = 0
        self.first_test_line: int | None = None
        self.build_errors: list[tuple[int, str]] = []

    def warn(self, line: int, text: str) -> None:
        self.warnings.append(f"{self.source}:{line}: {text}")

    # -- the main loop ------------------------------------------------------------------------

    def run(self) -> ParsedReport:
        for idx, line in enumerate(self.lines):
            if self.block is not None and self.mode != "tests":
                if self._after_tests(idx, line):
                    continue
            elif self.pending is not None and self._apply_status(self.pending, line):
                self.pending = None
                continue
            self._line(idx, line, idx + 1)
        self._close_block(len(self.lines))
        return self._report()

    def _line(self, idx: int, line: str, no: int) -> None:
        suite = _rust.suite_of_cargo_line(line)
        if suite is not None:
            self._close_block(no)
            self.suite = suite
            return
        m = _RUNNING_N.match(line)
        if m:
            self._close_block(no)
            self.block = _Block(self.suite, no, int(m["n"]))
            return
        m = _TEST_LINE.match(line)
        if m:
            self._test_line(m["name"], m["rest"], no)
            return
        m = _RESULT.match(line)
        if m:
            self._result(m["counts"], no)
            return
        died = _rust.PROCESS_DIED.search(line)
        block = self.block
        if block is None:
            if died and self.crashed:
                self.crashed[-1].exit_note = died["why"]
            elif _rust.ERROR_LINE.match(line):
                self.build_errors.append((no, line))
            return
        if died:
            block.exit_note = died["why"]
        if line in _LIST_HEADERS:
            self._header(idx, line)
            return
        m = _TERSE_FAILED.match(line)
        if m:
            block.terse = True
            self._record(_Test(m["name"].strip(), Outcome.FAILED, no))
            return
        if _TERSE_PROGRESS.match(line):
            block.terse = True
            return
        if self.pending is not None:
            self.pending.captured.append(line)
        else:
            block.free.append(line)

    def _test_line(self, raw_name: str, rest: str, no: int) -> None:
        if self.first_test_line is None:
            self.first_test_line = no
        name = _MODE_SUFFIX.sub("", raw_name.rstrip())
        if self.block is None:
            # Bench-only logs (`cargo bench | grep bench:`) and other fragments without headers.
            self.block = _Block(self.suite, no, None)
        self.pending = None
        bench = _BENCH.match(rest)
        if bench is not None:
            self._bench(name, bench, self.block)
            return
        test = _Test(name, None, no)
        if not self._apply_status(test, rest):
            # libtest wrote `test x ... ` and then the test's own output (--nocapture with one
            # thread, or another thread's print): the status comes on a later line.
            if rest.strip():
                test.captured.append(rest)
            self.pending = test
        self._record(test)

    def _apply_status(self, test: _Test, text: str) -> bool:
        m = _STATUS.match(text)
        if m is None:
            return False
        if m["ok"]:
            test.outcome = Outcome.PASSED
        elif m["failed"]:
            test.outcome = Outcome.FAILED
            test.failure_kind = "timeout" if m["tle"] else None
        else:
            test.outcome = Outcome.SKIPPED
            test.message = m["reason"] or None
        test.duration = _rust.seconds(m["time"]) if m["time"] else None
        return True

    def _record(self, test: _Test) -> None:
        assert self.block is not None
        # The same name twice in one block (a log stitched from two runs): the later line wins.
        self.block.tests[test.name] = test

    def _bench(self, name: str, m: re.Match[str], block: _Block) -> None:
        block.benches += 1
        spread = _number(m["spread"]) if m["spread"] else None
        self.benchmarks.append(
            _rust.bench_result(name, _number(m["value"]), m["unit"], spread, block.suite)
        )
        if m["tp"]:
            # `= 123 MB/s` when the bench sets `b.bytes`: a secondary metric, a result of its
            # own named like Criterion's throughput (docs/formats/benchmarks.md).
            self.benchmarks.append(
                _rust.bench_result(
                    f"{name} (thrpt)", _number(m["tp"]), m["tpunit"], None, block.suite
                )
            )

    # -- after the test lines: `failures:` sections and lists ---------------------------------

    def _header(self, idx: int, line: str) -> None:
        self.pending = None
        self.header = line
        self.section = None
        nxt = self._next_nonblank(idx)
        self.mode = "list" if nxt is not None and nxt.startswith("    ") else "header"

    def _after_tests(self, idx: int, line: str) -> bool:
        """Take a line after a `failures:`/`successes:` header; False hands it to _line()."""
        block = self.block
        assert block is not None
        if line in _LIST_HEADERS:
            self._header(idx, line)
            return True
        m = _SECTION.match(line)
        if m and (self.mode == "header" or block.terse or _strip_mode(m["name"]) in block.tests):
            self.section = block.sections.setdefault(_strip_mode(m["name"]), [])
            self.mode = "sections"
            return True
        if self.mode == "sections" and self.section is not None:
            # A captured stdout can hold anything, even `test result:` lines of a nested run:
            # only the list of names below ends the sections.
            self.section.append(line)
            return True
        if self.mode == "list" and line.startswith("    ") and line.strip():
            if self.header != "successes:":
                block.listed_failures.append(line.strip())
            return True
        return not line.strip()

    def _next_nonblank(self, idx: int) -> str | None:
        for nxt in self.lines[idx + 1 : idx + 50]:
            if nxt.strip():
                return nxt
        return None

    # -- the end of one binary's block --------------------------------------------------------

    def _result(self, counts_text: str, no: int) -> None:
        self.result_lines += 1
        block = self.block or _Block(self.suite, no, None)
        self._reset()
        self._finish(block, no)
        self._check(block, {kind: int(n) for n, kind in _COUNT.findall(counts_text)}, no)
        self.suite = ""  # the next binary's `Running` line names the next block

    def _reset(self) -> None:
        self.block = None
        self.pending = None
        self.section = None
        self.mode = "tests"

    def _close_block(self, no: int) -> None:
        """A new binary starts (or the log ends) while this one never printed `test result:`."""
        block = self.block
        if block is None:
            return
        self._reset()
        if not block.tests and block.declared is None:
            return  # bench lines only (`cargo bench | grep bench:`): nothing to account for
        self.crashed.append(block)
        self._finish(block, no, crashed=True)

    def _finish(self, block: _Block, no: int, *, crashed: bool = False) -> None:
        for name in block.listed_failures:
            test = block.tests.get(name)
            if test is None:
                # Named only in the failures list: terse output before rustc 1.7x printed a
                # bare `F`, and --nocapture output can glue a test line to a print.
                block.tests[name] = _Test(name, Outcome.FAILED, no)
            elif test.outcome is None or test.outcome is Outcome.PASSED:
                # libtest's list is the authority: an `ok` read earlier was the test's own
                # output printed after `test x ... ` (--nocapture), and the real `FAILED` came
                # on a later line.
                test.outcome = Outcome.FAILED
                test.duration = None
        orphan_panics: dict[str, _rust.Panic] = {}
        if block.free:
            # --nocapture: panics print where they happen; the thread is named after the test.
            # A lone status there is libtest's, for a test whose line took a print instead.
            free = [line for line in block.free if line.strip() not in _LONE_STATUS]
            for p in _rust.find_panics(free)[0]:
                orphan_panics.setdefault(p.thread, p)
        running = max(block.tests.values(), key=lambda t: t.line, default=None)
        for test in block.tests.values():
            if test.outcome is None:
                self._settle(test, block, crashed=crashed and test is running)
            if test.outcome is not None:
                self.results.append(self._result_of(test, block, orphan_panics))
        if crashed:
            where = f" `{block.suite}`" if block.suite else ""
            why = f" ({block.exit_note})" if block.exit_note else ""
            declared = f" of {block.declared}" if block.declared is not None else ""
            if not any(t.failure_kind == "crash" for t in block.tests.values()):
                # Which test was running is unknown (several threads): the binary itself is
                # recorded as an error, so a crashed run is never stored as a green one.
                self.results.append(
                    TestResult(
                        test_id=make_test_id(block.suite, BINARY_NAME),
                        suite=block.suite,
                        name=BINARY_NAME,
                        outcome=Outcome.ERROR,
                        message=f"the test binary stopped before its `test result:` line{why}",
                        failure_kind="crash",
                    )
                )
            self.warn(
                block.line,
                f"the test binary{where} stopped before its `test result:` line{why}: it "
                f"crashed or was killed; the {len(block.tests)}{declared} results it printed "
                "are kept, the tests it did not report are missing",
            )

    def _result_of(
        self, test: _Test, block: _Block, orphan_panics: dict[str, _rust.Panic]
    ) -> TestResult:
        assert test.outcome is not None
        file: str | None = None
        line: int | None = None
        if test.outcome.is_failure:
            failure: _rust.Failure | None = None
            # The failures section; with --nocapture and one thread the panic printed between
            # `test x ... ` and `FAILED` instead, and the section keeps only libtest's notes.
            lines = test.captured + block.sections.get(test.name, [])
            if lines:
                failure = _rust.failure_from_output(lines)
            if (failure is None or failure.message is None) and test.name in orphan_panics:
                p = orphan_panics[test.name]
                failure = _rust.Failure(_rust.cap(p.message), "panic", p.file, p.line)
            if failure is not None and failure.message is not None:
                test.message = test.message or failure.message
                test.failure_kind = test.failure_kind or failure.kind
                file, line = failure.file, failure.line
            if test.failure_kind == "timeout" and test.message is None:
                test.message = "time limit exceeded (--ensure-time)"
            test.failure_kind = test.failure_kind or "test failure"
        return TestResult(
            test_id=make_test_id(block.suite, test.name),
            suite=block.suite,
            name=test.name,
            outcome=test.outcome,
            duration=test.duration,
            message=test.message,
            failure_kind=test.failure_kind,
            file=file,
            line=line,
        )

    def _settle(self, test: _Test, block: _Block, *, crashed: bool) -> None:
        """Decide a test whose status never came on a line of its own.

        ``crashed``: the binary died while this test (its last) was running. Then only a status
        on a line of its own counts: its output (`fixtures ok`) must not turn the crash into a
        pass.
        """
        for text in reversed(test.captured):
            # `print!` without a newline glues the status to the output: `...doneok`.
            stripped = text.rstrip()
            for word, outcome in _STATUS_WORDS:
                if stripped.endswith(word) and (not crashed or stripped.strip() == word):
                    test.outcome = outcome
                    test.captured[test.captured.index(text)] = stripped[: -len(word)]
                    return
        if crashed:
            test.outcome = Outcome.ERROR
            test.failure_kind = "crash"
            why = f" ({block.exit_note})" if block.exit_note else ""
            test.message = f"the test binary stopped while this test was running{why}"
            return
        self.warn(test.line, f"no result for test `{test.name}`: its status never came")

    def _check(self, block: _Block, counts: dict[str, int], no: int) -> None:
        seen = dict.fromkeys(Outcome, 0)
        for t in block.tests.values():
            if t.outcome is not None:
                seen[t.outcome] += 1
        failed = seen[Outcome.FAILED] + seen[Outcome.ERROR]
        want = (
            counts.get("passed", 0),
            counts.get("failed", 0),
            counts.get("ignored", 0),
            counts.get("measured", 0),
        )
        suite = f" for `{block.suite}`" if block.suite else ""
        if block.terse:
            unnamed_pass = max(want[0] - seen[Outcome.PASSED], 0)
            unnamed_ign = max(want[2] - seen[Outcome.SKIPPED], 0)
            if unnamed_pass or unnamed_ign:
                self.warn(
                    no,
                    f"--format terse (cargo test -q) names only failing tests: "
                    f"{_rust.plural(unnamed_pass, 'passed test')} and "
                    f"{_rust.plural(unnamed_ign, 'ignored test')}{suite} are counted but not "
                    "recorded (run without -q to record them)",
                )
            if failed != want[1]:
                self.warn(
                    no,
                    f"`test result:` says {want[1]} failed{suite}, but the log names {failed}",
                )
            return
        got = (seen[Outcome.PASSED], failed, seen[Outcome.SKIPPED], block.benches)
        if got != want:
            self.warn(
                no,
                f"`test result:` says {want[0]} passed, {want[1]} failed, {want[2]} ignored, "
                f"{want[3]} measured{suite}, but the log lists {got[0]} passed, {got[1]} failed, "
                f"{got[2]} ignored, {got[3]} benchmarks",
            )

    # -- the whole file -----------------------------------------------------------------------

    def _report(self) -> ParsedReport:
        if self.result_lines == 0 and self.results:
            block = self.crashed[0] if self.crashed else None
            why = f"; cargo said: {block.exit_note}" if block and block.exit_note else ""
            raise ReportParseError(
                self.source,
                "no `test result:` line: the log is cut off or the tests did not run",
                line=self.first_test_line,
                hint="keep the whole `cargo test` output (2>&1), up to its last line" + why,
            )
        if self.result_lines == 0 and not self.benchmarks:
            self._no_tests()
        if self._build_failed():
            crates = [
                m["crate"]
                for _, text in self.build_errors
                if (m := _rust.COULD_NOT_COMPILE.match(text))
            ]
            what = ", ".join(f"`{c}`" for c in crates) or "some targets"
            self.warn(
                self.build_errors[0][0],
                f"cargo reported build errors ({what} did not compile): the tests of those "
                "targets did not run and are missing from this report",
            )
        if not self.results and not self.benchmarks:
            self.warnings.append(f"{self.source}: no tests ran (every `test result:` counts 0)")
        unnamed = sum(1 for r in self.results if not r.suite)
        if unnamed:
            self.warnings.append(_rust.unnamed_suite_warning(self.source, unnamed))
        return ParsedReport(
            format=NAME,
            source=self.source,
            tests=tuple(self.results),
            benchmarks=tuple(self.benchmarks),
            warnings=tuple(self.warnings),
        )

    def _build_failed(self) -> bool:
        return any(_rust.BUILD_FAILED.match(text) for _, text in self.build_errors)

    def _no_tests(self) -> None:
        if self._build_failed():
            no, text = self.build_errors[0]
            raise EmptyReportError(
                self.source,
                "cargo test printed compiler errors and no test results: the build failed",
                line=no,
                hint=f"first error: {text.strip()}; fix the build, then run the tests again",
            )
        if any(_SNIFF_CARGO.match(line) for line in self.lines):
            raise EmptyReportError(
                self.source,
                "cargo printed no test output (no `running N tests` line)",
                hint="did the test step stop before running the tests (e.g. `--no-run`)?",
            )
        raise WrongFormatError(
            self.source,
            "no libtest output: no `running N tests`, `test NAME ... ok` or `test result:` line",
            hint="is this `cargo test` output? pass --format NAME for another format",
        )


def _strip_mode(name: str) -> str:
    return _MODE_SUFFIX.sub("", name)


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def parse(data: bytes, source: str) -> ParsedReport:
    lines = _rust.decode_lines(data)
    if not any(line.strip() for line in lines):
        raise EmptyReportError(
            source, "the file is empty", hint="did the test step write its output?"
        )
    return _Parser(lines, source).run()
