"""Criterion.rs ``target/criterion/<id>/new/estimates.json`` -> one BenchmarkResult."""

from __future__ import annotations

import re
from typing import Any

from gatekeeper.errors import WrongFormatError
from gatekeeper.model import BenchmarkResult, Direction, ParsedReport, SpreadKind
from gatekeeper.parsers._units import head_text, json_number, load_json

NAME = "criterion-json"

# Criterion 0.3+ writes snake_case fields (mean, median, median_abs_dev, slope, std_dev);
# 0.1/0.2 serialised a map keyed by its Statistic enum (Mean, Median, MedianAbsDev, Slope, StdDev).
_KEY = re.compile(r"[^a-z]")
_SNIFF_KEYS = (b'"point_estimate"', b'"mean"', b'"median"')


def _norm(key: str) -> str:
    return _KEY.sub("", key.lower())


def sniff(head: bytes) -> int:
    """95 for an estimates.json (mean and median objects with point_estimate and a std_dev); 60
    for one without std_dev (Criterion's `change/estimates.json`, which parse then explains)."""
    try:
        text = head_text(head).lstrip()
        if not text.startswith("{"):
            return 0
        lowered = text.lower().encode()
        if not all(key in lowered for key in _SNIFF_KEYS):
            return 0
        if b'"std_dev"' in lowered or b'"stddev"' in lowered:
            return 95
        return 60
    except Exception:  # a sniffer never raises
        return 0


def benchmark_name(source: str) -> tuple[str, bool]:
    """The benchmark id from the file's path, and whether a `criterion/` folder was found.

    Criterion stores ``<id>`` as nested folders: ``target/criterion/parse/small/new/estimates.json``
    is the benchmark ``parse/small``.
    """
    parts = [p for p in source.replace("\\", "/").split("/") if p not in ("", ".")]
    folders = parts[:-1]  # drop estimates.json
    if folders and folders[-1] in ("new", "base"):
        folders = folders[:-1]
    if "criterion" in folders:
        last = len(folders) - 1 - folders[::-1].index("criterion")
        return "/".join(folders[last + 1 :]), True
    if folders and folders[0].endswith(":"):  # a Windows drive letter
        folders = folders[1:]
    return "/".join(folders), False


def _estimate(source: str, estimates: dict[str, tuple[str, Any]], key: str) -> tuple[float, ...]:
    """(point, lower, upper) of one statistic; WrongFormatError naming what is missing."""
    key, raw = estimates[key]
    if not isinstance(raw, dict):
        raise WrongFormatError(
            source, f"{key!r} is not an object with point_estimate", hint="is this estimates.json?"
        )
    point = json_number(raw.get("point_estimate"))
    if point is None:
        raise WrongFormatError(
            source,
            f"{key!r} has no numeric 'point_estimate'",
            hint="is this Criterion's estimates.json?",
        )
    interval = raw.get("confidence_interval")
    lower = upper = None
    if isinstance(interval, dict):
        lower = json_number(interval.get("lower_bound"))
        upper = json_number(interval.get("upper_bound"))
    return point, point if lower is None else lower, point if upper is None else upper


def parse(data: bytes, source: str) -> ParsedReport:
    doc = load_json(data, source, "Criterion estimates.json")
    if not isinstance(doc, dict):
        raise WrongFormatError(
            source,
            f"expected a JSON object with 'mean' and 'median', found a JSON {type(doc).__name__}",
            hint="pass target/criterion/<benchmark>/new/estimates.json",
        )
    estimates = {_norm(k): (k, v) for k, v in doc.items()}
    for required in ("mean", "median"):
        if required not in estimates:
            raise WrongFormatError(
                source,
                f"no {required!r} key: not a Criterion estimates.json",
                hint="pass target/criterion/<benchmark>/new/estimates.json",
            )
    name, under_criterion = benchmark_name(source)
    if "stddev" not in estimates:
        # change/estimates.json holds the relative change against the baseline (mean, median
        # only), a ratio, not a time.
        raise WrongFormatError(
            source,
            "no 'std_dev' key: this is Criterion's relative change estimate, not a measurement",
            hint="pass .../new/estimates.json instead of .../change/estimates.json",
        )
    if not name:
        raise WrongFormatError(
            source,
            "cannot name the benchmark: Criterion names it by the folders of estimates.json",
            hint="pass the file by its path, e.g. target/criterion/parse/small/new/estimates.json",
        )
    warnings: list[str] = []
    if not under_criterion:
        warnings.append(
            f"{source}: no 'criterion/' folder in the path; the benchmark is named {name!r} "
            "after all its folders"
        )
    # Criterion's console prints the slope when linear sampling gave one, and the mean under flat
    # sampling (slope null); following it keeps this value equal to the one a user saw.
    if isinstance(estimates.get("slope", ("", None))[1], dict):
        point, lower, upper = _estimate(source, estimates, "slope")
        statistic = "estimate"
    else:
        point, lower, upper = _estimate(source, estimates, "mean")
        statistic = "mean"
    std_dev = _estimate(source, estimates, "stddev")[0]
    result = BenchmarkResult(
        name=name,
        value=point,
        unit="ns",  # Criterion's WallTime measurement records nanoseconds
        statistic=statistic,
        direction=Direction.LOWER_IS_BETTER,
        spread=std_dev,
        spread_kind=SpreadKind.STDDEV,
        lower=lower,
        upper=upper,
    )
    return ParsedReport(format=NAME, source=source, benchmarks=(result,), warnings=tuple(warnings))
