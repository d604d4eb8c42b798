"""Criterion console output and --output-format bencher: the corpus, then one case per quirk."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatekeeper.errors import EmptyReportError, InputError
from gatekeeper.model import BenchmarkResult, Direction, ParsedReport, SpreadKind
from gatekeeper.parsers import criterion

CONSOLE = [
    "bench/bencher__criterion_human_dogfood.txt",
    "bench/bencher__criterion_human_many.txt",
    "bench/bencher__criterion_human_regressed.txt",
]
BENCHER = "bench/github-action-benchmark__criterion_output_format_bencher.txt"
CATCH2 = "bench/github-action-benchmark__catch2_v2_bench_windows.txt"
# libtest #[bench] output: the libtest parser's, so Criterion must score below its ~80/~90.
LIBTEST = [
    "bench/bencher__cargo_bench_decimal_commas_aligned.txt",
    "bench/bencher__cargo_bench_failed_panic.txt",
    "bench/bencher__cargo_bench_multi_target.txt",
    "bench/github-action-benchmark__cargo_bench_bare_lines.txt",
    "bench/github-action-benchmark__cargo_bench_decimal_ns.txt",
    "bench/github-action-benchmark__cargo_bench_libtest.txt",
]


def parse(text: str, source: str = "bench.txt") -> ParsedReport:
    return criterion.parse(text.encode(), source)


def by_name(report: ParsedReport) -> dict[str, BenchmarkResult]:
    return {b.name: b for b in report.benchmarks}


# --- the corpus ------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", CONSOLE, ids=lambda p: Path(p).stem)
def test_console_corpus_one_result_per_time_line(realworld: Path, rel: str) -> None:
    data = (realworld / rel).read_bytes()
    # Independent count: `time:` lines whose bracket holds no `%` (change lines do).
    expected = len(re.findall(r"time:\s+\[[^\]%]*\]", data.decode()))
    report = criterion.parse(data, rel)
    assert report.format == "criterion"
    assert len(report.benchmarks) == expected > 0
    for b in report.benchmarks:
        assert b.unit == "ns"
        assert b.statistic == "estimate"
        assert b.spread_kind is SpreadKind.CI
        assert b.lower is not None and b.upper is not None
        assert b.lower <= b.value <= b.upper
        assert b.spread == pytest.approx(b.upper - b.lower)


@pytest.mark.parametrize("rel", CONSOLE, ids=lambda p: Path(p).stem)
def test_console_corpus_keeps_the_libtest_blocks_tests(realworld: Path, rel: str) -> None:
    data = (realworld / rel).read_bytes()
    # Independent count: the numbers of libtest's own `test result:` lines.
    expected = sum(
        int(p) + int(f) + int(i)
        for p, f, i in re.findall(
            r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", data.decode()
        )
    )
    report = criterion.parse(data, rel)
    assert len(report.tests) == expected > 0
    assert {t.outcome.value for t in report.tests} == {"skipped"}  # `cargo bench` ignores tests


def test_console_units_are_converted_to_ns(realworld: Path) -> None:
    report = criterion.parse((realworld / CONSOLE[1]).read_bytes(), "many.txt")
    got = by_name(report)
    # file  time: [320.62 ps 323.90 ps 327.55 ps]
    assert got["file"].value == pytest.approx(0.3239)
    assert got["file"].lower == pytest.approx(0.32062)
    # tracing_file  time: [16.652 µs 18.019 µs 19.562 µs]
    assert got["tracing_file"].value == pytest.approx(18019.0)
    assert got["tracing_file"].upper == pytest.approx(19562.0)
    # `benchmark: name with spaces    time: [18.195 ns 20.930 ns 24.240 ns]`
    assert got["benchmark: name with spaces"].value == pytest.approx(20.93)


def test_console_group_is_the_cargo_bench_target(realworld: Path) -> None:
    report = criterion.parse((realworld / CONSOLE[1]).read_bytes(), "many.txt")
    groups = {b.name: b.group for b in report.benchmarks}
    # `Running unittests (target/release/deps/log4rs_bench-f36c88332bd25d23)` comes first,
    # `Running unittests (target/release/deps/trace4rs_bench-ca13ba7c7c994a3d)` second.
    assert groups["file"] == groups["rolling_file"] == "log4rs_bench"
    assert groups["tracing_file"] == "trace4rs_bench"


def test_a_running_line_printed_by_a_bench_does_not_rename_the_group() -> None:
    log = """     Running benches/parse.rs (target/release/deps/parse-0123456789abcdef)
Benchmarking small
Running warmup
small                   time:   [2.3810 \u00b5s 2.3900 \u00b5s 2.4000 \u00b5s]
Running cache fill (level 2)
large                   time:   [8.1000 \u00b5s 8.2000 \u00b5s 8.3000 \u00b5s]
""".encode()
    report = criterion.parse(log, "bench.txt")
    assert {b.name: b.group for b in report.benchmarks} == {"small": "parse", "large": "parse"}


def test_console_name_on_its_own_line(realworld: Path) -> None:
    report = criterion.parse((realworld / CONSOLE[0]).read_bytes(), "dogfood.txt")
    got = by_name(report)
    assert list(got) == [
        "Adapter::Magic (JSON)",
        "Adapter::Json",
        "Adapter::Magic (Rust)",
        "Adapter::Rust",
    ]
    # Adapter::Magic (JSON) \n time: [3.4623 µs 3.4632 µs 3.4641 µs]
    assert got["Adapter::Magic (JSON)"].value == pytest.approx(3463.2)
    assert got["Adapter::Magic (JSON)"].group == ""


def test_console_panic_is_a_warning(realworld: Path) -> None:
    report = criterion.parse((realworld / CONSOLE[2]).read_bytes(), "regressed.txt")
    assert len(report.benchmarks) == 4
    assert any("regressed.txt:60: a benchmark panicked" in w for w in report.warnings)
    assert any("cargo bench stopped" in w for w in report.warnings)
    # `tracing_file  time: [52.371 µs 60.753 µs 71.099 µs]` (before the panic)
    assert by_name(report)["tracing_file"].value == pytest.approx(60753.0)


def test_bencher_format_corpus(realworld: Path) -> None:
    data = (realworld / BENCHER).read_bytes()
    expected = len(re.findall(r"(?m)^test .* \.\.\. bench:", data.decode()))
    report = criterion.parse(data, BENCHER)
    assert len(report.benchmarks) == expected == 4
    got = by_name(report)
    # test Fibonacci (Execution) ... bench:     1672496 ns/iter (+/- 10166)
    fib = got["Fibonacci (Execution)"]
    assert fib.value == 1672496.0
    assert fib.unit == "ns"
    assert fib.statistic == "median"
    assert fib.spread == 10166.0
    assert fib.spread_kind is SpreadKind.STDDEV  # Criterion: median +/- std_dev
    assert got["Create Realm"].value == 329.0
    assert report.warnings == ()


def test_bencher_format_custom_units_forced(realworld: Path) -> None:
    rel = "bench/github-action-benchmark__bencher_format_custom_units.txt"
    report = criterion.parse((realworld / rel).read_bytes(), rel)
    got = by_name(report)
    assert len(got) == 5
    assert got["cmov"].unit == "cycles/iter"
    assert got["cmov"].value == 2835.0
    assert got["cmov"].direction is Direction.LOWER_IS_BETTER
    assert got["download"].unit == "MS/s"
    assert got["download"].direction is Direction.HIGHER_IS_BETTER
    assert [w for w in report.warnings if "cycles/iter" in w]  # warned once, kept
    assert len(report.warnings) == 1


def test_sniff_console_beats_libtest(realworld: Path) -> None:
    for rel in CONSOLE:
        assert criterion.sniff((realworld / rel).read_bytes()[:65536]) == 95


def test_sniff_bencher_with_criterion_signal_beats_libtest(realworld: Path) -> None:
    assert criterion.sniff((realworld / BENCHER).read_bytes()) > 90


@pytest.mark.parametrize("rel", LIBTEST, ids=lambda p: Path(p).stem)
def test_sniff_stays_below_libtest(realworld: Path, rel: str) -> None:
    assert criterion.sniff((realworld / rel).read_bytes()) < 80


def test_sniff_rejects_other_formats(realworld: Path) -> None:
    assert criterion.sniff((realworld / CATCH2).read_bytes()) == 0
    for path in sorted((realworld / "bench").iterdir()):
        if "go_test" in path.name or path.suffix in (".json", ".jsonl"):
            assert criterion.sniff(path.read_bytes()) == 0, path.name
    assert criterion.sniff(b"") == 0
    assert criterion.sniff(b"\xff\xfe\x00garbage") == 0


# --- quirks, inline --------------------------------------------------------------------------

THROUGHPUT = """\
Benchmarking parse/small/1024
Benchmarking parse/small/1024: Warming up for 3.0000 s
Benchmarking parse/small/1024: Collecting 100 samples in estimated 5.0012 s (2.1M iterations)
Benchmarking parse/small/1024: Analyzing
parse/small/1024        time:   [2.3810 µs 2.3900 µs 2.4000 µs]
                        thrpt:  [406.90 MiB/s 408.62 MiB/s 410.16 MiB/s]
                 change:
                        time:   [-1.2000% +0.5000% +2.1000%] (p = 0.61 > 0.05)
                        thrpt:  [-2.0571% -0.4975% +1.2146%]
                        No change in performance detected.
Found 2 outliers among 100 measurements (2.00%)
  2 (2.00%) high mild

count/elements          time:   [998.12 ns 1.0012 µs 1.0050 µs]
                        thrpt:  [995.02 Kelem/s 998.80 Kelem/s 1.0019 Melem/s]
"""


def test_throughput_is_a_result_of_its_own_in_base_units() -> None:
    got = by_name(parse(THROUGHPUT))
    assert list(got) == [
        "parse/small/1024",
        "parse/small/1024 (thrpt)",
        "count/elements",
        "count/elements (thrpt)",
    ]
    thrpt = got["parse/small/1024 (thrpt)"]
    assert thrpt.unit == "B/s"
    assert thrpt.value == pytest.approx(408.62 * 1024**2)
    assert thrpt.lower == pytest.approx(406.90 * 1024**2)
    assert thrpt.upper == pytest.approx(410.16 * 1024**2)
    assert thrpt.direction is Direction.HIGHER_IS_BETTER
    # Mixed scales inside one bracket: each value is converted on its own.
    count = got["count/elements"]
    assert (count.lower, count.value, count.upper) == pytest.approx((998.12, 1001.2, 1005.0))
    elems = got["count/elements (thrpt)"]
    assert elems.unit == "elem/s"
    assert (elems.lower, elems.value, elems.upper) == pytest.approx((995020, 998800, 1001900))


def test_change_block_lines_are_not_results() -> None:
    report = parse(THROUGHPUT)
    assert all("%" not in b.name for b in report.benchmarks)
    assert report.warnings == ()


def test_ansi_colours_and_carriage_return_progress() -> None:
    text = (
        "Benchmarking fib 20: Warming up for 3.0000 s\r\x1b[2KBenchmarking fib 20: Analyzing\r"
        "\x1b[2K\x1b[32mfib 20\x1b[0m                  time:   [\x1b[2m26.029 µs\x1b[0m "
        "\x1b[1m26.251 µs\x1b[0m \x1b[2m26.505 µs\x1b[0m]\r\n"
    )
    (b,) = parse(text).benchmarks
    assert b.name == "fib 20"
    assert b.value == pytest.approx(26251.0)


def test_micro_sign_variants_and_seconds() -> None:
    text = (
        "a    time:   [1.0 us 2.0 us 3.0 us]\n"
        "b    time:   [1.0 \u03bcs 2.0 \u03bcs 3.0 \u03bcs]\n"
        "c    time:   [1.0 \u00b5s 2.0 \u00b5s 3.0 \u00b5s]\n"
        "d    time:   [1.5000 s 1.6000 s 1.7000 s]\n"
        "e    time:   [1.0 ms 2.0 ms 3.0 ms]\n"
    )
    got = by_name(parse(text))
    assert got["a"].value == got["b"].value == got["c"].value == pytest.approx(2000.0)
    assert got["d"].value == pytest.approx(1.6e9)
    assert got["e"].value == pytest.approx(2e6)


def test_long_name_after_benchmarking_lines() -> None:
    text = (
        "Benchmarking a rather long benchmark group/function/parameter: Analyzing\n"
        "a rather long benchmark group/function/parameter\n"
        "                        time:   [10.0 ns 11.0 ns 12.0 ns]\n"
    )
    (b,) = parse(text).benchmarks
    assert b.name == "a rather long benchmark group/function/parameter"


def test_name_taken_from_benchmarking_line_when_the_name_line_is_missing() -> None:
    text = (
        "Benchmarking group/with: colon: Analyzing\n"
        "                        time:   [10.0 ns 11.0 ns 12.0 ns]\n"
    )
    (b,) = parse(text).benchmarks
    assert b.name == "group/with: colon"


def test_custom_measurement_unit_is_kept_with_a_warning() -> None:
    text = "cycles  time:   [1200.5 cycles 1210.0 cycles 1220.1 cycles]\n"
    report = parse(text, "cyc.txt")
    (b,) = report.benchmarks
    assert (b.value, b.unit) == (1210.0, "cycles")
    assert report.warnings == (
        "cyc.txt:1: unit 'cycles' is not a time unit; values are kept in 'cycles'",
    )


def test_bencher_line_split_by_stderr_warning() -> None:
    # stdout is line-buffered: `test X ... ` waits while stderr's warning gets out first.
    text = (
        "Gnuplot not found, using plotters backend\n"
        "test Fibonacci ... Warning: Unable to complete 100 samples in 5.0s.\n"
        "bench:     1672496 ns/iter (+/- 10166)\n"
    )
    (b,) = parse(text).benchmarks
    assert (b.name, b.value, b.spread) == ("Fibonacci", 1672496.0, 10166.0)


def test_bench_lines_inside_a_libtest_block_are_libtest_ranges() -> None:
    text = (
        "running 1 test\n"
        "test tests::old_style ... bench:       3,161 ns/iter (+/- 975)\n"
        "\n"
        "test result: ok. 0 passed; 0 failed; 0 ignored; 1 measured; 0 filtered out\n"
        "\n"
        "Gnuplot not found, using plotters backend\n"
        "test criterion_one ... bench:         329 ns/iter (+/- 4)\n"
    )
    got = by_name(parse(text))
    assert got["tests::old_style"].value == 3161.0
    assert got["tests::old_style"].spread_kind is SpreadKind.RANGE
    assert got["criterion_one"].spread_kind is SpreadKind.STDDEV


def test_libtest_bench_throughput_suffix() -> None:
    text = (
        "running 1 test\n"
        "test tests::copy ... bench:       1,042 ns/iter (+/- 31) = 983 MB/s\n"
        "test result: ok. 0 passed; 0 failed; 0 ignored; 1 measured; 0 filtered out\n"
        "x    time:   [1.0 ns 2.0 ns 3.0 ns]\n"
    )
    got = by_name(parse(text))
    assert got["tests::copy"].value == 1042.0
    assert got["tests::copy (thrpt)"].value == 983.0
    assert got["tests::copy (thrpt)"].unit == "MB/s"
    assert got["tests::copy (thrpt)"].direction is Direction.HIGHER_IS_BETTER


def test_libtest_tests_around_criterion_are_results_too() -> None:
    text = (
        "     Running unittests src/lib.rs (target/release/deps/svc-0123456789abcdef)\n"
        "running 2 tests\n"
        "test tests::a ... ignored\n"
        "test tests::b ... ok\n"
        "\n"
        "test result: ok. 1 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out\n"
        "\n"
        "     Running benches/parse.rs (target/release/deps/parse-0123456789abcdef)\n"
        "x    time:   [1.0 ns 2.0 ns 3.0 ns]\n"
    )
    report = parse(text)
    assert [(b.group, b.name) for b in report.benchmarks] == [("parse", "x")]
    assert {t.test_id: t.outcome.value for t in report.tests} == {
        "svc::tests::a": "skipped",
        "svc::tests::b": "passed",
    }
    assert report.warnings == ()


def test_duplicate_name_keeps_the_last_with_a_warning() -> None:
    text = "x    time:   [1.0 ns 2.0 ns 3.0 ns]\nx    time:   [4.0 ns 5.0 ns 6.0 ns]\n"
    report = parse(text, "dup.txt")
    (b,) = report.benchmarks
    assert b.value == 5.0
    assert report.warnings == ("dup.txt:2: benchmark 'x' appears again; the last one is kept",)


def test_no_results_is_an_empty_report() -> None:
    text = "WARNING: HTML report generation will become a non-default optional feature\n"
    with pytest.raises(EmptyReportError, match=r"^empty\.txt: no Criterion results"):
        parse(text, "empty.txt")


def test_only_a_panic_is_a_report_with_a_warning() -> None:
    text = "thread 'main' panicked at 'boom', benches/b.rs:4:5\nerror: bench failed\n"
    report = parse(text, "p.txt")
    assert report.benchmarks == ()
    assert report.warnings[0].startswith("p.txt:1: a benchmark panicked: thread 'main'")


# --- robustness --------------------------------------------------------------------------------


@given(st.binary(max_size=400))
def test_sniff_never_raises(data: bytes) -> None:
    assert 0 <= criterion.sniff(data) <= 100


_LINES = st.sampled_from(
    [
        "x    time:   [1.0 ns 2.0 ns 3.0 ns]",
        "                        time:   [1.0 ns 2.0 ns 3.0 ns]",
        "                        thrpt:  [1.0 KiB/s 2.0 MiB/s 3.0 B/s]",
        "test a ... bench:  12 ns/iter (+/- 3)",
        "test a ... ",
        "bench:  12 ns/iter (+/- 3)",
        "running 1 test",
        "test result: ok.",
        "     Running benches/b.rs (target/release/deps/b-0123456789abcdef)",
        "Benchmarking x: Analyzing",
        "thread 'main' panicked at 'x'",
        "time:   [nan ns 1e999 ns 3 ns]",
        "\x1b[32m\r",
    ]
)


@given(st.lists(st.one_of(_LINES, st.text(max_size=40)), max_size=12))
def test_parse_raises_only_input_errors(lines: list[str]) -> None:
    try:
        report = parse("\n".join(lines))
    except InputError:
        return
    for b in report.benchmarks:
        assert b.name and b.unit
