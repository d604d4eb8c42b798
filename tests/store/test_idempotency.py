"""save_runs is idempotent on (service, run_id, attempt) and atomic: all runs or none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gatekeeper import model
from gatekeeper.errors import StoreError
from gatekeeper.store import HistoryStore, open_store
from tests.store.factories import coverage_report, many_results, result, run

Out = model.Outcome


@pytest.fixture
def store(db_url: str) -> Iterator[HistoryStore]:
    with open_store(db_url) as store:
        yield store


def _executions(store: HistoryStore) -> int:
    return sum(1 for _ in store.executions())


def test_the_same_run_twice_is_stored_once(store: HistoryStore) -> None:
    tests = many_results(50)
    assert store.save_runs([run("42", tests=tests)]) == [True]
    assert store.save_runs([run("42", tests=tests)]) == [False]
    assert len(store.runs()) == 1
    assert _executions(store) == 50


def test_a_retried_upload_with_different_content_keeps_the_first(store: HistoryStore) -> None:
    store.save_runs([run("42", tests=[result("s::a", Out.FAILED)])])
    assert store.save_runs([run("42", tests=[result("s::a"), result("s::b")])]) == [False]
    (stored,) = store.runs()
    assert [(r.test_id, r.outcome) for r in store.run_results(stored.pk)] == [("s::a", Out.FAILED)]


def test_the_same_key_twice_in_one_call(store: HistoryStore) -> None:
    first = run("7", tests=[result("s::a", Out.FAILED)])
    second = run("7", tests=[result("s::a"), result("s::b")])
    assert store.save_runs([first, second]) == [True, False]
    (stored,) = store.runs()
    assert stored.counts == model.RunCounts(tests=1, failed=1)


def test_the_key_is_service_run_id_and_attempt(store: HistoryStore) -> None:
    runs = [
        run("7"),
        run("7", attempt=2),
        run("7", service="other"),
        run("8"),
    ]
    assert store.save_runs(runs) == [True, True, True, True]
    assert store.save_runs([run("7", attempt=2), run("9"), run("7", service="other")]) == [
        False,
        True,
        False,
    ]
    assert len(store.runs()) == 5


def test_an_empty_call_stores_nothing(store: HistoryStore) -> None:
    assert store.save_runs([]) == []
    assert store.runs() == []


def _nothing_stored(store: HistoryStore) -> None:
    assert store.runs() == []
    assert store.services() == []
    assert not store.has_run("user-service", "good", 1)
    assert _executions(store) == 0
    assert store.first_seen("user-service") == {}  # the tests rows were rolled back too


def test_a_constraint_violation_midway_stores_nothing(store: HistoryStore) -> None:
    good = run("good", tests=many_results(200), coverage=(coverage_report(),))
    # retry must be >= 0 (CHECK ck_results_retry): the database refuses this run's results
    # after "good" and this run's own row were already inserted in the same transaction.
    bad = run("later", tests=[result("s::a"), result("s::a", Out.FAILED, retry=-1)])
    with pytest.raises(StoreError) as caught:
        store.save_runs([good, bad])
    message = str(caught.value)
    assert "later" in message
    assert "nothing was stored" in message
    assert caught.value.__cause__ is not None  # the driver's error, chained
    _nothing_stored(store)
    # The store is still usable afterwards, and the good run can be saved.
    assert store.save_runs([good]) == [True]


def test_an_unencodable_value_midway_stores_nothing(store: HistoryStore) -> None:
    bad_coverage = model.CoverageReport(
        producer="x",
        sources=(),
        files=(model.FileCoverage("a.py", "", 1, 1, covered_lines=(-3,)),),
        packages=(),
        total=model.PackageCoverage("", 1, 1),
    )
    with pytest.raises(StoreError, match="negative"):
        store.save_runs([run("good", tests=many_results(20)), run("z", coverage=(bad_coverage,))])
    _nothing_stored(store)
