"""Upload latency of `gatekeeper serve`: two replicas on one PostgreSQL database.

    python benchmarks/service.py                 # 200 uploads, 16 in flight
    python benchmarks/service.py --uploads 400 --in-flight 32

It makes a fresh PostgreSQL database (the server at 127.0.0.1:5432, trust auth for postgres,
as in the tests; --pg to change it), an upload token with the real CLI, and starts two
`gatekeeper serve` processes on free loopback ports. Then it sends the uploads from a pool of
threads, alternating the ports: each is the sample user-service run (a nextest JUnit file of 39
tests, a Cobertura report and a `cargo bench` log) under its own run id, and one in five is a
run sent a second time (stored once, answered "already in the history"). Each request is timed
from send to full answer. It prints and writes to benchmarks/results/service.json the p50, p95,
p99 and maximum latency, the throughput, and the same for 200 skip-list reads; then it stops the
servers and drops the database. Every request goes to 127.0.0.1 and the run is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SAMPLE = ROOT / "sample_reports" / "next" / "user-service"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gatekeeper.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        sys.exit(f"gatekeeper {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def _start(db: str, cwd: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    log = (cwd / f"serve-{port}.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gatekeeper.cli", "serve", "--port", str(port), "--db", db,
         "--log-level", "warning"],
        cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gatekeeper serve exited: see {log.name}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    sys.exit("gatekeeper serve did not start within 30 s")


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49], 1),
        "p95_ms": round(cuts[94], 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(ms[-1], 1),
        "mean_ms": round(statistics.fmean(ms), 1),
    }


def _storm(
    urls: list[str], token: str, jobs: list[dict[str, Any]], in_flight: int
) -> tuple[list[float], float, list[int]]:
    clients = [
        httpx.Client(
            base_url=u,
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
            limits=httpx.Limits(max_connections=in_flight),
        )
        for u in urls
    ]

    def one(i: int) -> tuple[float, int]:
        job = jobs[i]
        started = time.perf_counter()
        if job["method"] == "POST":
            r = clients[i % len(clients)].post(job["path"], files=job["files"], data=job["data"])
        else:
            r = clients[i % len(clients)].get(job["path"], params=job["params"])
        r.read()
        return time.perf_counter() - started, r.status_code

    began = time.perf_counter()
    try:
        with ThreadPoolExecutor(in_flight) as pool:
            done = list(pool.map(one, range(len(jobs))))
    finally:
        for c in clients:
            c.close()
    wall = time.perf_counter() - began
    return [d for d, _ in done], wall, [s for _, s in done]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--pg", default=PG_ADMIN, help="the PostgreSQL maintenance database URL")
    args = parser.parse_args()
    if not 1 <= args.uploads <= 5000 or not 1 <= args.in_flight <= 64:
        sys.exit("--uploads must be 1 to 5,000 and --in-flight 1 to 64 (a bounded local test)")

    name = f"gk_bench_{uuid.uuid4().hex[:10]}"
    base = args.pg.rsplit("/", 1)[0]
    db = f"{base}/{name}"
    with psycopg.connect(args.pg, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cwd = Path(tmp)
            token = _cli(
                "token", "create", "--name", "bench", "--scope", "upload", "--db", db, cwd=cwd
            ).strip()
            started = [_start(db, cwd) for _ in range(2)]
            procs = [p for p, _ in started]
            urls = [u for _, u in started]
            files = [
                ("files", (f"user-service/{p.name}", p.read_bytes()))
                for p in sorted(SAMPLE.iterdir())
            ]
            rnd = random.Random(11)
            distinct = args.uploads - args.uploads // 5
            plan = [f"bench-{i:05d}" for i in range(distinct)]
            plan += rnd.sample(plan, args.uploads - distinct)
            rnd.shuffle(plan)
            uploads = [
                {
                    "method": "POST",
                    "path": "/api/v1/runs",
                    "files": files,
                    "data": {"service": "user-service", "run_id": r, "branch": "main"},
                }
                for r in plan
            ]
            times, wall, statuses = _storm(urls, token, uploads, args.in_flight)
            bad = [s for s in statuses if s not in (200, 201)]
            if bad:
                sys.exit(f"{len(bad)} uploads failed: statuses {sorted(set(bad))}")
            with psycopg.connect(db) as conn:
                row = conn.execute("SELECT count(*), count(DISTINCT run_id) FROM runs").fetchone()
            assert row == (distinct, distinct), f"runs stored: {row}, expected {distinct} once"
            reads = [
                {
                    "method": "GET",
                    "path": "/api/v1/skip-list",
                    "params": {"format": "nextest", "service": "user-service"},
                }
                for _ in range(200)
            ]
            read_times, read_wall, read_statuses = _storm(urls, token, reads, args.in_flight)
            assert set(read_statuses) == {200}, sorted(set(read_statuses))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    result = {
        "benchmark": "service",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "replicas": 2,
        "in_flight": args.in_flight,
        "uploads": {
            "requests": args.uploads,
            "distinct_runs": distinct,
            "stored_once": True,
            "bytes_per_upload": sum(len(f[1][1]) for f in files),
            "wall_s": round(wall, 2),
            "per_s": round(args.uploads / wall, 1),
            **_percentiles(times),
        },
        "skip_list_reads": {
            "requests": len(reads),
            "wall_s": round(read_wall, 2),
            "per_s": round(len(reads) / read_wall, 1),
            **_percentiles(read_times),
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "service.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    u, r = result["uploads"], result["skip_list_reads"]
    print(
        f"uploads: {u['requests']} ({distinct} runs, each stored once), {args.in_flight} in "
        f"flight over 2 replicas: p50 {u['p50_ms']} ms, p95 {u['p95_ms']} ms, p99 "
        f"{u['p99_ms']} ms, max {u['max_ms']} ms; {u['per_s']}/s"
    )
    print(
        f"skip-list reads: {r['requests']}: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, "
        f"{r['per_s']}/s"
    )
    print(f"written to {RESULTS / 'service.json'}")


if __name__ == "__main__":
    main()
