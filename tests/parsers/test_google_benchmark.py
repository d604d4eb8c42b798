"""Google Benchmark JSON: compare.py inputs and one real run from the corpus, inline repetitions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatekeeper.errors import InputError, ReportParseError, WrongFormatError
from gatekeeper.model import Direction, SpreadKind
from gatekeeper.parsers import google_benchmark

TIMED = [
    "bench/github-action-benchmark__google_benchmark.json",
    "bench/google-benchmark__compare_test1_run1.json",
    "bench/google-benchmark__compare_test2_mixed_units.json",
    "bench/google-benchmark__compare_test3_repeated_and_aggregate.json",
    "bench/google-benchmark__compare_test5_seconds_unit.json",
]
NO_TIMES = "bench/google-benchmark__compare_test4_family_indices_no_times.json"
_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


@pytest.mark.parametrize("rel", TIMED, ids=lambda p: Path(p).stem)
def test_corpus_one_result_per_iteration_run_name(realworld: Path, rel: str) -> None:
    data = (realworld / rel).read_bytes()
    rows = json.loads(data)["benchmarks"]
    iterations = [r for r in rows if r.get("run_type", "iteration") == "iteration"]
    report = google_benchmark.parse(data, rel)
    assert report.format == "google-benchmark"
    assert [b.name for b in report.benchmarks] == list(dict.fromkeys(r["name"] for r in iterations))
    for b in report.benchmarks:
        mine = [r for r in iterations if r["name"] == b.name]
        times = [r["real_time"] * _NS[r["time_unit"]] for r in mine]
        assert b.unit == "ns"
        assert b.value == pytest.approx(sum(times) / len(times))
        assert b.iterations == sum(r["iterations"] for r in mine)


def test_known_values_read_by_hand(realworld: Path) -> None:
    def values(rel: str) -> dict[str, float]:
        report = google_benchmark.parse((realworld / rel).read_bytes(), rel)
        return {b.name: b.value for b in report.benchmarks}

    # "real_time": 2.1498980114547953e+02, "time_unit": "ns"; cpu_time 2.1365e+02 is not used
    assert values(TIMED[0])["fib_10"] == pytest.approx(214.98980114547953)
    # BM_Hi: "real_time": 42, "cpu_time": 24, "time_unit": "ms"
    assert values(TIMED[2])["BM_Hi"] == pytest.approx(42e6)
    # BM_ManyRepetitions: "real_time": 1, "time_unit": "s"
    assert values(TIMED[4])["BM_ManyRepetitions"] == pytest.approx(1e9)


def test_group_is_the_executable(realworld: Path) -> None:
    report = google_benchmark.parse((realworld / TIMED[0]).read_bytes(), TIMED[0])
    assert {b.group for b in report.benchmarks} == {"a.out"}  # "executable": "./a.out"


def test_repetitions_become_samples(realworld: Path) -> None:
    report = google_benchmark.parse((realworld / TIMED[3]).read_bytes(), "t3.json")
    got = {b.name: b for b in report.benchmarks}
    # BM_Two twice: real_time 9 and 8.
    assert got["BM_Two"].samples == (9.0, 8.0)
    assert got["BM_Two"].value == 8.5
    assert got["BM_Two"].spread == pytest.approx(0.7071067811865476)
    assert got["BM_Two"].spread_kind is SpreadKind.STDDEV
    # Aggregates with no aggregate_name cannot be told apart (mean? stddev?): warned, skipped.
    assert "BM_One" not in got and "short" not in got
    assert len(report.warnings) == 3
    assert all("aggregate of unknown kind" in w for w in report.warnings)


def test_rows_without_timings_do_not_crash(realworld: Path) -> None:
    data = (realworld / NO_TIMES).read_bytes()
    report = google_benchmark.parse(data, NO_TIMES)
    assert report.benchmarks == ()
    assert len(report.warnings) == len(json.loads(data)["benchmarks"]) == 12


def test_sniff_corpus(realworld: Path) -> None:
    for rel in TIMED:
        assert google_benchmark.sniff((realworld / rel).read_bytes()[:65536]) == 95
    assert google_benchmark.sniff((realworld / NO_TIMES).read_bytes()) == 85
    for path in sorted((realworld / "bench").iterdir()):
        if not path.name.startswith(("google-benchmark__", "github-action-benchmark__google")):
            assert google_benchmark.sniff(path.read_bytes()[:65536]) == 0, path.name


# --- a real run's layout, inline (the corpus has no aggregate rows of a real run) -------------


def _row(name: str, real: float, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "name": name,
        "family_index": 0,
        "per_family_instance_index": 0,
        "run_name": "BM_Parse/64",
        "run_type": "iteration",
        "repetitions": 3,
        "threads": 1,
        "iterations": 1000,
        "real_time": real,
        "cpu_time": real * 0.99,
        "time_unit": "us",
    }
    row.update(extra)
    return row


ROWS: list[dict[str, object]] = [
    _row("BM_Parse/64", 1.2, repetition_index=0, bytes_per_second=5.0e7),
    _row("BM_Parse/64", 1.4, repetition_index=1, bytes_per_second=4.0e7),
    _row("BM_Parse/64", 1.3, repetition_index=2, bytes_per_second=4.5e7),
    _row(
        "BM_Parse/64_mean",
        1.3,
        run_type="aggregate",
        aggregate_name="mean",
        aggregate_unit="time",
        iterations=3,
        bytes_per_second=4.5e7,
    ),
    _row(
        "BM_Parse/64_median",
        1.3,
        run_type="aggregate",
        aggregate_name="median",
        aggregate_unit="time",
        iterations=3,
        bytes_per_second=4.5e7,
    ),
    _row(
        "BM_Parse/64_stddev",
        0.1,
        run_type="aggregate",
        aggregate_name="stddev",
        aggregate_unit="time",
        iterations=3,
        bytes_per_second=5.0e6,
    ),
    _row(
        "BM_Parse/64_cv",
        0.0769,
        run_type="aggregate",
        aggregate_name="cv",
        aggregate_unit="percentage",
        iterations=3,
    ),
    _row(
        "BM_Parse_BigO",
        0.0,
        run_name="BM_Parse",
        run_type="aggregate",
        aggregate_name="BigO",
        big_o="N",
        real_coefficient=0.02,
    ),
    _row(
        "BM_Parse_RMS",
        0.0,
        run_name="BM_Parse",
        run_type="aggregate",
        aggregate_name="RMS",
        rms=0.01,
    ),
]
REPEATED = {
    "context": {"executable": "C:\\ci\\build\\bench_parse.exe", "library_build_type": "release"},
    "benchmarks": ROWS,
}


def test_real_repetitions_with_aggregates() -> None:
    report = google_benchmark.parse(json.dumps(REPEATED).encode(), "rep.json")
    got = {b.name: b for b in report.benchmarks}
    assert list(got) == ["BM_Parse/64", "BM_Parse/64 (bytes_per_second)"]
    b = got["BM_Parse/64"]
    assert b.value == pytest.approx(1300.0)  # the mean aggregate, in ns
    assert b.statistic == "mean"
    assert b.spread == pytest.approx(100.0)  # the stddev aggregate
    assert b.samples == pytest.approx((1200.0, 1400.0, 1300.0))
    assert b.iterations == 3000
    assert b.group == "bench_parse"
    rate = got["BM_Parse/64 (bytes_per_second)"]
    assert (rate.value, rate.unit, rate.spread) == (4.5e7, "B/s", 5.0e6)
    assert rate.direction is Direction.HIGHER_IS_BETTER
    assert report.warnings == ()  # cv, BigO and RMS are left out quietly


def test_aggregates_only() -> None:
    rows = [r for r in ROWS if r.get("run_type") == "aggregate"]
    report = google_benchmark.parse(json.dumps({"benchmarks": rows}).encode(), "agg.json")
    b = report.benchmarks[0]
    assert (b.name, b.value, b.spread, b.samples) == ("BM_Parse/64", 1300.0, 100.0, ())


def test_old_aggregate_names_by_suffix() -> None:
    rows = [
        {"name": "BM_X_mean", "run_type": "aggregate", "real_time": 10, "time_unit": "ns"},
        {"name": "BM_X_stddev", "run_type": "aggregate", "real_time": 2, "time_unit": "ns"},
    ]
    (b,) = google_benchmark.parse(json.dumps({"benchmarks": rows}).encode(), "o.json").benchmarks
    assert (b.name, b.value, b.spread) == ("BM_X", 10.0, 2.0)


def test_median_only() -> None:
    rows = [
        {
            "name": "BM_M_median",
            "run_name": "BM_M",
            "run_type": "aggregate",
            "aggregate_name": "median",
            "real_time": 7,
            "time_unit": "ms",
        }
    ]
    (b,) = google_benchmark.parse(json.dumps({"benchmarks": rows}).encode(), "m.json").benchmarks
    assert (b.value, b.statistic) == (7e6, "median")


def test_errors_and_skips_are_warnings() -> None:
    rows = [
        {
            "name": "BM_Err",
            "error_occurred": True,
            "error_message": "socket closed",
            "iterations": 0,
            "real_time": 0,
            "cpu_time": 0,
            "time_unit": "ns",
        },
        {"name": "BM_Skip", "skipped": True, "skip_message": "no GPU"},
        {"name": "BM_Ok", "iterations": 5, "real_time": 3, "cpu_time": 3, "time_unit": "ns"},
    ]
    report = google_benchmark.parse(json.dumps({"benchmarks": rows}).encode(), "e.json")
    assert [b.name for b in report.benchmarks] == ["BM_Ok"]
    assert report.warnings == (
        "e.json: benchmarks[0] (BM_Err): the benchmark reported an error: socket closed; skipped",
        "e.json: benchmarks[1] (BM_Skip): skipped: no GPU",
    )


def test_unknown_time_unit_is_kept_with_a_warning() -> None:
    rows = [{"name": "BM_U", "iterations": 1, "real_time": 3, "time_unit": "fortnights"}]
    report = google_benchmark.parse(json.dumps({"benchmarks": rows}).encode(), "u.json")
    assert (report.benchmarks[0].value, report.benchmarks[0].unit) == (3.0, "fortnights")
    assert "time_unit 'fortnights'" in report.warnings[0]


def test_empty_and_wrong_shapes() -> None:
    empty = google_benchmark.parse(b'{"context": {}, "benchmarks": []}', "e.json")
    assert empty.benchmarks == ()
    assert empty.warnings[0].startswith("e.json: 'benchmarks' is empty")
    with pytest.raises(WrongFormatError, match="no 'benchmarks' list"):
        google_benchmark.parse(b'{"context": {}}', "w.json")
    with pytest.raises(WrongFormatError, match=r"benchmarks\[0\] has no 'name'"):
        google_benchmark.parse(b'{"benchmarks": [{"real_time": 1}]}', "w.json")
    with pytest.raises(ReportParseError) as info:
        google_benchmark.parse(b'{"benchmarks": [\n{"name": "x",,}]}', "bad.json")
    assert info.value.line == 2


# --- robustness --------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
_KEYS = st.sampled_from(
    [
        "name",
        "run_name",
        "run_type",
        "aggregate_name",
        "real_time",
        "time_unit",
        "iterations",
        "error_occurred",
        "skipped",
        "bytes_per_second",
    ]
)
_ROW = st.fixed_dictionaries(
    {"name": st.sampled_from(["BM_a", "BM_a_mean", "BM_b"])},
    optional={
        "run_type": st.sampled_from(["iteration", "aggregate"]),
        "aggregate_name": st.sampled_from(["mean", "median", "stddev", "cv", "BigO", "x"]),
        "real_time": st.floats() | st.integers(),
        "time_unit": st.sampled_from(["ns", "us", "ms", "s", "?"]),
        "iterations": st.integers(),
        "bytes_per_second": st.floats(),
    },
)


@given(st.binary(max_size=300))
def test_sniff_never_raises(data: bytes) -> None:
    assert 0 <= google_benchmark.sniff(data) <= 100


@given(st.lists(_ROW | st.dictionaries(_KEYS, _JSON, max_size=5), max_size=6))
def test_parse_raises_only_input_errors(rows: list[dict[str, object]]) -> None:
    try:
        report = google_benchmark.parse(json.dumps({"benchmarks": rows}).encode(), "f.json")
    except InputError:
        return
    for b in report.benchmarks:
        assert math.isfinite(b.value)


def test_aggregates_of_google_benchmark_1_4_and_older_are_recognised_by_name() -> None:
    # Before run_type and aggregate_name (v1.5), the aggregates were rows named after the
    # benchmark with a suffix, written after its repetitions; complexity rows likewise.
    def row(name: str, real: float, **extra: object) -> dict[str, object]:
        return {"name": name, "iterations": 1000, "real_time": real, "cpu_time": real,
                "time_unit": "ns", **extra}  # fmt: skip

    doc = {
        "context": {"date": "2018-06-01 10:00:00", "num_cpus": 4},
        "benchmarks": [
            row("BM_Parse/64", 101), row("BM_Parse/64", 103), row("BM_Parse/64", 102),
            row("BM_Parse/64_mean", 102), row("BM_Parse/64_median", 102),
            row("BM_Parse/64_stddev", 1),
            row("BM_Sort/8", 50), row("BM_Sort/64", 400),
            {"name": "BM_Sort_BigO", "cpu_coefficient": 6.1, "real_coefficient": 6.2,
             "big_o": "N", "time_unit": "ns"},
            {"name": "BM_Sort_RMS", "rms": 0.02},
            row("BM_running_mean", 7),  # a benchmark that is merely named ..._mean
        ],
    }  # fmt: skip
    report = google_benchmark.parse(json.dumps(doc).encode(), "old.json")
    got = {b.name: b for b in report.benchmarks}
    assert sorted(got) == ["BM_Parse/64", "BM_Sort/64", "BM_Sort/8", "BM_running_mean"]
    assert got["BM_Parse/64"].samples == (101.0, 103.0, 102.0)
    assert got["BM_Parse/64"].spread == pytest.approx(1.0)
    assert got["BM_running_mean"].value == pytest.approx(7.0)
    assert report.warnings == ()
