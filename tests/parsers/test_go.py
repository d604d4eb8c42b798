"""go test -bench text output and go test -json (test2json) streams: corpus and inline quirks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatekeeper.errors import EmptyReportError, InputError, ReportParseError, WrongFormatError
from gatekeeper.model import Direction, Outcome, SpreadKind
from gatekeeper.parsers import go_bench, gotest_json

# (file, number of ns/op results, all results, one benchmark, its group, its ns/op read by hand)
BENCH_CORPUS = [
    (
        "github-action-benchmark__go_test_bench_fiber_multi_pkg.txt",
        4,
        16,
        "BenchmarkUnmarshalitem-4",
        "github.com/gofiber/fiber/v3/middleware/csrf",
        4.360,
    ),
    (
        "github-action-benchmark__go_test_bench_odd_spacing.txt",
        8,
        10,
        "BenchmarkFib/my/tabled/benchmark_-_20,var1=13,var2=14",
        "_/Users/rhayasd/Develop/github.com/benchmark-action/github-action-benchmark/examples/go",
        40537.456,
    ),
    ("go-junit-report__go_test_bench_count5.txt", 2, 6, "BenchmarkFew-8", "pkg/count", 102.2),
    ("go-junit-report__go_test_bench_decimal.txt", 3, 3, "BenchmarkWeeny-8", "really/small", 0.26),
    (
        "go-junit-report__go_test_bench_mb_per_s.txt",
        2,
        6,
        "BenchmarkDecode/Digits/Huffman/1e4-8",
        "compress/flate",
        104427.0,
    ),
    (
        "go-junit-report__go_test_bench_multi_pkg.txt",
        6,
        6,
        "BenchmarkFanout/Channel/10000-8",
        "mycode/benchmarks/channels",
        2410200.0,
    ),
    (
        "go-junit-report__go_test_bench_with_logs.txt",
        2,
        2,
        "BenchmarkOne-8",
        "package/bench",
        0.2642,
    ),
    (
        "go-junit-report__go_test_benchmem.txt",
        2,
        6,
        "BenchmarkIpsHistoryLookup-8",
        "code.internal/state",
        15208.0,
    ),
]


@pytest.mark.parametrize(
    ("name", "timed", "total", "bench", "group", "ns"),
    BENCH_CORPUS,
    ids=[row[0].split("__")[1].removesuffix(".txt") for row in BENCH_CORPUS],
)
def test_go_bench_corpus(
    realworld: Path, name: str, timed: int, total: int, bench: str, group: str, ns: float
) -> None:
    data = (realworld / "bench" / name).read_bytes()
    report = go_bench.parse(data, name)
    assert report.format == "go-bench"
    assert len([b for b in report.benchmarks if b.unit == "ns"]) == timed
    assert len(report.benchmarks) == total
    got = {(b.group, b.name): b for b in report.benchmarks}
    assert got[(group, bench)].value == pytest.approx(ns)
    assert len(got) == total  # (package, name) is unique
    assert go_bench.sniff(data[:65536]) >= 85


def test_same_names_in_two_packages_stay_apart(realworld: Path) -> None:
    name = BENCH_CORPUS[0][0]
    report = go_bench.parse((realworld / "bench" / name).read_bytes(), name)
    apps = [b for b in report.benchmarks if b.name == "BenchmarkAppendMsgitem-4"]
    # cache: 55.76 ns/op; csrf: 0.3733 ns/op
    assert {b.group.rsplit("/", 1)[1]: b.value for b in apps} == {"cache": 55.76, "csrf": 0.3733}


def test_extra_metrics_are_results_of_their_own(realworld: Path) -> None:
    name = "go-junit-report__go_test_bench_mb_per_s.txt"
    got = {
        b.name: b
        for b in go_bench.parse((realworld / "bench" / name).read_bytes(), name).benchmarks
    }
    # BenchmarkDecode/Digits/Huffman/1e4-8  10000  104427 ns/op  95.76 MB/s  40629 B/op  5 allocs/op
    decode = "BenchmarkDecode/Digits/Huffman/1e4-8"
    assert got[f"{decode} (MB/s)"].value == 95.76
    assert got[f"{decode} (MB/s)"].direction is Direction.HIGHER_IS_BETTER
    assert got[f"{decode} (B/op)"].value == 40629.0
    assert got[f"{decode} (B/op)"].direction is Direction.LOWER_IS_BETTER
    assert got[f"{decode} (allocs/op)"].unit == "allocs/op"
    assert got[decode].iterations == 10000


def test_count_repetitions_become_samples(realworld: Path) -> None:
    name = "go-junit-report__go_test_bench_count5.txt"
    got = {
        b.name: b
        for b in go_bench.parse((realworld / "bench" / name).read_bytes(), name).benchmarks
    }
    new = got["BenchmarkNew-8"]
    assert new.samples == (350.0, 357.0, 354.0, 358.0, 345.0)
    assert new.value == pytest.approx(352.8)
    assert new.spread_kind is SpreadKind.STDDEV
    assert new.spread == pytest.approx(5.357238, rel=1e-6)
    assert new.iterations == 5 * 5000000
    assert new.group == "pkg/count"  # no pkg: header; from the `ok  pkg/count` trailer


def test_failed_and_skipped_benchmarks_are_warnings(realworld: Path) -> None:
    name = "go-junit-report__go_test_bench_fail_skip.txt"
    data = (realworld / "bench" / name).read_bytes()
    report = go_bench.parse(data, name)
    assert report.benchmarks == ()
    assert report.warnings == (
        f"{name}:6: benchmark BenchmarkError failed: bench_test.go:6: error message",
        f"{name}:9: benchmark BenchmarkFatal failed: bench_test.go:10: fatal message",
        f"{name}:12: benchmark BenchmarkSkip was skipped: bench_test.go:14: skip message",
    )
    assert go_bench.sniff(data) == 75


def test_go_bench_sniff_rejects_other_files(realworld: Path) -> None:
    for path in sorted((realworld / "bench").iterdir()):
        if "go_test_bench" not in path.name and "go_test_benchmem" not in path.name:
            assert go_bench.sniff(path.read_bytes()[:65536]) == 0, path.name
    assert go_bench.sniff(b"") == 0


def test_go_bench_custom_metric_and_no_ns_per_op() -> None:
    text = (
        "pkg: example.com/x\n"
        "BenchmarkHits-2   \t  100\t  0.93 hit-ratio\t  12.0 ns/op\n"
        "BenchmarkOnlyCustom-2 \t 100 \t 7.000 widgets/op\n"
        "BenchmarkFoo   \t10000 early EOF\n"
    )
    got = {b.name: b for b in go_bench.parse(text.encode(), "c.txt").benchmarks}
    assert set(got) == {
        "BenchmarkHits-2",
        "BenchmarkHits-2 (hit-ratio)",
        "BenchmarkOnlyCustom-2 (widgets/op)",
    }
    assert got["BenchmarkHits-2"].value == 12.0


def test_go_bench_empty() -> None:
    with pytest.raises(EmptyReportError, match=r"^e\.txt: no `go test -bench` result line"):
        go_bench.parse(b"PASS\nok  \texample.com/x\t0.01s\n", "e.txt")


# --- go test -json -----------------------------------------------------------------------------

JSON_CORPUS = "bench/go-junit-report__go_test_json_bench.jsonl"


def test_gotest_json_corpus(realworld: Path) -> None:
    data = (realworld / JSON_CORPUS).read_bytes()
    events = [json.loads(line) for line in data.splitlines() if line.strip()]
    ended = [e for e in events if e.get("Test") and e["Action"] in ("pass", "fail", "skip")]
    report = gotest_json.parse(data, JSON_CORPUS)
    assert report.format == "gotest-json"
    assert [t.name for t in report.tests] == [e["Test"] for e in ended] == ["TestA", "TestZ"]
    assert all(t.outcome is Outcome.PASSED for t in report.tests)
    assert report.tests[0].test_id == "package/name/bench::TestA"
    # "BenchmarkTest-8        \t1000000000\t         0.4407 ns/op\n" inside TestZ's output
    got = {b.name: b for b in report.benchmarks}
    assert got["BenchmarkTest-8"].value == pytest.approx(0.4407)
    assert got["BenchmarkOtherTest-8"].value == pytest.approx(0.2639)
    assert {b.group for b in report.benchmarks} == {"package/name/bench"}
    assert report.warnings == ()
    assert gotest_json.sniff(data[:65536]) == 95


def test_gotest_json_sniff_rejects_other_files(realworld: Path) -> None:
    for path in sorted((realworld / "bench").iterdir()):
        if path.name != Path(JSON_CORPUS).name:
            assert gotest_json.sniff(path.read_bytes()[:65536]) == 0, path.name
    for path in sorted((realworld / "cargo").glob("*.jsonl")):  # libtest JSON
        assert gotest_json.sniff(path.read_bytes()[:65536]) == 0, path.name


def _stream(*events: dict[str, object]) -> bytes:
    return "".join(json.dumps(e) + "\n" for e in events).encode()


P = "example.com/svc"


def _out(test: str | None, text: str) -> dict[str, object]:
    event: dict[str, object] = {"Action": "output", "Package": P, "Output": text}
    if test:
        event["Test"] = test
    return event


def _act(action: str, test: str | None = None, elapsed: float | None = None) -> dict[str, object]:
    event: dict[str, object] = {"Action": action, "Package": P}
    if test:
        event["Test"] = test
    if elapsed is not None:
        event["Elapsed"] = elapsed
    return event


def test_failure_subtests_and_skip_messages() -> None:
    data = _stream(
        _act("start"),
        _act("run", "TestA"),
        _out("TestA", "=== RUN   TestA\n"),
        _act("run", "TestA/empty_input"),
        _out("TestA/empty_input", "=== RUN   TestA/empty_input\n"),
        _out("TestA/empty_input", "    a_test.go:12: got 3, want 4\n"),
        _out("TestA/empty_input", "--- FAIL: TestA/empty_input (0.01s)\n"),
        _act("fail", "TestA/empty_input", 0.01),
        _out("TestA", "--- FAIL: TestA (0.02s)\n"),
        _act("fail", "TestA", 0.02),
        _act("run", "TestB"),
        _out("TestB", "=== RUN   TestB\n"),
        _out("TestB", "    b_test.go:5: needs docker\n"),
        _out("TestB", "--- SKIP: TestB (0.00s)\n"),
        _act("skip", "TestB", 0),
        _out(None, "FAIL\n"),
        _out(None, f"FAIL\t{P}\t0.030s\n"),
        _act("fail", elapsed=0.03),
    )
    report = gotest_json.parse(data, "t.jsonl")
    got = {t.name: t for t in report.tests}
    assert list(got) == ["TestA/empty_input", "TestA", "TestB"]
    sub = got["TestA/empty_input"]
    assert sub.test_id == f"{P}::TestA/empty_input"
    assert sub.outcome is Outcome.FAILED
    assert sub.message == "a_test.go:12: got 3, want 4"
    assert sub.failure_kind == "test failure"
    assert sub.duration == 0.01
    assert got["TestA"].outcome is Outcome.FAILED
    assert got["TestB"].outcome is Outcome.SKIPPED
    assert got["TestB"].message == "b_test.go:5: needs docker"
    assert report.warnings == ()


def test_long_output_keeps_its_start_and_end() -> None:
    logs = [_out("TestLong", f"    l_test.go:{i}: step {i} of a long log\n") for i in range(400)]
    data = _stream(
        _act("run", "TestLong"),
        _out("TestLong", "    l_test.go:1: panic: not really, a log line\n"),
        *logs,
        _out("TestLong", "    l_test.go:99: got 1, want 2\n"),
        _act("fail", "TestLong", 0.5),
    )
    (t,) = gotest_json.parse(data, "long.jsonl").tests
    assert t.message is not None and len(t.message) <= 4000
    assert t.message.startswith("l_test.go:1: panic: not really")
    assert t.message.endswith("l_test.go:99: got 1, want 2")
    assert "\n…\n" in t.message


def test_count_reruns_count_up_retry() -> None:
    data = _stream(
        _act("run", "TestFlaky"),
        _out("TestFlaky", "    f_test.go:9: timeout waiting for port\n"),
        _act("fail", "TestFlaky", 1.5),
        _act("run", "TestFlaky"),
        _act("pass", "TestFlaky", 0.2),
        _act("fail", elapsed=1.8),
    )
    tests = gotest_json.parse(data, "r.jsonl").tests
    assert [(t.retry, t.outcome) for t in tests] == [(0, Outcome.FAILED), (1, Outcome.PASSED)]
    assert tests[0].message == "f_test.go:9: timeout waiting for port"
    assert tests[1].message is None


def test_panic_kills_the_binary_mid_test() -> None:
    data = _stream(
        _act("run", "TestOk"),
        _act("pass", "TestOk", 0),
        _act("run", "TestBoom"),
        _out("TestBoom", "=== RUN   TestBoom\n"),
        _out(None, "panic: runtime error: index out of range [3] with length 3\n"),
        _out(None, "exit status 2\n"),
        _out(None, f"FAIL\t{P}\t0.005s\n"),
        _act("fail", elapsed=0.005),
    )
    report = gotest_json.parse(data, "p.jsonl")
    got = {t.name: t for t in report.tests}
    assert got["TestBoom"].outcome is Outcome.FAILED
    assert got["TestBoom"].duration is None
    assert "[package]" not in got  # the failure has a test to carry it


def test_package_failure_without_a_failing_test_is_an_error_record() -> None:
    data = _stream(
        _out(None, "# example.com/svc\n"),
        _out(None, "./svc.go:3:2: undefined: fmt.Printn\n"),
        _out(None, f"FAIL\t{P} [build failed]\n"),
        _act("fail", elapsed=0),
    )
    (t,) = gotest_json.parse(data, "b.jsonl").tests
    assert t.test_id == f"{P}::[package]"
    assert t.outcome is Outcome.ERROR
    assert t.failure_kind == "build failure"
    assert t.message is not None and "undefined: fmt.Printn" in t.message


def test_go124_build_events() -> None:
    # The layout of Go's own cmd/go/testdata/script/test_json_build.txt.
    path = f"{P} [{P}.test]"
    data = _stream(
        {"ImportPath": path, "Action": "build-output", "Output": f"# {path}\n"},
        {
            "ImportPath": path,
            "Action": "build-output",
            "Output": "svc_test.go:3:11: undefined: y\n",
        },
        {"ImportPath": path, "Action": "build-fail"},
        {"Action": "start", "Package": P},
        {"Action": "output", "Package": P, "Output": f"FAIL\t{P} [build failed]\n"},
        {"Action": "fail", "Package": P, "Elapsed": 0, "FailedBuild": path},
        {"ImportPath": "example.com/orphan", "Action": "build-fail"},
    )
    tests = gotest_json.parse(data, "b124.jsonl").tests
    assert [(t.test_id, t.failure_kind) for t in tests] == [
        (f"{P}::[package]", "build failure"),
        ("example.com/orphan::[package]", "build failure"),
    ]
    assert tests[0].message == f"# {path}\nsvc_test.go:3:11: undefined: y"


def test_benchmark_line_split_across_events_and_bench_action() -> None:
    # test2json emits `BenchmarkX-8  \t` before the benchmark finishes and prints the numbers.
    data = _stream(
        _out(None, "goos: linux\n"),
        _out(None, f"pkg: {P}\n"),
        _out("BenchmarkEncode", "BenchmarkEncode-8   \t"),
        _out("BenchmarkEncode", " 1000000\t      1042 ns/op\t  96 B/op\t  2 allocs/op\n"),
        _out("BenchmarkEncode-8", "--- BENCH: BenchmarkEncode-8\n"),
        _out("BenchmarkEncode-8", "    e_test.go:20: warmed up\n"),
        _act("bench", "BenchmarkEncode-8"),
        _out("BenchmarkFail", "--- FAIL: BenchmarkFail\n"),
        _act("fail", "BenchmarkFail"),
        _act("fail", elapsed=2.0),
    )
    report = gotest_json.parse(data, "bb.jsonl")
    got = {b.name: b for b in report.benchmarks}
    assert got["BenchmarkEncode-8"].value == 1042.0
    assert got["BenchmarkEncode-8 (B/op)"].value == 96.0
    assert got["BenchmarkEncode-8"].group == P
    outcomes = {t.name: t.outcome for t in report.tests}
    assert outcomes == {"BenchmarkEncode-8": Outcome.PASSED, "BenchmarkFail": Outcome.FAILED}


def test_foreign_lines_are_warnings() -> None:
    data = b"go: downloading example.com/dep v1.0.0\n" + _stream(
        _act("run", "TestA"), _act("pass", "TestA", 0), _act("pass", elapsed=0)
    )
    report = gotest_json.parse(data, "f.jsonl")
    assert len(report.tests) == 1
    assert report.warnings == (
        "f.jsonl:1: not a JSON event, ignored: go: downloading example.com/dep v1.0.0",
    )


def test_malformed_event_has_its_line() -> None:
    data = _stream(_act("run", "TestA")) + b'{"Action":"pass","Test":"TestA",\n'
    with pytest.raises(ReportParseError) as info:
        gotest_json.parse(data, "m.jsonl")
    assert info.value.line == 2
    assert str(info.value).startswith("m.jsonl:2: invalid JSON event")


def test_not_test2json() -> None:
    with pytest.raises(WrongFormatError, match="no 'Action' key") as info:
        gotest_json.parse(b'{ "type": "suite", "event": "started", "test_count": 1 }\n', "l.json")
    assert info.value.line == 1


def test_no_test_files_is_kept_with_a_warning() -> None:
    data = _stream(
        {"Action": "start", "Package": P},
        _out(None, f"?   \t{P}\t[no test files]\n"),
        {"Action": "skip", "Package": P, "Elapsed": 0},
    )
    report = gotest_json.parse(data, "n.jsonl")
    assert (report.tests, report.benchmarks) == ((), ())
    assert report.warnings == ("n.jsonl: no test and no benchmark ran ([no test files]?)",)


def test_empty_stream() -> None:
    with pytest.raises(EmptyReportError, match="no `go test -json` event"):
        gotest_json.parse(b"\n\n", "e.jsonl")


# --- robustness --------------------------------------------------------------------------------

_EVENT = st.fixed_dictionaries(
    {"Action": st.sampled_from(["run", "pass", "fail", "skip", "output", "bench", "build-fail"])},
    optional={
        "Package": st.sampled_from([P, "other", ""]),
        "Test": st.sampled_from(["TestA", "TestA/sub", "BenchmarkX", ""]),
        "Output": st.sampled_from(
            [
                "=== RUN   TestA\n",
                "    x.go:1: no\n",
                "BenchmarkX-2 \t",
                "10\t5 ns/op\n",
                "panic: x\n",
            ]
        )
        | st.text(max_size=20),
        "Elapsed": st.floats() | st.integers() | st.text(max_size=3),
        "FailedBuild": st.sampled_from(["", P]),
        "ImportPath": st.sampled_from([P, f"{P} [{P}.test]"]),
    },
)


@given(st.binary(max_size=300))
def test_sniffers_never_raise(data: bytes) -> None:
    assert 0 <= go_bench.sniff(data) <= 100
    assert 0 <= gotest_json.sniff(data) <= 100


@given(st.lists(_EVENT, max_size=10))
def test_gotest_json_raises_only_input_errors(events: list[dict[str, object]]) -> None:
    try:
        report = gotest_json.parse(_stream(*events), "f.jsonl")
    except InputError:
        return
    for t in report.tests:
        assert t.duration is None or t.duration >= 0
        assert t.message is None or len(t.message) <= 4000


@given(st.lists(st.text(max_size=60), max_size=10))
def test_go_bench_raises_only_input_errors(lines: list[str]) -> None:
    try:
        go_bench.parse("\n".join(lines).encode(), "f.txt")
    except InputError:
        return
