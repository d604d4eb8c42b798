"""Every record type goes in and comes back equal on SQLite and PostgreSQL; queries keep order."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from types import GeneratorType

import pytest

from gatekeeper import model
from gatekeeper.store import HistoryStore, codec, open_store
from tests.store.factories import T0, benchmarks, coverage_report, hours, many_results, result, run

Out = model.Outcome


@pytest.fixture
def store(db_url: str) -> Iterator[HistoryStore]:
    with open_store(db_url) as store:
        yield store


def _tests() -> list[model.TestResult]:
    return [
        result("user_service::tests::it_works", duration=0.001, file="src/lib.rs", line=12),
        result(
            "user_service::tests::flaky_cache",
            Out.FAILED,
            message="thread 'tests::flaky_cache' panicked at src/cache.rs:40:9:\nassertion failed",
            failure_kind="panic",
        ),
        result("user_service::tests::flaky_cache", Out.PASSED, retry=1),
        result("integration::db::migrates", Out.ERROR, message="timeout after 60s", duration=None,
               failure_kind="timeout"),
        result("integration::db::slow", Out.SKIPPED, message="ignored: needs docker"),
        result("integration::ünï::cödé_✓_🦀", Out.PASSED, message=None, duration=12.5),
        result("doc::src/lib.rs - foo (line 5)", Out.PASSED, duration=0.0),
    ]  # fmt: skip


def test_a_full_run_roundtrips(store: HistoryStore) -> None:
    cest = timezone(timedelta(hours=2))
    original = run(
        "12345",
        at=datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=cest),
        tests=_tests(),
        coverage=(coverage_report(),),
        benchmarks=benchmarks(),
        warnings=("junit.xml:3: tests=8 but 7 <testcase> elements", "ünïcödé warning"),
    )
    before = datetime.now(UTC)
    assert store.save_runs([original]) == [True]
    after = datetime.now(UTC)

    (stored,) = store.runs()
    assert stored.meta == original.meta  # aware datetimes compare as instants
    assert stored.meta.timestamp is not None
    assert stored.meta.timestamp.utcoffset() == timedelta(0)
    assert stored.counts == model.RunCounts.of(original.tests)
    assert stored.counts == model.RunCounts(
        tests=6, passed=4, failed=0, errors=1, skipped=1, retried=1, flaky=1
    )
    assert before - timedelta(seconds=1) <= stored.ingested_at <= after + timedelta(seconds=1)
    assert stored.warnings == original.warnings
    assert store.run(stored.pk) == stored
    assert store.run_sources(stored.pk) == list(original.sources)

    expected = sorted(original.tests, key=lambda r: (r.test_id, r.retry))
    assert store.run_results(stored.pk) == expected
    assert store.coverage(stored.pk) == list(original.coverage)
    assert store.benchmarks(stored.pk) == list(original.benchmarks)


def test_a_run_without_timestamp_or_details(store: HistoryStore) -> None:
    bare = model.Run(meta=model.RunMeta(service="svc", run_id="r1"), sources=())
    assert store.save_runs([bare]) == [True]
    (stored,) = store.runs()
    assert stored.meta == bare.meta
    assert stored.counts == model.RunCounts()
    assert store.run_results(stored.pk) == []
    assert store.coverage(stored.pk) == []
    assert store.benchmarks(stored.pk) == []
    assert store.run_sources(stored.pk) == []


def test_stored_runs_names_each_stored_run_its_metadata_and_files(store: HistoryStore) -> None:
    two_files = model.Run(
        meta=model.RunMeta(service="svc", run_id="7", attempt=2, commit="c7", branch="dev"),
        sources=(
            model.SourceFile("a.xml", "junit", "aa" * 32, 10),
            model.SourceFile("b.xml", "junit", "bb" * 32, 20),
        ),
    )
    no_files = model.Run(meta=model.RunMeta(service="svc", run_id="8"), sources=())
    first = run("1")
    store.save_runs([first, two_files, no_files])
    # 400 keys: more than one chunk of the IN (...) lookup
    asked = [("svc", str(i), 1) for i in range(400)] + [
        ("user-service", "1", 1), ("svc", "7", 2), ("svc", "7", 1), ("svc", "8", 1),
    ]  # fmt: skip
    assert store.stored_runs(asked) == {
        ("user-service", "1", 1): (first.meta, frozenset({"ab" * 32})),
        ("svc", "7", 2): (two_files.meta, frozenset({"aa" * 32, "bb" * 32})),
        ("svc", "8", 1): (no_files.meta, frozenset()),
    }
    assert store.stored_runs([]) == {}


def test_names_no_database_can_hold_are_stored_with_a_replacement_character(
    store: HistoryStore,
) -> None:
    # JSON escapes (libtest JSON, pytest-benchmark) and file names that are not UTF-8
    # (surrogateescape) bring lone surrogates and NULs, which neither SQLite's UTF-8 nor
    # PostgreSQL's text can hold; each becomes U+FFFD and the run is stored.
    odd = model.Run(
        meta=model.RunMeta(service="svc\ud800", run_id="r\x001", branch="m\udcffain"),
        sources=(model.SourceFile("reports/\udcff.xml", "junit", "ab" * 32, 10),),
        tests=(result("suite::te\x00st"), result("su\udcffite::ok", file="src/\ud800.rs")),
        benchmarks=(replace(benchmarks()[0], name="parse/\ud800", group="g\x00"),),
    )
    assert store.save_runs([odd]) == [True]
    (stored,) = store.runs()
    assert (stored.meta.service, stored.meta.run_id, stored.meta.branch) == (
        "svc\ufffd", "r\ufffd1", "m\ufffdain",
    )  # fmt: skip
    assert [s.path for s in store.run_sources(stored.pk)] == ["reports/\ufffd.xml"]
    assert sorted((r.test_id, r.suite, r.name, r.file) for r in store.run_results(stored.pk)) == [
        ("suite::te\ufffdst", "suite", "te\ufffdst", None),
        ("su\ufffdite::ok", "su\ufffdite", "ok", "src/\ufffd.rs"),
    ]
    (bench,) = store.benchmarks(stored.pk)
    assert (bench.name, bench.group) == ("parse/\ufffd", "g\ufffd")
    # Saved again as it came: the same run (the same cleaned key), not a second one.
    assert store.save_runs([odd]) == [False]


def test_a_storable_run_is_passed_through_untouched() -> None:
    clean = run("1", tests=[result("integration::ünï::cödé_✓_🦀"), result("a::b")])
    assert codec.storable_run(clean) is clean


def test_nonsense_floats_become_none_and_bad_text_is_made_storable(store: HistoryStore) -> None:
    weird = run(
        "1",
        tests=[
            result("s::nan", duration=float("nan")),
            result("s::inf", duration=float("inf")),
            result("s::nul", Out.FAILED, message="captured\x00stdout \udcff"),
        ],
    )
    store.save_runs([weird])
    (stored,) = store.runs()
    by_id = {r.test_id: r for r in store.run_results(stored.pk)}
    assert by_id["s::nan"].duration is None
    assert by_id["s::inf"].duration is None
    assert by_id["s::nul"].message == "captured\ufffdstdout \ufffd"


def test_results_sort_the_same_on_every_backend(store: HistoryStore) -> None:
    ids = ["s::ab", "s::aB", "s::a_b", "s::Ab", "s::a b", "s::ä", "s::z", "s::10", "s::9"]
    tests = [result(t) for t in ids]
    store.save_runs([run("1", tests=tests)])
    (stored,) = store.runs()
    assert [r.test_id for r in store.run_results(stored.pk)] == sorted(ids)


def test_many_results_roundtrip(store: HistoryStore) -> None:
    tests = many_results(3000, failing_every=7)
    store.save_runs([run("big", tests=tests)])
    (stored,) = store.runs()
    assert stored.counts.tests == 3000
    assert stored.counts.failed == len(range(0, 3000, 7))
    assert store.run_results(stored.pk) == sorted(tests, key=lambda r: r.test_id)


def test_coverage_line_numbers_survive_large_files(store: HistoryStore) -> None:
    covered = tuple(n for n in range(1, 20000) if n % 3)
    missed = tuple(n for n in range(1, 20000) if not n % 3)
    report = model.CoverageReport(
        producer="coverage.py",
        sources=(),
        files=(
            model.FileCoverage(
                "big.py", "", len(covered) + len(missed), len(covered),
                covered_lines=covered, missed_lines=missed,
            ),
        ),
        packages=(),
        total=model.PackageCoverage("", len(covered) + len(missed), len(covered)),
    )  # fmt: skip
    store.save_runs([run("1", coverage=(report, coverage_report()))])
    (stored,) = store.runs()
    assert store.coverage(stored.pk) == [report, coverage_report()]


# -- query order and filters ---------------------------------------------------------------------


def _history(store: HistoryStore) -> None:
    """Runs saved out of time order, on two branches and two services."""
    t = "svc::t"
    runs = [
        run("3", at=T0 + hours(3), tests=[result(t, Out.FAILED), result(t, Out.PASSED, retry=1)]),
        run("1", at=T0 + hours(1), tests=[result(t, Out.PASSED), result("svc::u")]),
        run("2", at=T0 + hours(2), branch="feature", tests=[result(t, Out.FAILED)]),
        run("4", at=T0 + hours(4), tests=[result(t, Out.SKIPPED)], benchmarks=benchmarks()),
        run("1", at=T0 + hours(5), service="other", tests=[result("a::z"), result(t)]),
    ]
    assert store.save_runs(runs) == [True] * 5
    store.save_runs([run("0", at=T0, tests=[result(t, Out.ERROR)], benchmarks=benchmarks())])


def test_runs_newest_first_with_filters(store: HistoryStore) -> None:
    _history(store)
    assert [r.meta.run_id for r in store.runs()] == ["1", "4", "3", "2", "1", "0"]
    assert [r.meta.run_id for r in store.runs(service="user-service")] == ["4", "3", "2", "1", "0"]
    assert [r.meta.run_id for r in store.runs(branch="main", limit=2)] == ["1", "4"]
    assert [r.meta.run_id for r in store.runs(service="user-service", branch="feature")] == ["2"]
    since = (T0 + hours(2)).astimezone(timezone(timedelta(hours=-5)))  # any zone: an instant
    assert [r.meta.run_id for r in store.runs(since=since)] == ["1", "4", "3", "2"]
    assert store.services() == ["other", "user-service"]


def test_runs_without_timestamp_sort_by_ingest_time(store: HistoryStore) -> None:
    store.save_runs([run("old", at=datetime(2020, 1, 1, tzinfo=UTC))])
    store.save_runs([run("untimed", at=None)])
    assert [r.meta.run_id for r in store.runs()] == ["untimed", "old"]
    assert store.runs()[0].meta.timestamp is None


def test_test_history_oldest_first(store: HistoryStore) -> None:
    _history(store)
    history = store.test_history("user-service", "svc::t")
    assert [(e.run_id, e.retry, e.outcome) for e in history] == [
        ("0", 0, Out.ERROR),
        ("1", 0, Out.PASSED),
        ("2", 0, Out.FAILED),
        ("3", 0, Out.FAILED),
        ("3", 1, Out.PASSED),
        ("4", 0, Out.SKIPPED),
    ]
    first = history[0]
    assert first.service == "user-service"
    assert first.timestamp == T0
    assert first.branch == "main"
    assert first.commit == "0123abcd"
    assert first.attempt == 1
    assert first.duration == 0.25
    main = store.test_history("user-service", "svc::t", branch="main", since=T0 + hours(1))
    assert [(e.run_id, e.retry) for e in main] == [("1", 0), ("3", 0), ("3", 1), ("4", 0)]
    assert store.test_history("user-service", "no::such") == []
    assert [e.run_id for e in store.test_history("other", "svc::t")] == ["1"]


def test_executions_are_streamed_in_classifier_order(store: HistoryStore) -> None:
    _history(store)
    stream = store.executions()
    assert isinstance(stream, GeneratorType)
    rows = [(e.service, e.test_id, e.run_id, e.retry) for e in stream]
    assert rows == [
        ("other", "a::z", "1", 0),
        ("other", "svc::t", "1", 0),
        ("user-service", "svc::t", "0", 0),
        ("user-service", "svc::t", "1", 0),
        ("user-service", "svc::t", "2", 0),
        ("user-service", "svc::t", "3", 0),
        ("user-service", "svc::t", "3", 1),
        ("user-service", "svc::t", "4", 0),
        ("user-service", "svc::u", "1", 0),
    ]
    assert rows == sorted(rows, key=lambda r: (r[0], r[1]))
    feature = [(e.test_id, e.run_id) for e in store.executions(branch="feature")]
    assert feature == [("svc::t", "2")]
    recent = store.executions(service="user-service", since=T0 + hours(3))
    assert [(e.run_id, e.retry) for e in recent] == [("3", 0), ("3", 1), ("4", 0)]


def test_executions_can_be_abandoned_midway(store: HistoryStore) -> None:
    _history(store)
    stream = store.executions()
    next(stream)
    stream.close()  # gives its connection back
    assert store.save_runs([run("later", tests=[result("svc::t")])]) == [True]
    assert len(list(store.executions(service="user-service"))) == 8


def test_executions_stream_more_than_one_batch(store: HistoryStore) -> None:
    tests = many_results(2500)
    store.save_runs([run("a", tests=tests), run("b", at=T0 + hours(1), tests=tests)])
    seen = [(e.test_id, e.run_id) for e in store.executions()]
    assert len(seen) == 5000
    assert seen == sorted(seen)


def test_execution_list_holds_what_the_stream_yields(store: HistoryStore) -> None:
    """The classifier's fast read (driver rows joined in memory) gives the same executions as
    the ordered stream, field for field, with every filter; more than one fetch batch."""
    _history(store)
    tests = many_results(6000)
    store.save_runs([run("big", at=T0 + hours(9), tests=tests)])
    cases: list[dict[str, object]] = [
        {},
        {"service": "user-service"},
        {"service": "other"},
        {"service": "nobody"},
        {"branch": "feature"},
        {"service": "user-service", "since": T0 + hours(3)},
    ]
    for filters in cases:
        streamed = list(store.executions(**filters))  # type: ignore[arg-type]
        listed = store.execution_list(**filters)  # type: ignore[arg-type]
        assert isinstance(listed, list)
        assert sorted(listed, key=repr) == sorted(streamed, key=repr), filters
    assert len(store.execution_list()) == 9 + 6000
    assert {e.timestamp.utcoffset() for e in store.execution_list() if e.timestamp} == {
        timedelta(0)
    }


def test_benchmark_history_newest_first(store: HistoryStore) -> None:
    _history(store)
    history = store.benchmark_history("user-service", "parse/small")
    assert [(r.meta.run_id, b.value) for r, b in history] == [("4", 1234.5), ("0", 1234.5)]
    assert history[0][1] == benchmarks()[0]
    assert [
        r.meta.run_id for r, _ in store.benchmark_history("user-service", "throughput", limit=1)
    ] == ["4"]
    assert store.benchmark_history("user-service", "parse/small", branch="feature") == []
    assert store.benchmark_history("user-service", "parse/small", group="other") == []
    assert len(store.benchmark_history("user-service", "parse/small", group="criterion")) == 2


def test_has_run(store: HistoryStore) -> None:
    _history(store)
    assert store.has_run("user-service", "3", 1)
    assert not store.has_run("user-service", "3", 2)
    assert not store.has_run("nobody", "3", 1)


def test_first_seen_is_the_earliest_run_even_when_backfilled(store: HistoryStore) -> None:
    store.save_runs([run("2", at=T0 + hours(2), tests=[result("s::old"), result("s::new")])])
    store.save_runs([run("1", at=T0 + hours(1), tests=[result("s::old")])])  # backfill
    store.save_runs([run("3", at=T0 + hours(3), tests=[result("s::old"), result("s::newer")])])
    assert store.first_seen("user-service") == {
        "s::old": T0 + hours(1),
        "s::new": T0 + hours(2),
        "s::newer": T0 + hours(3),
    }
    # One call with several runs of one service, newest first in the list.
    store.save_runs(
        [
            run("5", at=T0 + hours(5), service="b", tests=[result("x::a"), result("x::b")]),
            run("4", at=T0 + hours(4), service="b", tests=[result("x::a")]),
        ]
    )
    assert store.first_seen("b") == {"x::a": T0 + hours(4), "x::b": T0 + hours(5)}


def test_float_values_are_exact(store: HistoryStore) -> None:
    value = math.pi * 1e-9
    bench = model.BenchmarkResult(name="pi", value=value, unit="ns", samples=(value, 1e300))
    store.save_runs([run("1", benchmarks=(bench,))])
    (stored,) = store.runs()
    assert store.benchmarks(stored.pk) == [bench]


def test_failure_tally_counts_in_sql(db_url: str) -> None:
    F, E, P = model.Outcome.FAILED, model.Outcome.ERROR, model.Outcome.PASSED
    runs = [
        run("1", at=T0, tests=[result("s::flaky", F, message="first"), result("s::ok")]),
        run(
            "2",
            at=T0 + hours(1),
            tests=[
                result("s::flaky", F, message="again"),
                result("s::flaky", P, retry=1),
                result("s::ok"),
                result("s::boom", E, message="crash"),
            ],
        ),
        run("3", at=T0 + hours(2), tests=[result("s::flaky"), result("s::ok")]),
        run("9", service="other", tests=[result("s::flaky", F)]),
    ]
    with open_store(db_url) as store:
        store.save_runs(runs)
        tally = store.failure_tally("user-service")
    assert [(t.test_id, t.failures, t.executions, t.last_message) for t in tally] == [
        ("s::flaky", 2, 4, "again"),  # 2 failed executions of 4 (a retry counts), latest message
        ("s::boom", 1, 1, "crash"),
    ]
