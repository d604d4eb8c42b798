"""pytest-benchmark JSON (``--benchmark-json``, ``--benchmark-autosave``) -> BenchmarkResults."""

from __future__ import annotations

import math
from typing import Any

from gatekeeper.errors import WrongFormatError
from gatekeeper.model import BenchmarkResult, Direction, ParsedReport, SpreadKind
from gatekeeper.parsers._units import head_text, json_number, load_benchmarks_list

NAME = "pytest-benchmark"

_NS_PER_S = 1e9
_SNIFF_STRONG = ('"machine_info"', '"fullname"', '"rounds"', '"iqr"', '"ld15iqr"')


def sniff(head: bytes) -> int:
    """95 for a JSON object with "benchmarks" entries holding "stats" and pytest-benchmark's
    own keys (machine_info, fullname, rounds, iqr); 60 with "benchmarks" and "stats" only; 90
    for "benchmarks" with machine_info and commit_info (a run of no benchmark)."""
    try:
        text = head_text(head).lstrip()
        if not text.startswith("{") or '"benchmarks"' not in text:
            return 0
        if '"stats"' not in text:
            # A run with no benchmark still has pytest-benchmark's machine_info / commit_info.
            return 90 if '"machine_info"' in text and '"commit_info"' in text else 0
        return 95 if any(key in text for key in _SNIFF_STRONG) else 60
    except Exception:  # a sniffer never raises
        return 0


def _ns(value: Any) -> float | None:
    """A time in seconds as nanoseconds; None unless a number that stays finite."""
    seconds = json_number(value)
    if seconds is None or not math.isfinite(seconds * _NS_PER_S):
        return None
    return seconds * _NS_PER_S


def _samples(stats: dict[str, Any]) -> tuple[tuple[float, ...], bool]:
    """The raw per-round times in ns, and whether some entries were not numbers."""
    data = stats.get("data")
    if not isinstance(data, list):
        return (), False
    values = [_ns(v) for v in data]
    if any(v is None for v in values):
        return (), True
    return tuple(v for v in values if v is not None), False


def _result(source: str, index: int, bench: Any, warnings: list[str]) -> BenchmarkResult | None:
    where = f"benchmarks[{index}]"
    if not isinstance(bench, dict):
        raise WrongFormatError(
            source, f"{where} is not an object", hint="is this pytest-benchmark?"
        )
    # fullname (`tests/test_x.py::test_y[param]`, since pytest-benchmark 3.0) is unique across
    # modules; name alone (`test_y[param]`) is not.
    name = bench.get("fullname") or bench.get("name")
    if not isinstance(name, str) or not name:
        raise WrongFormatError(
            source, f"{where} has no 'name' or 'fullname'", hint="is this pytest-benchmark JSON?"
        )
    stats = bench.get("stats")
    if stats is None:
        warnings.append(
            f"{source}: {where} ({name}): no 'stats' (the benchmark did not run); skipped"
        )
        return None
    if not isinstance(stats, dict):
        raise WrongFormatError(source, f"{where} ({name}): 'stats' is not an object")
    mean = _ns(stats.get("mean"))
    if mean is None:
        raise WrongFormatError(
            source,
            f"{where} ({name}): 'stats' has no numeric 'mean'",
            hint="is this pytest-benchmark JSON?",
        )
    samples, partial = _samples(stats)
    if partial:
        warnings.append(
            f"{source}: {where} ({name}): 'stats.data' holds non-numbers (trimmed by hand?); "
            "raw samples ignored"
        )
    stddev = _ns(stats.get("stddev"))
    rounds = json_number(stats.get("rounds"))
    per_round = json_number(stats.get("iterations"))
    total = rounds * per_round if rounds is not None and per_round is not None else math.nan
    iterations = int(total) if math.isfinite(total) else None
    group = bench.get("group")
    return BenchmarkResult(
        name=name,
        value=mean,
        unit="ns",
        statistic="mean",
        direction=Direction.LOWER_IS_BETTER,
        spread=stddev,
        spread_kind=None if stddev is None else SpreadKind.STDDEV,
        lower=_ns(stats.get("min")),
        upper=_ns(stats.get("max")),
        samples=samples,
        iterations=iterations,
        group=group if isinstance(group, str) else "",
    )


def parse(data: bytes, source: str) -> ParsedReport:
    _doc, benches = load_benchmarks_list(
        data, source, "pytest-benchmark JSON", hint="is this the file of --benchmark-json?"
    )
    warnings: list[str] = []
    if not benches:
        # Like a JUnit file with no test case: a valid report of nothing, kept with a warning.
        warnings.append(
            f"{source}: 'benchmarks' is empty: no benchmark ran "
            "(deselected, or --benchmark-skip / --benchmark-disable?)"
        )
    results: list[BenchmarkResult] = []
    seen: dict[tuple[str, str], int] = {}
    for index, bench in enumerate(benches):
        result = _result(source, index, bench, warnings)
        if result is None:
            continue
        key = (result.group, result.name)
        if key in seen:
            warnings.append(
                f"{source}: benchmarks[{index}]: {result.name} appears twice; the last one is kept"
            )
            results[seen[key]] = result
            continue
        seen[key] = len(results)
        results.append(result)
    return ParsedReport(
        format=NAME, source=source, benchmarks=tuple(results), warnings=tuple(warnings)
    )
