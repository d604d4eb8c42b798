"""Real reports' names, messages and line numbers survive the store on both backends.

The records are pulled out of corpus files with a few lines of lxml here (the parsers are not
under test); what is checked is that the store gives back exactly what it was given, and that the
numbers agree with counts taken from the raw bytes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from gatekeeper import model
from gatekeeper.store import HistoryStore, open_store
from tests.store.factories import run

JUNIT = [
    "junit/publish-unit-test-result__unicode_astral_chars.xml",
    "junit/publish-unit-test-result__nunit3_converted_unicode_failure.xml",
    "junit/test-reporter__jest_junit_large.xml",
    "junit/publish-unit-test-result__nunit3_converted_issue44527_big.xml",
    "junit/jenkins-junit-plugin__surefire_flakyfailure_multiple.xml",
    "junit/cargo2junit__cargo_repo_failure.xml",
]
COBERTURA = [
    "cobertura/reportgenerator__istanbul_large.xml",
    "cobertura/diff-cover__unicode_filename_src.xml",
]
_OUTCOMES = {
    "failure": model.Outcome.FAILED,
    "error": model.Outcome.ERROR,
    "skipped": model.Outcome.SKIPPED,
}


@pytest.fixture
def store(db_url: str) -> Iterator[HistoryStore]:
    with open_store(db_url) as store:
        yield store


def _root(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, huge_tree=True, no_network=True)
    return etree.fromstring(data, parser=parser)


def _junit_results(data: bytes) -> list[model.TestResult]:
    attempts: Counter[str] = Counter()
    out = []
    for case in _root(data).iter("testcase"):
        parent = case.getparent()
        suite = case.get("classname") or (parent.get("name") if parent is not None else "") or ""
        name = case.get("name", "")
        test_id = model.make_test_id(suite, name)
        outcome, message, kind = model.Outcome.PASSED, None, None
        for child in case:
            if child.tag in _OUTCOMES:
                outcome = _OUTCOMES[str(child.tag)]
                message = (child.get("message") or child.text or "")[:4000] or None
                kind = child.get("type")
                break
        try:
            duration: float | None = float(case.get("time", ""))
        except ValueError:
            duration = None
        out.append(
            model.TestResult(
                test_id=test_id,
                suite=suite,
                name=name,
                outcome=outcome,
                duration=duration,
                message=message,
                failure_kind=kind,
                retry=attempts[test_id],
                file=case.get("file"),
            )
        )
        attempts[test_id] += 1
    return out


def _cobertura(data: bytes) -> model.CoverageReport:
    covered: dict[str, set[int]] = {}
    missed: dict[str, set[int]] = {}
    package_of: dict[str, str] = {}
    for cls in _root(data).iter("class"):
        path = cls.get("filename", "")
        package = cls.getparent().getparent()  # type: ignore[union-attr]
        package_of.setdefault(path, package.get("name", "") if package is not None else "")
        for line in cls.iter("line"):
            number = int(line.get("number", "0"))
            hits = int(line.get("hits", "0"))
            (covered if hits > 0 else missed).setdefault(path, set()).add(number)
    files = []
    for path in sorted(package_of):
        c = covered.get(path, set())
        m = missed.get(path, set()) - c
        files.append(
            model.FileCoverage(
                path=path,
                package=package_of[path],
                lines_valid=len(c) + len(m),
                lines_covered=len(c),
                covered_lines=tuple(sorted(c)),
                missed_lines=tuple(sorted(m)),
            )
        )
    valid = sum(f.lines_valid for f in files)
    hit = sum(f.lines_covered for f in files)
    return model.CoverageReport(
        producer="unknown",
        sources=tuple(s.text or "" for s in _root(data).iter("source")),
        files=tuple(files),
        packages=(),
        total=model.PackageCoverage("", valid, hit),
    )


@pytest.mark.parametrize("name", JUNIT, ids=lambda n: Path(n).stem)
def test_junit_results_roundtrip(store: HistoryStore, realworld: Path, name: str) -> None:
    data = (realworld / name).read_bytes()
    results = _junit_results(data)
    # An independent count: testcase start tags in the raw bytes.
    assert len(results) == len(re.findall(rb"<testcase[\s/>]", data))
    assert store.save_runs([run("1", tests=results)]) == [True]
    (stored,) = store.runs()
    assert stored.counts == model.RunCounts.of(tuple(results))
    assert stored.counts.tests == len({r.test_id for r in results})
    assert store.run_results(stored.pk) == sorted(results, key=lambda r: (r.test_id, r.retry))
    executions = list(store.executions())
    assert len(executions) == len(results)
    assert Counter(e.outcome for e in executions) == Counter(r.outcome for r in results)


@pytest.mark.parametrize("name", COBERTURA, ids=lambda n: Path(n).stem)
def test_cobertura_lines_roundtrip(store: HistoryStore, realworld: Path, name: str) -> None:
    data = (realworld / name).read_bytes()
    report = _cobertura(data)
    # Independently, by regex: the distinct line numbers under each file's <class> elements
    # (istanbul repeats a line under <methods>, so <line> elements outnumber lines).
    numbers: dict[bytes, set[bytes]] = {}
    for match in re.finditer(rb'<class [^>]*filename="([^"]*)"[^>]*>(.*?)</class>', data, re.S):
        found = set(re.findall(rb'<line [^>]*number="(\d+)"', match.group(2)))
        numbers.setdefault(match.group(1), set()).update(found)
    assert report.total.lines_valid == sum(len(n) for n in numbers.values())
    store.save_runs([run("1", coverage=(report,))])
    (stored,) = store.runs()
    assert store.coverage(stored.pk) == [report]
