"""gatekeeper's speed benchmarks: whole processes, timed side by side with a baseline.

    python benchmarks/run.py            # all benchmarks, 5 repetitions each
    python benchmarks/run.py --quick    # fewer repetitions and a smaller backfill

Each benchmark runs the real `gatekeeper` command as a fresh process and a baseline process on
the same input, alternating them so machine noise hits both alike, and reports medians and the
ratio. Targets (from the foundation issue):

- ingest of one 100,000-testcase JUnit file into a fresh SQLite database: <= 4x a bare
  Python process that only iterparses the file with lxml;
- backfill of ~2,400 JUnit files / 600,000 results via --manifest: <= 4x the bare lxml parse
  of the same files;
- `gatekeeper --help`: < 0.25 s.
- the whole `gatekeeper gate` on a 5,000-file / 500,000-line Cobertura file plus a
  100,000-testcase JUnit file: <= 3x `pycobertura show` on the Cobertura file alone (the gate
  issue; `benchmarks/coverage.py` measures the coverage check alone: <= 0.5x, < 100 MiB).

Beside each ingest ratio it prints the *floor*: a process that imports the store (SQLModel,
SQLAlchemy) and runs gatekeeper's own JUnit parser over the same files, storing nothing. No
ingest that keeps this stack and the model records can be faster than that.

Results are printed and written to benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
RESULTS = HERE / "results"

# The baseline: a bare Python process that only iterparses the files with lxml, clearing each
# <testcase> as it goes (the fastest honest streaming parse; the ratio is against this).
BARE_LXML = """
import sys
from lxml import etree
n = 0
for path in sys.argv[1:]:
    for _event, elem in etree.iterparse(path, events=("end",)):
        if elem.tag == "testcase":
            n += 1
            elem.clear()
print(n)
"""
# The plainest reading of "only iterparses": no clearing, so lxml builds the whole tree.
PLAIN_LXML = """
import sys
from lxml import etree
for path in sys.argv[1:]:
    for _event, _elem in etree.iterparse(path):
        pass
"""

# The floor of any ingest that keeps the stack: import the store (SQLModel, SQLAlchemy)
# and run gatekeeper's own JUnit parser (bytes -> model records) on each file; store nothing,
# no CLI. Whatever a store does on top, the ratio cannot go below this one's.
FLOOR = """
import sys
import gatekeeper.store
from gatekeeper.parsers import junit
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        junit.parse(f.read(), path)
"""


def _gatekeeper() -> list[str]:
    exe = shutil.which("gatekeeper")
    return [exe] if exe else [sys.executable, "-m", "gatekeeper.cli"]


def write_junit(path: Path, n_tests: int, seed: int, *, suites: int = 50) -> None:
    """A pytest-shaped JUnit file: n_tests testcases; 5% of them flaky (failing 8% of their runs,
    with a traceback), 2% skipped."""
    rng = random.Random(seed)
    per_suite = max(1, n_tests // suites)
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n']
    written = 0
    for s in range(suites):
        count = per_suite if s < suites - 1 else n_tests - written
        parts.append(
            f'<testsuite name="pytest" errors="0" failures="0" skipped="0" tests="{count}" '
            f'time="12.5" timestamp="2026-11-20T10:00:00" hostname="ci">\n'
        )
        for i in range(count):
            cls = f"tests.test_module_{s:03d}.TestFeature{i % 17}"
            name = f"test_case_{i:05d}[param-{i % 7}]"
            t = f"{rng.random() * 0.2:.4f}"
            roll = rng.random()
            # A realistic suite: one test in 20 is flaky (fails 8% of its runs), one in 50 is
            # skipped, the rest pass; which tests are which is fixed by their position, so the
            # same tests are flaky in every run of a history.
            flaky = (s * 7919 + i) % 20 == 0
            if flaky and roll < 0.08:
                parts.append(
                    f'<testcase classname="{cls}" name="{name}" time="{t}">'
                    f'<failure message="AssertionError: assert 41 == 42">def {name[:14]}():\n'
                    "&gt;       assert compute() == 42\nE       assert 41 == 42\n"
                    f"tests/test_module_{s:03d}.py:{i + 10}: AssertionError</failure></testcase>\n"
                )
            elif (s * 104729 + i) % 50 == 1:
                parts.append(
                    f'<testcase classname="{cls}" name="{name}" time="0.0000">'
                    '<skipped type="pytest.skip" message="needs redis">'
                    "tests/conftest.py:12: needs redis</skipped></testcase>\n"
                )
            else:
                parts.append(f'<testcase classname="{cls}" name="{name}" time="{t}" />\n')
        written += count
        parts.append("</testsuite>\n")
    parts.append("</testsuites>\n")
    path.write_text("".join(parts), encoding="utf-8")


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{proc.stderr}")
    return elapsed


def side_by_side(
    name: str, target: list[str], files: list[str], reps: int, fresh: Path | None = None
) -> dict[str, object]:
    """Alternate baseline, plain baseline and gatekeeper ``reps`` times; medians and ratios."""
    t_times: list[float] = []
    b_times: list[float] = []
    p_times: list[float] = []
    f_times: list[float] = []
    for _ in range(reps):
        b_times.append(timed([sys.executable, "-c", BARE_LXML, *files], WORK))
        p_times.append(timed([sys.executable, "-c", PLAIN_LXML, *files], WORK))
        f_times.append(timed([sys.executable, "-c", FLOOR, *files], WORK))
        if fresh is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(str(fresh) + suffix).unlink(missing_ok=True)
        t_times.append(timed(target, WORK))
    t_med, b_med, p_med, f_med = (
        statistics.median(x) for x in (t_times, b_times, p_times, f_times)
    )
    row = {
        "benchmark": name,
        "gatekeeper_median_s": round(t_med, 4),
        "baseline_median_s": round(b_med, 4),
        "ratio": round(t_med / b_med, 2),
        "plain_iterparse_median_s": round(p_med, 4),
        "ratio_to_plain_iterparse": round(t_med / p_med, 2),
        "floor_median_s": round(f_med, 4),
        "floor_ratio": round(f_med / b_med, 2),
        "gatekeeper_runs_s": [round(t, 4) for t in t_times],
        "baseline_runs_s": [round(t, 4) for t in b_times],
    }
    print(
        f"{name:<38} gatekeeper {t_med:7.3f}s  baseline {b_med:7.3f}s  ratio {t_med / b_med:5.2f}x"
        f"  (plain iterparse {p_med:.3f}s: {t_med / p_med:.2f}x;"
        f" floor: store imports + parse, nothing stored {f_med:.3f}s = {f_med / b_med:.2f}x)"
    )
    return row


def bench_single(reps: int) -> dict[str, object]:
    junit = WORK / "junit-100k.xml"
    if not junit.exists():
        write_junit(junit, 100_000, seed=1)
    db = WORK / "single.db"
    target = [
        *_gatekeeper(),
        "ingest",
        str(junit),
        "--service",
        "bench",
        "--run-id",
        "1",
        "--commit",
        "0" * 40,
        "--branch",
        "main",
        "--db",
        f"sqlite:///{db}",
    ]
    return side_by_side("ingest 100k-testcase JUnit", target, [str(junit)], reps, fresh=db)


def bench_backfill(reps: int, files: int, per_file: int) -> dict[str, object]:
    folder = WORK / f"backfill-{files}x{per_file}"
    manifest = folder / "manifest.jsonl"
    if not manifest.exists():
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(files):
            service = f"service-{i % 12:02d}"
            run = i // 12
            path = folder / f"{service}-run-{run:04d}.xml"
            write_junit(path, per_file, seed=i, suites=5)
            lines.append(
                json.dumps(
                    {
                        "path": path.name,
                        "service": service,
                        "commit": f"{run:040x}",
                        "branch": "main",
                        "run_id": str(run),
                        "timestamp": f"2026-{1 + run % 12:02d}-{1 + run % 28:02d}T10:00:00Z",
                        "attempt": 1,
                    }
                )
            )
        manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    xmls = sorted(str(p) for p in folder.glob("*.xml"))
    db = WORK / "backfill.db"
    target = [*_gatekeeper(), "ingest", "--manifest", str(manifest), "--db", f"sqlite:///{db}"]
    return side_by_side(
        f"backfill {files} files / {files * per_file:,} results", target, xmls, reps, fresh=db
    )


def bench_help(reps: int) -> dict[str, object]:
    times = [timed([*_gatekeeper(), "--help"], WORK) for _ in range(reps * 3)]
    base = [timed([sys.executable, "-c", "pass"], WORK) for _ in range(reps * 3)]
    med = statistics.median(times)
    base_med = statistics.median(base)
    print(f"{'gatekeeper --help':<34} median {med:.3f}s (python -c pass: {base_med:.3f}s)")
    return {
        "benchmark": "gatekeeper --help",
        "gatekeeper_median_s": round(med, 4),
        "baseline_median_s": round(statistics.median(base), 4),
        "target_s": 0.25,
    }


def bench_classify(reps: int, files: int) -> dict[str, object]:
    """`gatekeeper classify` over the backfilled history (target: under 5 s for 600,000 results)."""
    manifest = WORK / f"backfill-{files}x250" / "manifest.jsonl"
    db = WORK / "classify.db"
    if not db.exists():
        if not manifest.exists():
            bench_backfill(1, files, 250)
        ingest = [*_gatekeeper(), "ingest", "--manifest", str(manifest)]
        timed([*ingest, "--db", f"sqlite:///{db}"], WORK)
    registry = WORK / "classify-registry.yml"
    cmd = [*_gatekeeper(), "classify", "--db", f"sqlite:///{db}", "--registry", str(registry)]
    # One test in twenty of this history is flaky by construction: the first classify would
    # quarantine about 5% of each service at once, which classify refuses without this flag.
    cmd.append("--allow-mass-quarantine")
    # The first classify of a history writes every quarantine into an empty registry; the
    # nightly runs after it find the registry mostly up to date. Both are reported.
    first = []
    steady = []
    for _ in range(reps):
        registry.write_text("flaky_tests: []\n", encoding="utf-8")
        first.append(timed(cmd, WORK))
        steady.append(timed(cmd, WORK))
    f_med, s_med = statistics.median(first), statistics.median(steady)
    print(
        f"{f'classify {files * 250:,} results':<38} median {s_med:.3f}s with the registry up to"
        f" date, {f_med:.3f}s into an empty registry (target < 5 s)"
    )
    return {
        "benchmark": "classify",
        "results": files * 250,
        "median_s": round(s_med, 4),
        "first_run_median_s": round(f_med, 4),
        "target": 5,
    }


def bench_quarantine_list(reps: int) -> dict[str, object]:
    """`gatekeeper quarantine list` on a 500-entry registry (target: under 0.4 s)."""
    registry = WORK / "registry-500.yml"
    lines = ["flaky_tests:"]
    for i in range(500):
        lines += [
            f"  - name: tests.test_module_{i // 20:03d}::test_case_{i:04d}",
            f"    service: service-{i % 12:02d}",
            f"    reason: 'flaky: {i % 9 + 1} of 60 executions failed'",
            "    quarantined: true",
            f"    issue: '#{1000 + i}'",
            "    owner: team-a",
            "    evidence:",
            "      verdict: flaky",
            "      confidence: 0.99",
            f"      summary: 'flaky: {i % 9 + 1} of 60 executions failed'",
            "      detected: 2026-11-01",
            "      updated: 2026-11-20",
            "      runs: 60",
            f"      failures: {i % 9 + 1}",
            f"      failure_rate: {(i % 9 + 1) / 60:.4f}",
        ]
    registry.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cmd = [*_gatekeeper(), "quarantine", "list", "--registry", str(registry)]
    times = [timed(cmd, WORK) for _ in range(reps * 3)]
    med = statistics.median(times)
    print(f"{'quarantine list, 500 entries':<38} median {med:.3f}s (target < 0.4 s)")
    return {
        "benchmark": "quarantine list (500 entries)",
        "median_s": round(med, 4),
        "target_s": 0.4,
    }


def bench_gate(reps: int) -> dict[str, object]:
    """The whole gate on a 5,000-file / 500,000-line Cobertura file plus a 100,000-testcase
    JUnit file (fresh database each time), against `pycobertura show` on the coverage file
    alone. Target: <= 3x."""
    sys.path.insert(0, str(HERE))
    from coverage import pycobertura_cmd, run_child, write_cobertura  # benchmarks/coverage.py

    def gate_child(cmd: list[str]) -> tuple[float, float]:
        # the generated JUnit has failing tests, so the gate exits 1: a decision, not an error
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _pid, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            raise SystemExit(f"gate could not decide:\n{err[-2000:]}")
        return elapsed, usage.ru_maxrss / 1024.0

    cov = WORK / "coverage-5000x100.xml"
    if not cov.exists():
        write_cobertura(cov, 5000, 100)
    junit = WORK / "junit-100k.xml"
    if not junit.exists():
        write_junit(junit, 100_000, seed=1)
    db = WORK / "gate.db"
    config = WORK / "gate-config.yml"
    # thresholds the generated report meets, so every coverage check runs (the JUnit's failing
    # tests make the gate exit 1: a decision, timed like a pass)
    config.write_text("coverage: {line: 1, service_line: 1, max_drop: null}\n", encoding="utf-8")
    target = [
        *_gatekeeper(), "gate", str(junit), str(cov), "--service", "bench", "--run-id", "1",
        "--commit", "0" * 40, "--branch", "main", "--config", str(config), "--db",
        f"sqlite:///{db}", "--registry", str(WORK / "no-registry.yml"),
    ]  # fmt: skip
    (WORK / "no-registry.yml").write_text("flaky_tests: []\n", encoding="utf-8")
    base = [*pycobertura_cmd(), "show", str(cov)]
    g_times: list[float] = []
    g_rss: list[float] = []
    p_times: list[float] = []
    for _ in range(reps):
        p_times.append(run_child(base)[0])
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        elapsed, rss = gate_child(target)
        g_times.append(elapsed)
        g_rss.append(rss)
    g_med, p_med = statistics.median(g_times), statistics.median(p_times)
    print(
        f"{'gate: 500k-line Cobertura + 100k JUnit':<38} gatekeeper {g_med:7.3f}s  "
        f"pycobertura show {p_med:7.3f}s  ratio {g_med / p_med:5.2f}x  "
        f"(peak RSS {statistics.median(g_rss):.0f} MiB)"
    )
    return {
        "benchmark": "gate 500k-line Cobertura + 100k-testcase JUnit vs pycobertura show",
        "gatekeeper_median_s": round(g_med, 4),
        "baseline_median_s": round(p_med, 4),
        "ratio": round(g_med / p_med, 2),
        "gatekeeper_peak_rss_mib": round(statistics.median(g_rss), 1),
        "gatekeeper_runs_s": [round(t, 4) for t in g_times],
        "baseline_runs_s": [round(t, 4) for t in p_times],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 repetitions, a 600-file backfill")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument(
        "--only",
        choices=["single", "backfill", "help", "classify", "quarantine", "gate"],
        default=None,
    )
    args = ap.parse_args()
    reps = args.reps or (3 if args.quick else 5)
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    if args.only in (None, "help"):
        rows.append(bench_help(reps))
    if args.only in (None, "single"):
        rows.append(bench_single(reps))
    files = 600 if args.quick else 2400
    if args.only in (None, "backfill"):
        rows.append(bench_backfill(max(1, reps - 2), files, 250))
    if args.only in (None, "classify"):
        rows.append(bench_classify(max(1, reps - 2), files))
    if args.only in (None, "quarantine"):
        rows.append(bench_quarantine_list(reps))
    if args.only in (None, "gate"):
        rows.append(bench_gate(max(1, reps - 2)))
    out = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "results": rows,
    }
    (RESULTS / "latest.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
