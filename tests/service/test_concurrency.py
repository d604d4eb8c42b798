"""Two service processes on two ports share one fresh PostgreSQL database and take 200
uploads, 16 at a time, alternating ports: distinct runs and re-sent ones. Every run is stored
exactly once. (Correctness only; benchmarks/service.py measures the latency.)"""

from __future__ import annotations

import random
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
