"""The records every layer shares: runs, test results, coverage, benchmarks (stdlib only)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    """What one execution of one test came to."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"

    @property
    def is_failure(self) -> bool:
        return self in (Outcome.FAILED, Outcome.ERROR)


# ---------------------------------------------------------------------------------------------
# Test ids (the rule is documented in docs/test-ids.md; keep the two in step)
# ---------------------------------------------------------------------------------------------

ID_SEPARATOR = "::"
_HASH_SUFFIX = re.compile(r"-[0-9a-f]{16}$")


def make_test_id(suite: str, name: str) -> str:
    """The stable id of a test inside one service: ``suite::name``, or ``name`` with no suite.

    If the name already starts with the suite (some producers repeat the class in the name),
    the suite is not repeated.
    """
    suite = suite.strip()
    name = name.strip()
    if not suite:
        return name
    if name == suite or name.startswith(suite + ID_SEPARATOR):
        return name
    return f"{suite}{ID_SEPARATOR}{name}"


def rust_binary_name(raw: str) -> str:
    """Normalise a Rust test binary as libtest and nextest name it, so their ids agree.

    - libtest: ``target/debug/deps/user_service-1a2b3c4d5e6f7a8b`` -> ``user_service``
    - nextest binary ids: ``user-service`` (the lib) -> ``user_service``;
      ``user-service::integration`` -> ``integration``; ``user-service::bin/cli`` -> ``cli``
    - ``Doc-tests user_service`` -> ``user_service``
    """
    raw = raw.strip()
    if ID_SEPARATOR in raw:
        raw = raw.split(ID_SEPARATOR, 1)[1]
        if "/" in raw:  # nextest's bin/NAME, example/NAME, bench/NAME
            raw = raw.split("/", 1)[1]
    else:
        raw = raw.replace("\\", "/").rsplit("/", 1)[-1]
        raw = _HASH_SUFFIX.sub("", raw)
        if raw.endswith(".exe"):
            raw = raw[:-4]
            raw = _HASH_SUFFIX.sub("", raw)
    return raw.replace("-", "_")


# ---------------------------------------------------------------------------------------------
# Test results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TestResult:
    """One execution (attempt) of one test, as a report states it.

    ``retry`` is 0 for the first execution in a run and counts up for each re-run of the same
    test inside the same run (Surefire/nextest reruns, pytest-rerunfailures, nextest TRY n).
    The last attempt of a test in a report carries its final outcome.
    """

    __test__ = False  # not a pytest test class

    test_id: str
    suite: str
    name: str
    outcome: Outcome
    duration: float | None = None  # seconds; None when the producer gave none or nonsense
    message: str | None = None  # the failure (or skip) message, first meaningful lines
    failure_kind: str | None = None  # e.g. "AssertionError", "panic", "timeout", "test failure"
    retry: int = 0
    file: str | None = None
    line: int | None = None


# ---------------------------------------------------------------------------------------------
# Coverage
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileCoverage:
    """Line and branch counts for one source file.

    ``path`` is normalised: forward slashes, no leading ``./``, and relative to the report's
    first matching ``<source>`` when the report gives an absolute path under it.
    ``covered_lines``/``missed_lines`` hold line numbers (sorted) so patch coverage can be
    computed later; ``lines_valid == len(covered_lines) + len(missed_lines)`` whenever the report
    lists lines (a class with only summary attributes keeps its counts and empty tuples).
    """

    path: str
    package: str
    lines_valid: int
    lines_covered: int
    branches_valid: int = 0
    branches_covered: int = 0
    covered_lines: tuple[int, ...] = ()
    missed_lines: tuple[int, ...] = ()

    @property
    def line_rate(self) -> float | None:
        return self.lines_covered / self.lines_valid if self.lines_valid else None

    @property
    def branch_rate(self) -> float | None:
        return self.branches_covered / self.branches_valid if self.branches_valid else None


@dataclass(frozen=True, slots=True)
class PackageCoverage:
    """Counts summed over the files of one Cobertura ``<package>`` (or the whole report)."""

    name: str
    lines_valid: int
    lines_covered: int
    branches_valid: int = 0
    branches_covered: int = 0

    @property
    def line_rate(self) -> float | None:
        return self.lines_covered / self.lines_valid if self.lines_valid else None

    @property
    def branch_rate(self) -> float | None:
        return self.branches_covered / self.branches_valid if self.branches_valid else None


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """One Cobertura report: its files, its packages and its totals (computed from the lines)."""

    producer: str  # "coverage.py", "cargo-tarpaulin", "cargo-llvm-cov", "gcovr", ... or "unknown"
    sources: tuple[str, ...]
    files: tuple[FileCoverage, ...]
    packages: tuple[PackageCoverage, ...]
    total: PackageCoverage
    declared_line_rate: float | None = None  # the root's line-rate attribute, as written


# ---------------------------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------------------------


class Direction(StrEnum):
    LOWER_IS_BETTER = "lower"  # times per iteration, latencies
    HIGHER_IS_BETTER = "higher"  # throughput


class SpreadKind(StrEnum):
    """What a benchmark's ``spread`` means; producers disagree, so it is recorded."""

    RANGE = "range"  # libtest's (+/- N): max - min of the samples
    STDDEV = "stddev"  # Criterion's bencher-format (+/- N), pytest-benchmark, Google Benchmark
    CI = "ci"  # Criterion's console [low high]: a confidence interval (lower/upper are set)


@dataclass(frozen=True, slots=True)
class BenchmarkResult:
    """One benchmark measurement. Times are normalised to nanoseconds (``unit == "ns"``)."""

    name: str
    value: float  # the central estimate: mean, median or estimate, as ``statistic`` says
    unit: str  # "ns" for times; otherwise the producer's unit ("MB/s", "cycles/iter", ...)
    statistic: str = "mean"  # "mean" | "median" | "estimate" | "single"
    direction: Direction = Direction.LOWER_IS_BETTER
    spread: float | None = None
    spread_kind: SpreadKind | None = None
    lower: float | None = None
    upper: float | None = None
    samples: tuple[float, ...] = ()  # raw per-sample values in ``unit`` when the producer gave them
    iterations: int | None = None
    group: str = ""  # the target/package/family it belongs to, if the producer says


# ---------------------------------------------------------------------------------------------
# A parsed report and a run
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedReport:
    """What a parser returns for one file: records plus warnings worth showing the user."""

    format: str
    source: str
    tests: tuple[TestResult, ...] = ()
    coverage: tuple[CoverageReport, ...] = ()
    benchmarks: tuple[BenchmarkResult, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    format: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class RunMeta:
    """Where a run came from; (service, run_id, attempt) identifies it (ingest is idempotent)."""

    service: str
    run_id: str
    attempt: int = 1
    commit: str | None = None
    branch: str | None = None
    timestamp: datetime | None = None
    ci_provider: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    meta: RunMeta
    sources: tuple[SourceFile, ...]
    tests: tuple[TestResult, ...] = ()
    coverage: tuple[CoverageReport, ...] = ()
    benchmarks: tuple[BenchmarkResult, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RunCounts:
    """Counts over the final attempt of each test (a retried test counts once)."""

    tests: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    retried: int = 0  # tests with more than one attempt
    flaky: int = 0  # tests that failed on one attempt and passed on a later one

    @classmethod
    def of(cls, results: tuple[TestResult, ...] | list[TestResult]) -> RunCounts:
        if not any(r.retry for r in results):
            # The common case, and a hot path (a 100,000-test run): one attempt per test
            # unless an id repeats, and then the slow path below decides.
            by_outcome = Counter(r.outcome for r in results)
            if len({r.test_id for r in results}) == len(results):
                return cls(
                    tests=len(results),
                    passed=by_outcome[Outcome.PASSED],
                    failed=by_outcome[Outcome.FAILED],
                    errors=by_outcome[Outcome.ERROR],
                    skipped=by_outcome[Outcome.SKIPPED],
                )
        return cls.of_attempts(results)

    @classmethod
    def of_attempts(cls, results: tuple[TestResult, ...] | list[TestResult]) -> RunCounts:
        """The general rule: group attempts by test id; the highest retry is final."""
        final: dict[str, TestResult] = {}
        attempts: dict[str, list[Outcome]] = {}
        for r in results:
            prev = final.get(r.test_id)
            if prev is None or r.retry >= prev.retry:
                final[r.test_id] = r
            attempts.setdefault(r.test_id, []).append(r.outcome)
        by = {o: 0 for o in Outcome}
        for r in final.values():
            by[r.outcome] += 1
        retried = sum(1 for a in attempts.values() if len(a) > 1)
        flaky = sum(
            1
            for tid, a in attempts.items()
            if len(a) > 1 and any(o.is_failure for o in a) and final[tid].outcome == Outcome.PASSED
        )
        return cls(
            tests=len(final),
            passed=by[Outcome.PASSED],
            failed=by[Outcome.FAILED],
            errors=by[Outcome.ERROR],
            skipped=by[Outcome.SKIPPED],
            retried=retried,
            flaky=flaky,
        )


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What ingest did with one run."""

    meta: RunMeta
    counts: RunCounts
    coverage_files: int
    line_rate: float | None
    benchmarks: int
    stored: bool  # False when (service, run_id, attempt) was already in the history
    warnings: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------------------------------------
# The read side: what the history store hands back
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A run as the history holds it (``pk`` is the store's key, opaque to callers)."""

    pk: int
    meta: RunMeta
    counts: RunCounts
    ingested_at: datetime
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PruneOutcome:
    """What ``prune`` deleted (or, in a dry run, would delete)."""

    before: datetime  # runs that happened before this went
    runs: int
    results: int
    kept: int  # runs as old, kept because the gate reads them as baselines
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class RunPoint:
    """A run as the classifier plans its reads: its key, its commit and where it sits in time."""

    pk: int
    service: str
    run_id: str
    attempt: int
    commit: str | None
    branch: str | None
    timestamp: datetime | None  # as the run stated it (what its executions carry)
    effective_at: datetime  # the timestamp, else when it was ingested (aware, UTC)


@dataclass(frozen=True, slots=True)
class TestExecution:
    """One test execution joined with its run: the row the classifier and reports read."""

    __test__ = False

    service: str
    test_id: str
    run_pk: int
    run_id: str
    attempt: int
    commit: str | None
    branch: str | None
    timestamp: datetime | None
    outcome: Outcome
    retry: int = 0
    duration: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class TestFailureTally:
    """How often one test failed in a stretch of history (final attempts and retries alike)."""

    __test__ = False

    test_id: str
    executions: int
    failures: int
    last_message: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceSummary:
    """A service's history at a glance (what `gatekeeper demo` prints)."""

    service: str
    runs: int
    red_runs: int  # runs whose final attempts include a failure or error
    first: datetime | None
    last: datetime | None
    latest: RunCounts
    line_rate: float | None  # of the latest run that had coverage
    benchmarks: int  # in the latest run that had benchmarks
    most_failing: tuple[TestFailureTally, ...] = ()


# ---------------------------------------------------------------------------------------------
# The quarantine registry (flaky-tests.yml): read and written only by gatekeeper.registry.
# Format and ownership rules: docs/registry.md. This section is appended on its own (with its
# own imports) so that the records above stay untouched.
# ---------------------------------------------------------------------------------------------

import datetime as dt  # noqa: E402
from typing import Any  # noqa: E402

#: Keys gatekeeper does not know, in file order, kept as read (str, int, float, bool, None,
#: lists and dicts; dates stay text) and written back unchanged.
Extra = tuple[tuple[str, Any], ...]

RATE_DECIMALS = 4  # failure rates and their interval, as written to the file
CONFIDENCE_DECIMALS = 3


class Verdict(StrEnum):
    """What the classifier concluded about one test (the registry schema lists the same)."""

    STABLE = "stable"
    FLAKY = "flaky"
    BROKEN = "broken"  # failing deterministically since some commit: never quarantined
    HEALED = "healed"  # was flaky; the passes since make the old failure rate implausible
    INSUFFICIENT_DATA = "insufficient-data"


@dataclass(frozen=True, slots=True)
class FailurePoint:
    """A failure the evidence points at: its commit, the day and the CI run."""

    commit: str | None = None
    date: dt.date | None = None
    run: str | None = None
    extra: Extra = ()


@dataclass(frozen=True, slots=True)
class Evidence:
    """The machine fields of a registry entry (``evidence:`` in the file); classify owns them.

    Rates are rounded to ``RATE_DECIMALS`` and the confidence to ``CONFIDENCE_DECIMALS`` when
    the record is made, so that a record and the file it is written to always agree.
    """

    verdict: Verdict
    confidence: float | None = None  # 0..1, how sure the classifier is of the verdict
    summary: str | None = None  # the evidence in one sentence, regenerated on every update
    detected: dt.date | None = None  # when gatekeeper quarantined the test
    updated: dt.date | None = None  # when classify last looked at the test
    released: dt.date | None = None  # when gatekeeper released the quarantine
    runs: int | None = None
    failures: int | None = None
    failure_rate: float | None = None
    failure_rate_ci95: tuple[float, float] | None = None  # 95% interval (low, high)
    flips: int | None = None  # pass<->fail changes between consecutive runs
    same_commit_flips: int | None = None  # commits on which the test both passed and failed
    burst_failures: int | None = None  # failures charged to common causes (outages, bursts)
    first_failure: FailurePoint | None = None
    last_failure: FailurePoint | None = None
    extra: Extra = ()

    def __post_init__(self) -> None:
        # Frozen: the normalisation goes through object.__setattr__.
        object.__setattr__(self, "verdict", Verdict(self.verdict))
        if self.failure_rate is not None:
            object.__setattr__(self, "failure_rate", round(self.failure_rate, RATE_DECIMALS))
        if self.failure_rate_ci95 is not None:
            low, high = self.failure_rate_ci95
            rounded = (round(low, RATE_DECIMALS), round(high, RATE_DECIMALS))
            object.__setattr__(self, "failure_rate_ci95", rounded)
        if self.confidence is not None:
            object.__setattr__(self, "confidence", round(self.confidence, CONFIDENCE_DECIMALS))


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """One test in the registry: the fields a person owns, and the evidence gatekeeper owns.

    ``pinned`` means a person decided ``quarantined`` and classify must not change it. In the
    file it defaults to true for an entry without evidence (someone wrote it by hand) and to
    false for an entry with evidence (classify added it); it is written only when it differs.
    """

    name: str  # the test id (docs/test-ids.md)
    service: str
    reason: str
    quarantined: bool = True
    pinned: bool = True
    issue: str | None = None
    owner: str | None = None
    expires: dt.date | None = None
    evidence: Evidence | None = None
    extra: Extra = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.service, self.name)

    def is_expired(self, today: dt.date) -> bool:
        """Quarantined past its ``expires`` day (the day itself still counts)."""
        return self.quarantined and self.expires is not None and self.expires < today


@dataclass(frozen=True, slots=True)
class Registry:
    """The whole file: its entries in file order and its other top-level keys."""

    entries: tuple[QuarantineEntry, ...] = ()
    extra: Extra = ()
    warnings: tuple[str, ...] = field(default=(), compare=False)  # "file:line: ..." notes

    def find(self, service: str, name: str) -> QuarantineEntry | None:
        for entry in self.entries:
            if entry.service == service and entry.name == name:
                return entry
        return None

    def quarantined(self, service: str | None = None) -> tuple[QuarantineEntry, ...]:
        """The entries in force (``quarantined: true``), of one service or of all."""
        return tuple(
            e for e in self.entries if e.quarantined and (service is None or e.service == service)
        )

    def quarantined_ids(self, service: str) -> frozenset[str]:
        """Test ids of one service the gate must not fail on (a set: the gate looks up many)."""
        return frozenset(e.name for e in self.entries if e.quarantined and e.service == service)


@dataclass(frozen=True, slots=True)
class MachineUpdate:
    """What the classifier tells the registry about one test (``registry.merge`` applies it).

    ``quarantine``: True quarantines (adding an entry when there is none), False releases,
    None only refreshes the evidence. A pinned entry keeps its ``quarantined`` either way.
    ``reason`` is the generated reason written once, when the entry is added.
    """

    service: str
    name: str
    evidence: Evidence
    quarantine: bool | None = None
    reason: str | None = None


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    QUARANTINED = "quarantined"  # an existing entry went from quarantined: false to true
    RELEASED = "released"  # quarantined: true to false
    UPDATED = "updated"  # anything else (evidence, human fields)


@dataclass(frozen=True, slots=True)
class RegistryChange:
    """One line of "what changed" between two registries (classify's report, --dry-run)."""

    kind: ChangeKind
    service: str
    name: str


# ---------------------------------------------------------------------------------------------
# The classifier's output (gatekeeper.flaky): a verdict per test, with its evidence, and the
# infrastructure bursts it excluded. The model is explained in docs/statistics.md. Appended on
# its own so that the records above stay untouched.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangePoint:
    """Where a test's failure rate changed: the first commit of the new segment."""

    commit: str | None
    run_id: str
    timestamp: datetime | None
    rate_before: float  # failure rate of the segment before (failing executions / executions)
    rate_after: float


@dataclass(frozen=True, slots=True)
class TestVerdict:
    """The classifier's verdict on one test of one service, and why.

    ``evidence`` holds the fields the registry stores; its ``runs``/``failures``/``failure_rate``
    describe the current segment (since the last change point; for a quarantined test, since
    its last flaky segment began) and count executions (a retry is one more execution).
    ``since`` is where the verdict starts: for ``broken`` the first failing run of the final
    failing block, for ``flaky`` the start of the flaky segment (None if it never failed).
    """

    __test__ = False

    service: str
    test_id: str
    verdict: Verdict
    evidence: Evidence
    executions: int = 0  # every execution considered, all segments
    failed_executions: int = 0
    since: FailurePoint | None = None
    change_points: tuple[ChangePoint, ...] = ()
    first_failure_at: datetime | None = None
    last_failure_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.service, self.test_id)


@dataclass(frozen=True, slots=True)
class BurstRun:
    """A run attempt whose environment failed tests (an outage, a burst, a co-failure): the
    failures it explains are charged to it, not to the tests (docs/statistics.md)."""

    service: str
    run_id: str
    attempt: int
    commit: str | None
    timestamp: datetime | None
    tests: int  # tests with a non-skipped final outcome in the attempt
    failures: int  # of those, how many failures were charged to the environment
    expected_share: float  # the share of its tests the tests' own rates expect to fail
    p_value: float  # P(at least this many failures | the tests' own rates), Poisson
    message: str | None = None  # the message its charged failures shared (most of them)


@dataclass(frozen=True, slots=True)
class MassQuarantine:
    """A service for which `classify` would newly quarantine more than the allowed share of its
    tests: likely infrastructure the common-cause model did not explain, so nothing is written
    for it (classify.max_new_quarantine_share, docs/classify.md)."""

    service: str
    new: int  # tests it would newly quarantine
    tests: int  # tests of the service that were classified
    limit: float  # the share allowed
    runs: tuple[str, ...]  # the run attempts most of them failed in, most first

    def describe(self) -> str:
        share = self.new / self.tests if self.tests else 1.0
        line = (
            f"{self.service}: classify would newly quarantine {self.new} of {self.tests} tests"
            f" ({share:.0%}, more than the {self.limit:.0%} allowed); nothing was written for it"
        )
        if self.runs:
            line += f"; likely infrastructure: runs {', '.join(self.runs)}"
        return line


@dataclass(frozen=True, slots=True)
class Classification:
    """Everything one classifier pass concluded, verdicts sorted by (service, test id)."""

    verdicts: tuple[TestVerdict, ...] = ()
    bursts: tuple[BurstRun, ...] = ()


# ---------------------------------------------------------------------------------------------
# The gate's decision
# ---------------------------------------------------------------------------------------------


class FailureKind(StrEnum):
    TEST = "test"
    COVERAGE = "coverage"
    BENCHMARK = "benchmark"
    INPUT = "input"


@dataclass(frozen=True, slots=True)
class GateFailure:
    """One reason the gate failed (or, in ``warnings``, one reason it nearly did)."""

    kind: FailureKind
    subject: str  # test id, service name (or "overall"), benchmark name, or the input
    message: str
    service: str = ""
    file: str | None = None  # where a failed test lives, when the report says (annotations)
    line: int | None = None


@dataclass(frozen=True, slots=True)
class MutedFailure:
    """A failing test the registry quarantines: reported, not failing the gate."""

    service: str
    test_id: str
    message: str | None
    issue: str | None = None
    owner: str | None = None
    reason: str | None = None
    expires: dt.date | None = None


@dataclass(frozen=True, slots=True)
class FlakyInRun:
    """A test that failed and then passed on a retry within this run: flaky evidence."""

    service: str
    test_id: str
    attempts: int
    message: str | None = None


@dataclass(frozen=True, slots=True)
class CoverageFigure:
    """Coverage of one service (or of everything: ``subject == "overall"``) in this run.

    Rates are fractions (0..1); thresholds are percent, as the configuration writes them.
    ``line_rate`` = lines with hits > 0 / valid lines, the Cobertura ``line-rate`` formula.
    """

    subject: str
    files: int
    lines_valid: int
    lines_covered: int
    branches_valid: int = 0
    branches_covered: int = 0
    line_threshold: float | None = None
    branch_threshold: float | None = None
    baseline_line_rate: float | None = None  # the ratchet's reference, if there is one
    baseline_run: str | None = None
    max_drop: float | None = None
    patch_valid: int = 0  # changed coverable lines (with --base)
    patch_covered: int = 0
    patch_threshold: float | None = None
    passed: bool = True

    @property
    def line_rate(self) -> float | None:
        return self.lines_covered / self.lines_valid if self.lines_valid else None

    @property
    def branch_rate(self) -> float | None:
        return self.branches_covered / self.branches_valid if self.branches_valid else None

    @property
    def patch_rate(self) -> float | None:
        return self.patch_covered / self.patch_valid if self.patch_valid else None


class BenchmarkVerdict(StrEnum):
    REGRESSION = "regression"  # worse than the threshold and significant: fails
    OVER_CEILING = "over-ceiling"  # worse than the absolute ceiling: fails
    IMPROVEMENT = "improvement"  # better by more than the threshold and significant
    UNCHANGED = "unchanged"  # within the threshold, or not significant
    NEW = "new"  # no history: recorded, not judged
    INSUFFICIENT_HISTORY = "insufficient-history"  # fewer than min_history earlier results


@dataclass(frozen=True, slots=True)
class BenchmarkJudgement:
    """One benchmark of this run against its own default-branch history."""

    name: str
    unit: str
    direction: Direction
    current: float
    verdict: BenchmarkVerdict
    baseline: float | None = None  # the history's central value (median of the window)
    change: float | None = None  # (current - baseline) / baseline, signed; + is slower for times
    p_value: float | None = None  # one-sided: "no change" against "worse" (t-test, log scale)
    history: int = 0  # earlier results used
    threshold: float | None = None  # max_regression, percent
    ceiling: float | None = None
    message: str = ""
    group: str = ""
    failing: bool = False  # the verdict fails the gate (not informational)


@dataclass(frozen=True, slots=True)
class RunShift:
    """Most of a run's benchmarks moved by one factor (a loaded machine, or a change to code
    they all share): found by ``gate.shift``; each benchmark was judged with it removed."""

    factor: float  # the common ratio current / baseline, in the worse direction (2.3: 2.3x worse)
    moved: int  # benchmarks that, judged alone, moved beyond their threshold that way
    judged: int  # benchmarks with enough history to be judged
    scatter: float = 0.0  # how much the benchmarks' own factors scatter about it (log sd)

    @property
    def worse(self) -> bool:
        return self.factor > 1

    @property
    def text(self) -> str:
        """``38 of 40 moved together by x2.31`` (``by /1.8`` the better way)."""
        by = f"x{self.factor:.3g}" if self.worse else f"/{1 / self.factor:.3g}"
        return f"{self.moved} of {self.judged} moved together by {by}"


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The gate's verdict on one run: a value, with every reason; never an exception."""

    passed: bool
    service: str
    run_id: str
    attempt: int
    commit: str | None
    branch: str | None
    counts: RunCounts
    failures: tuple[GateFailure, ...] = ()
    muted: tuple[MutedFailure, ...] = ()
    flaky: tuple[FlakyInRun, ...] = ()
    warnings: tuple[GateFailure, ...] = ()
    coverage: tuple[CoverageFigure, ...] = ()
    benchmarks: tuple[BenchmarkJudgement, ...] = ()
    base_ref: str | None = None
    stored: bool = True  # False when the run was already stored (a re-run of the gate)
    common_shift: RunShift | None = None
    undecided: str = ""  # why the gate could not decide ("" when it could): exit 2


# Token scopes of `gatekeeper serve`, weakest first: each allows what the ones before it allow.
TOKEN_SCOPES = ("read", "upload", "admin")


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token of `gatekeeper serve` as the store keeps it: never the secret, only its
    name, scope and dates (UTC)."""

    name: str
    scope: str  # one of TOKEN_SCOPES
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def allows(self, needed: str) -> bool:
        """Whether this token's scope covers ``needed`` (admin > upload > read)."""
        return TOKEN_SCOPES.index(self.scope) >= TOKEN_SCOPES.index(needed)


# ---------------------------------------------------------------------------------------------
# The weekly report (`gatekeeper report`): what the history store reads for it, and the report
# itself. Every number is defined in docs/report.md; keep the two in step. Appended on its own
# so that the records above stay untouched.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportRun:
    """One run attempt of the report's period with the counts ingest stored for it.

    ``at`` is the run's time (its timestamp, else when it was ingested), in UTC. ``test_time``
    is the sum of the durations of all its test executions (retries included), in seconds: test
    time, not wall-clock time (parallel tests overlap; builds and setup are not in reports).
    """

    pk: int
    service: str
    run_id: str
    attempt: int
    commit: str | None
    branch: str | None
    at: datetime
    counts: RunCounts
    test_time: float = 0.0
    url: str | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.service, self.run_id, self.attempt)

    @property
    def red(self) -> bool:
        """A final outcome of some test failed or errored."""
        return bool(self.counts.failed or self.counts.errors)


@dataclass(frozen=True, slots=True)
class FailedExecution:
    """A failed or errored execution of a test in the report's period.

    ``final`` is true when it is the test's last attempt in the run, so its outcome is the run's
    outcome for that test; a non-final one was retried inside the run.
    """

    run_pk: int
    service: str
    test_id: str
    retry: int
    final: bool
    duration: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class CoverageSample:
    """A run's line and branch counts: the gate's figure for the run's service when the gate
    decided the run (``source == "gate"``), else the sum of its Cobertura reports' totals
    (``"reports"``)."""

    run_pk: int
    service: str
    run_id: str
    attempt: int
    commit: str | None
    branch: str | None
    at: datetime
    lines_valid: int
    lines_covered: int
    branches_valid: int = 0
    branches_covered: int = 0
    source: str = "reports"

    @property
    def line_rate(self) -> float | None:
        return self.lines_covered / self.lines_valid if self.lines_valid else None


@dataclass(frozen=True, slots=True)
class BenchmarkSample:
    """One benchmark result with the run it belongs to."""

    run_pk: int
    service: str
    run_id: str
    attempt: int
    commit: str | None
    branch: str | None
    at: datetime
    result: BenchmarkResult


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """A gate decision stored with a run: ``document`` is the gate's JSON, as it wrote it."""

    run_pk: int
    passed: bool
    document: str


class RunHealth(StrEnum):
    """What a run of the period came to (docs/report.md, "CI health")."""

    GREEN = "green"
    RED_FLAKY = "red-flaky"  # every test that failed finally is flaky or quarantined
    RED_REAL = "red-real"  # some test that failed finally is neither
    RED_INFRASTRUCTURE = "red-infrastructure"  # an infrastructure burst (the classifier's)


@dataclass(frozen=True, slots=True)
class CIHealth:
    """Run counts of one service (``service == ""``: all services), over the whole period
    (``day`` None) or one UTC day. Times are seconds."""

    service: str
    day: dt.date | None = None
    runs: int = 0
    green: int = 0
    red: int = 0
    red_flaky: int = 0
    red_real: int = 0
    red_infrastructure: int = 0
    reruns: int = 0  # run attempts after the first (attempt > 1): a job re-run
    runs_with_retries: int = 0  # runs in which some test was re-run inside the run
    passed_on_retry: int = 0  # tests that failed, then passed on a retry in the same run
    test_failures: int = 0  # final test failures (failed or errored), summed over the runs
    test_time: float = 0.0
    time_lost: float = 0.0  # the time lost (TestImpact.time_lost) of the flakiest tests
    gated: int = 0  # runs with a stored gate decision
    gate_failed: int = 0  # of those, the gate failed

    @property
    def red_share(self) -> float | None:
        return self.red / self.runs if self.runs else None


@dataclass(frozen=True, slots=True)
class RedRun:
    """A red run of the period and why: the tests whose final outcome failed."""

    service: str
    run_id: str
    attempt: int
    commit: str | None
    branch: str | None
    at: datetime
    health: RunHealth
    failed_tests: tuple[str, ...]
    flaky_tests: tuple[str, ...] = ()  # of failed_tests, those flaky or quarantined
    url: str | None = None


@dataclass(frozen=True, slots=True)
class TestImpact:
    """What one failing test cost in the period (executions in infrastructure bursts left out).

    ``time_lost`` = ``failed_time`` (the durations of its failed executions) + ``rerun_time``
    (the test time of the re-runs of runs that only flaky tests turned red, shared equally
    among those tests).
    """

    __test__ = False

    service: str
    test_id: str
    verdict: Verdict | None  # the classifier's, over the whole history
    quarantined: bool  # in force in the registry now
    executions: int  # executions in the period (retries included, skips not)
    failed_executions: int
    runs_failed: int  # runs with at least one failed execution of it
    runs_turned_red: int  # runs in which its final outcome failed
    runs_red_alone: int  # of those, runs in which it was the only test that failed finally
    passed_on_retry: int  # runs in which it failed, then passed on a retry
    failed_time: float = 0.0
    rerun_time: float = 0.0
    last_failed_at: datetime | None = None
    last_message: str | None = None
    issue: str | None = None
    owner: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.service, self.test_id)

    @property
    def time_lost(self) -> float:
        return self.failed_time + self.rerun_time


@dataclass(frozen=True, slots=True)
class BrokenTest:
    """A test the classifier calls broken now: failing on every execution since ``since``."""

    __test__ = False

    service: str
    test_id: str
    since: FailurePoint | None  # commit, day and run id of the first failing run
    failing_executions: int = 0  # executions since then (all failed)
    runs_turned_red: int = 0  # in the period
    confidence: float | None = None
    quarantined: bool = False  # a quarantine mutes a real regression: housekeeping
    last_message: str | None = None
    owner: str | None = None  # its registry entry's, else CODEOWNERS' (docs/owners.md)


class Chore(StrEnum):
    """Something to do about a registry entry (docs/report.md, "Housekeeping")."""

    EXPIRED = "expired"  # quarantined past its expires day
    NO_OWNER = "no-owner"
    NO_ISSUE = "no-issue"
    BROKEN = "broken"  # quarantined, but the classifier calls it broken: a regression is muted
    HEALED = "healed"  # quarantined by hand (pinned), but the classifier says it healed


@dataclass(frozen=True, slots=True)
class Housekeeping:
    entry: QuarantineEntry
    chores: tuple[Chore, ...]


@dataclass(frozen=True, slots=True)
class CoveragePoint:
    """One run's coverage on the default branch. ``drop`` (percentage points, positive) is set
    when line coverage fell by more than the ratchet's ``max_drop`` against the previous point
    that was not an infrastructure burst."""

    run_id: str
    attempt: int
    commit: str | None
    at: datetime
    lines_valid: int
    lines_covered: int
    branches_valid: int = 0
    branches_covered: int = 0
    source: str = "reports"
    infrastructure: bool = False  # the run was an infrastructure burst: not a reference
    drop: float | None = None

    @property
    def line_rate(self) -> float | None:
        return self.lines_covered / self.lines_valid if self.lines_valid else None

    @property
    def branch_rate(self) -> float | None:
        return self.branches_covered / self.branches_valid if self.branches_valid else None


@dataclass(frozen=True, slots=True)
class CoverageTrend:
    """A service's coverage over the period (default branch), oldest first; ``before`` is its
    last point before the period (the reference of the first drop)."""

    service: str
    points: tuple[CoveragePoint, ...]
    before: CoveragePoint | None = None
    max_drop: float | None = None

    @property
    def drops(self) -> tuple[CoveragePoint, ...]:
        return tuple(p for p in self.points if p.drop is not None)

    @property
    def change(self) -> float | None:
        """Points gained (+) or lost (-) from the first to the last point of the period
        (infrastructure bursts left out)."""
        rates = [
            p.line_rate for p in self.points if p.line_rate is not None and not p.infrastructure
        ]
        return (rates[-1] - rates[0]) * 100 if len(rates) > 1 else None


@dataclass(frozen=True, slots=True)
class BenchmarkPoint:
    """One result of a benchmark on the default branch, with the gate's verdict on it.

    ``judged_by`` is ``"gate"`` (the decision stored when the gate ran), ``"replay"`` (the
    gate's rule applied by the report to the history before the run) or None (not judged).
    """

    run_id: str
    attempt: int
    commit: str | None
    at: datetime
    value: float
    verdict: BenchmarkVerdict | None = None
    change: float | None = None  # against the baseline, signed fraction; + is slower for times
    baseline: float | None = None
    judged_by: str | None = None

    @property
    def is_regression(self) -> bool:
        return self.verdict in (BenchmarkVerdict.REGRESSION, BenchmarkVerdict.OVER_CEILING)


@dataclass(frozen=True, slots=True)
class BenchmarkTrend:
    service: str
    name: str
    group: str
    unit: str
    direction: Direction
    points: tuple[BenchmarkPoint, ...]

    @property
    def regressions(self) -> tuple[BenchmarkPoint, ...]:
        return tuple(p for p in self.points if p.is_regression)

    @property
    def improvements(self) -> tuple[BenchmarkPoint, ...]:
        return tuple(p for p in self.points if p.verdict is BenchmarkVerdict.IMPROVEMENT)


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    """The weekly report: CI health, the tests that cost most, quarantines, trends.

    The period is ``[since, until)``; ``days`` are its UTC days. ``service`` is the one service
    asked for (None: all). Lists are sorted as the report shows them.
    """

    since: datetime
    until: datetime
    generated_at: datetime
    today: dt.date
    default_branch: str
    service: str | None
    services: tuple[str, ...]
    days: tuple[dt.date, ...]
    total: CIHealth
    health: tuple[CIHealth, ...]  # per service, over the period
    daily: tuple[CIHealth, ...]  # per service and day, then all services ("") per day
    red_runs: tuple[RedRun, ...]
    bursts: tuple[BurstRun, ...]
    flakiest: tuple[TestImpact, ...]  # flaky or quarantined tests that failed, by impact
    other_failures: tuple[TestImpact, ...]  # failing tests neither flaky nor broken
    broken: tuple[BrokenTest, ...]
    quarantined: int  # entries in force now (of the service asked for)
    new_quarantines: tuple[QuarantineEntry, ...]
    released_quarantines: tuple[QuarantineEntry, ...]
    housekeeping: tuple[Housekeeping, ...]
    coverage: tuple[CoverageTrend, ...]
    benchmarks: tuple[BenchmarkTrend, ...]
    notes: tuple[str, ...] = ()
    owners: tuple[OwnerQuarantines, ...] = ()  # quarantines in force, grouped by owner
    trend: tuple[WeekTrend, ...] = ()  # the last weeks up to ``until``, oldest first


@dataclass(frozen=True, slots=True)
class OwnerQuarantines:
    """One owner's quarantines in force (``owner`` None: entries without one): how many, how
    many are new in the period, and the time their tests lost in it."""

    owner: str | None
    quarantined: int
    new: int
    time_lost: float
    tests: tuple[tuple[str, str], ...] = ()  # (service, name) of the entries


@dataclass(frozen=True, slots=True)
class WeekTrend:
    """One week ``[since, until)`` of the report's trend: its runs, the flaky tests that
    failed in it, the quarantines in force at its end, and the time lost to flaky tests."""

    since: dt.datetime
    until: dt.datetime
    runs: int
    red: int
    flaky_tests: int
    quarantined: int
    time_lost: float


# ---------------------------------------------------------------------------------------------
# Owners (CODEOWNERS) and tickets
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ticket:
    """An issue to file for a quarantined test: its title, its Markdown body, its labels."""

    service: str
    name: str
    title: str
    body: str
    owner: str | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FiledTicket:
    """An issue in a tracker: its reference for the registry (``#12``), number and address;
    ``created`` False when it was there already (the registry's or an open one found by title)."""

    reference: str
    number: int
    url: str
    created: bool
