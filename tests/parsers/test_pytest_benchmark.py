"""pytest-benchmark JSON: 2015 storage files, --benchmark-json output, and inline quirks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatekeeper.errors import InputError, ReportParseError, WrongFormatError
from gatekeeper.model import SpreadKind
from gatekeeper.parsers import pytest_benchmark

CORPUS = [
    "bench/pytest-benchmark__storage_0001_2015_old_format.json",
    "bench/pytest-benchmark__storage_0030_parametrized.json",
    "bench/github-action-benchmark__pytest_benchmark.json",
    "bench/github-action-benchmark__pytest_benchmark_several_units.json",
]


@pytest.mark.parametrize("rel", CORPUS, ids=lambda p: Path(p).stem)
def test_corpus_one_result_per_benchmark(realworld: Path, rel: str) -> None:
    data = (realworld / rel).read_bytes()
    doc = json.loads(data)
    report = pytest_benchmark.parse(data, rel)
    assert report.format == "pytest-benchmark"
    assert [b.name for b in report.benchmarks] == [e["fullname"] for e in doc["benchmarks"]]
    for b, entry in zip(report.benchmarks, doc["benchmarks"], strict=True):
        stats = entry["stats"]
        assert b.unit == "ns"
        assert b.statistic == "mean"
        assert b.value == pytest.approx(stats["mean"] * 1e9)
        assert b.spread == pytest.approx(stats["stddev"] * 1e9)
        assert b.spread_kind is SpreadKind.STDDEV
        assert b.lower == pytest.approx(stats["min"] * 1e9)
        assert b.upper == pytest.approx(stats["max"] * 1e9)
        assert b.iterations == stats["rounds"] * stats["iterations"]
        assert b.group == ""  # "group": null in every corpus file


def test_known_values_read_by_hand(realworld: Path) -> None:
    rel = CORPUS[2]
    got = {
        b.name: b for b in pytest_benchmark.parse((realworld / rel).read_bytes(), rel).benchmarks
    }
    # "mean": 2.408868133322941e-05 (seconds)
    assert got["bench.py::test_fib_10"].value == pytest.approx(24088.68133322941)
    # "mean": 0.002985030672661863
    assert got["bench.py::test_fib_20"].value == pytest.approx(2985030.672661863)
    old = pytest_benchmark.parse((realworld / CORPUS[0]).read_bytes(), CORPUS[0]).benchmarks[0]
    # "mean": 2.622408132654948e-07, rounds 9987 x iterations 418
    assert old.value == pytest.approx(262.2408132654948)
    assert old.iterations == 9987 * 418


def test_trimmed_data_lists_are_not_used_as_samples(realworld: Path) -> None:
    # github-action-benchmark trimmed `data` by hand: "... omitted to keep this file small".
    rel = CORPUS[3]
    report = pytest_benchmark.parse((realworld / rel).read_bytes(), rel)
    got = {b.name: b for b in report.benchmarks}
    assert got["bench.py::test_fib_1"].samples == ()
    assert len([w for w in report.warnings if "stats.data" in w]) == 3
    # test_sleep_2 kept all 5 rounds: those are real samples, converted to ns.
    sleep = got["bench.py::test_sleep_2"]
    doc = json.loads((realworld / rel).read_bytes())
    raw = next(e for e in doc["benchmarks"] if e["name"] == "test_sleep_2")["stats"]["data"]
    assert sleep.samples == pytest.approx([v * 1e9 for v in raw])
    assert len(sleep.samples) == 5


def test_sniff_corpus(realworld: Path) -> None:
    for path in sorted((realworld / "bench").iterdir()):
        ours = path.name.startswith(("pytest-benchmark__", "github-action-benchmark__pytest"))
        assert pytest_benchmark.sniff(path.read_bytes()[:65536]) == (95 if ours else 0)


# --- inline ----------------------------------------------------------------------------------


def _doc(*benches: dict[str, object], **top: object) -> bytes:
    return json.dumps({"benchmarks": list(benches), **top}).encode()


def _bench(name: str, **stats: object) -> dict[str, object]:
    base: dict[str, object] = {"min": 1e-6, "max": 3e-6, "mean": 2e-6, "stddev": 5e-7}
    base.update(stats)
    return {"name": name, "group": None, "stats": base}


def test_oldest_schema_without_fullname_or_machine_info() -> None:
    report = pytest_benchmark.parse(_doc(_bench("test_a", rounds=10, iterations=3)), "old.json")
    (b,) = report.benchmarks
    assert b.name == "test_a"
    assert b.value == pytest.approx(2000.0)
    assert b.iterations == 30


def test_group_and_raw_samples() -> None:
    bench = _bench("test_b", data=[1e-6, 2e-6, 3e-6])
    bench.update(group="parsing", fullname="tests/test_p.py::test_b")
    (b,) = pytest_benchmark.parse(_doc(bench), "g.json").benchmarks
    assert (b.name, b.group) == ("tests/test_p.py::test_b", "parsing")
    assert b.samples == pytest.approx((1000.0, 2000.0, 3000.0))


def test_stats_null_is_skipped_with_a_warning() -> None:
    report = pytest_benchmark.parse(
        _doc({"name": "test_x", "stats": None}, _bench("test_y")), "n.json"
    )
    assert [b.name for b in report.benchmarks] == ["test_y"]
    assert report.warnings == (
        "n.json: benchmarks[0] (test_x): no 'stats' (the benchmark did not run); skipped",
    )


def test_empty_benchmarks_is_kept_with_a_warning() -> None:
    # Like a JUnit file with no test case: a valid report of nothing.
    data = _doc(machine_info={"node": "ci"}, commit_info={"id": "abc"}, version="4.0.0")
    report = pytest_benchmark.parse(data, "e.json")
    assert report.benchmarks == ()
    assert report.warnings[0].startswith("e.json: 'benchmarks' is empty")
    assert pytest_benchmark.sniff(data) == 90


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[]", "found a JSON list"),
        (b'{"machine_info": {}}', "no 'benchmarks' list"),
        (_doc({"stats": {"mean": 1}}), r"benchmarks\[0\] has no 'name' or 'fullname'"),
        (_doc({"name": "t", "stats": {"median": 1}}), r"'stats' has no numeric 'mean'"),
        (_doc({"name": "t", "stats": {"mean": "fast"}}), r"'stats' has no numeric 'mean'"),
    ],
    ids=["list", "no-benchmarks", "no-name", "no-mean", "string-mean"],
)
def test_wrong_shape(data: bytes, message: str) -> None:
    with pytest.raises(WrongFormatError, match=message):
        pytest_benchmark.parse(data, "w.json")


def test_malformed_json() -> None:
    with pytest.raises(ReportParseError) as info:
        pytest_benchmark.parse(b'{"benchmarks": [\n  {"name": "t",\n', "cut.json")
    assert info.value.line == 3
    assert str(info.value).startswith("cut.json:3: pytest-benchmark JSON is not valid JSON")


# --- robustness --------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
_KEYS = st.sampled_from(["name", "fullname", "group", "stats", "mean", "data", "rounds"])
_ENTRY = st.dictionaries(_KEYS, _JSON | st.dictionaries(_KEYS, _JSON), max_size=5)


@given(st.binary(max_size=300))
def test_sniff_never_raises(data: bytes) -> None:
    assert 0 <= pytest_benchmark.sniff(data) <= 100


@given(st.lists(_ENTRY, max_size=4))
def test_parse_raises_only_input_errors(entries: list[dict[str, object]]) -> None:
    try:
        report = pytest_benchmark.parse(_doc(*entries), "f.json")
    except InputError:
        return
    assert all(b.unit == "ns" for b in report.benchmarks)
