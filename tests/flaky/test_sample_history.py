"""The classifier on the real sample history, checked against the stories its README tells.

sample_reports/README.md is written by sample_reports/generate.py from the generator's own
ground truth, independently of the classifier; these tests read the facts from it (and the
run identities from manifest.jsonl), not from the classifier's output.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from gatekeeper import model
from gatekeeper.api import Gatekeeper
from gatekeeper.config import Settings
from gatekeeper.flaky import ClassifierConfig, classify

from ..conftest import SAMPLES

README = (SAMPLES / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"### {title}")
    end = README.find("\n### ", start + 1)
    return README[start : end if end != -1 else len(README)]


def _table_ids(section: str) -> list[str]:
    """First-column test ids of the Markdown tables of a README section."""
    return re.findall(r"^\| `([^`]+)` \| \d+% \|", section, flags=re.MULTILINE)


FLAKY = _table_ids(_section("Flaky tests"))
BROKEN_ID, BROKEN_FROM = re.search(
    r"`([^`]+)` \(user-service\) passes in runs 01-\d+ and fails on\s+every run from `(run-\d+)`",
    _section("A broken test"),
).groups()  # type: ignore[union-attr]
REGRESSION_ID = re.search(r"^`([^`]+)` \(search-service\) fails in", _section("A regression"),
                          flags=re.MULTILINE).group(1)  # type: ignore[union-attr]  # fmt: skip
BURST = re.search(r"In (\S+) `(run-\d+)` the Redis", _section("An infrastructure burst")).groups()  # type: ignore[union-attr]
COMES_AND_GOES = _section("Tests that come and go")
PR_ONLY = re.search(r"\*\*On a branch only:\*\* `([^`]+)`", COMES_AND_GOES).group(1)  # type: ignore[union-attr]
SKIPPED = re.findall(r"`([^`]+)`\s+\(`(?:ignored|pytest\.skip|pytest\.xfail)", COMES_AND_GOES)


def _manifest() -> list[dict[str, str | int]]:
    lines = (SAMPLES / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _run_of(service: str, folder: str) -> dict[str, str | int]:
    for entry in _manifest():
        if entry["service"] == service and str(entry["path"]).split("/")[1] == folder:
            return entry
    raise AssertionError(f"{service}/{folder} is not in the manifest")


@pytest.fixture(scope="module")
def executions(tmp_path_factory: pytest.TempPathFactory) -> list[model.TestExecution]:
    db = tmp_path_factory.mktemp("flaky") / "history.db"
    gk = Gatekeeper(Settings(db_url=f"sqlite:///{db}"), env={})
    try:
        gk.ingest_manifest(Path(SAMPLES / "manifest.jsonl"))
        return list(gk.store.executions())
    finally:
        gk.close()


@pytest.fixture(scope="module")
def result(executions: list[model.TestExecution]) -> model.Classification:
    return classify(executions)


def _verdicts(result: model.Classification) -> dict[str, model.TestVerdict]:
    # Test ids are unique across the three services of the sample history.
    out = {v.test_id: v for v in result.verdicts}
    assert len(out) == len(result.verdicts)
    return out


def test_the_readme_names_the_stories() -> None:
    # Guards the regular expressions above: the README must still tell these stories.
    assert len(FLAKY) == 9
    assert BROKEN_ID == "api::test_get_missing_user_returns_404"
    assert BROKEN_FROM == "run-21"
    assert BURST == ("messaging-service", "run-17")
    assert len(SKIPPED) == 4


@pytest.mark.parametrize("test_id", FLAKY)
def test_the_flaky_tests_are_flaky(result: model.Classification, test_id: str) -> None:
    verdict = _verdicts(result)[test_id]
    assert verdict.verdict is model.Verdict.FLAKY, verdict.evidence.summary
    assert verdict.evidence.confidence is not None and verdict.evidence.confidence >= 0.95
    low, high = verdict.evidence.failure_rate_ci95 or (0.0, 0.0)
    assert 0.0 < low <= (verdict.evidence.failure_rate or 0.0) <= high < 1.0


def test_the_broken_test_is_broken_since_the_run_21_commit(result: model.Classification) -> None:
    verdict = _verdicts(result)[BROKEN_ID]
    assert verdict.verdict is model.Verdict.BROKEN
    run = _run_of("user-service", BROKEN_FROM)
    assert verdict.since is not None
    assert verdict.since.commit == run["commit"]
    assert verdict.since.run == run["run_id"]
    assert verdict.evidence.failure_rate == 1.0
    assert verdict.evidence.same_commit_flips == 0
    # One change point: from passing to failing, at that commit.
    assert [c.commit for c in verdict.change_points] == [run["commit"]]
    assert verdict.change_points[0].rate_before == 0.0
    # The last failure is the newest main run.
    assert verdict.evidence.last_failure is not None
    assert verdict.evidence.last_failure.commit == _run_of("user-service", "run-30")["commit"]


def test_the_fixed_regression_is_not_flaky(result: model.Classification) -> None:
    verdict = _verdicts(result)[REGRESSION_ID]
    assert verdict.verdict is model.Verdict.STABLE
    # It failed twice, in a block: found as a segment of its own, then fixed.
    assert verdict.failed_executions == 2
    assert [c.commit for c in verdict.change_points] == [
        _run_of("search-service", "run-12")["commit"],
        _run_of("search-service", "run-14")["commit"],
    ]
    assert verdict.evidence.same_commit_flips == 0


def test_the_burst_run_is_found_and_its_failures_excluded(result: model.Classification) -> None:
    service, folder = BURST
    run = _run_of(service, folder)
    assert [(b.service, b.run_id, b.attempt) for b in result.bursts] == [
        (service, run["run_id"], run["attempt"])
    ]
    burst = result.bursts[0]
    # "20 of the 31 tests that ran" (README)
    found = re.search(r"(\d+) of the (\d+) tests that ran", _section("An infrastructure burst"))
    assert found is not None
    assert (burst.failures, burst.tests) == (int(found.group(1)), int(found.group(2)))
    assert burst.message is not None and "failed to connect to Redis" in burst.message
    in_service = [v for v in result.verdicts if v.service == service]
    assert sum(v.evidence.burst_failures or 0 for v in in_service) == burst.failures
    for v in in_service:
        if v.evidence.burst_failures:
            # The re-run of the same commit passed, yet no test counts that as same-commit
            # evidence, and none is flaky for it alone.
            assert v.evidence.same_commit_flips == 0
            assert v.verdict is model.Verdict.FLAKY or v.failed_executions == 0, v.test_id


def test_without_burst_detection_the_burst_would_make_tests_flaky(
    executions: list[model.TestExecution],
) -> None:
    # The counterfactual that shows the exclusion matters: with bursts switched off (an
    # impossible minimum), the re-run makes the Redis tests pass and fail on one commit.
    off = classify(executions, ClassifierConfig(common_cause_prior=1e-300))
    assert off.bursts == ()
    flips = [v for v in off.verdicts if v.service == BURST[0] and v.evidence.same_commit_flips]
    assert len(flips) >= 15


def test_tests_that_never_fail_are_stable(result: model.Classification) -> None:
    named = {*FLAKY, BROKEN_ID, REGRESSION_ID, PR_ONLY, *SKIPPED}
    others = [v for v in result.verdicts if v.test_id not in named]
    assert len(others) > 80
    for v in others:
        # Includes the added and the renamed tests: shorter histories, still enough runs.
        assert v.verdict is model.Verdict.STABLE, (v.test_id, v.evidence.summary)
        assert v.failed_executions == 0


def test_the_added_and_renamed_tests_have_shorter_histories(
    result: model.Classification,
) -> None:
    verdicts = _verdicts(result)
    added = re.search(r"\*\*Added:\*\* `([^`]+)`.*?first appears in `run-(\d+)`", COMES_AND_GOES,
                      flags=re.DOTALL)  # fmt: skip
    assert added is not None
    # user-service has 30 main runs and a re-run of run 22 (the manifest's attempt 2).
    assert verdicts[added.group(1)].executions == 30 - int(added.group(2)) + 1 + 1
    renamed = re.search(r"`(\S+)` became\s+`(\S+)`", COMES_AND_GOES)
    assert renamed is not None
    old, new = verdicts[renamed.group(1)], verdicts[renamed.group(2)]
    # messaging-service: 30 main runs plus the re-run of run 17; the rename is at run 15.
    # A failure in the burst run 17 is not an execution the verdict considers.
    assert old.executions == 14
    assert new.executions == 16 + 1 - (new.evidence.burst_failures or 0)
    assert old.verdict is new.verdict is model.Verdict.STABLE


def test_pr_only_and_skipped_tests_have_no_evidence(result: model.Classification) -> None:
    verdicts = _verdicts(result)
    for test_id in (PR_ONLY, *SKIPPED):
        assert verdicts[test_id].verdict is model.Verdict.INSUFFICIENT_DATA, test_id
        assert verdicts[test_id].executions == 0


def test_quarantined_flaky_tests_stay_flaky(
    result: model.Classification, executions: list[model.TestExecution]
) -> None:
    keys = {(v.service, v.test_id) for v in result.verdicts if v.test_id in FLAKY}
    held = classify(executions, quarantined=keys)
    for v in held.verdicts:
        if v.test_id in FLAKY:
            assert v.verdict is model.Verdict.FLAKY, v.test_id


def test_the_order_of_the_rows_does_not_matter(
    result: model.Classification, executions: list[model.TestExecution]
) -> None:
    assert classify(list(reversed(executions))) == result


def test_fast_enough(executions: list[model.TestExecution]) -> None:
    # A generous bound for a slow CI machine; the real figure is in docs/statistics.md.
    start = time.perf_counter()
    classify(executions)
    assert time.perf_counter() - start < 2.0
