"""Google Benchmark JSON (``--benchmark_format=json`` / ``--benchmark_out``) -> BenchmarkResults."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.errors import WrongFormatError
from gatekeeper.model import BenchmarkResult, Direction, ParsedReport, SpreadKind
from gatekeeper.parsers._units import head_text, json_number, load_benchmarks_list, to_ns

NAME = "google-benchmark"

# The two rate counters Google Benchmark defines (SetBytesProcessed / SetItemsProcessed); other
# user counters have no declared unit or direction, so they are not read.
_RATE_COUNTERS = {"bytes_per_second": "B/s", "items_per_second": "items/s"}
_AGGREGATES = ("mean", "median", "stddev", "cv")
# Complexity rows (BM_x_BigO, BM_x_RMS) fit a curve over the family; they are not timings.
_COMPLEXITY = ("bigo", "rms")
_SNIFF_TIMES = ('"time_unit"', '"real_time"', '"cpu_time"')
_SNIFF_RUN = ('"run_type"', '"family_index"', '"repetition_index"', '"run_name"')


def sniff(head: bytes) -> int:
    """95 for a JSON object with "benchmarks" and Google Benchmark's timing keys; 85 with only its
    run keys (run_type, family_index, ...); 0 for pytest-benchmark's "stats" entries."""
    try:
        text = head_text(head).lstrip()
        if not text.startswith("{") or '"benchmarks"' not in text:
            return 0
        if any(key in text for key in _SNIFF_TIMES):
            return 95
        if '"stats"' in text:
            return 0
        return 85 if any(key in text for key in _SNIFF_RUN) else 0
    except Exception:  # a sniffer never raises
        return 0


@dataclass
class _Series:
    """Every row of one benchmark instance (its run_name): repetitions and aggregates."""

    runs: list[tuple[float, int | None, dict[str, Any]]] = field(default_factory=list)
    aggregates: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    unit: str = "ns"


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.series: dict[str, _Series] = {}
        self.warnings: list[str] = []

    def warn(self, where: str, text: str) -> None:
        self.warnings.append(f"{self.source}: {where}: {text}")

    def time(self, where: str, row: dict[str, Any]) -> tuple[float, str] | None:
        real = json_number(row.get("real_time"))
        if real is None:
            self.warn(where, "no numeric 'real_time'; skipped")
            return None
        unit = row.get("time_unit", "ns")  # Google Benchmark's default unit
        unit = unit if isinstance(unit, str) else "ns"
        ns = to_ns(real, unit)
        if ns is not None and not math.isfinite(ns):
            self.warn(where, f"real_time {real} {unit} is out of range; skipped")
            return None
        if ns is None:
            self.warn(where, f"time_unit {unit!r} is not a time unit; kept as is")
            return real, unit
        return ns, "ns"

    def row(self, index: int, row: Any) -> None:
        where = f"benchmarks[{index}]"
        if not isinstance(row, dict):
            raise WrongFormatError(self.source, f"{where} is not an object")
        name = row.get("name")
        if not isinstance(name, str) or not name:
            raise WrongFormatError(
                self.source, f"{where} has no 'name'", hint="is this Google Benchmark JSON?"
            )
        where = f"{where} ({name})"
        if row.get("error_occurred"):
            message = row.get("error_message") or "no message"
            self.warn(where, f"the benchmark reported an error: {message}; skipped")
            return
        if row.get("skipped"):  # v1.8+: SkipWithMessage
            self.warn(where, f"skipped: {row.get('skip_message') or 'no message'}")
            return
        run_name = row.get("run_name")
        run_name = run_name if isinstance(run_name, str) and run_name else name
        if row.get("run_type") == "aggregate" or self._old_aggregate(name, row):
            self._aggregate(where, name, run_name, row)
            return
        timed = self.time(where, row)
        if timed is None:
            return
        iterations = json_number(row.get("iterations"))
        series = self.series.setdefault(run_name, _Series())
        series.runs.append((timed[0], None if iterations is None else int(iterations), row))
        series.unit = timed[1]

    def _old_aggregate(self, name: str, row: dict[str, Any]) -> bool:
        """An aggregate row of Google Benchmark 1.4 and older, which had no ``run_type``: named
        ``<benchmark>_mean`` (``_median``, ``_stddev``) after that benchmark's repetitions, or
        ``<family>_BigO`` / ``_RMS`` after the family's sizes. A benchmark that is merely
        named ``..._mean``, with no repetitions of its base name before it, stays a benchmark."""
        if "run_type" in row or "_" not in name:
            return False
        base, _, suffix = name.rpartition("_")
        if suffix in _AGGREGATES:
            return base in self.series
        if suffix.lower() in _COMPLEXITY:
            return any(s == base or s.startswith(base + "/") for s in self.series)
        return False

    def _aggregate(self, where: str, name: str, run_name: str, row: dict[str, Any]) -> None:
        kind = row.get("aggregate_name")
        if not isinstance(kind, str) or not kind:
            # Before aggregate_name existed the kind was only the name's suffix: BM_x_mean.
            suffix = name.rsplit("_", 1)[-1] if "_" in name else ""
            kind = suffix if suffix in _AGGREGATES or suffix.lower() in _COMPLEXITY else ""
            if kind and run_name == name:
                run_name = name[: -len(kind) - 1]
        if kind.lower() in _COMPLEXITY:
            return
        if kind not in _AGGREGATES:
            self.warn(where, f"aggregate of unknown kind {kind or '(none)'!r}; skipped")
            return
        if kind == "cv":  # a ratio (aggregate_unit "percentage"), redundant with stddev/mean
            return
        timed = self.time(where, row)
        if timed is None:
            return
        series = self.series.setdefault(run_name, _Series())
        series.aggregates[kind] = (timed[0], row)
        series.unit = timed[1]

    def results(self, group: str) -> list[BenchmarkResult]:
        out: list[BenchmarkResult] = []
        for run_name, series in self.series.items():
            times = [t for t, _, _ in series.runs]
            counts = [n for _, n, _ in series.runs if n is not None]
            iterations = sum(counts) if counts else None
            built = _build(run_name, series.unit, times, series.aggregates, group, iterations)
            if built is None:
                self.warn(run_name, "only a stddev aggregate, no value; skipped")
                continue
            out.append(built)
            for counter, unit in _RATE_COUNTERS.items():
                values = [
                    v for _, _, r in series.runs if (v := json_number(r.get(counter))) is not None
                ]
                aggs = {
                    k: (v, r)
                    for k, (_, r) in series.aggregates.items()
                    if (v := json_number(r.get(counter))) is not None
                }
                rate = _build(f"{run_name} ({counter})", unit, values, aggs, group, iterations)
                if rate is not None:
                    out.append(rate)
        return out


def _build(
    name: str,
    unit: str,
    values: list[float],
    aggregates: dict[str, tuple[float, dict[str, Any]]],
    group: str,
    iterations: int | None,
) -> BenchmarkResult | None:
    """One result: the mean aggregate if Google Benchmark computed one, else the mean of the
    repetitions, else the median aggregate."""
    statistic = "mean"
    if "mean" in aggregates:
        value = aggregates["mean"][0]
    elif values:
        value = statistics.fmean(values)
    elif "median" in aggregates:
        value, statistic = aggregates["median"][0], "median"
    else:
        return None
    spread: float | None = None
    if "stddev" in aggregates:
        spread = aggregates["stddev"][0]
    elif len(values) >= 2:
        spread = statistics.stdev(values)
    return BenchmarkResult(
        name=name,
        value=value,
        unit=unit,
        statistic=statistic,
        direction=Direction.HIGHER_IS_BETTER if unit.endswith("/s") else Direction.LOWER_IS_BETTER,
        spread=spread,
        spread_kind=None if spread is None else SpreadKind.STDDEV,
        samples=tuple(values) if len(values) >= 2 else (),
        iterations=iterations,
        group=group,
    )


def _group(doc: dict[str, Any]) -> str:
    """The benchmark binary (context.executable), so two binaries' BM_Foo stay apart."""
    context = doc.get("context")
    executable = context.get("executable") if isinstance(context, dict) else None
    if not isinstance(executable, str):
        return ""
    base = executable.replace("\\", "/").rsplit("/", 1)[-1]
    return base.removesuffix(".exe")


def parse(data: bytes, source: str) -> ParsedReport:
    doc, rows = load_benchmarks_list(
        data,
        source,
        "Google Benchmark JSON",
        hint="write it with --benchmark_out=FILE --benchmark_out_format=json",
    )
    reader = _Reader(source)
    if not rows:
        # Like a JUnit file with no test case: a valid report of nothing, kept with a warning.
        reader.warnings.append(
            f"{source}: 'benchmarks' is empty: no benchmark ran (check --benchmark_filter)"
        )
    for index, row in enumerate(rows):
        reader.row(index, row)
    results = reader.results(_group(doc))
    return ParsedReport(
        format=NAME, source=source, benchmarks=tuple(results), warnings=tuple(reader.warnings)
    )
