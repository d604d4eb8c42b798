"""The weekly report never names a load spike as a regression (issue 10).

A `cargo bench` history on main: ten quiet runs, then in the period a run on a busy machine
(every benchmark 2.2x to 2.6x slower, no code change), a quiet run, and a real change that made
one benchmark 22.79x slower (+2179 %) and stayed. The report must name that one, from the run
that made it, and say the spike was a spike. Real processes and real report files.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ..cli import gatekeeper
from ..test_cli_gate import bench_log

STABLE = {f"bench_{n}": 1000.0 * 1.9**i for i, n in enumerate("abcdefgh")}
JITTER = (0.93, 1.05, 0.97, 1.08, 1.0, 0.95, 1.03, 0.99)
REAL = "bench_c"


def _values(i: int, load: float = 1.0, slowed: float = 1.0) -> dict[str, float]:
    rnd = random.Random(i)
    out = {}
    for (name, ns), j in zip(STABLE.items(), JITTER, strict=True):
        jitter = j if load != 1.0 else 1.0
        out[name] = ns * rnd.lognormvariate(0, 0.02) * load * jitter
        if name == REAL:
            out[name] *= slowed
    return out


# (day of November, values): days 1-10 before the period, 11-15 in it
RUNS = [
    *((day, _values(day)) for day in range(1, 11)),
    (11, _values(11, load=2.4)),  # the load spike
    (12, _values(12)),
    (13, _values(13, slowed=22.79)),  # the real change, sustained
    (14, _values(14, slowed=22.79)),
    (15, _values(15, slowed=22.79)),
]


def _ingest(root: Path, runs: list[tuple[int, dict[str, float]]]) -> None:
    manifest = []
    for day, values in runs:
        name = f"bench-{day:02d}.txt"
        (root / name).write_text(bench_log(values, 0.01))
        meta = {
            "path": name, "service": "app", "commit": f"{day:040x}", "branch": "main",
            "run_id": f"run-{day:02d}", "timestamp": f"2026-11-{day:02d}T10:00:00Z", "attempt": 1,
        }  # fmt: skip
        manifest.append(json.dumps(meta))
    (root / "manifest.jsonl").write_text("\n".join(manifest) + "\n")
    done = gatekeeper("ingest", "--manifest", "manifest.jsonl", cwd=root)
    assert done.returncode == 0, done.stderr


def _report(root: Path) -> dict[str, object]:
    done = gatekeeper(
        "report", "--since", "2026-11-11", "--until", "2026-11-16", "--format", "json", cwd=root
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _check(report: dict[str, object]) -> None:
    trends = {b["name"]: b for b in report["benchmarks"]}  # type: ignore[attr-defined]
    assert set(trends) == set(STABLE)
    named = {name for name, b in trends.items() if b["regressions"]}
    assert named == {REAL}
    first = trends[REAL]["first_regression"]
    assert first["run_id"] == "run-13"
    assert first["change"] == pytest.approx(21.79, rel=0.1)  # +2179 %, give or take the noise
    spike = [n for n in report["notes"] if "run-11" in n]  # type: ignore[attr-defined]
    assert len(spike) == 1 and "8 of 8 moved together by x2." in spike[0], report["notes"]
    assert "likely a loaded machine" in spike[0]


def test_a_replayed_load_spike_is_not_the_regression(tmp_path: Path) -> None:
    _ingest(tmp_path, RUNS)
    _check(_report(tmp_path))


def test_a_gated_load_spike_is_not_the_regression(tmp_path: Path) -> None:
    """The spike went through the gate (exit 2, stored with its shift); the rest replayed."""
    spike = RUNS.index(next(r for r in RUNS if r[0] == 11))
    _ingest(tmp_path, RUNS[:spike])
    (tmp_path / "spike.txt").write_text(bench_log(RUNS[spike][1], 0.03))
    done = gatekeeper(
        "gate", "spike.txt", "--service", "app", "--branch", "main", "--run-id", "run-11",
        "--commit", f"{11:040x}", "--timestamp", "2026-11-11T10:00:00Z", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    (tmp_path / "manifest.jsonl").unlink()
    _ingest(tmp_path, RUNS[spike + 1 :])
    _check(_report(tmp_path))
