"""Sanity of the evaluation simulator (benchmarks/simulate.py): its truth matches its files."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from simulate import BROKEN_MSG, FLAKY_MSG, Scenario, simulate

from gatekeeper import model

SMALL = Scenario(
    "tiny", commits=40, tests=120, services=2, flaky_share=0.3, rate_min=0.1, rate_max=0.4,
    regression_share=0.2, burst_prob=0.1, seed=5,
)  # fmt: skip


Fails = dict[tuple[str, int, int, str], list[str]]


def _read(out: Path) -> tuple[list[dict[str, object]], Fails]:
    """The manifest, and per (service, commit index, attempt, test id) the failure messages of
    its failing testcases, read with lxml."""
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    index: dict[str, int] = {}
    fails: Fails = defaultdict(list)
    for entry in lines:
        c = index.setdefault(str(entry["commit"]), len(index))
        root = etree.parse(str(out / str(entry["path"]))).getroot()
        for case in root.iter("testcase"):
            failure = case.find("failure")
            if failure is not None:
                test_id = model.make_test_id(case.get("classname", ""), case.get("name", ""))
                key = (str(entry["service"]), c, int(str(entry["attempt"])), test_id)
                fails[key].append(failure.get("message", ""))
    return lines, fails


def test_same_seed_same_history(tmp_path: Path) -> None:
    simulate(SMALL, tmp_path / "a")
    simulate(SMALL, tmp_path / "b")
    a = (tmp_path / "a" / "manifest.jsonl").read_bytes()
    assert a == (tmp_path / "b" / "manifest.jsonl").read_bytes()
    for entry in (json.loads(x) for x in a.decode().splitlines()):
        path = entry["path"]
        assert (tmp_path / "a" / path).read_bytes() == (tmp_path / "b" / path).read_bytes()


def test_ground_truth_matches_the_files(tmp_path: Path) -> None:
    truth = simulate(SMALL, tmp_path)
    lines, fails = _read(tmp_path)
    last = SMALL.commits - 1
    # One run per service and commit, some re-run as attempt 2.
    firsts = [e for e in lines if e["attempt"] == 1]
    assert len(firsts) == SMALL.commits * SMALL.services
    assert truth.broken and truth.flaky  # the scenario is big enough to have both
    for service, test_id in truth.broken:
        assert BROKEN_MSG in fails[(service, last, 1, test_id)], test_id
    for service, test_id in truth.flaky:
        own = [m for (s, _, _, t), ms in fails.items() if (s, t) == (service, test_id) for m in ms]
        assert FLAKY_MSG in own, test_id
    assert not truth.flaky & truth.broken
    assert not truth.ambiguous & (truth.flaky | truth.broken)
    # A test failing with the regression message at the end is broken in the truth.
    for (service, c, _, test_id), messages in fails.items():
        if c == last and BROKEN_MSG in messages:
            assert (service, test_id) in truth.broken


LOW = Scenario(
    "tiny, low rates", commits=40, tests=120, services=2, flaky_share=0.5, rate_min=0.01,
    rate_max=0.05, seed=6,
)  # fmt: skip


def test_one_commit_flakes_look_like_a_fixed_regression(tmp_path: Path) -> None:
    """A one-commit flake (left out of the main score) failed with the flaky message on exactly
    one commit and never passed on that commit: what a regression fixed at the next commit looks
    like. Every flake still scored has two red commits or a pass on its red commit."""
    truth = simulate(LOW, tmp_path)
    lines, fails = _read(tmp_path)
    assert truth.one_commit and truth.one_commit <= truth.ambiguous
    assert not truth.one_commit & truth.flaky
    index = {sha: c for c, sha in enumerate(dict.fromkeys(str(e["commit"]) for e in lines))}
    passed: dict[tuple[str, str], set[int]] = defaultdict(set)
    for entry in lines:
        root = etree.parse(str(tmp_path / str(entry["path"]))).getroot()
        for case in root.iter("testcase"):
            if case.find("failure") is None:
                test_id = model.make_test_id(case.get("classname", ""), case.get("name", ""))
                passed[(str(entry["service"]), test_id)].add(index[str(entry["commit"])])
    for key in truth.one_commit | truth.flaky:
        red = {c for (s, c, _, t), ms in fails.items() if (s, t) == key and FLAKY_MSG in ms}
        assert red, key
        assert (len(red) == 1 and not red & passed[key]) == (key in truth.one_commit), key
