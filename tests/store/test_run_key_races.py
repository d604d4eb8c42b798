"""Racing writers of one run key: every success carries the content that was kept, every
other attempt is a conflict, no key is lost or stored twice. On SQLite and PostgreSQL, with
one Gatekeeper (own engine, own connections) per writer, all released by one barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from gatekeeper.api import Gatekeeper, MetaFlags, Upload
from gatekeeper.config import Settings
from gatekeeper.errors import RunConflictError
from gatekeeper.rules import GateConfig

KEYS = 10


def junit(failing: bool, tag: str) -> bytes:
    """A small JUnit report; ``tag`` makes its bytes (and so its SHA-256) differ."""
    fail = '<failure message="boom">assert 1 == 2</failure>' if failing else ""
    return (
        f'<testsuite name="s" tests="2"><!-- {tag} -->'
        f'<testcase classname="s" name="t_ok" time="0.1"/>'
        f'<testcase classname="s" name="t_maybe" time="0.1">{fail}</testcase>'
        "</testsuite>"
    ).encode()


Attempt = tuple[str, str, bytes]  # (run id, what it is, report bytes)


def _race(url: str, attempts: list[Attempt], call: Callable[..., object]) -> list[object]:
    """Run ``call(gk, attempt)`` for every attempt at once; the answer or the error of each."""
    start = threading.Barrier(len(attempts))
    answers: list[object] = [None] * len(attempts)
    gks = [Gatekeeper(Settings(db_url=url, lock_timeout=60), env={}) for _ in attempts]
    gks[0].ready()  # the schema exists before the race: the race is about the run keys

    def one(i: int) -> None:
        start.wait(timeout=60)
        try:
            answers[i] = call(gks[i], attempts[i])
        except Exception as err:  # the test inspects it
            answers[i] = err

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(attempts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    for gk in gks:
        gk.close()
    return answers


def _attempts() -> list[Attempt]:
    """Per key: report A twice and a different report B (failing), interleaved."""
    out: list[Attempt] = []
    for k in range(KEYS):
        rid = f"run-{k}"
        out += [(rid, "A", junit(False, "A")), (rid, "B", junit(True, "B"))]
        out.append((rid, "A", junit(False, "A")))
    return out


def _stored(url: str) -> dict[str, tuple[int, int]]:
    """run id -> (how many runs rows, failed tests) as the database holds them."""
    gk = Gatekeeper(Settings(db_url=url), env={})
    try:
        runs = gk.store.runs()
        out: dict[str, tuple[int, int]] = {}
        for r in runs:
            n, _ = out.get(r.meta.run_id, (0, 0))
            out[r.meta.run_id] = (n + 1, r.counts.failed)
        return out
    finally:
        gk.close()


def _check(url: str, attempts: list[Attempt], answers: list[object], failed_of: object) -> None:
    stored = _stored(url)
    assert sorted(stored) == sorted({rid for rid, _, _ in attempts}), "a key was lost"
    for rid, (rows, failed) in stored.items():
        assert rows == 1, f"{rid} stored {rows} times"
        kept = "B" if failed else "A"
        mine = [
            (what, ans) for (r, what, _), ans in zip(attempts, answers, strict=True) if r == rid
        ]
        for what, ans in mine:
            if what == kept:
                assert not isinstance(ans, BaseException), f"{rid} {what}: {ans!r}"
                assert failed_of(ans) == failed  # the success describes what was kept
            else:
                assert isinstance(ans, RunConflictError), f"{rid} {what} lost: {ans!r}"
                assert "already stored from other report files" in ans.message
                assert f"run {rid} attempt 1" in ans.message
        fresh = [ans for what, ans in mine if what == kept and getattr(ans, "stored", False)]
        assert len(fresh) <= 1


def _ingest(gk: Gatekeeper, attempt: Attempt) -> object:
    rid, _what, data = attempt
    return gk.ingest_uploads([Upload("junit.xml", data)], MetaFlags(service="svc", run_id=rid))


def _gate(gk: Gatekeeper, attempt: Attempt, registry: Path) -> object:
    rid, _what, data = attempt
    return gk.gate_uploads(
        [Upload("junit.xml", data)],
        MetaFlags(service="svc", run_id=rid, branch="main"),
        config=GateConfig(),
        registry_path=registry,
        registry_missing_ok=True,
    )


def test_racing_ingests_of_one_key_keep_one_content(db_url: str) -> None:
    attempts = _attempts()
    answers = _race(db_url, attempts, _ingest)
    _check(db_url, attempts, answers, lambda outcome: outcome.counts.failed)


def test_racing_gates_store_the_decision_of_the_kept_reports(db_url: str, tmp_path: Path) -> None:
    """A passing and a failing gate of one run at once: the stored decision is the one on
    the stored results, never "passed" for a run whose stored results hold a failure."""
    attempts = _attempts()
    registry = tmp_path / "flaky-tests.yml"
    answers = _race(db_url, attempts, lambda gk, a: _gate(gk, a, registry))
    _check(db_url, attempts, answers, lambda decision: 0 if decision.passed else 1)
    gk = Gatekeeper(Settings(db_url=db_url), env={})
    try:
        decisions = gk.store.decisions("svc")
    finally:
        gk.close()
    assert len(decisions) == KEYS
    for run, passed, _document in decisions:
        assert passed == (run.counts.failed == 0), run.meta.run_id


@pytest.mark.postgres
def test_the_unique_key_decides_when_the_check_is_passed_at_once(pg_url: str) -> None:
    """The window the old code lost data in: both writers find the key free, one inserts,
    the other's insert meets the unique key; it must compare again, not call it a duplicate.
    A second session holds the key's row uncommitted while our writer checks and inserts."""
    gk = Gatekeeper(Settings(db_url=pg_url), env={})
    gk.ready()
    other = Gatekeeper(Settings(db_url=pg_url), env={})
    done = threading.Event()
    result: list[object] = []

    def late_writer() -> None:
        try:
            result.append(_ingest(gk, ("run-x", "B", junit(True, "B"))))
        except Exception as err:
            result.append(err)
        done.set()

    # Hold the key: a transaction that inserted run-x from report A and has not committed.
    with psycopg.connect(pg_url) as conn:
        _ingest(other, ("seed", "A", junit(False, "A")))  # a run to copy rows from
        conn.execute(
            "INSERT INTO runs (service, run_id, attempt, effective_at, ingested_at, tests, passed,"
            " failed, errors, skipped, retried, flaky, warnings) SELECT service, 'run-x', attempt,"
            " effective_at, ingested_at, tests, passed, failed, errors, skipped, retried, flaky,"
            " warnings FROM runs WHERE run_id = 'seed'"
        )
        conn.execute(
            "INSERT INTO source_files (run_fk, path, format, sha256, size) SELECT r.id, s.path,"
            " s.format, s.sha256, s.size FROM runs r, source_files s JOIN runs q ON"
            " s.run_fk = q.id WHERE r.run_id = 'run-x' AND q.run_id = 'seed'"
        )
        t = threading.Thread(target=late_writer)
        t.start()
        assert not done.wait(2), "the writer did not wait for the key's row"
        conn.commit()
    t.join(timeout=60)
    other.close()
    gk.close()
    (answer,) = result
    assert isinstance(answer, RunConflictError), answer
