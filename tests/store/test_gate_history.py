"""The gate's history (schema version 3) on SQLite files and PostgreSQL: decisions, the coverage
ratchet's baseline, recent test counts, benchmark baselines; and upgrading version-2 databases.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, inspect, select, text

from gatekeeper import model
from gatekeeper.errors import SchemaVersionError, StoreError
from gatekeeper.store import SCHEMA_VERSION, HistoryStore, migrations, open_store
from gatekeeper.store.engine import make_engine, parse_url
from gatekeeper.store.tables import GATE_COVERAGE, GATE_DECISIONS, METADATA, RUNS
from tests.store.factories import T0, benchmarks, coverage_report, hours, many_results, result, run

V2_DUMP = Path(__file__).parent / "data" / "schema_v2_sqlite.sql"
SERVICE = "user-service"
# 14:30 at UTC+2: stored as 12:30 UTC.
DECIDED = datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
GATE_TABLES = ("gate_decisions", "gate_coverage")


@pytest.fixture
def store(db_url: str) -> Iterator[HistoryStore]:
    with open_store(db_url) as store:
        yield store


@pytest.fixture
def other_url(db_url: str, tmp_path: Path) -> str:
    """A second empty database on the same backend as ``db_url``."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'other.db'}"
    base = db_url.split("?", 1)[0]
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{base}?options=-csearch_path%3D{schema}"


# -- helpers: plain data and direct reads of the tables ------------------------------------------


def _figure(
    subject: str, valid: int, covered: int, branches: tuple[int, int] = (0, 0)
) -> model.CoverageFigure:
    return model.CoverageFigure(
        subject=subject,
        files=3,
        lines_valid=valid,
        lines_covered=covered,
        branches_valid=branches[0],
        branches_covered=branches[1],
    )


def _document(passed: bool, *failed_tests: str) -> str:
    """A decision document shaped like ``gate --format json``: ``failures`` is a list."""
    failures = [{"kind": "test", "subject": t, "message": "failed"} for t in failed_tests]
    return json.dumps({"passed": passed, "failures": failures}, sort_keys=True)


def _decide(
    store: HistoryStore,
    run_id: str,
    passed: bool,
    *figures: model.CoverageFigure,
    service: str = SERVICE,
    attempt: int = 1,
) -> None:
    store.save_decision(
        service,
        run_id,
        attempt,
        passed=passed,
        decided_at=DECIDED,
        document=_document(passed),
        coverage=figures,
    )


def _engine(url: str) -> Engine:
    return create_engine(parse_url(url).url)


def _read(url: str, query: Any) -> list[tuple[Any, ...]]:
    engine = _engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(query)]
    engine.dispose()
    return rows


def _execute(url: str, *statements: str) -> None:
    engine = _engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def _decision_rows(url: str) -> list[tuple[Any, ...]]:
    """(run_id, attempt, passed, decided_at, base_ref, failures, document) by run_id."""
    d = GATE_DECISIONS
    return _read(
        url,
        select(
            RUNS.c.run_id,
            RUNS.c.attempt,
            d.c.passed,
            d.c.decided_at,
            d.c.base_ref,
            d.c.failures,
            d.c.document,
        )
        .join(RUNS, RUNS.c.id == d.c.run_fk)
        .order_by(RUNS.c.run_id, RUNS.c.attempt),
    )


def _coverage_rows(url: str) -> list[tuple[Any, ...]]:
    """(run_id, attempt, subject, lines and branches valid/covered) by run, then as stored."""
    c = GATE_COVERAGE
    return _read(
        url,
        select(
            RUNS.c.run_id,
            RUNS.c.attempt,
            c.c.subject,
            c.c.lines_valid,
            c.c.lines_covered,
            c.c.branches_valid,
            c.c.branches_covered,
        )
        .join(GATE_DECISIONS, GATE_DECISIONS.c.id == c.c.decision_fk)
        .join(RUNS, RUNS.c.id == GATE_DECISIONS.c.run_fk)
        .order_by(RUNS.c.run_id, RUNS.c.attempt, c.c.id),
    )


def _bench(name: str, value: float, group: str = "criterion") -> model.BenchmarkResult:
    return model.BenchmarkResult(name=name, value=value, unit="ns", group=group)


# -- saving decisions ----------------------------------------------------------------------------


def test_a_decision_is_stored_with_its_coverage(store: HistoryStore, db_url: str) -> None:
    store.save_runs([run("101"), run("102", at=T0 + hours(1))])
    passing = _document(True)
    store.save_decision(
        SERVICE,
        "101",
        1,
        passed=True,
        decided_at=DECIDED,
        document=passing,
        coverage=[
            _figure("overall", 200, 150, branches=(40, 30)),
            _figure(SERVICE, 120, 100, branches=(10, 9)),
        ],
        base_ref="origin/main",
    )
    failing = _document(False, "tests::a", "tests::b")
    store.save_decision(
        SERVICE,
        "102",
        1,
        passed=False,
        decided_at=DECIDED + hours(1),
        document=failing,
        coverage=[],
    )
    decided = store.decisions()
    assert [(r.meta.run_id, passed, doc) for r, passed, doc in decided] == [
        ("101", True, passing),
        ("102", False, failing),
    ]
    assert decided[0][0] == store.find_run(SERVICE, "101", 1)  # the whole stored run
    # failures: the length of the document's failures list; decided_at in UTC.
    assert _decision_rows(db_url) == [
        ("101", 1, True, datetime(2024, 5, 1, 12, 30), "origin/main", 0, passing),
        ("102", 1, False, datetime(2024, 5, 1, 13, 30), None, 2, failing),
    ]
    assert _coverage_rows(db_url) == [
        ("101", 1, "overall", 200, 150, 40, 30),
        ("101", 1, SERVICE, 120, 100, 10, 9),
    ]


def test_a_later_decision_on_the_same_run_replaces_the_earlier(
    store: HistoryStore, db_url: str
) -> None:
    store.save_runs([run("101"), run("101", attempt=2)])
    first = _document(False, "tests::a")
    store.save_decision(
        SERVICE,
        "101",
        1,
        passed=False,
        decided_at=DECIDED,
        document=first,
        coverage=[_figure("overall", 100, 50), _figure(SERVICE, 100, 50)],
        base_ref="origin/main",
    )
    _decide(store, "101", True, _figure("overall", 10, 1), attempt=2)  # another run: stays
    again = '{"verdict": "re-run"}'
    store.save_decision(
        SERVICE,
        "101",
        1,
        passed=True,
        decided_at=DECIDED + hours(2),
        document=again,
        coverage=[_figure("overall", 100, 90)],
        failures=7,  # given: wins over the document
    )
    assert [(r.meta.attempt, passed, doc) for r, passed, doc in store.decisions()] == [
        (1, True, again),
        (2, True, _document(True)),
    ]
    assert _decision_rows(db_url) == [
        ("101", 1, True, datetime(2024, 5, 1, 14, 30), None, 7, again),
        ("101", 2, True, datetime(2024, 5, 1, 12, 30), None, 0, _document(True)),
    ]
    assert _coverage_rows(db_url) == [
        ("101", 1, "overall", 100, 90, 0, 0),
        ("101", 2, "overall", 10, 1, 0, 0),
    ]
    assert store.last_passing_coverage(SERVICE, "main", exclude=(SERVICE, "101", 2)) == {
        "overall": (0.9, "101")
    }


def test_a_decision_on_a_run_that_is_not_stored_is_refused(
    store: HistoryStore, db_url: str
) -> None:
    store.save_runs([run("101"), run("555", service="billing")])
    where = parse_url(db_url).where
    for run_id, attempt in (("404", 1), ("101", 2), ("555", 1)):  # 555 is billing's
        with pytest.raises(StoreError) as caught:
            _decide(store, run_id, True, _figure("overall", 10, 10), attempt=attempt)
        assert str(caught.value) == (
            f"{where}: cannot store the gate's decision: run {run_id} attempt {attempt} of "
            f"{SERVICE} is not in the history (store the run first (gatekeeper ingest), then "
            "decide on it)"
        )
    assert store.decisions() == []
    assert _read(db_url, select(GATE_COVERAGE)) == []


def test_a_failed_replacement_keeps_the_earlier_decision(store: HistoryStore, db_url: str) -> None:
    store.save_runs([run("101")])
    first = _document(True)
    store.save_decision(
        SERVICE,
        "101",
        1,
        passed=True,
        decided_at=DECIDED,
        document=first,
        coverage=[_figure("overall", 100, 80), _figure(SERVICE, 100, 80)],
    )
    before = (_decision_rows(db_url), _coverage_rows(db_url))
    where = parse_url(db_url).where
    # The decision row is replaced and the old figures deleted before the database refuses
    # this count (no integer column holds 2**70): the whole replacement must be undone.
    with pytest.raises(StoreError) as caught:
        store.save_decision(
            SERVICE,
            "101",
            1,
            passed=False,
            decided_at=DECIDED + hours(1),
            document=_document(False, "tests::a"),
            coverage=[_figure("overall", 100, 10), _figure(SERVICE, 2**70, 10)],
        )
    assert str(caught.value).startswith(f"{where}: ")
    assert "the gate's decision on run 101 attempt 1 of user-service" in str(caught.value)
    assert (_decision_rows(db_url), _coverage_rows(db_url)) == before
    assert [(passed, doc) for _, passed, doc in store.decisions()] == [(True, first)]


def test_a_decision_that_cannot_be_stored_is_refused_before_writing(
    store: HistoryStore, db_url: str
) -> None:
    store.save_runs([run("101")])
    where = parse_url(db_url).where
    doing = "saving the gate's decision on run 101 attempt 1 of user-service"
    with pytest.raises(StoreError, match="the decision document is not JSON") as caught:
        store.save_decision(
            SERVICE, "101", 1, passed=True, decided_at=DECIDED, document="passed", coverage=[]
        )
    assert str(caught.value).startswith(f"{where}: {doing}: ")
    with pytest.raises(StoreError) as caught:
        _decide(store, "101", True, _figure("overall", 10, 5), _figure("overall", 10, 6))
    assert str(caught.value).startswith(
        f"{where}: {doing}: the coverage figures name 'overall' more than once"
    )
    assert store.decisions() == []


# -- the coverage ratchet's baseline -------------------------------------------------------------


def test_last_passing_coverage_is_the_newest_passing_run_on_the_branch(
    store: HistoryStore,
) -> None:
    # Stored out of time order: effective_at decides, not the order of storing.
    store.save_runs([run("r4", at=T0 + hours(4)), run("r3", at=T0 + hours(3))])
    store.save_runs([run("r1", at=T0 + hours(1)), run("r2", at=T0 + hours(2))])
    store.save_runs([run("r2", attempt=2, at=T0 + hours(2.5))])
    store.save_runs([run("f1", branch="feature/x", at=T0 + hours(5))])
    store.save_runs([run("b1", service="billing", at=T0 + hours(6))])
    store.save_runs([run("r0", at=T0)])
    _decide(store, "r0", True, _figure("overall", 100, 100))
    _decide(store, "r1", True, _figure("overall", 100, 80), _figure(SERVICE, 50, 45))
    # "user-service" has no coverable lines in r2: left out, not a rate of 0.
    _decide(store, "r2", True, _figure("overall", 200, 150), _figure(SERVICE, 0, 0))
    _decide(store, "r2", True, _figure("overall", 100, 70), attempt=2)
    _decide(store, "r3", False, _figure("overall", 100, 10))  # newer, but failed
    # r4 (newest on main) has no decision at all.
    _decide(store, "f1", True, _figure("overall", 100, 99))
    _decide(store, "b1", True, _figure("overall", 100, 1), service="billing")

    baseline = store.last_passing_coverage
    assert baseline(SERVICE, "main") == {"overall": (0.7, "r2")}
    assert baseline(SERVICE, "main", exclude=(SERVICE, "r2", 2)) == {"overall": (0.75, "r2")}
    assert baseline(SERVICE, "main", exclude=(SERVICE, "r2", 1)) == {"overall": (0.7, "r2")}
    assert baseline(SERVICE, "main", exclude=("billing", "r2", 2)) == {"overall": (0.7, "r2")}
    assert baseline(SERVICE, "feature/x") == {"overall": (0.99, "f1")}
    assert baseline("billing", "main") == {"overall": (0.01, "b1")}
    assert baseline(SERVICE, "release") == {}
    assert baseline("nobody", "main") == {}
    assert baseline(SERVICE, "feature/x", exclude=(SERVICE, "f1", 1)) == {}

    # Re-running the gate on r3 and passing it makes r3 the baseline.
    _decide(store, "r3", True, _figure("overall", 300, 240), _figure(SERVICE, 40, 30))
    assert baseline(SERVICE, "main") == {"overall": (0.8, "r3"), SERVICE: (0.75, "r3")}
    # And failing r2 attempt 2 after all: r3 stays, excluding it falls back to r2 attempt 1.
    _decide(store, "r2", False, _figure("overall", 100, 70), attempt=2)
    assert baseline(SERVICE, "main", exclude=(SERVICE, "r3", 1)) == {"overall": (0.75, "r2")}


def test_last_passing_coverage_breaks_time_ties_by_storage_order(store: HistoryStore) -> None:
    store.save_runs([run("b")])  # same time, stored first
    store.save_runs([run("a")])  # stored later: counts as newer
    _decide(store, "a", True, _figure("overall", 4, 1))
    _decide(store, "b", True, _figure("overall", 4, 3))
    assert store.last_passing_coverage(SERVICE, "main") == {"overall": (0.25, "a")}
    assert store.last_passing_coverage(SERVICE, "main", exclude=(SERVICE, "a", 1)) == {
        "overall": (0.75, "b")
    }


# -- recent test counts --------------------------------------------------------------------------


def test_recent_test_counts_are_distinct_tests_per_run_newest_first(store: HistoryStore) -> None:
    sizes = {"m0": 5, "m1": 0, "m2": 12, "m3": 7, "m4": 9, "m5": 4}  # main, m0 oldest
    # m3 retried its first 3 tests: 10 results, still 7 tests.
    m3 = [*many_results(7), *(result(r.test_id, retry=1) for r in many_results(3))]
    runs = [
        run(rid, at=T0 + hours(i), tests=m3 if rid == "m3" else many_results(n))
        for i, (rid, n) in enumerate(sizes.items())
    ]
    # Interleaved in time: another branch and another service, which must not count.
    runs += [
        run("x1", branch="feature/x", at=T0 + hours(2.5), tests=many_results(30)),
        run("o1", service="billing", at=T0 + hours(4.5), tests=many_results(40)),
    ]
    for stored in reversed(runs):  # newest stored first
        store.save_runs([stored])
    assert len(store.run_results(store.runs(branch="main", service=SERVICE)[2].pk)) == 10

    counts = store.recent_test_counts
    assert counts(SERVICE, "main", limit=100) == [4, 9, 7, 12, 0, 5]
    assert counts(SERVICE, "main", limit=4) == [4, 9, 7, 12]
    assert counts(SERVICE, "main", limit=4, exclude=(SERVICE, "m5", 1)) == [9, 7, 12, 0]
    assert counts(SERVICE, "main", limit=2, exclude=(SERVICE, "m4", 1)) == [4, 7]
    assert counts(SERVICE, "main", limit=3, exclude=("billing", "m5", 1)) == [4, 9, 7]
    assert counts(SERVICE, "main", limit=0) == []
    assert counts(SERVICE, "feature/x", limit=5) == [30]
    assert counts("billing", "main", limit=5) == [40]
    assert counts(SERVICE, "release", limit=5) == []


# -- benchmark baselines -------------------------------------------------------------------------


def test_benchmark_baselines_window_order_exclusion_and_names(store: HistoryStore) -> None:
    small, large = "parse/small", "parse/large"
    history = [  # main, oldest first
        run("r1", at=T0 + hours(1), benchmarks=(_bench(small, 1.0), _bench(large, 10.0))),
        run("r2", at=T0 + hours(2), benchmarks=(_bench(small, 2.0), _bench(large, 20.0),
                                                _bench(small, 200.0, group=""))),
        run("r3", at=T0 + hours(3)),  # no benchmarks
        run("r4", at=T0 + hours(4), benchmarks=(_bench(small, 4.0),
                                                _bench(small, 400.0, group=""))),
        run("r5", at=T0 + hours(5), benchmarks=(_bench(small, 5.0),)),
        run("x", branch="feature/x", at=T0 + hours(6), benchmarks=(_bench(small, 999.0),)),
        run("o", service="billing", at=T0 + hours(7), benchmarks=(_bench(small, 888.0),)),
    ]  # fmt: skip
    for stored in reversed(history):
        store.save_runs([stored])

    def values(found: dict[tuple[str, str], list[model.BenchmarkResult]]) -> dict[Any, Any]:
        return {key: [b.value for b in results] for key, results in found.items()}

    baselines = store.benchmark_baselines
    found = baselines(SERVICE, "main", window=2)
    assert list(found) == [("", small), ("criterion", large), ("criterion", small)]
    assert values(found) == {
        ("", small): [400.0, 200.0],
        ("criterion", large): [20.0, 10.0],
        ("criterion", small): [5.0, 4.0],
    }
    assert found[("criterion", small)][0] == _bench(small, 5.0)  # the whole record
    assert values(baselines(SERVICE, "main", window=10)) == {
        ("", small): [400.0, 200.0],
        ("criterion", large): [20.0, 10.0],
        ("criterion", small): [5.0, 4.0, 2.0, 1.0],
    }
    assert values(baselines(SERVICE, "main", window=3, exclude=(SERVICE, "r5", 1))) == {
        ("", small): [400.0, 200.0],
        ("criterion", large): [20.0, 10.0],
        ("criterion", small): [4.0, 2.0, 1.0],
    }
    # names: exactly these (group, name) keys; the same name in another group is not one.
    assert values(baselines(SERVICE, "main", window=3, names=[("criterion", small)])) == {
        ("criterion", small): [5.0, 4.0, 2.0]
    }
    only = {("", small), ("criterion", "absent"), ("other", large)}
    assert values(baselines(SERVICE, "main", window=1, names=only)) == {("", small): [400.0]}
    assert baselines(SERVICE, "main", window=3, names=()) == {}
    assert baselines(SERVICE, "main", window=0) == {}
    assert values(baselines(SERVICE, "feature/x", window=5)) == {("criterion", small): [999.0]}
    assert values(baselines("billing", "main", window=5)) == {("criterion", small): [888.0]}
    assert baselines(SERVICE, "release", window=5) == {}


def test_benchmark_baseline_runs_name_the_run_of_each_result(store: HistoryStore) -> None:
    small, large = "parse/small", "parse/large"
    for i, at in enumerate((1, 2, 3), 1):  # saved newest first: run keys are not time order
        store.save_runs(
            [run(f"r{4 - i}", at=T0 + hours(4 - at), benchmarks=(_bench(small, 4.0 - i),
                                                              _bench(large, 40.0 - i)))]
        )  # fmt: skip
    keys = {r.meta.run_id: r.pk for r in store.runs(service=SERVICE)}
    found = store.benchmark_baseline_runs(SERVICE, "main", window=2)
    assert {k: [(pk, b.value) for pk, b in v] for k, v in found.items()} == {
        ("criterion", large): [(keys["r3"], 39.0), (keys["r2"], 38.0)],
        ("criterion", small): [(keys["r3"], 3.0), (keys["r2"], 2.0)],
    }
    plain = store.benchmark_baselines(SERVICE, "main", window=2)
    assert plain == {k: [b for _, b in v] for k, v in found.items()}


def test_benchmark_baselines_keep_every_stored_field(store: HistoryStore) -> None:
    store.save_runs([run("1", benchmarks=benchmarks())])
    store.save_runs([run("2", at=T0 + hours(1))])
    found = store.benchmark_baselines(SERVICE, "main", window=5)
    assert found == {(b.group, b.name): [b] for b in benchmarks()}


# -- decisions for reports -----------------------------------------------------------------------


def test_decisions_are_oldest_first_and_filtered(store: HistoryStore) -> None:
    store.save_runs(
        [
            run("3", at=T0 + hours(3)),
            run("1", at=T0 + hours(1)),
            run("2", service="billing", at=T0 + hours(2)),
            run("4", branch="feature/x", at=T0 + hours(4)),
            run("5", at=T0 + hours(5)),  # no decision
        ]
    )
    _decide(store, "3", False)
    _decide(store, "1", True)
    _decide(store, "2", True, service="billing")
    _decide(store, "4", True)

    def seen(found: list[tuple[model.StoredRun, bool, str]]) -> list[tuple[str, str, bool]]:
        return [(r.meta.service, r.meta.run_id, passed) for r, passed, _ in found]

    assert seen(store.decisions()) == [
        (SERVICE, "1", True),
        ("billing", "2", True),
        (SERVICE, "3", False),
        (SERVICE, "4", True),
    ]
    assert seen(store.decisions(SERVICE)) == [(SERVICE, "1", True), (SERVICE, "3", False),
                                              (SERVICE, "4", True)]  # fmt: skip
    assert seen(store.decisions(since=T0 + hours(2))) == [
        ("billing", "2", True),
        (SERVICE, "3", False),
        (SERVICE, "4", True),
    ]
    # since is an instant: 04:00 at UTC+2 is 02:00 UTC.
    plus2 = timezone(timedelta(hours=2))
    assert seen(store.decisions(SERVICE, since=(T0 + hours(4)).astimezone(plus2))) == [
        (SERVICE, "4", True)
    ]
    assert seen(store.decisions(SERVICE, branch="main")) == [(SERVICE, "1", True),
                                                             (SERVICE, "3", False)]  # fmt: skip
    assert seen(store.decisions(limit=2)) == [(SERVICE, "1", True), ("billing", "2", True)]
    assert store.decisions("nobody") == []


# -- the reads against a plain model of the history ----------------------------------------------


@dataclass(frozen=True)
class _Planned:
    """One generated run of the property test."""

    service: str  # "a" (the one queried) or "b"
    branch: str
    hour: int
    tests: int
    retried: int  # how many of its tests ran twice
    benches: tuple[tuple[str, str, float], ...]
    decision: bool | None
    covered: tuple[int, int]  # overall (valid, covered)


_KEYS = (("g", "x"), ("g", "y"), ("", "x"))
_planned = st.builds(
    _Planned,
    service=st.sampled_from(["a", "a", "b"]),
    branch=st.sampled_from(["main", "main", "dev"]),
    hour=st.integers(0, 4),  # few hours: many ties
    tests=st.integers(0, 6),
    retried=st.integers(0, 6),
    benches=st.lists(
        st.tuples(st.sampled_from(_KEYS), st.integers(1, 1000)), unique_by=lambda kv: kv[0]
    ).map(lambda kvs: tuple((g, n, float(v)) for (g, n), v in kvs)),
    decision=st.sampled_from([None, True, False]),
    covered=st.integers(0, 20).flatmap(lambda v: st.tuples(st.just(v), st.integers(0, v))),
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plans=st.lists(_planned, max_size=8),
    exclude=st.none() | st.integers(0, 7),
    limit=st.integers(1, 9),
    window=st.integers(1, 4),
)
def test_the_reads_agree_with_a_plain_model_of_the_history(
    db_url: str, plans: list[_Planned], exclude: int | None, limit: int, window: int
) -> None:
    # One database for all examples; each example's services are its own.
    tag = secrets.token_hex(4)
    service = {"a": f"a-{tag}", "b": f"b-{tag}"}
    with open_store(db_url) as store:
        for i, p in enumerate(plans):  # one call each: storage order is list order
            tests = [result(f"t::{k}") for k in range(p.tests)]
            tests += [result(f"t::{k}", retry=1) for k in range(min(p.retried, p.tests))]
            benches = tuple(_bench(n, v, group=g) for g, n, v in p.benches)
            meta = run(str(i), service=service[p.service], branch=p.branch,
                       at=T0 + hours(p.hour), tests=tests, benchmarks=benches)  # fmt: skip
            store.save_runs([meta])
            if p.decision is not None:
                figure = _figure("overall", *p.covered)
                _decide(store, str(i), p.decision, figure, service=service[p.service])
        excluded = None if exclude is None else (service["a"], str(exclude), 1)

        # The model: runs of "a" on main other than the excluded one, newest first.
        mine = [i for i, p in enumerate(plans) if (p.service, p.branch) == ("a", "main")]
        newest = sorted((i for i in mine if i != exclude), key=lambda i: (plans[i].hour, i))[::-1]
        assert store.recent_test_counts(service["a"], "main", limit=limit, exclude=excluded) == [
            plans[i].tests for i in newest[:limit]
        ]

        expected: dict[tuple[str, str], list[float]] = {}
        for i in newest:
            for g, n, v in plans[i].benches:
                expected.setdefault((g, n), []).append(v)
        found = store.benchmark_baselines(service["a"], "main", window=window, exclude=excluded)
        assert {k: [b.value for b in bs] for k, bs in found.items()} == {
            k: vs[:window] for k, vs in sorted(expected.items())
        }
        assert list(found) == sorted(found)

        passing = [i for i in newest if plans[i].decision is True]
        baseline: dict[str, tuple[float, str]] = {}
        if passing and plans[passing[0]].covered[0] > 0:
            valid, covered = plans[passing[0]].covered
            baseline = {"overall": (covered / valid, str(passing[0]))}
        assert store.last_passing_coverage(service["a"], "main", exclude=excluded) == baseline


# -- upgrading a version-2 database --------------------------------------------------------------


def _schema(url: str, tables: tuple[str, ...] | None = None) -> dict[str, Any]:
    """What reflection tells about the tables (all, or the named ones), comparably."""
    engine = _engine(url)
    insp = inspect(engine)
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        if tables is not None and table not in tables:
            continue
        out[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)
            ],
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in insp.get_indexes(table)
                if not i.get("duplicates_constraint")
            ),
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], f["options"].get("ondelete"))
                for f in insp.get_foreign_keys(table)
            ),
        }
    engine.dispose()
    return out


def _version(url: str) -> str:
    (row,) = _read(url, text("SELECT value FROM schema_meta WHERE key = 'schema_version'"))
    return str(row[0])


def _v2_runs() -> list[model.Run]:
    return [
        run("2001", at=T0, tests=many_results(20, failing_every=6), coverage=(coverage_report(),),
            benchmarks=benchmarks()),
        run("2002", at=T0 + hours(1), tests=many_results(12), benchmarks=benchmarks()[:1]),
        run("2003", at=T0 + hours(2), branch="feature/x", tests=many_results(3)),
        run("3001", service="billing", at=T0 + hours(3), tests=many_results(2, prefix="b")),
    ]  # fmt: skip


def _make_v2(url: str) -> None:
    """A version-2 database: version 2's DDL steps, then runs written by ``save_runs``, which
    version 3 left as it was. (``open_store`` would upgrade it first, so the store is built
    on the engine directly.)"""
    engine = _engine(url)
    with engine.begin() as conn:
        assert migrations.upgrade(conn, target=2) == (0, 2)
    engine.dispose()
    target = parse_url(url)
    with HistoryStore(make_engine(target, lock_timeout=5), target, lock_timeout=5) as store:
        assert store.save_runs(_v2_runs()) == [True] * 4


def _contents(store: HistoryStore) -> list[Any]:
    """Everything stored about every run, through the version-2 reads."""
    return [
        (r, store.run_sources(r.pk), store.run_results(r.pk), store.coverage(r.pk),
         store.benchmarks(r.pk))
        for r in store.runs()
    ]  # fmt: skip


def test_a_version_2_database_is_upgraded_in_place(db_url: str) -> None:
    _make_v2(db_url)
    assert _version(db_url) == "2"
    old_schema = _schema(db_url)
    assert not set(GATE_TABLES) & set(old_schema)
    target = parse_url(db_url)
    with HistoryStore(make_engine(target, lock_timeout=5), target, lock_timeout=5) as store:
        before = _contents(store)

    with open_store(db_url, create=False) as store:
        assert store.schema_version() == SCHEMA_VERSION == 5
        assert _contents(store) == before  # nothing lost or changed
        # The version-2 history serves the new reads at once ...
        assert store.recent_test_counts(SERVICE, "main", limit=5) == [12, 20]
        found = store.benchmark_baselines(SERVICE, "main", window=5)
        assert found[("criterion", "parse/small")] == [benchmarks()[0], benchmarks()[0]]
        assert store.last_passing_coverage(SERVICE, "main") == {}  # no decisions yet
        # ... and takes decisions on its old runs.
        _decide(store, "2001", True, _figure("overall", 11, 6))
    new_schema = _schema(db_url)
    kept = {t: s for t, s in new_schema.items() if t not in (*GATE_TABLES, "api_tokens")}
    if db_url.startswith("postgresql"):  # version 5 indexes long text by its MD5 there
        for schema in (kept, old_schema):
            for t in ("runs", "tests", "benchmarks"):
                schema[t] = {k: v for k, v in schema[t].items() if k not in ("indexes", "unique")}
    assert kept == old_schema
    assert _version(db_url) == str(SCHEMA_VERSION)

    # Opening again changes nothing: no step runs, the schema and the data stay.
    with open_store(db_url, create=False) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert _contents(store) == before
        assert store.last_passing_coverage(SERVICE, "main") == {"overall": (6 / 11, "2001")}
    assert _schema(db_url) == new_schema
    engine = _engine(db_url)
    with engine.begin() as conn:
        assert migrations.upgrade(conn) == (SCHEMA_VERSION, SCHEMA_VERSION)
    engine.dispose()
    assert _version(db_url) == str(SCHEMA_VERSION)
    assert len(_decision_rows(db_url)) == 1


def test_the_upgrade_builds_the_gate_tables_of_the_models(db_url: str, other_url: str) -> None:
    _make_v2(db_url)
    open_store(db_url).close()  # v2 + step 3
    engine = _engine(other_url)
    METADATA.create_all(engine)  # straight from tables.py
    engine.dispose()
    migrated = _schema(db_url, GATE_TABLES)
    assert migrated == _schema(other_url, GATE_TABLES)
    assert set(migrated) == set(GATE_TABLES)
    decisions, coverage = migrated["gate_decisions"], migrated["gate_coverage"]
    assert [c[0] for c in decisions["columns"]] == [
        "id", "run_fk", "passed", "decided_at", "base_ref", "failures", "document",
    ]  # fmt: skip
    assert ("base_ref", "TEXT", True) in decisions["columns"]
    assert decisions["unique"] == [("uq_gate_decisions_run", ("run_fk",))]
    assert decisions["fks"] == [(("run_fk",), "runs", "CASCADE")]
    if db_url.startswith("postgresql"):  # a unique index on md5(subject) from version 5
        assert coverage["unique"] == []
        assert ("uq_gate_coverage_key", ("decision_fk", None), True) in coverage["indexes"]
    else:
        assert coverage["unique"] == [("uq_gate_coverage_key", ("decision_fk", "subject"))]
    assert coverage["fks"] == [(("decision_fk",), "gate_decisions", "CASCADE")]


def test_the_frozen_version_2_sqlite_file_is_upgraded(tmp_path: Path) -> None:
    """A file as gatekeeper's version-2 code left it (its .dump is checked in, never
    regenerated); the numbers below are that file's contents."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(V2_DUMP.read_text(encoding="utf-8"))
    conn.close()
    url = f"sqlite:///{path}"
    assert _version(url) == "2"
    with open_store(url, create=False) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert [(r.meta.service, r.meta.run_id, r.meta.branch) for r in store.runs()] == [
            ("billing", "3001", "main"),
            (SERVICE, "2003", "feature/x"),
            (SERVICE, "2002", "main"),
            (SERVICE, "2001", "main"),
        ]
        (first,) = store.runs(service=SERVICE, branch="main", limit=1)
        assert first.meta.timestamp == datetime(2024, 4, 2, 9, 0, tzinfo=UTC)
        assert first.ingested_at == datetime(2024, 4, 4, 10, 0, tzinfo=UTC)
        old = store.find_run(SERVICE, "2001", 1)
        assert old is not None
        assert old.counts == model.RunCounts(tests=3, passed=2, skipped=1, retried=1, flaky=1)
        assert [(r.test_id, r.retry, r.outcome, r.message) for r in store.run_results(old.pk)] == [
            ("user_service::tests::a", 0, model.Outcome.PASSED, None),
            ("user_service::tests::b", 0, model.Outcome.FAILED, "boom"),
            ("user_service::tests::b", 1, model.Outcome.PASSED, None),
            ("user_service::tests::c", 0, model.Outcome.SKIPPED, None),
        ]
        (report,) = store.coverage(old.pk)
        assert (report.total.lines_valid, report.total.lines_covered) == (10, 8)
        assert report.files[0].missed_lines == (9, 10)
        # Distinct tests: 2001 ran 3 (one of them twice), 2002 ran 2.
        assert store.recent_test_counts(SERVICE, "main", limit=5) == [2, 3]
        ((key, results),) = store.benchmark_baselines(SERVICE, "main", window=5).items()
        assert key == ("criterion", "parse/small")
        assert [(b.value, b.samples, b.iterations) for b in results] == [
            (1100.0, (1090.0, 1100.0, 1110.0), 300),
            (1000.0, (990.0, 1000.0, 1010.0), 300),
        ]
        _decide(store, "2002", True, _figure("overall", 10, 8), _figure(SERVICE, 10, 8))
        assert store.save_runs([run("2004", at=datetime(2024, 4, 5, tzinfo=UTC))]) == [True]
        _decide(store, "2004", False, _figure("overall", 10, 1))
    with open_store(url, create=False) as store:  # again: nothing to do, nothing lost
        assert store.schema_version() == SCHEMA_VERSION
        assert len(store.runs()) == 5
        assert store.last_passing_coverage(SERVICE, "main") == {
            "overall": (0.8, "2002"),
            SERVICE: (0.8, "2002"),
        }
        assert [(r.meta.run_id, passed) for r, passed, _ in store.decisions()] == [
            ("2002", True),
            ("2004", False),
        ]
    assert _version(url) == str(SCHEMA_VERSION)


def test_a_failing_version_3_step_changes_nothing(db_url: str) -> None:
    """The step runs in one transaction: a failure leaves version 2 exactly as it was."""
    _make_v2(db_url)
    # Someone made a table by hand that version 3 wants to make: the step fails after it has
    # created gate_decisions.
    _execute(db_url, "CREATE TABLE gate_coverage (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreError, match="upgrading the schema from version 2") as caught:
        open_store(db_url)
    assert caught.value.__cause__ is not None
    assert _version(db_url) == "2"
    assert "gate_decisions" not in inspect(_engine(db_url)).get_table_names()
    assert len(_read(db_url, select(RUNS.c.id))) == 4


def test_a_database_newer_than_version_3_is_refused(db_url: str) -> None:
    with open_store(db_url) as store:
        store.save_runs([run("1")])
        _decide(store, "1", True, _figure("overall", 2, 1))
    newer = SCHEMA_VERSION + 1
    _execute(db_url, f"UPDATE schema_meta SET value = '{newer}' WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError) as caught:
        open_store(db_url)
    where = parse_url(db_url).where
    assert str(caught.value) == (
        f"{where}: the database has schema version {newer}, this gatekeeper knows up to "
        f"{SCHEMA_VERSION}: upgrade gatekeeper (pip install -U gatekeeper)"
    )
    assert _version(db_url) == str(newer)  # left alone
    assert len(_decision_rows(db_url)) == 1
