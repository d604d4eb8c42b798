"""Criterion.rs console output and its ``--output-format bencher`` lines -> BenchmarkResults."""

from __future__ import annotations

import math
import re

from gatekeeper.errors import EmptyReportError, InputError
from gatekeeper.model import BenchmarkResult, Direction, ParsedReport, SpreadKind, TestResult
from gatekeeper.parsers import _rust, libtest
from gatekeeper.parsers._units import (
    direction_of,
    head_text,
    is_time_unit,
    normalise_rate,
    parse_number,
    to_ns,
)

NAME = "criterion"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NUM = r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?"
_TRIPLE = (
    rf"\[\s*(?P<lo>{_NUM})\s+(?P<lo_u>\S+?)\s+(?P<mid>{_NUM})\s+(?P<mid_u>\S+?)"
    rf"\s+(?P<hi>{_NUM})\s+(?P<hi_u>\S+?)\s*\]"
)
# `name   time:   [1.2 µs 1.3 µs 1.4 µs]`; Criterion puts a name longer than 23 characters on
# its own line and starts the `time:` line with spaces. The change lines under a throughput
# (`time:   [-1.0% +0.5% +2.0%]`) have no space between number and `%`, so they never match.
_TIME_LINE = re.compile(rf"^(?P<name>.*?)\s*(?<!\S)time:\s+{_TRIPLE}")
_THRPT_LINE = re.compile(rf"^\s*thrpt:\s+{_TRIPLE}")
# Criterion's BencherReport: `print!("test {} ... ", id)` then
# `println!("bench: {:>11} {}/iter (+/- {})", median, unit, std_dev)`.
# libtest's own lines may end in `= 456 MB/s` when the bench sets `b.bytes`.
_BENCH_TAIL = (
    r"bench:\s+(?P<value>\S+) (?P<unit>\S+)(?:\s+\(\+/-\s*(?P<spread>[^)\s]+)\s*\))?"
    r"(?:\s*=\s*(?P<tp>\S+) (?P<tp_unit>\S+))?\s*$"
)
_BENCH_LINE = re.compile(rf"^test (?P<name>.+) \.\.\. {_BENCH_TAIL}")
_BENCH_ALONE = re.compile(rf"^{_BENCH_TAIL}")
# `test NAME ... ` whose `bench:` half came later, because stderr (warnings) got in between.
_BENCH_START = re.compile(r"^test (?P<name>.+) \.\.\.\s*(?:(?:warning|gnuplot)\b.*)?$", re.I)
_RUNNING_TESTS = re.compile(r"^running \d+ tests?\s*$")
_TEST_RESULT = re.compile(r"^test result: ")
_BENCHMARKING = re.compile(
    r"^Benchmarking (?P<name>.+?)(?:: (?:Warming up for|Collecting \d+ samples|Analyzing"
    r"|Complete \(Analysis Disabled\)|Profiling for|Starting).*)?$"
)
_PANIC = re.compile(r"^thread '.*' panicked at")
_BENCH_FAILED = re.compile(r"^error: bench failed")

_SNIFF_TIME = re.compile(r"(?m)(?<!\S)time:\s+\[\s*[\d.]+\s+\S+\s+[\d.]+\s+\S+\s+[\d.]+\s+\S+\s*\]")
_SNIFF_BENCH = re.compile(r"(?m)^test .+ \.\.\. bench:\s+[\d,.]+ \S+")
_SNIFF_CRITERION = re.compile(
    r"(?m)^(?:Benchmarking \S|Gnuplot not found|WARNING: HTML report generation"
    r"|Warning: Unable to complete \d+ samples)"
)
_SNIFF_LIBTEST = re.compile(r"(?m)^(?:running \d+ tests?|test result: )")


def sniff(head: bytes) -> int:
    """95 for `time: [...]` lines; bencher-format lines score above libtest only with a Criterion
    signal (`Benchmarking`, `Gnuplot not found`, its warnings), since libtest prints the same."""
    try:
        text = _ANSI.sub("", head_text(head))
        if _SNIFF_TIME.search(text):
            return 95
        if not _SNIFF_BENCH.search(text):
            return 0
        if _SNIFF_CRITERION.search(text):
            return 92
        if _SNIFF_LIBTEST.search(text):
            return 20
        return 70
    except Exception:  # a sniffer never raises
        return 0


def _clean(raw: str) -> str:
    # A terminal run overwrites progress with `\r`; only the last segment is what was shown.
    return _ANSI.sub("", raw.rstrip("\r\n").rsplit("\r", 1)[-1])


class _Reader:
    """The line-by-line state of one file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.results: dict[tuple[str, str], BenchmarkResult] = {}
        self.warnings: list[str] = []
        self.warned_units: set[str] = set()
        self.target = ""
        self.in_libtest = False
        self.previous = ""  # the last non-blank line: the name of a long-named benchmark
        self.last_time: BenchmarkResult | None = None
        self.pending_bench: str | None = None
        self.signals = 0  # panics and failures: the file is a benchmark run even with no result

    def warn(self, lineno: int, text: str) -> None:
        self.warnings.append(f"{self.source}:{lineno}: {text}")

    def add(self, lineno: int, result: BenchmarkResult) -> None:
        key = (result.group, result.name)
        if key in self.results:
            self.warn(lineno, f"benchmark {result.name!r} appears again; the last one is kept")
            del self.results[key]  # re-insert, so the order is that of the kept results
        self.results[key] = result

    def unit_value(self, lineno: int, text: str, unit: str) -> tuple[float, str] | None:
        value = parse_number(text)
        if value is None:
            self.warn(lineno, f"{text!r} is not a number; line skipped")
            return None
        ns = to_ns(value, unit)
        if ns is not None and not math.isfinite(ns):
            self.warn(lineno, f"{text} {unit} is out of range; line skipped")
            return None
        if ns is not None:
            return ns, "ns"
        if unit not in self.warned_units and not unit.endswith("/s"):
            self.warned_units.add(unit)
            self.warn(lineno, f"unit {unit!r} is not a time unit; values are kept in {unit!r}")
        return value, unit

    def line(self, lineno: int, raw: str) -> None:
        line = _clean(raw)
        stripped = line.strip()
        if not stripped:
            return
        if self._structure(lineno, line):
            self.previous = stripped
            return
        m = _TIME_LINE.match(line)
        if m:
            self._time(lineno, m)
        elif m := _THRPT_LINE.match(line):
            self._thrpt(lineno, m)
        elif m := _BENCH_LINE.match(line):
            self._bench(lineno, m.group("name"), m)
        elif (m := _BENCH_ALONE.match(stripped)) and self.pending_bench is not None:
            self._bench(lineno, self.pending_bench, m)
        elif m := _BENCH_START.match(line):
            self.pending_bench = m.group("name").strip()
        elif _PANIC.match(stripped):
            self.signals += 1
            self.warn(lineno, f"a benchmark panicked: {stripped[:300]}")
        elif _BENCH_FAILED.match(stripped):
            self.signals += 1
            self.warn(lineno, "cargo bench stopped here; benchmarks after this point did not run")
        self.previous = stripped

    def _structure(self, lineno: int, line: str) -> bool:
        """cargo/libtest framing lines; True when the line was one."""
        if _RUNNING_TESTS.match(line):
            self.in_libtest = True
        elif _TEST_RESULT.match(line):
            self.in_libtest = False
        elif (suite := _rust.suite_of_cargo_line(line)) is not None:
            # cargo's `Running benches/x.rs (target/release/deps/x-<hash>)`: the bench target,
            # named as the libtest parser names it, so both parsers give one benchmark one group.
            self.target = suite
            self.in_libtest = False
        else:
            return False
        self.last_time = None
        return True

    def _time(self, lineno: int, m: re.Match[str]) -> None:
        name = m.group("name").strip()
        if not name:
            b = _BENCHMARKING.match(self.previous)
            name = b.group("name") if b else self.previous
        if not name:
            self.warn(lineno, "a `time:` line with no benchmark name before it; skipped")
            return
        lo = self.unit_value(lineno, m.group("lo"), m.group("lo_u"))
        mid = self.unit_value(lineno, m.group("mid"), m.group("mid_u"))
        hi = self.unit_value(lineno, m.group("hi"), m.group("hi_u"))
        if lo is None or mid is None or hi is None:
            return
        # Criterion prints its "typical" estimate: the slope of the linear regression, or the
        # mean under flat sampling; the console does not say which, hence "estimate".
        result = BenchmarkResult(
            name=name,
            value=mid[0],
            unit=mid[1],
            statistic="estimate",
            direction=direction_of(mid[1]),
            spread=hi[0] - lo[0],
            spread_kind=SpreadKind.CI,
            lower=lo[0],
            upper=hi[0],
            group=self.target,
        )
        self.add(lineno, result)
        self.last_time = result

    def _thrpt(self, lineno: int, m: re.Match[str]) -> None:
        if self.last_time is None:
            return  # the `thrpt:` of a change block, or one with no `time:` line: nothing to add
        values = []
        for key in ("lo", "mid", "hi"):
            number = parse_number(m.group(key))
            if number is None:
                self.warn(lineno, f"{m.group(key)!r} is not a number; throughput skipped")
                return
            values.append(normalise_rate(number, m.group(key + "_u")))
        (lo, lo_u), (mid, unit), (hi, hi_u) = values
        if not lo_u == unit == hi_u:
            self.warn(lineno, f"throughput units differ ({lo_u}, {unit}, {hi_u}); skipped")
            return
        # Criterion prints the throughput at the time's upper bound first, so lo <= mid <= hi.
        self.add(
            lineno,
            BenchmarkResult(
                name=f"{self.last_time.name} (thrpt)",
                value=mid,
                unit=unit,
                statistic="estimate",
                direction=Direction.HIGHER_IS_BETTER,
                spread=abs(hi - lo),
                spread_kind=SpreadKind.CI,
                lower=min(lo, hi),
                upper=max(lo, hi),
                group=self.last_time.group,
            ),
        )
        self.last_time = None

    def _bench(self, lineno: int, name: str, m: re.Match[str]) -> None:
        self.pending_bench = None
        self.last_time = None
        unit = m.group("unit")
        per_iter = unit.removesuffix("/iter")
        if unit.endswith("/iter") and is_time_unit(per_iter):
            unit = per_iter
        value = self.unit_value(lineno, m.group("value"), unit)
        if value is None:
            return
        spread: float | None = None
        if m.group("spread") is not None:
            spread_value = self.unit_value(lineno, m.group("spread"), unit)
            spread = spread_value[0] if spread_value is not None else None
        # Inside a libtest block (`running N tests` .. `test result:`) the line is libtest's own
        # #[bench]: median +/- (max - min). Criterion's bencher format is median +/- std_dev.
        kind = SpreadKind.RANGE if self.in_libtest else SpreadKind.STDDEV
        name = name.strip()
        self.add(
            lineno,
            BenchmarkResult(
                name=name,
                value=value[0],
                unit=value[1],
                statistic="median",
                direction=direction_of(value[1]),
                spread=spread,
                spread_kind=kind if spread is not None else None,
                group=self.target,
            ),
        )
        rate = parse_number(m.group("tp") or "")
        if rate is not None:
            self.add(
                lineno,
                BenchmarkResult(
                    name=f"{name} (thrpt)",
                    value=rate,
                    unit=m.group("tp_unit"),
                    statistic="median",
                    direction=Direction.HIGHER_IS_BETTER,
                    group=self.target,
                ),
            )


def _libtest_part(data: bytes, source: str) -> tuple[tuple[TestResult, ...], tuple[str, ...]]:
    """The test results of the libtest blocks cargo bench prints around Criterion's output (each
    target's unit tests, run with --bench so mostly `ignored`), read by the libtest parser."""
    if b"test result:" not in data:
        return (), ()
    try:
        report = libtest.parse(data, source)
    except InputError:
        return (), ()  # blocks too broken to count: the benchmarks still stand
    return report.tests, report.warnings


def parse(data: bytes, source: str) -> ParsedReport:
    reader = _Reader(source)
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    for lineno, raw in enumerate(text.split("\n"), start=1):
        reader.line(lineno, raw)
    tests, test_warnings = _libtest_part(data, source)
    if not reader.results and not reader.signals and not tests:
        raise EmptyReportError(
            source,
            "no Criterion results: no `time: [...]` line and no `test NAME ... bench:` line",
            hint="did the benchmarks run? for libtest #[bench] output use --format libtest",
        )
    return ParsedReport(
        format=NAME,
        source=source,
        tests=tests,
        benchmarks=tuple(reader.results.values()),
        warnings=tuple(reader.warnings) + test_warnings,
    )
