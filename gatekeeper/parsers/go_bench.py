"""``go test -bench`` text output -> BenchmarkResults; its line parser serves gotest-json too."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from gatekeeper.errors import EmptyReportError
from gatekeeper.model import BenchmarkResult, ParsedReport, SpreadKind
from gatekeeper.parsers._units import direction_of, head_text, parse_number

NAME = "go-bench"

# testing.B prints `fmt.Fprintf(w, "%-*s\t", maxLen, name)` then BenchmarkResult.String():
# `%8d\t%10.0f ns/op` (N, ns/op), then `\t%7.2f MB/s`, `\t%8d B/op\t%8d allocs/op` and any
# b.ReportMetric units, each as `VALUE UNIT`. Padding is spaces and tabs in any mix.
_RESULT = re.compile(r"^(?P<name>Benchmark\S*)\s+(?P<n>\d+)\s+(?P<metrics>\S.*?)\s*$")
_BARE_NAME = re.compile(r"^(?P<name>Benchmark\S*)\s*$")
_HEADER = re.compile(r"^(?P<key>goos|goarch|pkg|cpu):\s*(?P<value>.*?)\s*$")
_TRAILER = re.compile(r"^(?:ok|FAIL)\s+(?P<pkg>\S+)(?:\s+.*)?$")
_OUTCOME = re.compile(r"^--- (?P<what>FAIL|SKIP): (?P<name>Benchmark\S*)")
_NS_PER_OP = "ns/op"

_SNIFF_RESULT = re.compile(r"(?m)^Benchmark\S*[ \t]+\d+[ \t]+[\d.]+ ns/op")
_SNIFF_HEADER = re.compile(r"(?m)^(?:goos|goarch|pkg): ")
_SNIFF_BENCH_ONLY = re.compile(r"(?m)^(?:--- (?:FAIL|SKIP): Benchmark|Benchmark\S*\s*$)")


def sniff(head: bytes) -> int:
    """90 for `BenchmarkX  N  V ns/op` lines under a goos/pkg header, 85 without; 75 for a
    header with only failed or skipped benchmarks."""
    try:
        text = head_text(head)
        header = bool(_SNIFF_HEADER.search(text))
        if _SNIFF_RESULT.search(text):
            return 90 if header else 85
        if header and _SNIFF_BENCH_ONLY.search(text):
            return 75
        return 0
    except Exception:  # a sniffer never raises
        return 0


@dataclass(frozen=True, slots=True)
class BenchLine:
    """One benchmark result line: name (with its -GOMAXPROCS suffix), N and its metrics."""

    name: str
    iterations: int
    metrics: tuple[tuple[float, str], ...]


def parse_line(line: str) -> BenchLine | None:
    """A result line, or None when the line is anything else (logs, a name alone, ...)."""
    m = _RESULT.match(line.strip("\r\n"))
    if m is None:
        return None
    tokens = m.group("metrics").split()
    if len(tokens) % 2:
        return None
    metrics: list[tuple[float, str]] = []
    for value_text, unit in zip(tokens[::2], tokens[1::2], strict=True):
        value = parse_number(value_text)
        if value is None:
            return None
        metrics.append((value, unit))
    return BenchLine(m.group("name"), int(m.group("n")), tuple(metrics))


@dataclass
class _Series:
    iterations: list[int] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)


class Collector:
    """Gathers result lines; `-count=N` repeats of one benchmark (same package and name) become
    one result per metric, with the repeats as samples."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], _Series] = {}

    def __len__(self) -> int:
        return len(self._series)

    def add(self, group: str, bench: BenchLine) -> None:
        series = self._series.setdefault((group, bench.name), _Series())
        series.iterations.append(bench.iterations)
        for value, unit in bench.metrics:
            series.metrics.setdefault(unit, []).append(value)

    def results(self) -> list[BenchmarkResult]:
        out: list[BenchmarkResult] = []
        for (group, name), series in self._series.items():
            for unit, values in series.metrics.items():
                # ns/op is the benchmark itself; B/op, allocs/op, MB/s and custom metrics are
                # results of their own, named `<name> (<unit>)`.
                main = unit == _NS_PER_OP
                repeated = len(values) >= 2
                spread = statistics.stdev(values) if repeated else None
                out.append(
                    BenchmarkResult(
                        name=name if main else f"{name} ({unit})",
                        value=statistics.fmean(values) if repeated else values[0],
                        unit="ns" if main else unit,
                        statistic="mean",
                        direction=direction_of(unit),
                        spread=spread,
                        spread_kind=None if spread is None else SpreadKind.STDDEV,
                        samples=tuple(values) if repeated else (),
                        iterations=sum(series.iterations),
                        group=group,
                    )
                )
        return out


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.collector = Collector()
        self.warnings: list[str] = []
        self.pkg = ""
        # Rows wait here until their package is known: old `go test` prints no `pkg:` header,
        # only the `ok  <pkg>  1.2s` trailer after the benchmarks.
        self.segment: list[BenchLine] = []
        self.logs: list[str] = []
        self.outcomes = 0

    def flush(self, pkg: str) -> None:
        for bench in self.segment:
            self.collector.add(pkg, bench)
        self.segment.clear()

    def line(self, lineno: int, raw: str) -> None:
        line = raw.rstrip("\r\n")
        bench = parse_line(line)
        if bench is not None:
            self.segment.append(bench)
            self.logs.clear()
        elif m := _HEADER.match(line):
            if m.group("key") == "pkg":
                self.flush(self.pkg)
                self.pkg = m.group("value")
        elif m := _TRAILER.match(line):
            self.flush(self.pkg or m.group("pkg"))
            self.pkg = ""
        elif m := _OUTCOME.match(line):
            self.outcomes += 1
            log = "; ".join(self.logs)[:500]
            if m.group("what") == "FAIL":
                text = f"benchmark {m.group('name')} failed" + (f": {log}" if log else "")
            else:
                text = f"benchmark {m.group('name')} was skipped" + (f": {log}" if log else "")
            self.warnings.append(f"{self.source}:{lineno}: {text}")
            self.logs.clear()
        elif _BARE_NAME.match(line):
            self.logs.clear()
        elif line[:1] in (" ", "\t") and line.strip():
            self.logs.append(line.strip())


def parse(data: bytes, source: str) -> ParsedReport:
    reader = _Reader(source)
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    for lineno, raw in enumerate(text.split("\n"), start=1):
        reader.line(lineno, raw)
    reader.flush(reader.pkg)
    if not len(reader.collector) and not reader.outcomes:
        raise EmptyReportError(
            source,
            "no `go test -bench` result line (`BenchmarkX  N  123 ns/op`)",
            hint="did `go test` run with -bench and -run='^$'? for `go test -json` use gotest-json",
        )
    return ParsedReport(
        format=NAME,
        source=source,
        benchmarks=tuple(reader.collector.results()),
        warnings=tuple(reader.warnings),
    )
