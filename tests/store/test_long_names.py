"""Names of any length on both backends: a 3,000-character test id (a long pytest parameter
id), a 4,000-character branch, long benchmark names and coverage subjects. PostgreSQL's btree
refused index entries over 2,704 bytes until schema version 5 indexed their MD5."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine

from gatekeeper import model
from gatekeeper.store import SCHEMA_VERSION, HistoryStore, migrations, open_store
from gatekeeper.store.engine import make_engine, parse_url
from tests.store.factories import result, run

from ..cli import gatekeeper


def _noise(n: int, seed: int) -> str:
    """Text that does not compress (PostgreSQL compresses index entries before the check)."""
    rnd = random.Random(seed)
    return "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(n))


LONG_TEST = f"tests/test_api.py::test_payload[{_noise(3000, 1)}]"
LONG_BRANCH = f"feature/{_noise(4000, 2)}"
LONG_BENCH = f"bench/{_noise(3000, 3)}"


def _long_run(run_id: str) -> model.Run:
    bench = model.BenchmarkResult(name=LONG_BENCH, value=1.5, unit="ns")
    tests = [result(LONG_TEST, model.Outcome.FAILED, message="boom"), result("s::short")]
    return run(run_id, branch=LONG_BRANCH, tests=tests, benchmarks=(bench,))


def _check_stored(store: HistoryStore) -> None:
    (stored,) = store.runs()
    assert stored.meta.branch == LONG_BRANCH
    assert stored.counts.tests == 2 and stored.counts.failed == 1
    assert {r.test_id for r in store.run_results(stored.pk)} == {LONG_TEST, "s::short"}
    assert [b.name for b in store.benchmarks(stored.pk)] == [LONG_BENCH]
    assert store.recent_test_counts("user-service", LONG_BRANCH, limit=5) == [2]
    assert [e.test_id for e in store.test_history("user-service", LONG_TEST)] == [LONG_TEST]


def test_long_names_and_branches_are_stored(db_url: str) -> None:
    with open_store(db_url) as store:
        assert store.save_runs([_long_run("1")]) == [True]
        assert store.save_runs([_long_run("1")]) == [False]  # the key still holds
        _check_stored(store)
        figure = model.CoverageFigure(
            subject=f"src/{_noise(3000, 4)}.py", files=1, lines_valid=10, lines_covered=5
        )
        store.save_decision(
            "user-service", "1", 1, passed=False, decided_at=datetime.now(UTC), document="{}",
            coverage=[figure], failures=1,
        )  # fmt: skip
        # the same long test in a second run is the same test (one tests row)
        assert store.save_runs([_long_run("2")]) == [True]
        assert len(store.first_seen("user-service")) == 2


def test_a_version_4_database_is_upgraded_and_then_takes_long_names(db_url: str) -> None:
    engine = create_engine(parse_url(db_url).url)
    with engine.begin() as conn:
        assert migrations.upgrade(conn, target=4) == (0, 4)
    engine.dispose()
    target = parse_url(db_url)
    with HistoryStore(make_engine(target, lock_timeout=5), target, lock_timeout=5) as old:
        assert old.save_runs([run("0", tests=[result("s::short")])]) == [True]
    with open_store(db_url) as store:
        assert store.schema_version() == SCHEMA_VERSION == 5
        assert store.save_runs([_long_run("1")]) == [True]
        assert store.save_runs([run("0", tests=[result("s::short")])]) == [False]
        assert len(store.runs()) == 2


def test_the_cli_stores_a_3000_character_test_name_and_a_4000_character_branch(
    tmp_path: Path, db_url: str
) -> None:
    (tmp_path / "junit.xml").write_text(
        '<testsuite name="s" tests="2">'
        f'<testcase classname="tests.test_api" name="{LONG_TEST}" time="0.1">'
        '<failure message="boom">assert 1 == 2</failure></testcase>'
        '<testcase classname="tests.test_api" name="test_ok" time="0.1"/>'
        "</testsuite>",
        encoding="utf-8",
    )
    url = db_url.replace("postgresql://", "postgresql+psycopg://", 1)
    proc = gatekeeper(
        "ingest", "junit.xml", "--service", "svc", "--run-id", "1", "--branch", LONG_BRANCH,
        "--db", url, "--json", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert '"tests": 2' in proc.stdout and '"failed": 1' in proc.stdout
