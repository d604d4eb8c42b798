"""``go test -json`` (test2json) streams -> TestResults, plus BenchmarkResults from output."""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.errors import EmptyReportError, ReportParseError, WrongFormatError
from gatekeeper.model import Outcome, ParsedReport, TestResult, make_test_id
from gatekeeper.parsers._units import head_text, json_number
from gatekeeper.parsers.go_bench import Collector, parse_line

NAME = "gotest-json"

_MESSAGE_CAP = 4000
_PACKAGE_TEST = "[package]"  # the record of a package that failed with no failing test
_OUTCOMES = {"pass": Outcome.PASSED, "fail": Outcome.FAILED, "skip": Outcome.SKIPPED}
# test2json's frame lines: they say what the event's Action says already.
_FRAME = re.compile(r"^\s*(?:=== (?:RUN|PAUSE|CONT|NAME)\s|--- (?:PASS|FAIL|SKIP|BENCH):\s)")
_PACKAGE_FRAME = re.compile(r"^(?:PASS|FAIL|ok\s+\S+.*|FAIL\s+\S+.*|exit status \d+|testing: .*)$")
_SNIFF = re.compile(
    r'"Action"\s*:\s*"(?:start|run|pass|fail|skip|output|bench|pause|cont|build-output|build-fail)"'
)


def sniff(head: bytes) -> int:
    """95 for JSON lines carrying test2json's "Action" values."""
    try:
        text = head_text(head)
        for line in text.splitlines()[:50]:
            stripped = line.strip()
            if stripped.startswith("{") and _SNIFF.search(stripped):
                return 95
        return 0
    except Exception:  # a sniffer never raises
        return 0


@dataclass
class _Test:
    """One test's attempt in progress: its output since its last `run` event."""

    output: list[str] = field(default_factory=list)
    running: bool = False
    attempts: int = 0  # finished attempts, for TestResult.retry


@dataclass
class _Package:
    output: list[str] = field(default_factory=list)
    partial: str = ""  # test2json emits `BenchmarkX-8  \t` before the numbers come
    outcome: str | None = None
    failed_build: str | None = None  # Go 1.24+: the ImportPath of its build-fail events
    failed_tests: int = 0


def _output_text(lines: list[str]) -> str | None:
    kept = [ln.rstrip() for ln in lines if ln.strip() and not _FRAME.match(ln)]
    if not kept:
        return None
    # Go indents t.Log lines by four spaces (more for subtests); the common indent is noise.
    return textwrap.dedent("\n".join(kept))


def _cap(text: str | None) -> str | None:
    """At most ~4000 characters: the start (a panic's message) and the end (t.Errorf lines
    usually follow the logs), without the middle."""
    if text is None or len(text) <= _MESSAGE_CAP:
        return text
    head = _MESSAGE_CAP // 3
    return text[:head] + "\n…\n" + text[-(_MESSAGE_CAP - head - 3) :]


def _failure_kind(output: str | None) -> str:
    if output and "panic: test timed out" in output:
        return "timeout"
    if output and re.search(r"(?m)^\s*panic: ", output):
        return "panic"
    return "test failure"


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tests: dict[tuple[str, str], _Test] = {}
        self.packages: dict[str, _Package] = {}
        self.results: list[TestResult] = []
        self.benchmarks = Collector()
        self.warnings: list[str] = []
        self.events = 0
        # Go 1.24+ reports compiler errors as build-output/build-fail events keyed by ImportPath
        # (`m/pkg [m/pkg.test]`); the package's fail event names it in FailedBuild.
        self.build_output: dict[str, list[str]] = {}
        self.build_failed: dict[str, int] = {}

    def warn(self, lineno: int, text: str) -> None:
        self.warnings.append(f"{self.source}:{lineno}: {text}")

    def event(self, lineno: int, ev: dict[str, Any]) -> None:
        action = ev.get("Action")
        if not isinstance(action, str):
            if not self.events:
                raise WrongFormatError(
                    self.source,
                    "the first JSON object has no 'Action' key: not a `go test -json` stream",
                    line=lineno,
                    hint="for cargo's libtest JSON use --format libtest-json",
                )
            self.warn(lineno, "an event with no 'Action'; ignored")
            return
        self.events += 1
        if action in ("build-output", "build-fail"):
            import_path = ev.get("ImportPath")
            import_path = import_path if isinstance(import_path, str) else ""
            output = ev.get("Output")
            if action == "build-fail":
                self.build_failed.setdefault(import_path, lineno)
            elif isinstance(output, str):
                self.build_output.setdefault(import_path, []).append(output)
            return
        pkg_name = ev.get("Package")
        pkg_name = pkg_name if isinstance(pkg_name, str) else ""
        pkg = self.packages.setdefault(pkg_name, _Package())
        test = ev.get("Test")
        if action == "output":
            output = ev.get("Output")
            if isinstance(output, str):
                self._output(pkg_name, pkg, test if isinstance(test, str) else None, output)
            return
        if not isinstance(test, str) or not test:
            if action in _OUTCOMES:
                pkg.outcome = action
                failed_build = ev.get("FailedBuild")
                if isinstance(failed_build, str) and failed_build:
                    pkg.failed_build = failed_build
            return
        state = self.tests.setdefault((pkg_name, test), _Test())
        if action == "run":
            state.output = []
            state.running = True
        elif action in _OUTCOMES or action == "bench":
            # "bench": a benchmark that logged and did not fail (test2json's word for pass).
            outcome = _OUTCOMES.get(action, Outcome.PASSED)
            self._finish(pkg_name, test, state, outcome, json_number(ev.get("Elapsed")))
            if outcome is Outcome.FAILED:
                pkg.failed_tests += 1

    def _output(self, pkg_name: str, pkg: _Package, test: str | None, output: str) -> None:
        if test is not None:
            self.tests.setdefault((pkg_name, test), _Test()).output.append(output)
        else:
            pkg.output.append(output)
        # Benchmark lines are read whatever test they are attributed to: Go before 1.14 pinned
        # them on the last test that ran.
        text = pkg.partial + output
        lines = text.split("\n")
        pkg.partial = lines.pop()
        for line in lines:
            bench = parse_line(line)
            if bench is not None:
                self.benchmarks.add(pkg_name, bench)

    def _finish(
        self, pkg: str, test: str, state: _Test, outcome: Outcome, elapsed: float | None
    ) -> None:
        output = _output_text(state.output) if outcome is not Outcome.PASSED else None
        self.results.append(
            TestResult(
                test_id=make_test_id(pkg, test),
                suite=pkg,
                name=test,
                outcome=outcome,
                duration=elapsed if elapsed is not None and elapsed >= 0 else None,
                message=_cap(output),
                failure_kind=_failure_kind(output) if outcome is Outcome.FAILED else None,
                retry=state.attempts,
            )
        )
        state.attempts += 1
        state.running = False
        state.output = []

    def finish(self, last_line: int) -> None:
        for pkg_name, pkg in self.packages.items():
            if pkg.partial:
                bench = parse_line(pkg.partial)
                if bench is not None:
                    self.benchmarks.add(pkg_name, bench)
        for (pkg_name, test), state in self.tests.items():
            if not state.running:
                continue
            pkg = self.packages[pkg_name]
            if pkg.outcome == "fail":
                # The test binary died (panic in another goroutine, timeout, os.Exit) while this
                # test ran, so test2json never saw its result.
                self._finish(pkg_name, test, state, Outcome.FAILED, None)
                pkg.failed_tests += 1
            else:
                self.warn(last_line, f"{pkg_name} {test} started but has no result; not recorded")
        for pkg_name, pkg in self.packages.items():
            if pkg.failed_build is None and (pkg.outcome != "fail" or pkg.failed_tests):
                continue
            build_lines = self.build_output.get(pkg.failed_build or "", [])
            self.build_failed.pop(pkg.failed_build or "", None)
            own = [ln for ln in pkg.output if not _PACKAGE_FRAME.match(ln)]
            build = pkg.failed_build is not None or any("[build failed]" in ln for ln in pkg.output)
            self._package_error(pkg_name, build_lines + own, build)
        for import_path in self.build_failed:  # a build failure no package event claimed
            self._package_error(
                import_path.split(" [", 1)[0], self.build_output.get(import_path, []), True
            )

    def _package_error(self, pkg_name: str, lines: list[str], build: bool) -> None:
        message = _cap(_output_text(lines))
        self.results.append(
            TestResult(
                test_id=make_test_id(pkg_name, _PACKAGE_TEST),
                suite=pkg_name,
                name=_PACKAGE_TEST,
                outcome=Outcome.ERROR,
                message=message or "the package failed without a failing test",
                failure_kind="build failure" if build else "package failure",
            )
        )


def parse(data: bytes, source: str) -> ParsedReport:
    reader = _Reader(source)
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    lineno = 0
    foreign = 0
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("{"):
            # `go test -json 2>&1` mixes build errors and stray prints into the stream.
            foreign += 1
            if foreign <= 3:
                reader.warn(lineno, f"not a JSON event, ignored: {line[:200]}")
            continue
        try:
            ev = json.loads(line)
        except json.JSONDecodeError as err:
            raise ReportParseError(
                source,
                f"invalid JSON event: {err.msg} at column {err.colno}",
                line=lineno,
                hint="was the stream cut off? `go test -json` writes one event per line",
            ) from err
        if not isinstance(ev, dict):
            raise WrongFormatError(
                source,
                f"a JSON {type(ev).__name__} where a test2json event object belongs",
                line=lineno,
            )
        reader.event(lineno, ev)
    if foreign > 3:
        reader.warnings.append(f"{source}: {foreign} non-JSON lines in all were ignored")
    reader.finish(lineno)
    if not reader.events:
        raise EmptyReportError(
            source,
            "no `go test -json` event in the file",
            hint="did `go test -json` run? its output must be captured from stdout",
        )
    benchmarks = reader.benchmarks.results()
    if not reader.results and not benchmarks:
        reader.warnings.append(f"{source}: no test and no benchmark ran ([no test files]?)")
    return ParsedReport(
        format=NAME,
        source=source,
        tests=tuple(reader.results),
        benchmarks=tuple(benchmarks),
        warnings=tuple(reader.warnings),
    )
