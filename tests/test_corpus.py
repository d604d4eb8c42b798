"""The whole real-world corpus through `ingest`: valid files store with the right counts, broken
files are refused and store nothing.

The expected counts are computed here independently of gatekeeper's parsers: by counting XML
elements with the standard library, or by adding up the numbers in libtest's own `test result:`
lines.
"""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gatekeeper.api import Gatekeeper, MetaFlags
from gatekeeper.config import Settings
from gatekeeper.errors import GatekeeperError, InputError
from gatekeeper.model import IngestOutcome

from .conftest import REALWORLD, corpus_manifest, corpus_params

pytestmark = pytest.mark.realworld

# What the MANIFEST's notes call a broken or negative file, and the files its README lists
# under "Broken and negative files".
BROKEN_NOTES = re.compile(
    r"MALFORMED|MALICIOUS|NOT JUnit|NEGATIVE:|PARTLY INVALID|0-byte|not a target format"
)


@dataclass(frozen=True)
class Entry:
    file: str
    producer: str
    notes: str

    @property
    def broken(self) -> bool:
        return bool(BROKEN_NOTES.search(self.notes))

    @property
    def path(self) -> Path:
        return REALWORLD / self.file


def manifest() -> list[Entry]:
    rows = csv.DictReader(corpus_manifest(), delimiter="\t", quoting=csv.QUOTE_NONE)
    return [Entry(r["file"], r["producer"], r["notes"]) for r in rows]


ENTRIES = manifest()
VALID = [e for e in ENTRIES if not e.broken]
BROKEN = [e for e in ENTRIES if e.broken]


def test_the_manifest_lists_every_corpus_file() -> None:
    on_disk = {
        str(p.relative_to(REALWORLD))
        for p in REALWORLD.rglob("*")
        if p.is_file() and p.name not in ("MANIFEST.tsv", "README.md")
    }
    assert on_disk == {e.file for e in ENTRIES}


def test_the_broken_set_is_what_the_corpus_readme_lists() -> None:
    readme = (REALWORLD / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Broken and negative files", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([a-z]+/[^`]+\.(?:xml|jsonl|txt|json))`", section))
    # One listed file is tolerated on purpose: cargo's own test suite prints a line of plain
    # text into its JSON stream. A test that prints is normal; gatekeeper warns and goes on
    # (see docs/formats/libtest-json.md).
    tolerated = {"cargo/cargo2junit__cargo_repo_failure.jsonl"}
    assert {e.file for e in BROKEN} == listed - tolerated


@pytest.fixture(scope="module")
def gk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gatekeeper]:
    db = tmp_path_factory.mktemp("corpus") / "history.db"
    g = Gatekeeper(Settings(db_url=f"sqlite:///{db}"), env={}, cwd=REALWORLD)
    yield g
    g.close()


def _ingest(gk: Gatekeeper, entry: Entry) -> IngestOutcome:
    flags = MetaFlags(service="corpus", run_id=entry.file, commit="0" * 40, branch="main")
    [outcome] = gk.ingest([entry.file], flags)
    return outcome


# -- independent counts -------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def junit_counts(path: Path) -> dict[str, int]:
    """Distinct tests and the final outcome of each, by walking the XML with ElementTree.

    A testcase that appears several times in one file is one test run several times
    (pytest-rerunfailures); the last appearance is its final outcome. A `<flakyFailure>` means
    the test passed in the end; after `<rerunFailure>`/`<rerunError>` the last re-run is final.
    An `<error>` directly inside a `<testsuite>` is a test too.
    """
    root = ET.parse(path).getroot()
    final: dict[tuple[str, str], str] = {}

    def walk(suite: ET.Element, suite_name: str) -> None:
        for child in suite:
            tag = _local(child.tag)
            if tag == "testsuite":
                walk(child, child.get("name") or "")
            elif tag == "testcase":
                cls = child.get("classname") or suite_name
                kids = [_local(k.tag) for k in child]
                reruns = [k for k in kids if k in ("rerunFailure", "rerunError")]
                status = (child.get("status") or "").lower()
                if reruns:  # failed, re-run, and failed again: the last re-run is final
                    outcome = "failed" if reruns[-1] == "rerunFailure" else "error"
                elif "error" in kids:  # a case with both an error and a failure is an error
                    outcome = "error"
                elif "failure" in kids:
                    outcome = "failed"
                elif "skipped" in kids or status in ("disabled", "skipped", "notrun"):
                    outcome = "skipped"
                else:  # passed, possibly after <flakyFailure>/<flakyError> attempts
                    outcome = "passed"
                final[(cls, child.get("name") or "(suite)")] = outcome
            elif tag == "error":
                final[(suite_name, "(suite)")] = "error"

    if _local(root.tag) == "testsuite":
        walk(root, root.get("name") or "")
    else:
        walk(root, "")
    outcomes = list(final.values())
    return {
        "tests": len(outcomes),
        "failed": outcomes.count("failed"),
        "errors": outcomes.count("error"),
        "skipped": outcomes.count("skipped"),
    }


RESULT_LINE = re.compile(
    r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored; (\d+) measured"
)


def libtest_summary_counts(path: Path) -> dict[str, int] | None:
    text = path.read_text(encoding="utf-8", errors="replace")
    totals = [0, 0, 0, 0]
    found = False
    for m in RESULT_LINE.finditer(text):
        found = True
        for i in range(4):
            totals[i] += int(m.group(i + 1))
    if not found:
        return None
    passed, failed, ignored, measured = totals
    return {
        "tests": passed + failed + ignored,
        "failed": failed,
        "skipped": ignored,
        "measured": measured,
    }


def libtest_json_counts(path: Path) -> dict[str, int]:
    """The last event of each test in a libtest JSON stream (lines that are not JSON skipped)."""
    final: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(event, dict)
            and event.get("type") == "test"
            and event.get("event") in ("ok", "failed", "ignored")
        ):
            final[str(event.get("name"))] = event["event"]
    outcomes = list(final.values())
    return {
        "tests": len(outcomes),
        "failed": outcomes.count("failed"),
        "skipped": outcomes.count("ignored"),
    }


def cobertura_line_rate(path: Path) -> float | None:
    """Lines with hits > 0 / distinct lines, per file over every <class> of that file."""
    hits: dict[tuple[str, str], int] = {}
    for cls in ET.parse(path).getroot().iter("class"):
        filename = (cls.get("filename") or "").replace("\\", "/")
        lines = cls.find("lines")
        for line in [] if lines is None else lines.iter("line"):
            key = (filename, line.get("number") or "")
            hits[key] = max(hits.get(key, 0), int(float(line.get("hits") or 0)))
    if not hits:
        return None
    return sum(1 for h in hits.values() if h > 0) / len(hits)


# The Swift converter writes lines only under <methods>: gatekeeper falls back to them.
COBERTURA_RULE_EXCEPTIONS = {"cobertura/reportgenerator__swift_xccov_converted.xml"}


# Files whose own numbers are known to disagree with their content (MANIFEST notes say so),
# or where the independent rule above does not describe the producer.
JUNIT_COUNT_EXCEPTIONS: set[str] = set()
LIBTEST_SUMMARY_EXCEPTIONS = {
    # hand-edited: "counts in summary inconsistent" (MANIFEST)
    "bench/bencher__cargo_bench_mixed_units_edited.txt",
    # hand-edited: its `test result:` says "1 ignored" but no test is ignored (a warning is given)
    "bench/bencher__cargo_bench_multi_target.txt",
    # --format terse prints passing tests as unnamed dots: only failures can be stored
    "cargo/rust-lang__libtest_terse_format.txt",
}


@pytest.mark.parametrize("entry", corpus_params(VALID, [e.file for e in VALID]))
def test_valid_file_ingests(gk: Gatekeeper, entry: Entry) -> None:
    outcome = _ingest(gk, entry)
    assert outcome.stored
    c = outcome.counts
    if not (c.tests or outcome.coverage_files or outcome.benchmarks):
        # a report of nothing is stored and flagged; the independent counts below must agree
        # that there was nothing (a parser that silently drops everything fails there)
        assert outcome.warnings, "a report of nothing must come with a warning"
    if entry.file.startswith("junit/") and entry.file not in JUNIT_COUNT_EXCEPTIONS:
        expected = junit_counts(entry.path)
        got = {"tests": c.tests, "failed": c.failed, "errors": c.errors, "skipped": c.skipped}
        assert got == expected
    if entry.file.endswith(".txt") and entry.file not in LIBTEST_SUMMARY_EXCEPTIONS:
        summary = libtest_summary_counts(entry.path)
        if summary is not None and "nextest" not in entry.file:
            got = {
                "tests": c.tests,
                "failed": c.failed + c.errors,
                "skipped": c.skipped,
                # Criterion's own results are not libtest's "measured" benchmarks
                "measured": summary["measured"]
                if "criterion" in entry.file
                else outcome.benchmarks,
            }
            assert got == summary
    if entry.file.endswith(".jsonl") and entry.file.startswith("cargo/"):
        expected = libtest_json_counts(entry.path)
        got = {"tests": c.tests, "failed": c.failed + c.errors, "skipped": c.skipped}
        assert got == expected
    if entry.file.startswith("cobertura/") and entry.file not in COBERTURA_RULE_EXCEPTIONS:
        assert outcome.line_rate == pytest.approx(cobertura_line_rate(entry.path), abs=1e-12)
    if entry.file.startswith("bench/"):
        assert outcome.benchmarks > 0 or c.tests > 0 or outcome.warnings


@pytest.mark.parametrize("entry", corpus_params(BROKEN, [e.file for e in BROKEN]))
def test_broken_file_is_refused_and_nothing_is_stored(gk: Gatekeeper, entry: Entry) -> None:
    before = len(gk.store.runs(service="corpus"))
    with pytest.raises(InputError) as info:
        _ingest(gk, entry)
    err = info.value
    assert err.exit_code == 2
    assert str(err).startswith(entry.file), "the message must start with the file it is about"
    assert "\n" not in str(err).strip(), "one line"
    assert len(gk.store.runs(service="corpus")) == before


def test_a_broken_file_among_good_ones_stores_nothing(gk: Gatekeeper) -> None:
    good = next(e for e in VALID if e.file.startswith("junit/"))
    bad = next(e for e in BROKEN if e.file.startswith("junit/"))
    flags = MetaFlags(service="mixed", run_id="1")
    with pytest.raises(GatekeeperError):
        gk.ingest([good.file, bad.file], flags)
    assert gk.store.runs(service="mixed") == []
