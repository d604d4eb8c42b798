"""Criterion estimates.json: hand-written fixtures in Criterion's serde layout (no corpus file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatekeeper.errors import InputError, ReportParseError, WrongFormatError
from gatekeeper.model import Direction, SpreadKind
from gatekeeper.parsers import criterion_json

# Criterion 0.5 writes `serde_json::to_writer(estimates)` on one line, fields in struct order:
# Estimates{mean, median, median_abs_dev, slope: Option, std_dev},
# Estimate{confidence_interval{confidence_level, lower_bound, upper_bound}, point_estimate,
# standard_error}. Values are nanoseconds (WallTime).


def _est(point: float, low: float, high: float, se: float = 1.0) -> dict[str, object]:
    return {
        "confidence_interval": {
            "confidence_level": 0.95,
            "lower_bound": low,
            "upper_bound": high,
        },
        "point_estimate": point,
        "standard_error": se,
    }


LINEAR = json.dumps(
    {
        "mean": _est(1245.4, 1238.1, 1253.9, 4.0),
        "median": _est(1240.2, 1236.0, 1244.7, 2.2),
        "median_abs_dev": _est(9.1, 6.3, 12.8, 1.6),
        "slope": _est(1242.6, 1237.0, 1248.8, 3.0),
        "std_dev": _est(40.3, 25.2, 53.9, 7.3),
    },
    separators=(",", ":"),
).encode()

FLAT = json.dumps(
    {
        "mean": _est(8.1e6, 8.0e6, 8.2e6),
        "median": _est(8.05e6, 8.0e6, 8.1e6),
        "median_abs_dev": _est(1e4, 9e3, 1.1e4),
        "slope": None,  # flat sampling: no regression, Criterion reports the mean
        "std_dev": _est(5e4, 4e4, 6e4),
    }
).encode()

# Criterion 0.1/0.2 serialised a BTreeMap keyed by its Statistic enum.
OLD = json.dumps(
    {
        "Mean": _est(100.0, 99.0, 101.0),
        "Median": _est(99.5, 99.0, 100.0),
        "MedianAbsDev": _est(1.0, 0.5, 1.5),
        "Slope": _est(100.5, 100.0, 101.0),
        "StdDev": _est(2.0, 1.5, 2.5),
    }
).encode()

# change/estimates.json: the relative change against the baseline, mean and median only.
CHANGE = json.dumps({"mean": _est(0.012, -0.01, 0.03), "median": _est(0.01, -0.02, 0.02)}).encode()

SOURCE = "target/criterion/parse/small/new/estimates.json"


def test_linear_sampling_uses_the_slope() -> None:
    report = criterion_json.parse(LINEAR, SOURCE)
    (b,) = report.benchmarks
    assert report.format == "criterion-json"
    assert b.name == "parse/small"
    assert b.value == 1242.6
    assert b.statistic == "estimate"
    assert (b.lower, b.upper) == (1237.0, 1248.8)
    assert b.spread == 40.3
    assert b.spread_kind is SpreadKind.STDDEV
    assert b.unit == "ns"
    assert b.direction is Direction.LOWER_IS_BETTER
    assert report.warnings == ()


def test_flat_sampling_falls_back_to_the_mean() -> None:
    (b,) = criterion_json.parse(FLAT, "target/criterion/sleep/new/estimates.json").benchmarks
    assert b.name == "sleep"
    assert b.value == 8.1e6
    assert b.statistic == "mean"
    assert (b.lower, b.upper) == (8.0e6, 8.2e6)


def test_old_capitalised_keys() -> None:
    (b,) = criterion_json.parse(OLD, SOURCE).benchmarks
    assert b.value == 100.5
    assert b.spread == 2.0


def test_change_estimates_are_refused_with_a_hint() -> None:
    with pytest.raises(WrongFormatError, match="relative change") as info:
        criterion_json.parse(CHANGE, "target/criterion/parse/small/change/estimates.json")
    assert "new/estimates.json" in str(info.value)


@pytest.mark.parametrize(
    ("source", "name", "warned"),
    [
        ("target/criterion/parse/small/new/estimates.json", "parse/small", False),
        ("/home/ci/repo/target/criterion/fib/20/base/estimates.json", "fib/20", False),
        (r"C:\ci\target\criterion\Group\fn\1024\new\estimates.json", "Group/fn/1024", False),
        ("./criterion/a b/new/estimates.json", "a b", False),
        ("parse/small/new/estimates.json", "parse/small", True),
        ("/data/bench/parse/new/estimates.json", "data/bench/parse", True),
    ],
    ids=["relative", "absolute-base", "windows", "dot-spaces", "no-criterion", "criterion-home"],
)
def test_name_comes_from_the_path(source: str, name: str, warned: bool) -> None:
    report = criterion_json.parse(LINEAR, source)
    assert report.benchmarks[0].name == name
    assert bool(report.warnings) is warned


def test_a_bare_file_name_cannot_name_the_benchmark() -> None:
    with pytest.raises(WrongFormatError, match="cannot name the benchmark"):
        criterion_json.parse(LINEAR, "estimates.json")


def test_malformed_json_has_line_and_column() -> None:
    broken = b'{\n  "mean": {"point_estimate": 1.0,\n  "median": oops}\n'
    with pytest.raises(ReportParseError) as info:
        criterion_json.parse(broken, "x/criterion/a/new/estimates.json")
    assert info.value.line == 3
    assert "column" in str(info.value)
    assert str(info.value).startswith("x/criterion/a/new/estimates.json:3: ")


@pytest.mark.parametrize(
    ("doc", "missing"),
    [
        (b"[1, 2]", "found a JSON list"),
        (b'{"median": {"point_estimate": 1}}', "no 'mean' key"),
        (b'{"mean": {"point_estimate": 1}, "median": {}, "std_dev": {}}', "'std_dev' has no"),
        (b'{"mean": {"estimate": 1}, "median": {}, "std_dev": {"point_estimate": 1}}', "'mean'"),
        (b'{"mean": 3, "median": 2, "std_dev": 1}', "'mean' is not an object"),
    ],
    ids=["list", "no-mean", "bad-std-dev", "no-point-estimate", "numbers"],
)
def test_wrong_shapes_name_what_is_missing(doc: bytes, missing: str) -> None:
    with pytest.raises(WrongFormatError, match=missing):
        criterion_json.parse(doc, SOURCE)


def test_sniff() -> None:
    assert criterion_json.sniff(LINEAR) == 95
    assert criterion_json.sniff(b"\xef\xbb\xbf" + OLD) == 95
    assert criterion_json.sniff(CHANGE) == 60  # detected, so parse can say what it is
    assert criterion_json.sniff(b'{"benchmarks": []}') == 0
    assert criterion_json.sniff(b"") == 0
    assert criterion_json.sniff(b"\x00\xff") == 0


def test_sniff_is_zero_on_every_corpus_benchmark_file(realworld: Path) -> None:
    for path in sorted((realworld / "bench").iterdir()):
        assert criterion_json.sniff(path.read_bytes()[:65536]) == 0, path.name


@given(st.binary(max_size=300))
def test_sniff_never_raises(data: bytes) -> None:
    assert 0 <= criterion_json.sniff(data) <= 100


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["point_estimate", "confidence_interval", "lower_bound", "x"]), inner
        )
    ),
    max_leaves=8,
)


@given(st.dictionaries(st.sampled_from(["mean", "median", "std_dev", "slope", "Mean"]), _JSON))
def test_parse_raises_only_input_errors(doc: dict[str, object]) -> None:
    try:
        report = criterion_json.parse(json.dumps(doc).encode(), SOURCE)
    except InputError:
        return
    assert report.benchmarks[0].name == "parse/small"
