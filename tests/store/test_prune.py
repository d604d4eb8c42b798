"""gatekeeper prune: old runs go with everything stored with them, in batches; the runs the gate
reads as baselines stay, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gatekeeper import model
from gatekeeper.api import Gatekeeper
from gatekeeper.config import Settings
from gatekeeper.errors import ConfigError, StoreError
from gatekeeper.rules import GateConfig, HistoryRules

from .factories import T0, benchmarks, coverage_report, result, run

NOW = T0 + timedelta(days=200)
DAYS = 200  # one run of api on main a day, run "d<age in days>"
BENCH_DAYS = range(100, 121)  # 21 runs with benchmarks, none since
PASSED_DAY = 150  # the only passing gate decision
FAILED_DAY = 10


def _age(run_id: str) -> int:
    return int(run_id[1:])


def _runs() -> list[model.Run]:
    out = []
    for age in range(DAYS, 0, -1):
        out.append(
            run(
                f"d{age}",
                service="api",
                at=NOW - timedelta(days=age),
                commit=f"{age:040x}",
                tests=[result(f"t::test_{i}") for i in range(3)],
                coverage=(coverage_report(),) if age % 20 == 0 else (),
                benchmarks=benchmarks() if age in BENCH_DAYS else (),
            )
        )
    for age in (60, 90, 120):  # a feature branch: never a baseline
        out.append(
            run(
                f"f{age}",
                service="api",
                branch="feature/x",
                at=NOW - timedelta(days=age),
                tests=[result("t::test_0")],
            )
        )
    for age in (300, 310):  # a service that stopped long ago: its newest runs are its baseline
        out.append(
            run(f"w{age}", service="web", at=NOW - timedelta(days=age), tests=[result("w::test_0")])
        )
    return out


def _decide(gk: Gatekeeper, run_id: str, passed: bool) -> None:
    figure = model.CoverageFigure("api", 1, 10, 8, 0, 0)
    gk.store.save_decision(
        "api", run_id, 1, passed=passed, decided_at=NOW, document='{"failures": []}',
        coverage=[figure], failures=0 if passed else 1,
    )  # fmt: skip


@pytest.fixture
def gk(db_url: str) -> Iterator[Gatekeeper]:
    gk = Gatekeeper(Settings(db_url=db_url), env={})
    gk.store.save_runs(_runs())
    _decide(gk, f"d{PASSED_DAY}", True)
    _decide(gk, f"d{FAILED_DAY}", False)
    yield gk
    gk.close()


def _count(url: str, table: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def _stored(gk: Gatekeeper) -> set[str]:
    return {r.meta.run_id for r in gk.store.runs()}


def test_prune_keeps_the_period_and_the_gates_baselines(gk: Gatekeeper, db_url: str) -> None:
    config = GateConfig(history=HistoryRules(keep_days=30))
    before = _stored(gk)
    dry = gk.prune(config, dry_run=True, now=NOW)
    assert _stored(gk) == before  # a dry run deletes nothing

    calls: list[tuple[int, int]] = []
    done = gk.prune(config, now=NOW, progress=lambda d, t: calls.append((d, t)))
    assert (done.runs, done.results, done.kept) == (dry.runs, dry.results, dry.kept)

    # By construction: the last 30 days; the newest 50 runs of api on main (the ratchet's
    # lookback); the run of the last passing decision; the runs of the newest 20 results of
    # the benchmarks (ages 100-119: the one of age 120 is the 21st); web's runs (its newest).
    expected = {f"d{age}" for age in range(1, 51)}
    expected |= {f"d{PASSED_DAY}"} | {f"d{age}" for age in range(100, 120)} | {"w300", "w310"}
    assert _stored(gk) == expected
    assert done.runs == len(before) - len(expected)
    assert done.results == 3 * (DAYS - 50 - 1 - 20) + 3  # feature-branch runs: 1 result each
    assert done.kept == len(expected) - 30  # older than 30 days, kept as baselines
    assert len(calls) >= 1 and calls[-1] == (done.runs, done.runs)

    # What the gate reads is still there.
    assert gk.store.last_passing_coverage("api", "main") == {"api": (0.8, f"d{PASSED_DAY}")}
    baselines = gk.store.benchmark_baselines("api", "main", window=20)
    assert [len(v) for v in baselines.values()] == [20] * len(baselines)
    # Nothing of a deleted run is left behind.
    assert _count(db_url, "results") == 3 * len([r for r in expected if r.startswith("d")]) + 2
    assert _count(db_url, "source_files") == len(expected)
    assert _count(db_url, "gate_decisions") == 2  # both decided runs are among the kept
    kept_with_coverage = [r for r in expected if r.startswith("d") and _age(r) % 20 == 0]
    assert _count(db_url, "coverage_reports") == len(kept_with_coverage)
    assert _count(db_url, "benchmarks") == 20 * len(benchmarks())

    again = gk.prune(config, now=NOW)
    assert (again.runs, again.results) == (0, 0)


def test_prune_deletes_in_batches(gk: Gatekeeper) -> None:
    calls: list[int] = []
    done = gk.store.prune(
        NOW - timedelta(days=30), branch="main", keep_newest=1, benchmark_window=1,
        batch_results=10, progress=lambda d, t: calls.append(d),
    )  # fmt: skip
    assert len(calls) > 20  # 3-4 results a run: a batch every 3 runs
    assert calls == sorted(calls) and calls[-1] == done.runs


def test_prune_needs_to_be_told_how_much_to_keep(gk: Gatekeeper) -> None:
    with pytest.raises(ConfigError, match=r"neither --keep-days nor history\.keep_days"):
        gk.prune(GateConfig(), now=NOW)
    assert len(_stored(gk)) == len(_runs())


def test_prune_of_a_missing_database_is_an_error(tmp_path: Path) -> None:
    gk = Gatekeeper(Settings(db_url=f"sqlite:///{tmp_path / 'nope.db'}"), env={})
    with pytest.raises(StoreError, match=r"nope\.db"):
        gk.prune(GateConfig(), keep_days=5)
    assert not (tmp_path / "nope.db").exists()
