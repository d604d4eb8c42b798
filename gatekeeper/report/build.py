"""The weekly report from what the store read, the registry and the classifier's verdicts (pure).

Every number is defined in docs/report.md; keep the two in step. Nothing here reads a file or
the database: the API gathers the inputs (``gatekeeper.api.Gatekeeper.report``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from gatekeeper.model import (
    BenchmarkJudgement,
    BenchmarkPoint,
    BenchmarkResult,
    BenchmarkSample,
    BenchmarkTrend,
    BenchmarkVerdict,
    BrokenTest,
    Chore,
    CIHealth,
    Classification,
    CoveragePoint,
    CoverageSample,
    CoverageTrend,
    FailedExecution,
    Housekeeping,
    OwnerQuarantines,
    QuarantineEntry,
    RedRun,
    Registry,
    ReportRun,
    RunHealth,
    RunShift,
    StoredDecision,
    TestImpact,
    TestVerdict,
    Verdict,
    WeeklyReport,
    WeekTrend,
)
from gatekeeper.report.period import day_of, period_days
from gatekeeper.rules import GateConfig

TestKey = tuple[str, str]  # (service, test id)
RunKey = tuple[str, str, int]  # (service, run id, attempt)
BenchKey = tuple[int, str, str]  # (run pk, benchmark group, benchmark name)

#: Verdicts whose failures count as flaky: ``healed`` tests were flaky when they failed.
FLAKY_VERDICTS = frozenset({Verdict.FLAKY, Verdict.HEALED})
ALL_SERVICES = ""  # CIHealth.service of the figures over all services


def build_report(
    *,
    since: datetime,
    until: datetime,
    runs: Sequence[ReportRun],
    failures: Sequence[FailedExecution],
    executions: Mapping[TestKey, int],
    coverage: Sequence[CoverageSample],
    benchmarks: Sequence[BenchmarkSample],
    decisions: Sequence[StoredDecision],
    judgements: Mapping[BenchKey, BenchmarkJudgement],
    classification: Classification,
    registry: Registry,
    config: GateConfig,
    today: date,
    generated_at: datetime,
    service: str | None = None,
    shifts: Mapping[int, RunShift] | None = None,
) -> WeeklyReport:
    """Assemble the report of the period ``[since, until)`` (of one service, or all).

    ``runs``, ``failures`` and ``decisions`` are the period's (``report_runs``,
    ``report_failures``, ``report_decisions``); ``executions`` counts the executions of the
    failing tests (``report_execution_counts``, bursts left out); ``coverage`` and
    ``benchmarks`` hold the default branch's samples in the period and the ones before it that
    serve as references; ``judgements`` are the gate's rule replayed (``replay_plan``) on
    benchmark results of runs the gate did not decide, and ``shifts`` (run pk -> shift) the
    common shifts the replay found in them; ``classification`` is the classifier's pass over
    the whole history.
    """
    since, until = _utc(since), _utc(until)
    branch = config.default_branch
    runs = sorted(
        (r for r in runs if _wanted(r.service, service) and since <= r.at < until),
        key=lambda r: (r.at, r.pk),
    )
    by_pk = {r.pk: r for r in runs}
    days = period_days(since, until)
    services = tuple(sorted({r.service for r in runs} | ({service} if service else set())))
    verdicts = {v.key: v for v in classification.verdicts if _wanted(v.service, service)}
    entries = [e for e in registry.entries if _wanted(e.service, service)]
    in_force = {e.key: e for e in entries if e.quarantined}
    broken = {k for k, v in verdicts.items() if v.verdict is Verdict.BROKEN}
    # A quarantine does not make a broken test flaky: its failures are real (housekeeping).
    flaky = {k for k, v in verdicts.items() if v.verdict in FLAKY_VERDICTS} | (
        set(in_force) - broken
    )
    run_keys = {r.key for r in runs}
    every_burst = {(b.service, b.run_id, b.attempt) for b in classification.bursts}
    bursts = tuple(b for b in classification.bursts if (b.service, b.run_id, b.attempt) in run_keys)
    burst_keys = {(b.service, b.run_id, b.attempt) for b in bursts}

    failed_by_run: dict[int, list[FailedExecution]] = defaultdict(list)
    for f in failures:
        if f.run_pk in by_pk:
            failed_by_run[f.run_pk].append(f)

    # What each run came to, and what it cost.
    next_attempt = {r.key: r for r in runs if r.attempt > 1}
    health: dict[int, RunHealth] = {}
    red_runs: list[RedRun] = []
    tally: dict[TestKey, _Tally] = {}
    for r in runs:
        execs = failed_by_run.get(r.pk, [])
        final = sorted({f.test_id for f in execs if f.final})
        state = _run_health(r, final, flaky, burst_keys)
        health[r.pk] = state
        if state is not RunHealth.GREEN:
            red_runs.append(
                RedRun(
                    service=r.service,
                    run_id=r.run_id,
                    attempt=r.attempt,
                    commit=r.commit,
                    branch=r.branch,
                    at=r.at,
                    health=state,
                    failed_tests=tuple(final),
                    flaky_tests=tuple(t for t in final if (r.service, t) in flaky),
                    url=r.url,
                )
            )
        if state is RunHealth.RED_INFRASTRUCTURE:
            continue  # the tests did not fail there; the infrastructure did
        rerun = next_attempt.get((r.service, r.run_id, r.attempt + 1))
        share = 0.0
        if state is RunHealth.RED_FLAKY and rerun is not None and final:
            share = rerun.test_time / len(final)
        for test_id, test_execs in _by_test(execs).items():
            key = (r.service, test_id)
            t = tally.setdefault(key, _Tally())
            t.add(r, test_execs, final, share if test_id in final else 0.0)

    impacts = [
        _impact(key, t, executions.get(key, 0), verdicts.get(key), in_force.get(key))
        for key, t in tally.items()
        if key not in broken
    ]
    # The flakiest: classified flaky (or quarantined), or seen failing then passing on a retry.
    is_flaky = [i for i in impacts if i.key in flaky or i.passed_on_retry]
    others = [i for i in impacts if not (i.key in flaky or i.passed_on_retry)]
    lost: dict[int, float] = defaultdict(float)  # run pk -> time lost to the flakiest tests
    for i in is_flaky:
        for run_pk, cost in tally[i.key].cost.items():
            lost[run_pk] += cost

    decided = {d.run_pk: d for d in decisions if d.run_pk in by_pk}
    groups: dict[tuple[str, date | None], list[ReportRun]] = defaultdict(list)
    for r in runs:
        day = day_of(r.at)
        groups[(r.service, None)].append(r)
        groups[(r.service, day)].append(r)
        groups[(ALL_SERVICES, day)].append(r)

    def figures(service: str, day: date | None) -> CIHealth:
        return _health(service, day, groups.get((service, day), []), health, lost, decided)

    totals = [figures(s, None) for s in services]
    daily = [figures(s, d) for s in services for d in days]
    daily += [figures(ALL_SERVICES, d) for d in days]

    report_days = set(days)
    new = tuple(
        e
        for e in entries
        if e.quarantined and e.evidence is not None and e.evidence.detected in report_days
    )
    released = tuple(
        e
        for e in entries
        if not e.quarantined and e.evidence is not None and e.evidence.released in report_days
    )
    impacts_by_key = {i.key: i for i in impacts}
    notes = _notes(runs, decided, judgements, branch)
    notes += _shift_notes(runs, {**decided_shifts(decided.values()), **(shifts or {})}, branch)
    return WeeklyReport(
        since=since,
        until=until,
        generated_at=generated_at,
        today=today,
        default_branch=branch,
        service=service,
        services=services,
        days=days,
        total=_health(ALL_SERVICES, None, runs, health, lost, decided),
        health=tuple(totals),
        daily=tuple(daily),
        red_runs=tuple(red_runs),
        bursts=bursts,
        flakiest=tuple(sorted(is_flaky, key=impact_order)),
        other_failures=tuple(sorted(others, key=impact_order)),
        broken=tuple(_broken(verdicts[k], tally.get(k), k in in_force) for k in sorted(broken)),
        quarantined=len(in_force),
        new_quarantines=new,
        released_quarantines=released,
        housekeeping=_housekeeping(entries, verdicts, today),
        coverage=_coverage(coverage, since, until, branch, every_burst, config, service),
        benchmarks=_benchmarks(benchmarks, decided, judgements, since, until, branch, service),
        notes=notes,
        owners=owner_quarantines(entries, impacts_by_key, report_days),
    )


#: Weeks in the report's trend (docs/report.md, "The last weeks").
TREND_WEEKS = 8


def owner_quarantines(
    entries: Iterable[QuarantineEntry],
    impacts: Mapping[TestKey, TestImpact],
    days: Iterable[date],
) -> tuple[OwnerQuarantines, ...]:
    """The quarantines in force grouped by owner: how many, how many new in ``days``, and the
    time their tests lost (``impacts``: the period's, by test). Most quarantines first; the
    entries without an owner last."""
    wanted = set(days)
    groups: dict[str | None, list[QuarantineEntry]] = defaultdict(list)
    for e in entries:
        if e.quarantined:
            groups[(e.owner or "").strip() or None].append(e)
    out = [
        OwnerQuarantines(
            owner=owner,
            quarantined=len(group),
            new=sum(1 for e in group if e.evidence is not None and e.evidence.detected in wanted),
            time_lost=sum(impacts[e.key].time_lost for e in group if e.key in impacts),
            tests=tuple(sorted(e.key for e in group)),
        )
        for owner, group in groups.items()
    ]
    out.sort(key=lambda o: (o.owner is None, -o.quarantined, -o.time_lost, o.owner or ""))
    return tuple(out)


def weekly_trend(
    *,
    until: datetime,
    runs: Sequence[ReportRun],
    failures: Sequence[FailedExecution],
    classification: Classification,
    registry: Registry,
    config: GateConfig,
    service: str | None = None,
    weeks: int = TREND_WEEKS,
) -> tuple[WeekTrend, ...]:
    """The last ``weeks`` weeks ending at ``until``, oldest first: each week's runs and red
    runs, the flaky tests that failed in it and the time they lost (counted as the report
    counts its period, with today's verdicts), and the quarantines in force at its end as the
    registry's dates tell (``detected``, ``released``; an entry without them counts as it is
    now). ``runs`` and ``failures`` cover the whole span."""
    end = _utc(until)
    out: list[WeekTrend] = []
    for back in range(weeks, 0, -1):
        since = end - timedelta(days=7 * back)
        stop = since + timedelta(days=7)
        week = build_report(
            since=since,
            until=stop,
            runs=runs,
            failures=failures,
            executions={},
            coverage=(),
            benchmarks=(),
            decisions=(),
            judgements={},
            classification=classification,
            registry=registry,
            config=config,
            today=day_of(stop),
            generated_at=stop,
            service=service,
        )
        last_day = day_of(stop - timedelta(microseconds=1))
        out.append(
            WeekTrend(
                since=since,
                until=stop,
                runs=week.total.runs,
                red=week.total.red,
                flaky_tests=len(week.flakiest),
                quarantined=sum(
                    1
                    for e in registry.entries
                    if _wanted(e.service, service) and _held_on(e, last_day)
                ),
                time_lost=week.total.time_lost,
            )
        )
    return tuple(out)


def _held_on(entry: QuarantineEntry, day: date) -> bool:
    """Whether ``entry`` was quarantined at the end of ``day``, by its evidence's dates."""
    ev = entry.evidence
    detected = ev.detected if ev else None
    released = ev.released if ev else None
    if entry.quarantined:
        return detected is None or detected <= day
    return released is not None and released > day and (detected is None or detected <= day)


def impact_order(i: TestImpact) -> tuple[int, int, float, str, str]:
    """Most impact first: runs turned red, then failed executions, then time lost."""
    return (-i.runs_turned_red, -i.failed_executions, -i.time_lost, i.service, i.test_id)


def _utc(moment: datetime) -> datetime:
    """Naive times are UTC (as the store keeps them); aware ones are moved to UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _wanted(service: str, only: str | None) -> bool:
    return only is None or service == only


def _run_health(
    run: ReportRun, final: Sequence[str], flaky: set[TestKey], bursts: set[RunKey]
) -> RunHealth:
    if not run.red:
        return RunHealth.GREEN
    if run.key in bursts:
        return RunHealth.RED_INFRASTRUCTURE
    if final and all((run.service, t) in flaky for t in final):
        return RunHealth.RED_FLAKY
    # Red with a failing test that is neither flaky nor quarantined -- or red by its stored
    # counts with no failure found (never in a consistent history): a real failure either way.
    return RunHealth.RED_REAL


def _by_test(execs: Iterable[FailedExecution]) -> dict[str, list[FailedExecution]]:
    out: dict[str, list[FailedExecution]] = defaultdict(list)
    for f in execs:
        out[f.test_id].append(f)
    return out


@dataclass(slots=True)
class _Tally:
    """One test's failures in the period, run by run."""

    failed_executions: int = 0
    runs_failed: int = 0
    runs_turned_red: int = 0
    runs_red_alone: int = 0
    passed_on_retry: int = 0
    failed_time: float = 0.0
    rerun_time: float = 0.0
    last_failed_at: datetime | None = None
    last_message: str | None = None
    cost: dict[int, float] = field(default_factory=dict)  # run pk -> time lost in that run

    def add(
        self,
        run: ReportRun,
        execs: Sequence[FailedExecution],
        final: Sequence[str],
        rerun_share: float,
    ) -> None:
        test_id = execs[0].test_id
        failed_time = sum(f.duration or 0.0 for f in execs)
        self.failed_executions += len(execs)
        self.runs_failed += 1
        if any(f.final for f in execs):
            self.runs_turned_red += 1
            if list(final) == [test_id]:
                self.runs_red_alone += 1
        else:
            self.passed_on_retry += 1
        self.failed_time += failed_time
        self.rerun_time += rerun_share
        self.cost[run.pk] = failed_time + rerun_share
        self.last_failed_at = run.at
        messages = [f.message for f in execs if f.message]
        if messages:
            self.last_message = messages[-1]


def _impact(
    key: TestKey,
    t: _Tally,
    executions: int,
    verdict: TestVerdict | None,
    entry: QuarantineEntry | None,
) -> TestImpact:
    return TestImpact(
        service=key[0],
        test_id=key[1],
        verdict=verdict.verdict if verdict else None,
        quarantined=entry is not None,
        executions=max(executions, t.failed_executions),
        failed_executions=t.failed_executions,
        runs_failed=t.runs_failed,
        runs_turned_red=t.runs_turned_red,
        runs_red_alone=t.runs_red_alone,
        passed_on_retry=t.passed_on_retry,
        failed_time=t.failed_time,
        rerun_time=t.rerun_time,
        last_failed_at=t.last_failed_at,
        last_message=t.last_message,
        issue=entry.issue if entry else None,
        owner=entry.owner if entry else None,
    )


def _health(
    service: str,
    day: date | None,
    runs: Sequence[ReportRun],
    health: Mapping[int, RunHealth],
    lost: Mapping[int, float],
    decided: Mapping[int, StoredDecision],
) -> CIHealth:
    states = [health[r.pk] for r in runs]
    gated = [decided[r.pk] for r in runs if r.pk in decided]
    return CIHealth(
        service=service,
        day=day,
        runs=len(runs),
        green=states.count(RunHealth.GREEN),
        red=len(states) - states.count(RunHealth.GREEN),
        red_flaky=states.count(RunHealth.RED_FLAKY),
        red_real=states.count(RunHealth.RED_REAL),
        red_infrastructure=states.count(RunHealth.RED_INFRASTRUCTURE),
        reruns=sum(1 for r in runs if r.attempt > 1),
        runs_with_retries=sum(1 for r in runs if r.counts.retried),
        passed_on_retry=sum(r.counts.flaky for r in runs),
        test_failures=sum(r.counts.failed + r.counts.errors for r in runs),
        test_time=sum(r.test_time for r in runs),
        time_lost=sum(lost.get(r.pk, 0.0) for r in runs),
        gated=len(gated),
        gate_failed=sum(1 for d in gated if not d.passed),
    )


def _broken(v: TestVerdict, t: _Tally | None, quarantined: bool) -> BrokenTest:
    return BrokenTest(
        service=v.service,
        test_id=v.test_id,
        since=v.since,
        failing_executions=v.evidence.failures or 0,
        runs_turned_red=t.runs_turned_red if t else 0,
        confidence=v.evidence.confidence,
        quarantined=quarantined,
        last_message=t.last_message if t else None,
    )


def _housekeeping(
    entries: Sequence[QuarantineEntry], verdicts: Mapping[TestKey, TestVerdict], today: date
) -> tuple[Housekeeping, ...]:
    out: list[Housekeeping] = []
    for e in entries:
        if not e.quarantined:
            continue
        v = verdicts.get(e.key)
        chores: list[Chore] = []
        if e.is_expired(today):
            chores.append(Chore.EXPIRED)
        if not e.owner:
            chores.append(Chore.NO_OWNER)
        if not e.issue:
            chores.append(Chore.NO_ISSUE)
        if v is not None and v.verdict is Verdict.BROKEN:
            chores.append(Chore.BROKEN)
        if v is not None and v.verdict is Verdict.HEALED and e.pinned:
            chores.append(Chore.HEALED)
        if chores:
            out.append(Housekeeping(entry=e, chores=tuple(chores)))
    # The urgent first: a muted regression, an expired quarantine; then by service and name.
    weight = {Chore.BROKEN: 0, Chore.EXPIRED: 1, Chore.HEALED: 2}
    out.sort(key=lambda h: (min(weight.get(c, 3) for c in h.chores), h.entry.key))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Coverage and benchmark trends
# ---------------------------------------------------------------------------------------------


def _coverage(
    samples: Sequence[CoverageSample],
    since: datetime,
    until: datetime,
    branch: str,
    bursts: set[RunKey],
    config: GateConfig,
    only: str | None,
) -> tuple[CoverageTrend, ...]:
    by_service: dict[str, list[CoverageSample]] = defaultdict(list)
    for s in samples:
        if s.branch == branch and _wanted(s.service, only) and s.at < until:
            by_service[s.service].append(s)
    out: list[CoverageTrend] = []
    for service in sorted(by_service):
        ordered = sorted(by_service[service], key=lambda s: (s.at, s.run_pk))
        earlier = [s for s in ordered if s.at < since]
        current = [s for s in ordered if s.at >= since]
        if not current:
            continue
        max_drop = config.coverage_rules(service).max_drop
        before = _coverage_point(earlier[-1], bursts, None) if earlier else None
        reference = before if before is not None and not before.infrastructure else None
        points: list[CoveragePoint] = []
        for s in current:
            point = _coverage_point(s, bursts, None)
            if point.infrastructure:
                points.append(point)
                continue
            drop = _drop(reference, point, max_drop)
            points.append(_coverage_point(s, bursts, drop) if drop is not None else point)
            reference = point
        out.append(
            CoverageTrend(service=service, points=tuple(points), before=before, max_drop=max_drop)
        )
    return tuple(out)


def _coverage_point(s: CoverageSample, bursts: set[RunKey], drop: float | None) -> CoveragePoint:
    return CoveragePoint(
        run_id=s.run_id,
        attempt=s.attempt,
        commit=s.commit,
        at=s.at,
        lines_valid=s.lines_valid,
        lines_covered=s.lines_covered,
        branches_valid=s.branches_valid,
        branches_covered=s.branches_covered,
        source=s.source,
        infrastructure=(s.service, s.run_id, s.attempt) in bursts,
        drop=drop,
    )


def _drop(
    reference: CoveragePoint | None, point: CoveragePoint, max_drop: float | None
) -> float | None:
    if reference is None or max_drop is None:
        return None
    old, new = reference.line_rate, point.line_rate
    if old is None or new is None:
        return None
    points = (old - new) * 100
    # Rounded as the gate shows rates (two decimals), so 0.5 is not flagged by float noise.
    return points if round(points, 6) > max_drop else None


def decided_benchmarks(
    decisions: Iterable[StoredDecision],
) -> dict[BenchKey, tuple[BenchmarkVerdict, float | None, float | None]]:
    """(run pk, group, name) -> (verdict, change, baseline) as the gate stored them in its
    decision documents (``gate --format json``'s ``benchmarks``); unreadable entries are
    passed over."""
    out: dict[BenchKey, tuple[BenchmarkVerdict, float | None, float | None]] = {}
    for d in decisions:
        try:
            document = json.loads(d.document)
        except ValueError:
            continue
        listed = document.get("benchmarks") if isinstance(document, dict) else None
        for b in listed if isinstance(listed, list) else ():
            if not isinstance(b, dict) or not isinstance(b.get("name"), str):
                continue
            try:
                verdict = BenchmarkVerdict(str(b.get("verdict")))
            except ValueError:
                continue
            group = b.get("group")
            key = (d.run_pk, group if isinstance(group, str) else "", str(b["name"]))
            out[key] = (verdict, _number(b.get("change")), _number(b.get("baseline")))
    return out


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def history_window(config: GateConfig) -> int:
    """The most earlier results any benchmark's rules look at (the store's lookback)."""
    windows = [config.benchmarks.window]
    windows += [s.benchmarks.window for s in config.services if s.benchmarks is not None]
    windows += [o.rules.window for o in config.benchmark_overrides]
    return max(windows)


def replay_plan(
    samples: Sequence[BenchmarkSample],
    decisions: Sequence[StoredDecision],
    config: GateConfig,
    *,
    since: datetime,
    until: datetime,
) -> list[tuple[BenchmarkSample, tuple[tuple[int, BenchmarkResult], ...]]]:
    """The benchmark results of the period the gate did not decide on, each with the history
    the gate would have judged it against: the benchmark's results of earlier runs on the
    default branch, newest first, at most its rules' ``window`` of them, each with its run's
    key (``gate.shift.steady_history`` takes them so).

    The caller judges each pair with the gate's own rule (``gate.decide.judge_benchmarks``).
    """
    since, until = _utc(since), _utc(until)
    decided = {d.run_pk for d in decisions}
    series: dict[tuple[str, str, str], list[BenchmarkSample]] = defaultdict(list)
    for s in samples:
        if s.branch == config.default_branch:
            series[(s.service, s.result.group, s.result.name)].append(s)
    plan: list[tuple[BenchmarkSample, tuple[tuple[int, BenchmarkResult], ...]]] = []
    for (service, _group, name), items in sorted(series.items()):
        items.sort(key=lambda s: (s.at, s.run_pk))
        window = max(config.benchmark_rules(service, name).window, 0)
        for i, s in enumerate(items):
            if s.run_pk in decided or not since <= s.at < until:
                continue
            earlier = [(e.run_pk, e.result) for e in items[:i] if e.run_pk != s.run_pk]
            plan.append((s, tuple(reversed(earlier[-window:] if window else []))))
    return plan


def _benchmarks(
    samples: Sequence[BenchmarkSample],
    decided: Mapping[int, StoredDecision],
    judgements: Mapping[BenchKey, BenchmarkJudgement],
    since: datetime,
    until: datetime,
    branch: str,
    only: str | None,
) -> tuple[BenchmarkTrend, ...]:
    stored = decided_benchmarks(decided.values())
    series: dict[tuple[str, str, str], list[BenchmarkSample]] = defaultdict(list)
    for s in samples:
        if s.branch == branch and _wanted(s.service, only) and since <= s.at < until:
            series[(s.service, s.result.group, s.result.name)].append(s)
    out: list[BenchmarkTrend] = []
    for (service, group, name), items in sorted(series.items()):
        items.sort(key=lambda s: (s.at, s.run_pk))
        points = []
        for s in items:
            key = (s.run_pk, group, name)
            verdict: BenchmarkVerdict | None = None
            change = baseline = None
            judged_by = None
            if key in stored:
                verdict, change, baseline = stored[key]
                judged_by = "gate"
            elif key in judgements:
                j = judgements[key]
                verdict, change, baseline, judged_by = j.verdict, j.change, j.baseline, "replay"
            points.append(
                BenchmarkPoint(
                    run_id=s.run_id,
                    attempt=s.attempt,
                    commit=s.commit,
                    at=s.at,
                    value=s.result.value,
                    verdict=verdict,
                    change=change,
                    baseline=baseline,
                    judged_by=judged_by,
                )
            )
        last = items[-1].result
        out.append(
            BenchmarkTrend(
                service=service,
                name=name,
                group=group,
                unit=last.unit,
                direction=last.direction,
                points=tuple(points),
            )
        )
    return tuple(out)


def decided_shifts(decisions: Iterable[StoredDecision]) -> dict[int, RunShift]:
    """run pk -> the common shift the gate stored in its decision document
    (``gate --format json``'s ``common_shift``), where there was one."""
    out: dict[int, RunShift] = {}
    for d in decisions:
        try:
            document = json.loads(d.document)
        except ValueError:
            continue
        shift = document.get("common_shift") if isinstance(document, dict) else None
        if not isinstance(shift, dict):
            continue
        factor, moved, judged = (shift.get(k) for k in ("factor", "moved", "judged"))
        numbers = isinstance(moved, int) and isinstance(judged, int)
        if numbers and isinstance(factor, int | float) and factor > 0:
            out[d.run_pk] = RunShift(float(factor), int(moved), int(judged))  # type: ignore[arg-type]
    return out


def _shift_notes(
    runs: Sequence[ReportRun], shifts: Mapping[int, RunShift], branch: str
) -> tuple[str, ...]:
    """One line per run of the period whose benchmarks moved together: a load spike is named
    as such, never as a regression."""
    notes = []
    for r in runs:
        shift = shifts.get(r.pk)
        if shift is None or r.branch != branch:
            continue
        why = "likely a loaded machine" if shift.worse else "a faster machine?"
        notes.append(
            f"{r.service} run {r.run_id}: its benchmarks {shift.text} ({why}); each was judged "
            "with that removed, so the shift itself is not counted as a regression"
        )
    return tuple(notes)


def _notes(
    runs: Sequence[ReportRun],
    decided: Mapping[int, StoredDecision],
    judgements: Mapping[BenchKey, BenchmarkJudgement],
    branch: str,
) -> tuple[str, ...]:
    notes: list[str] = []
    if not runs:
        notes.append("no runs in the period")
    elif not any(r.branch == branch for r in runs):
        notes.append(
            f"no runs on the default branch {branch!r} in the period: the coverage and "
            "benchmark trends are empty"
        )
    if judgements:
        notes.append(
            f"the gate decided {len(decided)} of the period's {len(runs)} runs; benchmark "
            "verdicts of the others are the gate's rule applied to the history before each run"
        )
    return tuple(notes)
