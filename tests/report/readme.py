"""Facts of the sample history read from sample_reports/README.md.

The README is written by sample_reports/generate.py from the generator's own ground truth,
independently of gatekeeper; the report tests derive their expected numbers from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ..conftest import SAMPLES

README = (SAMPLES / "README.md").read_text(encoding="utf-8")


def section(title: str, level: str = "###") -> str:
    start = README.index(f"{level} {title}")
    end = README.find(f"\n{level} ", start + 1)
    return README[start : end if end != -1 else len(README)]


@dataclass(frozen=True)
class Run:
    service: str
    folder: str
    run_id: str
    attempt: int
    branch: str
    commit: str  # the 10-character prefix the README shows
    at: datetime
    tests: int
    failed: int
    passed_on_retry: int
    line_coverage: float  # percent, one decimal

    @property
    def red(self) -> bool:
        return self.failed > 0


_ROW = re.compile(
    r"^\| `(?P<folder>[^`]+)` \| (?P<run_id>\d+) \| (?P<attempt>\d+) \| (?P<branch>\S+) \| "
    r"`(?P<commit>[0-9a-f]+)` \| (?P<at>\S+) \| (?P<tests>\d+) \| \d+ \| (?P<failed>\d+) \| "
    r"\d+ \| (?P<retry>\d+) \| (?P<cov>[\d.]+)% \|$",
    re.MULTILINE,
)


def runs() -> list[Run]:
    """Every run of the history, from the "Every run" tables."""
    every = section("Every run", "##")
    out = []
    for service in ("user-service", "messaging-service", "search-service"):
        table = every[every.index(f"### {service}") :]
        table = table[: table.find("\n### ", 5) if "\n### " in table[5:] else len(table)]
        for m in _ROW.finditer(table):
            out.append(
                Run(
                    service=service,
                    folder=m["folder"],
                    run_id=m["run_id"],
                    attempt=int(m["attempt"]),
                    branch=m["branch"],
                    commit=m["commit"],
                    at=datetime.fromisoformat(m["at"].replace("Z", "+00:00")),
                    tests=int(m["tests"]),
                    failed=int(m["failed"]),
                    passed_on_retry=int(m["retry"]),
                    line_coverage=float(m["cov"]),
                )
            )
    return out


def run(service: str, folder: str) -> Run:
    for r in runs():
        if r.service == service and r.folder == folder:
            return r
    raise AssertionError(f"{service} {folder} is not in the README's run tables")


@dataclass(frozen=True)
class FlakyTest:
    service: str
    test_id: str
    failed_attempt_in: tuple[str, ...]  # run folders with at least one failed attempt
    final_failed_in: tuple[str, ...]  # run folders where its final outcome failed


def flaky_tests() -> list[FlakyTest]:
    """The "Flaky tests" tables; each table's service is named by the paragraph after it."""
    text = section("Flaky tests")
    out = []
    for block in re.split(r"\n(?=\| test id \|)", text)[1:]:
        rows = re.findall(
            r"^\| `([^`]+)` \| \d+% \| [^|]+ \| ([^|]+) \| ([^|]+) \|", block, re.MULTILINE
        )
        service = re.search(r"^(\S+-service)\b", block, re.MULTILINE)
        assert service, block[:200]
        for test_id, attempts, finals in rows:
            out.append(
                FlakyTest(
                    service=service.group(1),
                    test_id=test_id,
                    failed_attempt_in=tuple(re.findall(r"`([^`]+)`", attempts)),
                    final_failed_in=tuple(re.findall(r"`([^`]+)`", finals)),
                )
            )
    return out


def broken() -> tuple[str, str, tuple[str, ...]]:
    """(test id, service, the run folders it fails in) of "A broken test"."""
    text = section("A broken test")
    m = re.search(r"`([^`]+)` \((\S+-service)\) passes in runs", text)
    assert m
    listed = re.search(r"It fails in \d+ runs:\s*(.+?)\. ", text, re.DOTALL)
    assert listed
    return m[1], m[2], tuple(re.findall(r"`([^`]+)`", listed[1]))


def burst() -> tuple[str, str]:
    """(service, run folder) of "An infrastructure burst"."""
    m = re.search(r"In (\S+-service) `(run-[^`]+)` the Redis", section("An infrastructure burst"))
    assert m
    return m[1], m[2]


def coverage_drop() -> tuple[str, str]:
    """(service, run folder) of the coverage story's drop."""
    text = section("Coverage")
    story = r"- (\S+-service) \(coverage\.py[^)]*\):.*?a drop of about \d+ points at `(run-\d+)`"
    m = re.search(story, text, re.DOTALL)
    assert m
    return m[1], m[2]


def benchmark_regression() -> tuple[str, str, str, float]:
    """(service, benchmark, first run folder, change in percent) of the benchmark story."""
    text = section("Benchmarks")
    m = re.search(
        r"\*\*Regression:\*\* (\S+-service) `([^`]+)`.*?\(\*\*\+(\d+)%\*\*\) from `(run-\d+)` on",
        text,
        re.DOTALL,
    )
    assert m
    return m[1], m[2], m[4], float(m[3])
