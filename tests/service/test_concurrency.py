"""Two service processes on two ports share one fresh PostgreSQL database and take 200
uploads, 16 at a time, alternating ports: distinct runs and re-sent ones. Every run is stored
exactly once. (Correctness only; benchmarks/service.py measures the latency.)"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from ..conftest import SAMPLES
from .conftest import API, Server, drop_pg_database, make_token, new_pg_database, start_server

JUNIT = (SAMPLES / "next" / "user-service" / "junit.xml").read_bytes()
UPLOADS, DISTINCT, IN_FLIGHT = 200, 160, 16


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[list[Server], str, str]]:
    db = new_pg_database()
    servers: list[Server] = []
    try:
        token = make_token(db, "ci", "upload", tmp_path)
        servers = [start_server(db, tmp_path) for _ in range(2)]
        yield servers, token, db
    finally:
        for s in servers:
            s.stop()
        drop_pg_database(db)


@pytest.mark.postgres
def test_concurrent_uploads_to_two_replicas_store_each_run_once(
    two_servers: tuple[list[Server], str, str],
) -> None:
    servers, token, db = two_servers
    rnd = random.Random(5)
    plan = [f"run-{i:03d}" for i in range(DISTINCT)]
    plan += rnd.sample(plan, UPLOADS - DISTINCT)  # 40 runs sent twice
    rnd.shuffle(plan)
    clients = [
        httpx.Client(
            base_url=s.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
            limits=httpx.Limits(max_connections=IN_FLIGHT),
        )
        for s in servers
    ]

    def send(i: int) -> tuple[str, int, bool]:
        run_id = plan[i]
        r = clients[i % 2].post(
            f"{API}/runs",
            files=[("files", ("junit.xml", JUNIT))],
            data={"service": "load", "run_id": run_id, "branch": "main"},
        )
        assert r.status_code in (200, 201), r.text
        return run_id, r.status_code, bool(r.json()["stored"])

    try:
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            answers = list(pool.map(send, range(UPLOADS)))
    finally:
        for c in clients:
            c.close()

    assert len(answers) == UPLOADS
    stored = Counter(run_id for run_id, _status, was_stored in answers if was_stored)
    assert set(stored) == set(plan) and set(stored.values()) == {1}  # one "stored" per run
    assert Counter(status for _, status, _ in answers) == {201: DISTINCT, 200: UPLOADS - DISTINCT}
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT run_id, count(*) FROM runs WHERE service = 'load' GROUP BY run_id"
        ).fetchall()
        per_run = conn.execute("SELECT count(*) FROM results GROUP BY run_fk").fetchall()
        tests = conn.execute("SELECT count(*) FROM tests").fetchone()
    assert dict(rows) == dict.fromkeys(set(plan), 1)
    assert tests == (39,)  # the report's 39 tests, one row each, shared by every run
    # every run has its results once: the same number for each (a run stored twice over, or
    # half stored, would stand out)
    assert len(per_run) == DISTINCT and len(set(per_run)) == 1 and per_run[0][0] >= 39
    for s in servers:  # both replicas took their half
        assert s.log().count("POST /api/v1/runs 20") == UPLOADS // 2


def _junit(failing: bool, tag: str) -> bytes:
    fail = '<failure message="boom">assert 1 == 2</failure>' if failing else ""
    return (
        f'<testsuite name="s" tests="2"><!-- {tag} -->'
        '<testcase classname="s" name="t_ok" time="0.1"/>'
        f'<testcase classname="s" name="t_maybe" time="0.1">{fail}</testcase>'
        "</testsuite>"
    ).encode()


@pytest.mark.postgres
def test_racing_different_reports_of_one_run_through_two_replicas(
    two_servers: tuple[list[Server], str, str],
) -> None:
    """10 run keys x (report A twice + a failing report B), all sent at once, alternating
    replicas: each key is stored once; every success (201/200) carries the content kept;
    every other upload is a 409 naming the run; nothing is lost or doubled."""
    servers, token, db = two_servers
    keys = 10
    plan = [(f"race-{k}", what) for k in range(keys) for what in ("A", "B", "A")]
    body = {"A": _junit(False, "A"), "B": _junit(True, "B")}
    start = threading.Barrier(len(plan))
    clients = [
        httpx.Client(
            base_url=s.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
            limits=httpx.Limits(max_connections=len(plan)),
        )
        for s in servers
    ]

    def send(i: int) -> tuple[int, dict[str, object]]:
        run_id, what = plan[i]
        start.wait(timeout=60)
        r = clients[i % 2].post(
            f"{API}/runs",
            files=[("files", ("junit.xml", body[what]))],
            data={"service": "race", "run_id": run_id, "branch": "main"},
        )
        return r.status_code, r.json()

    try:
        with ThreadPoolExecutor(len(plan)) as pool:
            answers = list(pool.map(send, range(len(plan))))
    finally:
        for c in clients:
            c.close()
    with psycopg.connect(db) as conn:
        rows = dict(
            conn.execute(
                "SELECT run_id, count(*) FROM runs WHERE service = 'race' GROUP BY run_id"
            ).fetchall()
        )
        failed = dict(conn.execute("SELECT run_id, failed FROM runs").fetchall())
    assert rows == {f"race-{k}": 1 for k in range(keys)}  # none lost, none doubled
    for k in range(keys):
        run_id = f"race-{k}"
        kept = "B" if failed[run_id] else "A"
        mine = [(what, a) for (rid, what), a in zip(plan, answers, strict=True) if rid == run_id]
        assert sum(status == 201 for _, (status, _) in mine) == 1
        for what, (status, answer) in mine:
            if what == kept:
                assert status in (200, 201), answer
                assert answer["failed"] == failed[run_id]
            else:
                assert status == 409, answer
                assert f"run {run_id} attempt 1" in str(answer)
