"""Classify read in parts (the window, the failing tests whole, the runs as counts) gives exactly
the classification of the whole history read at once, on both backends."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gatekeeper import model
from gatekeeper.api import Gatekeeper, classify_history
from gatekeeper.config import Settings
from gatekeeper.flaky import ClassifierConfig, classify
from gatekeeper.flaky.window import complete_tests, window_reads

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import history  # benchmarks/history.py: the scaling runs' generator

from ..store.conftest import db_url, pg_admin, pg_database, pg_url  # noqa: F401

END = datetime(2026, 11, 1, tzinfo=UTC)
# 12 days of 10 rounds, 2 services of 40 tests; a window of 30 commits: a quarter of it.
SHAPE = history.Shape(
    services=2, tests=40, runs_per_day=10, days=12, flaky_share=0.15, broken_share=0.1,
    skipped_share=0.05, burst_prob=0.05, end=END, seed=3,
)  # fmt: skip
CONFIG = ClassifierConfig(window=30)
SOURCE = (model.SourceFile("junit.xml", "junit", "1" * 64, 1),)
P, F, S = model.Outcome.PASSED, model.Outcome.FAILED, model.Outcome.SKIPPED


def _run(run_id: str, at: datetime | None, results: list[tuple[str, model.Outcome]], *,
         commit: str | None = None, branch: str | None = "main") -> model.Run:  # fmt: skip
    meta = model.RunMeta("service-00", run_id, 1, commit, branch, at)
    tests = tuple(
        model.TestResult(f"legacy::{name}", "legacy", name, outcome,
                         message="AssertionError" if outcome is F else None)
        for name, outcome in results
    )  # fmt: skip
    return model.Run(meta, SOURCE, tests)


def _odd_runs() -> list[model.Run]:
    """What the generator never does: tests removed, failing only long ago, skipped most of
    the time; runs with no commit or no time; an old commit re-run at the end."""
    start = END - timedelta(days=11)
    runs = [
        _run(
            f"legacy-{i}",
            start + timedelta(hours=i),
            [
                ("test_removed", P),
                ("test_failed_long_ago", F if i == 2 else P),
                ("test_mostly_skipped", P if i % 3 == 0 else S),
            ],
            commit=f"{i:040x}",
        )
        for i in range(8)
    ]
    runs.append(_run("no-commit", END - timedelta(hours=3), [("test_mostly_skipped", P)]))
    runs.append(_run("no-time", None, [("test_removed", P)], commit="f" * 40))
    # The generator's commit of its oldest round, run again at the end with all of service-00's
    # tests passing: a commit that sorts far back although a run of it is new.
    first = next(history.generate(SHAPE))
    again = replace(first.meta, run_id="rerun-of-oldest", timestamp=END - timedelta(minutes=5))
    passing = tuple(replace(t, outcome=P, message=None) for t in first.tests)
    runs.append(model.Run(again, SOURCE, passing))
    return runs


def _exact(bursts: tuple[model.BurstRun, ...]) -> list[model.BurstRun]:
    return [replace(b, expected_share=0.0, p_value=0.0) for b in bursts]


def _floats(b: model.BurstRun) -> tuple[float, float]:
    # The common-cause model sums floats in the order of a set of test keys, which differs
    # from process to process (hash randomisation): the last bits do too, even between two
    # runs of the whole-history classify.
    return b.expected_share, b.p_value


@pytest.fixture
def gk(db_url: str) -> Gatekeeper:  # noqa: F811
    history.write_store(SHAPE, db_url)
    gk = Gatekeeper(Settings(db_url=db_url), env={})
    gk.store.save_runs(_odd_runs())
    return gk


@pytest.mark.parametrize("service", [None, "service-00"])
def test_the_window_reads_classify_as_the_whole_history(
    gk: Gatekeeper, service: str | None
) -> None:
    everything = gk.store.execution_list(service=service)
    some = sorted({(e.service, e.test_id) for e in everything})[::7]  # quarantined now
    whole = classify(everything, CONFIG, quarantined=some)
    parts, failing = classify_history(gk, CONFIG, service, some)
    assert parts.verdicts == whole.verdicts
    assert _exact(parts.bursts) == _exact(whole.bursts)
    assert [_floats(b) for b in parts.bursts] == [pytest.approx(_floats(b)) for b in whole.bursts]
    assert {v.verdict for v in whole.verdicts} >= {
        model.Verdict.FLAKY, model.Verdict.STABLE, model.Verdict.INSUFFICIENT_DATA,
    }  # fmt: skip
    assert whole.bursts
    failed = {(e.service, e.test_id) for e in everything if e.outcome.is_failure}
    assert {(e.service, e.test_id) for e in failing} == failed
    assert len(failing) == sum(1 for e in everything if (e.service, e.test_id) in failed)


def test_the_reads_leave_the_past_out(gk: Gatekeeper) -> None:
    with gk.store.execution_reader("service-01") as reader:
        runs = reader.runs()
        cutoff, pks = window_reads(runs, CONFIG)
        assert len(runs) > 3 * len(pks) > 3 * CONFIG.window  # the window, with some margin
        failing = {(e.service, e.test_id) for e in reader.failing()}
        rows = reader.of_runs(pks, leave_out=failing)
    by_test: dict[tuple[str, str], list[model.TestExecution]] = {}
    for e in rows:
        by_test.setdefault((e.service, e.test_id), []).append(e)
    done = complete_tests(by_test, cutoff, CONFIG)
    skipped = {k for k, rows in by_test.items() if all(e.outcome is S for e in rows)}
    assert done == set(by_test) - skipped  # only always-skipped tests need their whole past
    assert not failing & set(by_test)
