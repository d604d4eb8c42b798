"""classify reads the history's horizon (the runs of each service's window): a long history
classifies exactly as its truncation to those runs, on both backends."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gatekeeper import model
from gatekeeper.api import Gatekeeper, classify_history
from gatekeeper.config import Settings
from gatekeeper.flaky import ClassifierConfig, classify
from gatekeeper.flaky.window import horizon

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
    # from process to process and with the order of insertion: the last bits do too, even
    # between two runs of one classify.
    return b.expected_share, b.p_value


def _same(a: model.Classification, b: model.Classification) -> None:
    assert a.verdicts == b.verdicts
    assert _exact(a.bursts) == _exact(b.bursts)
    assert [_floats(x) for x in a.bursts] == [pytest.approx(_floats(x)) for x in b.bursts]


def _all_runs() -> list[model.Run]:
    return [*history.generate(SHAPE), *_odd_runs()]


def _store(url: str, runs: list[model.Run]) -> Gatekeeper:
    gk = Gatekeeper(Settings(db_url=url), env={})
    for i in range(0, len(runs), 100):
        gk.store.save_runs(runs[i : i + 100])
    return gk


def _horizon_keys(gk: Gatekeeper, config: ClassifierConfig) -> set[tuple[str, str, int]]:
    with gk.store.execution_reader() as reader:
        runs = reader.runs()
    wanted: set[int] = set()
    for service in {r.service for r in runs}:
        wanted.update(horizon([r for r in runs if r.service == service], config))
    return {(r.service, r.run_id, r.attempt) for r in runs if r.pk in wanted}


@pytest.fixture
def gk(db_url: str) -> Iterator[Gatekeeper]:  # noqa: F811
    gk = _store(db_url, _all_runs())
    yield gk
    gk.close()


@pytest.mark.parametrize("service", [None, "service-00"])
def test_a_history_classifies_as_its_truncation_to_the_horizon(
    gk: Gatekeeper, tmp_path: Path, service: str | None
) -> None:
    kept = _horizon_keys(gk, CONFIG)
    runs = _all_runs()
    assert len(runs) > 3 * len(kept)  # the history is much longer than its horizon
    short = _store(
        f"sqlite:///{tmp_path / 'short.db'}",
        [r for r in runs if (r.meta.service, r.meta.run_id, r.meta.attempt) in kept],
    )
    try:
        some = sorted({(e.service, e.test_id) for e in short.store.execution_list()})[::7]
        long_result, _ = classify_history(gk, CONFIG, service, some)
        short_result, _ = classify_history(short, CONFIG, service, some)
        _same(long_result, short_result)
        # ... and the truncation read whole, as classify read every history before
        whole = classify(short.store.execution_list(service=service), CONFIG, quarantined=some)
        _same(long_result, whole)
        assert {v.verdict for v in whole.verdicts} >= {
            model.Verdict.FLAKY, model.Verdict.STABLE, model.Verdict.INSUFFICIENT_DATA,
        }  # fmt: skip
        assert whole.bursts
    finally:
        short.close()


def test_the_horizon_keeps_every_verdict_of_the_whole_history_here(gk: Gatekeeper) -> None:
    """What reading the horizon changes against reading everything, on this history: for
    the tests that run in every run, no verdict and no confidence; the burst failures counted
    in the evidence are the horizon's. A test that ran only long ago has no verdict."""
    everything = gk.store.execution_list()
    whole = classify(everything, CONFIG)
    parts, read = classify_history(gk, CONFIG, None, ())
    assert len(read) < len(everything) / 3
    old = {v.key: v for v in whole.verdicts}
    new = {v.key: v for v in parts.verdicts}
    # Tests that ran only before the horizon have no verdict (the removed one ran again in
    # the run with no time, which counts as stored now).
    assert set(old) - set(new) == {("service-00", "legacy::test_failed_long_ago")}
    for key, v in new.items():
        if key[1].startswith("legacy::"):
            continue  # ran a few times long ago, and once in the horizon: too little there
        assert (v.verdict, v.evidence.confidence) == (
            old[key].verdict,
            old[key].evidence.confidence,
        )
        assert v.evidence.burst_failures <= old[key].evidence.burst_failures


def test_no_window_reads_everything(gk: Gatekeeper) -> None:
    config = ClassifierConfig(window=0)
    _same(classify_history(gk, config, None, ())[0], classify(gk.store.execution_list(), config))
