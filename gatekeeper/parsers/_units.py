"""Shared helpers of the benchmark parsers: time units to nanoseconds, rate units, JSON loading."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from gatekeeper.errors import ReportParseError, WrongFormatError
from gatekeeper.model import Direction

# Criterion prints µ as U+00B5 (MICRO SIGN); hand-written and other tools use U+03BC (GREEK MU).
_TIME_TO_NS: dict[str, float] = {
    "ps": 1e-3,
    "ns": 1.0,
    "\u00b5s": 1e3,
    "\u03bcs": 1e3,
    "us": 1e3,
    "ms": 1e6,
    "s": 1e9,
}

# Criterion scales throughput to the largest fitting prefix, so one benchmark can print KiB/s in
# one run and MiB/s in the next; normalising to the base unit keeps the history comparable.
_RATE_TO_BASE: dict[str, tuple[float, str]] = {
    "B/s": (1.0, "B/s"),
    "KiB/s": (1024.0, "B/s"),
    "MiB/s": (1024.0**2, "B/s"),
    "GiB/s": (1024.0**3, "B/s"),
    "TiB/s": (1024.0**4, "B/s"),
    "KB/s": (1e3, "B/s"),
    "MB/s": (1e6, "B/s"),
    "GB/s": (1e9, "B/s"),
    "TB/s": (1e12, "B/s"),
    "elem/s": (1.0, "elem/s"),
    "Kelem/s": (1e3, "elem/s"),
    "Melem/s": (1e6, "elem/s"),
    "Gelem/s": (1e9, "elem/s"),
}

_NUMBER = re.compile(r"[-+]?(?:\d[\d,_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def is_time_unit(unit: str) -> bool:
    return unit in _TIME_TO_NS


def to_ns(value: float, unit: str) -> float | None:
    """``value`` in ``unit`` as nanoseconds; None when ``unit`` is not a time unit."""
    factor = _TIME_TO_NS.get(unit)
    return None if factor is None else value * factor


def normalise_rate(value: float, unit: str) -> tuple[float, str]:
    """A throughput in its base unit (``B/s`` or ``elem/s``); unknown units pass unchanged."""
    known = _RATE_TO_BASE.get(unit)
    if known is None:
        return value, unit
    return value * known[0], known[1]


def direction_of(unit: str) -> Direction:
    """Rates (anything per second) are better when higher; times, bytes, counts when lower."""
    return Direction.HIGHER_IS_BETTER if unit.endswith("/s") else Direction.LOWER_IS_BETTER


def parse_number(text: str) -> float | None:
    """A number as tools print it (``13,967,756.30``, ``1e-7``); None when it is not one."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def json_number(value: Any) -> float | None:
    """A finite JSON number as float; None for anything else (bools, strings, null, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        as_float = float(value)
    except OverflowError:  # a JSON integer beyond float range
        return None
    return as_float if math.isfinite(as_float) else None


def load_json(data: bytes, source: str, what: str) -> Any:
    """Decode one JSON document, turning decoding errors into ReportParseError with the line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ReportParseError(
            source,
            f"{what} is not UTF-8 text (byte {err.start}: {err.reason})",
            hint="is this the JSON file the tool wrote?",
        ) from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ReportParseError(
            source,
            f"{what} is not valid JSON: {err.msg} at column {err.colno}",
            line=err.lineno,
            hint="was the file cut off, or is it another format? try --format",
        ) from err
    except RecursionError as err:
        raise ReportParseError(
            source, f"{what} nests too deeply to be a report", hint="is this the right file?"
        ) from err


def head_text(head: bytes) -> str:
    """The sniffed head as text: BOM dropped, undecodable bytes replaced (sniffers never raise)."""
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


def load_benchmarks_list(
    data: bytes, source: str, what: str, hint: str
) -> tuple[dict[str, Any], list[Any]]:
    """A JSON document that must be an object with a ``benchmarks`` list (pytest-benchmark,
    Google Benchmark): the document and the list, or a WrongFormatError naming what is missing."""
    doc = load_json(data, source, what)
    if not isinstance(doc, dict):
        raise WrongFormatError(
            source,
            f"expected a JSON object with 'benchmarks', found a JSON {type(doc).__name__}",
            hint=hint,
        )
    rows = doc.get("benchmarks")
    if not isinstance(rows, list):
        raise WrongFormatError(source, f"no 'benchmarks' list: not {what}", hint=hint)
    return doc, rows
