"""The gate's rules: what ``gatekeeper.yml`` (or ``[tool.gatekeeper]``) configures, as values.

These frozen dataclasses are shared like ``model``: ``config`` reads files into them, ``gate``
decides with them, ``api`` passes them along. Every field carries its documentation in
``metadata["doc"]``; ``docs/generate_config.py`` renders ``docs/configuration.md`` from it, and a
test checks that the page is current. The key in the file is the field name.

Percentages are percent (``80`` means 80 %), as the configuration file writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from gatekeeper.model import Direction


def _doc(text: str, **extra: Any) -> dict[str, Any]:
    return {"doc": text, **extra}


class FlakyResult(StrEnum):
    """What a test that failed and then passed on a retry within the run does to the gate."""

    PASS = "pass"
    FAIL = "fail"


class CommonShift(StrEnum):
    """What a run whose benchmarks mostly moved the worse way by one factor does to the gate."""

    FAIL = "fail"
    WARN = "warn"
    UNDECIDED = "undecided"


class ExpiredQuarantine(StrEnum):
    """What a quarantine entry whose ``expires`` date has passed does to the gate."""

    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class TestRules:
    """How test results are judged (section ``tests``, and ``services.NAME.tests``)."""

    __test__ = False

    flaky_result: FlakyResult = field(
        default=FlakyResult.PASS,
        metadata=_doc(
            "A test that failed and then passed on a retry in the same run: `pass` reports it "
            "as flaky evidence and passes; `fail` fails the gate (nextest's `flaky-result`)."
        ),
    )
    allow_empty: bool = field(
        default=False,
        metadata=_doc("Pass a run whose reports hold no test at all (normally a failure)."),
    )
    min_tests_ratio: float = field(
        default=0.5,
        metadata=_doc(
            "Fail when the run has fewer tests than this share of the median of the service's "
            "recent runs on the default branch (a crashed or filtered test binary). `0` turns "
            "the check off.",
            minimum=0.0,
            maximum=1.0,
        ),
    )
    recent_runs: int = field(
        default=10,
        metadata=_doc(
            "How many recent default-branch runs of the service the test-count check looks at.",
            minimum=1,
        ),
    )
    expired_quarantine: ExpiredQuarantine = field(
        default=ExpiredQuarantine.WARN,
        metadata=_doc(
            "A quarantine entry of the service past its `expires` date: `warn` keeps muting "
            "its failures and warns; `fail` fails the gate on it and stops muting its failures."
        ),
    )


@dataclass(frozen=True, slots=True)
class CoverageRules:
    """Coverage thresholds (section ``coverage``; ``services.NAME.coverage`` overrides)."""

    line: float | None = field(
        default=80.0,
        metadata=_doc(
            "Minimum line coverage in percent of everything the gate's coverage reports cover "
            "(lines with hits > 0 / valid lines). In a service's section: that service's "
            "minimum. `null` turns the check off.",
            minimum=0.0,
            maximum=100.0,
        ),
    )
    service_line: float | None = field(
        default=75.0,
        metadata=_doc(
            "Default minimum line coverage in percent for each configured service "
            "(a service's own `coverage.line` wins). `null` turns the check off.",
            minimum=0.0,
            maximum=100.0,
            top_level_only=True,
        ),
    )
    branch: float | None = field(
        default=None,
        metadata=_doc(
            "Minimum branch coverage in percent, judged only where the report counts branches.",
            minimum=0.0,
            maximum=100.0,
        ),
    )
    max_drop: float | None = field(
        default=0.5,
        metadata=_doc(
            "The ratchet: the largest drop of line coverage, in percentage points, against the "
            "service's last passing gate on the default branch. `null` turns it off.",
            minimum=0.0,
            maximum=100.0,
        ),
    )
    patch: float | None = field(
        default=80.0,
        metadata=_doc(
            "Minimum coverage in percent of the lines changed against the base ref "
            "(`gate --base REF`); judged only when `--base` is given and changed lines are "
            "coverable.",
            minimum=0.0,
            maximum=100.0,
        ),
    )
    exclude: tuple[str, ...] = field(
        default=(),
        metadata=_doc(
            "Path globs of files left out of every coverage figure (e.g. `**/generated/**`).",
        ),
    )
    informational: bool = field(
        default=False,
        metadata=_doc("Report coverage shortfalls as warnings; never fail the gate on them."),
    )


@dataclass(frozen=True, slots=True)
class BenchmarkRules:
    """Benchmark regression rules (section ``benchmarks``; overrides per service and name)."""

    max_regression: float = field(
        default=20.0,
        metadata=_doc(
            "Fail when a benchmark is more than this many percent worse than its baseline "
            "and the change is statistically significant (both must hold).",
            minimum=0.0,
        ),
    )
    significance: float = field(
        default=0.01,
        metadata=_doc(
            "The significance level of the test that the change is real (one-sided).",
            minimum=0.0,
            maximum=0.5,
        ),
    )
    window: int = field(
        default=20,
        metadata=_doc(
            "How many recent default-branch results of each benchmark form its baseline.",
            minimum=1,
        ),
    )
    min_history: int = field(
        default=5,
        metadata=_doc(
            "Fewest earlier results before a benchmark is judged; with fewer it is recorded "
            "and reported, not judged.",
            minimum=1,
        ),
    )
    direction: Direction | None = field(
        default=None,
        metadata=_doc(
            "`lower` (times, latencies) or `higher` (throughput) is better; by default the "
            "direction the report states (times: lower).",
        ),
    )
    ceiling: float | None = field(
        default=None,
        metadata=_doc(
            "An absolute limit in the benchmark's unit (nanoseconds for times): worse than "
            "this fails whatever the history says (e.g. a p99 latency budget).",
        ),
    )
    informational: bool = field(
        default=False,
        metadata=_doc("Report regressions as warnings; never fail the gate on them."),
    )
    common_shift: CommonShift = field(
        default=CommonShift.UNDECIDED,
        metadata=_doc(
            "When most of a run's benchmarks moved the worse way by one factor (a loaded "
            "machine, or a change to code they all share): `undecided` stops the gate with exit "
            "2 (re-run on a quieter machine), `fail` fails it with one finding, `warn` passes "
            "with a warning. In every case each benchmark is judged after the common factor is "
            "removed. Not settable per benchmark (`overrides`).",
        ),
    )


@dataclass(frozen=True, slots=True)
class BenchmarkOverride:
    """Rules for the benchmarks whose name matches ``name`` (a glob; first match wins)."""

    name: str = field(metadata=_doc("A glob on the benchmark name, e.g. `parse/*`."))
    rules: BenchmarkRules = field(
        default_factory=BenchmarkRules,
        metadata=_doc("Any key of `benchmarks`, for these benchmarks only."),
    )


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """One service (``services.NAME``): which files are its own and its own thresholds."""

    name: str = field(metadata=_doc("The service name, as given to `--service`."))
    paths: tuple[str, ...] = field(
        default=(),
        metadata=_doc(
            "Path globs of the service's source files, relative to the repository root "
            "(`**` spans folders), e.g. `backend/user-service/**`."
        ),
    )
    packages: tuple[str, ...] = field(
        default=(),
        metadata=_doc(
            "Globs on Cobertura package names, used for files no `paths` glob matches "
            "(e.g. `user_service*`)."
        ),
    )
    runner: str | None = field(
        default=None,
        metadata=_doc(
            "The service's test runner (`cargo`, `nextest`, `pytest`, `gotest`): the "
            "default `skip-list --format` for it."
        ),
    )
    coverage: CoverageRules | None = field(
        default=None,
        metadata=_doc("Coverage thresholds for this service (keys as in `coverage`)."),
    )
    benchmarks: BenchmarkRules | None = field(
        default=None,
        metadata=_doc("Benchmark rules for this service (keys as in `benchmarks`)."),
    )
    tests: TestRules | None = field(
        default=None,
        metadata=_doc("Test rules for this service (keys as in `tests`)."),
    )


@dataclass(frozen=True, slots=True)
class ClassifyRules:
    """How `gatekeeper classify` updates the registry (section ``classify``)."""

    max_new_quarantine_share: float = field(
        default=0.05,
        metadata=_doc(
            "Refuse (write nothing for the service, exit 2) a classify that would newly "
            "quarantine more than this share of a service's tests (and at least 5): that many "
            "new flaky tests at once is likely infrastructure, not the tests. "
            "`--allow-mass-quarantine` writes them anyway.",
            minimum=0.0,
            maximum=1.0,
        ),
    )


@dataclass(frozen=True, slots=True)
class HistoryRules:
    """How long the history keeps runs (section ``history``; `gatekeeper prune`)."""

    keep_days: int | None = field(
        default=None,
        metadata=_doc(
            "`gatekeeper prune` deletes the runs older than this many days, but those the gate "
            "reads as baselines (docs/retention.md). Unset: keep everything; prune then needs "
            "`--keep-days`. Keep at least the days the classifier's window of 300 commits spans.",
            minimum=1,
        ),
    )


@dataclass(frozen=True, slots=True)
class GateConfig:
    """The whole configuration file, with its defaults."""

    default_branch: str = field(
        default="main",
        metadata=_doc(
            "The branch whose history is the baseline: test counts, coverage ratchet, "
            "benchmark history and classification."
        ),
    )
    registry: str = field(
        default="flaky-tests.yml",
        metadata=_doc(
            "The quarantine registry, relative to the configuration file's folder "
            "(`--registry` and `GATEKEEPER_REGISTRY` win)."
        ),
    )
    tests: TestRules = field(default_factory=TestRules, metadata=_doc("How tests are judged."))
    classify: ClassifyRules = field(
        default_factory=ClassifyRules, metadata=_doc("How classify updates the registry.")
    )
    coverage: CoverageRules = field(
        default_factory=CoverageRules, metadata=_doc("Coverage thresholds.")
    )
    history: HistoryRules = field(
        default_factory=HistoryRules, metadata=_doc("Retention of the history.")
    )
    benchmarks: BenchmarkRules = field(
        default_factory=BenchmarkRules, metadata=_doc("Benchmark regression rules.")
    )
    benchmark_overrides: tuple[BenchmarkOverride, ...] = field(
        default=(),
        metadata=_doc(
            "Per-benchmark rules: a list of `{name: GLOB, ...keys of benchmarks}`; the first "
            "matching entry wins over the service's and the global rules."
        ),
    )
    services: tuple[ServiceConfig, ...] = field(
        default=(), metadata=_doc("The services, by name: `services: {NAME: {...}}`.")
    )
    source: str | None = field(
        default=None,
        metadata=_doc("Where the configuration was read from (set by gatekeeper).", internal=True),
    )

    def service(self, name: str) -> ServiceConfig | None:
        for s in self.services:
            if s.name == name:
                return s
        return None

    def coverage_rules(self, service: str) -> CoverageRules:
        """A service's coverage rules: its own section (merged over the global one by the
        loader), else the global rules with ``service_line`` as its minimum."""
        s = self.service(service)
        if s is not None and s.coverage is not None:
            return s.coverage
        return replace(self.coverage, line=self.coverage.service_line)

    def test_rules(self, service: str) -> TestRules:
        s = self.service(service)
        return s.tests if s is not None and s.tests is not None else self.tests

    def run_benchmark_rules(self, service: str) -> BenchmarkRules:
        """The rules of a run's benchmarks as a whole (``common_shift``): the service's
        section, else the global one; overrides name single benchmarks, not runs."""
        s = self.service(service)
        return s.benchmarks if s is not None and s.benchmarks is not None else self.benchmarks

    def benchmark_rules(self, service: str, benchmark: str) -> BenchmarkRules:
        """The rules for one benchmark: the first matching override, else service, else global."""
        for o in self.benchmark_overrides:
            if fnmatchcase(benchmark, o.name):
                return o.rules
        s = self.service(service)
        return s.benchmarks if s is not None and s.benchmarks is not None else self.benchmarks
