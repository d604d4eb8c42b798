"""Several processes writing one history at once; a SQLite file locked by someone else."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.errors import DatabaseLockedError
from gatekeeper.store import open_store
from tests.store.factories import many_results, result, run

PROCESSES = 8
TESTS_PER_RUN = 400


def _save(url: str, run_id: str, start: Any, out: Any) -> None:
    """One CI job: open the history (creating it if needed) and store its run."""
    tests = many_results(TESTS_PER_RUN, failing_every=5)
    try:
        start.wait(timeout=60)  # all processes hit the database at the same moment
        with open_store(url, lock_timeout=60) as store:
            stored = store.save_runs([run(run_id, tests=tests)])
        out.put((run_id, stored))
    except BaseException as err:  # report it to the test instead of dying silently
        out.put((run_id, f"{type(err).__name__}: {err}"))


def _run_in_parallel(url: str, run_ids: list[str]) -> list[tuple[str, object]]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(len(run_ids))
    out = ctx.Queue()
    procs = [ctx.Process(target=_save, args=(url, rid, start, out)) for rid in run_ids]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results


def _check_distinct(url: str) -> None:
    ids = [f"job-{i}" for i in range(PROCESSES)]
    results = _run_in_parallel(url, ids)
    assert sorted(results) == [(rid, [True]) for rid in ids]
    with open_store(url) as store:
        stored = store.runs()
        assert sorted(r.meta.run_id for r in stored) == ids
        for r in stored:
            assert r.counts.tests == TESTS_PER_RUN
            assert len(store.run_results(r.pk)) == TESTS_PER_RUN
        # All jobs share one tests row per test id.
        assert len(store.first_seen("user-service")) == TESTS_PER_RUN
        assert sum(1 for _ in store.executions()) == PROCESSES * TESTS_PER_RUN


def _check_same(url: str) -> None:
    results = _run_in_parallel(url, ["same"] * PROCESSES)
    outcomes = [stored for _, stored in results]
    assert sorted(outcomes, key=str) == [[False]] * (PROCESSES - 1) + [[True]], outcomes
    with open_store(url) as store:
        (stored,) = store.runs()
        assert len(store.run_results(stored.pk)) == TESTS_PER_RUN
        assert sum(1 for _ in store.executions()) == TESTS_PER_RUN


def test_parallel_writers_of_different_runs_sqlite(tmp_path: Path) -> None:
    _check_distinct(f"sqlite:///{tmp_path / 'shared.db'}")  # the file does not exist yet


def test_parallel_writers_of_the_same_run_sqlite(tmp_path: Path) -> None:
    _check_same(f"sqlite:///{tmp_path / 'shared.db'}")


@pytest.mark.postgres
def test_parallel_writers_of_different_runs_postgres(pg_url: str) -> None:
    _check_distinct(pg_url)  # the schema is empty: the first writers also create the tables


@pytest.mark.postgres
def test_parallel_writers_of_the_same_run_postgres(pg_url: str) -> None:
    _check_same(pg_url)


# -- a locked SQLite file ------------------------------------------------------------------------


def test_a_writer_waits_for_the_lock_then_gives_up(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    open_store(f"sqlite:///{path}").close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of an ingest
    try:
        with open_store(f"sqlite:///{path}", lock_timeout=0.5) as store:
            assert store.runs() == []  # WAL: reading is not blocked by a writer
            started = time.monotonic()
            with pytest.raises(DatabaseLockedError) as caught:
                store.save_runs([run("1", tests=[result("s::a")])])
            waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert 0.4 <= waited < 3.0
    assert str(caught.value).startswith(
        f"{path}: database is locked by another process (waited 0.5s): "
    )
    assert caught.value.__cause__ is not None
    # Once the other writer is done, the same save goes through.
    with open_store(f"sqlite:///{path}", lock_timeout=0.5) as store:
        assert store.save_runs([run("1", tests=[result("s::a")])]) == [True]


def test_opening_an_exclusively_locked_file_fails_after_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    open_store(f"sqlite:///{path}").close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")  # not even readers may enter
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseLockedError, match=r"waited 0\.5s"):
            open_store(f"sqlite:///{path}", lock_timeout=0.5)
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert 0.4 <= waited < 3.0


def test_writers_queue_up_within_the_timeout(tmp_path: Path) -> None:
    """A writer that holds the lock for less than the timeout only delays the next one."""
    path = tmp_path / "busy.db"
    open_store(f"sqlite:///{path}").close()
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        with open_store(f"sqlite:///{path}", lock_timeout=10) as store:
            started = time.monotonic()
            assert store.save_runs([run("1")]) == [True]
            assert time.monotonic() - started >= 0.2
    finally:
        release.join()
        holder.close()
