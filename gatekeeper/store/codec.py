"""Encodings between model values and columns: line ranges, outcome codes, UTC times, JSON."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from gatekeeper import model
from gatekeeper.model import Outcome

# Outcomes are stored as a small integer so the results table stays narrow; never renumber.
OUTCOME_CODES: dict[Outcome, int] = {
    Outcome.PASSED: 0,
    Outcome.FAILED: 1,
    Outcome.ERROR: 2,
    Outcome.SKIPPED: 3,
}
OUTCOMES_BY_CODE: dict[int, Outcome] = {code: outcome for outcome, code in OUTCOME_CODES.items()}

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def encode_lines(lines: Iterable[int]) -> str:
    """Line numbers as a compact range string: ``(1, 2, 3, 4, 7, 9, 10)`` -> ``"1-4,7,9-10"``.

    The input is sorted and de-duplicated first (a set of lines is what is stored); an empty
    input gives ``""``. Negative numbers cannot be written in this form and raise ValueError.
    """
    ordered = sorted(set(lines))
    if not ordered:
        return ""
    if ordered[0] < 0:
        raise ValueError(f"line numbers must not be negative, got {ordered[0]}")
    parts: list[str] = []
    start = prev = ordered[0]
    for n in ordered[1:]:
        if n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = n
    parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)


def decode_lines(text: str | None) -> tuple[int, ...]:
    """The inverse of :func:`encode_lines`; ``""`` and None give ``()``.

    Raises ValueError on anything :func:`encode_lines` cannot have written.
    """
    if not text:
        return ()
    out: list[int] = []
    for part in text.split(","):
        first, sep, last = part.partition("-")
        if not first.isdigit() or (sep and not last.isdigit()):
            raise ValueError(f"bad line range {part!r} in {text[:80]!r}")
        lo = int(first)
        if sep:
            hi = int(last)
            if hi < lo:
                raise ValueError(f"bad line range {part!r}: end before start")
            out.extend(range(lo, hi + 1))
        else:
            out.append(lo)
    return tuple(out)


def to_db_time(value: datetime | None) -> datetime | None:
    """A naive UTC datetime for storage; naive input is taken to be UTC already.

    Columns hold naive UTC on every backend so that ordering and ``since`` compare instants,
    whatever time zone each CI job reported in.
    """
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def from_db_time(value: datetime | None) -> datetime | None:
    """The stored naive UTC datetime as an aware one (UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def sqlite_time(value: datetime | None) -> str | None:
    """A naive UTC datetime in the text form SQLAlchemy's SQLite DateTime reads and writes."""
    if value is None:
        return None
    return value.isoformat(sep=" ", timespec="microseconds")


def finite(value: float | None) -> float | None:
    """None for NaN and infinities: SQLite would store NaN as NULL anyway, PostgreSQL as NaN."""
    if value is None or not math.isfinite(value):
        return None
    return value


def clean_text(value: str | None) -> str | None:
    """Text every backend and driver accepts.

    PostgreSQL rejects NUL characters and UTF-8 cannot carry lone surrogates (what
    ``errors="surrogateescape"`` decoding leaves behind); both become U+FFFD.
    """
    if value is None or (value.isascii() and "\x00" not in value):
        return value
    return _UNSTORABLE.sub("\ufffd", value)


def dump_json(value: object) -> str:
    # ASCII-only escapes keep any string (lone surrogates included) storable and lossless.
    return json.dumps(value, separators=(",", ":"))


def load_json_strings(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(str(item) for item in json.loads(text))


def load_json_floats(text: str | None) -> tuple[float, ...]:
    if not text:
        return ()
    return tuple(float(item) for item in json.loads(text))


def run_counts(m: Mapping[str, Any]) -> model.RunCounts:
    """The counts columns of a `runs` row (as a mapping of its columns)."""
    return model.RunCounts(
        tests=m["tests"],
        passed=m["passed"],
        failed=m["failed"],
        errors=m["errors"],
        skipped=m["skipped"],
        retried=m["retried"],
        flaky=m["flaky"],
    )


def run_meta(m: Mapping[Any, Any]) -> model.RunMeta:
    """A `runs` row (as a mapping of its columns) as the run's metadata."""
    return model.RunMeta(
        service=m["service"],
        run_id=m["run_id"],
        attempt=m["attempt"],
        commit=m["commit_sha"],
        branch=m["branch"],
        timestamp=from_db_time(m["run_at"]),
        ci_provider=m["ci_provider"],
        url=m["url"],
    )


def benchmark(m: Mapping[str, Any]) -> model.BenchmarkResult:
    """A `benchmarks` row (as a mapping of its columns) as the model's record."""
    return model.BenchmarkResult(
        name=m["name"],
        value=m["value"],
        unit=m["unit"],
        statistic=m["statistic"],
        direction=model.Direction(m["direction"]),
        spread=m["spread"],
        spread_kind=None if m["spread_kind"] is None else model.SpreadKind(m["spread_kind"]),
        lower=m["lower"],
        upper=m["upper"],
        samples=load_json_floats(m["samples"]),
        iterations=m["iterations"],
        group=m["bench_group"],
    )


def _storable(values: Iterable[str | None]) -> bool:
    """Whether every one of many strings is storable as it is (one pass over their join)."""
    joined = "".join(v for v in values if v)
    if joined.isascii():
        return "\x00" not in joined
    return _UNSTORABLE.search(joined) is None


def storable_run(run: model.Run) -> model.Run:
    """The run with every text the database keeps made storable (``clean_text``): names from
    JSON escapes (``\\ud800``, ``\\u0000``) and paths of files whose names are not UTF-8 would
    otherwise fail the whole save. Cheap when there is nothing to clean (the usual case)."""
    meta = run.meta
    meta_texts = (meta.service, meta.run_id, meta.commit, meta.branch, meta.ci_provider, meta.url)
    tests = run.tests
    if (
        _storable(meta_texts)
        and _storable(s.path for s in run.sources)
        and _storable(t.test_id for t in tests)
        and _storable(t.suite for t in tests)
        and _storable(t.name for t in tests)
        and _storable(t.file for t in tests)
        and _storable(x for b in run.benchmarks for x in (b.name, b.group, b.unit))
    ):
        return run
    clean = clean_text
    return replace(
        run,
        meta=replace(
            meta,
            service=clean(meta.service) or "",
            run_id=clean(meta.run_id) or "",
            commit=clean(meta.commit),
            branch=clean(meta.branch),
            ci_provider=clean(meta.ci_provider),
            url=clean(meta.url),
        ),
        sources=tuple(replace(s, path=clean(s.path) or "") for s in run.sources),
        tests=tuple(
            replace(
                t,
                test_id=clean(t.test_id) or "",
                suite=clean(t.suite) or "",
                name=clean(t.name) or "",
                file=clean(t.file),
            )
            for t in tests
        ),
        benchmarks=tuple(
            replace(
                b, name=clean(b.name) or "", group=clean(b.group) or "", unit=clean(b.unit) or ""
            )
            for b in run.benchmarks
        ),
    )
