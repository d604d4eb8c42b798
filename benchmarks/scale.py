"""How the daily work scales with the history's length: the same tests, one history twice as long.

    python benchmarks/scale.py --results 500000              # 0.5M against 1M results
    python benchmarks/scale.py --results 500000 --baseline /tmp/gatekeeper-main
    python benchmarks/scale.py --results 500000 --db postgresql://127.0.0.1/test

Two histories are generated (``benchmarks/history.py``; the long one is the short one with as
much past again) and each command runs on both as a fresh process, ``--reps`` times, the
histories alternating so machine noise hits both alike: ``classify`` (a dry run into an empty
registry), ``report --since 7d --format html``, ``report --since 30d``, ``gate`` on one more run,
``quarantine list``, and a backfill (``ingest --manifest`` of the history's JUnit files into a
fresh database, once per history). Printed: the median wall time and peak memory (the child's
own maximum resident set, from ``wait4``) per history, and long / short.

With ``--baseline DIR`` (a checkout of another gatekeeper, e.g. ``git archive main | tar -x``)
every command also runs with that code, alternating with this one, and the table gets the
ratios this / baseline: before and after, in one sitting.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import history  # noqa: E402  (benchmarks/ is not a package)

ROOT = HERE.parent
WORK = HERE / ".work" / "scale"
# Where the histories end; reports count their period back from just after it, so that the
# histories can be generated once and measured on many days.
END = datetime(2026, 12, 1, tzinfo=UTC)
UNTIL = "2026-12-01T00:01Z"
SITTING = int(time.time())  # gate stores a run: a new run id in every sitting


def run_child(cmd: list[str], code: Path, cwd: Path) -> tuple[float, float]:
    """(seconds, peak MiB) of one process run with ``code`` first on its path (``cwd`` must not
    hold a gatekeeper package: ``python -m`` puts it before PYTHONPATH)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):  # 1: the gate said no, which is an answer
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def prepare(shape: history.Shape, name: str, db: str | None) -> tuple[str, Path, Path]:
    """The history in a store (reused when there), its JUnit backfill folder, and a registry."""
    folder = WORK / name
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / "shape.json"
    wanted = json.dumps({"shape": repr(replace(shape, end=END)), "db": db})
    url = db or f"sqlite:///{folder / 'history.db'}"
    if not stamp.exists() or stamp.read_text() != wanted:
        if db is None:
            (folder / "history.db").unlink(missing_ok=True)
        else:
            _reset_postgres(db)
        n = history.write_store(shape, url)
        history.write_junit(shape, folder / "junit")
        stamp.write_text(wanted)
        print(f"{name}: {n:,} results, {shape.days:.1f} days", file=sys.stderr)
    registry = folder / "flaky-tests.yml"
    registry.write_text("flaky_tests: []\n")
    return url, folder / "junit", registry


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def gate_report(shape: history.Shape, folder: Path) -> Path:
    """One more run of service-00's tests, as a JUnit file."""
    last = replace(shape, days=1 / shape.runs_per_day, services=1)
    history.write_junit(last, folder / "gate")
    return next((folder / "gate").glob("*.xml"))


def commands(url: str, junit: Path, registry: Path, gate: Path, rep: int) -> dict[str, list[str]]:
    gk = [sys.executable, "-m", "gatekeeper.cli"]
    reg = ["--registry", str(registry)]
    return {
        "classify": [*gk, "classify", "--db", url, *reg, "--dry-run", "--allow-mass-quarantine"],
        "report 7d html": [
            *gk, "report", "--since", "7d", "--until", UNTIL, "--format", "html", "--db", url, *reg,
            "--out", str(registry.parent / "report.html"),
        ],
        "report 30d": [
            *gk, "report", "--since", "30d", "--until", UNTIL, "--db", url, *reg,
            "--out", os.devnull,
        ],
        "gate": [
            *gk, "gate", str(gate), "--service", "service-00", "--run-id", f"bench-{SITTING}-{rep}",
            "--commit", f"{SITTING:020x}{rep:020x}", "--branch", "main", "--db", url, *reg,
        ],
        "quarantine list": [*gk, "quarantine", "list", *reg],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=500_000, help="the short history's size")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--db", help="a PostgreSQL URL per history: two, comma-separated")
    parser.add_argument("--baseline", type=Path, help="another gatekeeper checkout to compare")
    parser.add_argument("--only", help="comma-separated command names (e.g. classify,gate)")
    parser.add_argument("--no-backfill", action="store_true")
    args = parser.parse_args()
    short = history.Shape(end=END).for_results(args.results)
    long = replace(short, days=short.days * 2)
    dbs = args.db.split(",") if args.db else [None, None]
    histories = {
        "short": prepare(short, f"short-{args.results}", dbs[0]),
        "long": prepare(long, f"long-{args.results}", dbs[1]),
    }
    codes = {"this": ROOT}
    if args.baseline:
        codes = {"before": args.baseline.resolve(), "after": ROOT}
    gate = gate_report(short, WORK)
    only = set(args.only.split(",")) if args.only else None
    times: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    serial = itertools.count()  # gate: a new run id each time
    for _rep in range(args.reps):
        for code_name, code in codes.items():
            for hist, (url, junit, registry) in histories.items():
                cmds = commands(url, junit, registry, gate, next(serial))
                for cmd_name, cmd in cmds.items():
                    if only and cmd_name not in only:
                        continue
                    times.setdefault((cmd_name, hist, code_name), []).append(
                        run_child(cmd, code, WORK)
                    )
    if not args.no_backfill and (only is None or "backfill" in only):
        for code_name, code in codes.items():
            for hist, (_url, junit, _registry) in histories.items():
                db = WORK / f"backfill-{hist}.db"
                db.unlink(missing_ok=True)
                cmd = [
                    sys.executable, "-m", "gatekeeper.cli", "ingest", "--manifest",
                    str(junit / "manifest.jsonl"), "--db", f"sqlite:///{db}",
                ]  # fmt: skip
                times[("backfill", hist, code_name)] = [run_child(cmd, code, WORK)]
                db.unlink()
    report(times, list(codes))


def report(times: dict[tuple[str, str, str], list[tuple[float, float]]], codes: list[str]) -> None:
    names = list(dict.fromkeys(k[0] for k in times))
    head = "| work | " + " | ".join(f"{c} short | {c} long | {c} long/short" for c in codes)
    if len(codes) == 2:
        head += " | after/before short | after/before long"
    print(head + " |")
    print("|---" * (head.count("|")) + "|")
    out: dict[str, object] = {}
    for name in names:
        cells = []
        med: dict[tuple[str, str], tuple[float, float]] = {}
        for c in codes:
            for h in ("short", "long"):
                got = times.get((name, h, c), [])
                med[(c, h)] = (
                    statistics.median(t for t, _ in got) if got else float("nan"),
                    max(m for _, m in got) if got else float("nan"),
                )
            s, lg = med[(c, "short")], med[(c, "long")]
            cells += [
                f"{s[0]:.2f} s / {s[1]:.0f} MiB",
                f"{lg[0]:.2f} s / {lg[1]:.0f} MiB",
                f"x{lg[0] / s[0]:.2f} / x{lg[1] / s[1]:.2f}",
            ]
        if len(codes) == 2:
            for h in ("short", "long"):
                b, a = med[(codes[0], h)], med[(codes[1], h)]
                cells.append(f"x{a[0] / b[0]:.2f} / x{a[1] / b[1]:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
        out[name] = {f"{c}/{h}": med[(c, h)] for c in codes for h in ("short", "long")}
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "scale-latest.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
