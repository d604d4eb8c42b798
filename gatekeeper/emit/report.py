"""A WeeklyReport -> Markdown (a chat message or an issue comment), JSON, or one HTML page.

Pure: the numbers are the report's (docs/report.md defines them); this module only words and
lays them out. The HTML page's charts come from ``gatekeeper.emit.charts`` (matplotlib, loaded
only for ``html``).
"""

from __future__ import annotations

import html as html_lib
import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from gatekeeper.model import (
    BenchmarkTrend,
    BrokenTest,
    CIHealth,
    CoveragePoint,
    CoverageTrend,
    Housekeeping,
    OwnerQuarantines,
    QuarantineEntry,
    RedRun,
    RunHealth,
    TestImpact,
    WeeklyReport,
    WeekTrend,
)

FORMATS = ("md", "html", "json")
ALIASES = {"markdown": "md"}  # the name people type
MARKDOWN_TOP = 10  # flakiest tests in the Markdown report (JSON and HTML list all)
MARKDOWN_LIST = 8  # items per list (quarantines, housekeeping) before "and N more"
HTML_RUNS = 200  # red runs listed in the HTML page
JSON_VERSION = 1
SPARKS = "▁▂▃▄▅▆▇█"
_TIME_UNITS = ((1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1.0, "ns"))
_CHORE_TEXT = {
    "expired": "expired",
    "no-owner": "no owner",
    "no-issue": "no issue",
    "broken": "broken: the quarantine mutes a real regression",
    "healed": "healed: release it?",
}
_HEALTH_TEXT = {
    RunHealth.RED_REAL: "real failure",
    RunHealth.RED_FLAKY: "flaky only",
    RunHealth.RED_INFRASTRUCTURE: "infrastructure",
    RunHealth.GREEN: "green",
}


def render(report: WeeklyReport, fmt: str) -> str:
    """The report in one of FORMATS, as text ending in a newline."""
    if fmt == "md":
        return markdown(report)
    if fmt == "json":
        return json.dumps(json_object(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "html":
        return html(report)
    raise ValueError(f"unknown report format {fmt!r}")


# ---------------------------------------------------------------------------------------------
# Words and numbers
# ---------------------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """A time for people: ``0.4 s``, ``12.3 s``, ``4 min 12 s``, ``3 h 05 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {many or word + 's'}"


def share(part: int, whole: int) -> str:
    return "–" if not whole else f"{part / whole:.0%}"


def format_value(value: float, unit: str) -> str:
    """A benchmark value: nanoseconds scaled to ns/µs/ms/s, other units as given."""
    if unit == "ns":
        for factor, name in _TIME_UNITS:
            if abs(value) >= factor or factor == 1.0:
                return f"{value / factor:.3g} {name}"
    return f"{value:.4g} {unit}"


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value in 0..1 (``·`` for none): ▁ is 0, █ is 1."""
    out = []
    for v in values:
        if v is None or math.isnan(v):
            out.append("·")
        else:
            out.append(SPARKS[min(len(SPARKS) - 1, max(0, round(v * (len(SPARKS) - 1))))])
    return "".join(out)


def _run(run_id: str, attempt: int) -> str:
    return f"{run_id} attempt {attempt}" if attempt != 1 else run_id


def _commit(commit: str | None) -> str:
    return commit[:10] if commit else "?"


def _day(moment: datetime | date | None) -> str:
    if moment is None:
        return "?"
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).date().isoformat()
    return moment.isoformat()


def _title(r: WeeklyReport) -> str:
    """A week's report is titled "Weekly"; a report of another length says so."""
    seconds = (r.until - r.since).total_seconds()
    kind = {86400 * 7: "Weekly CI report", 86400: "Daily CI report"}.get(round(seconds))
    return f"{kind or 'CI report'}: {_period(r)} ({_scope(r)})"


def _period(r: WeeklyReport) -> str:
    if not r.days:
        return f"{r.since.isoformat()} – {r.until.isoformat()}"
    first, last = r.days[0].isoformat(), r.days[-1].isoformat()
    return first if first == last else f"{first} – {last}"


def _scope(r: WeeklyReport) -> str:
    return r.service if r.service else "all services"


def _pct(rate: float | None, digits: int = 1) -> str:
    return "n/a" if rate is None else f"{rate * 100:.{digits}f}%"


def _points(change: float | None) -> str:
    return "n/a" if change is None else f"{change:+.1f} pts".replace("-", "−")


def _change(change: float | None) -> str:
    return "" if change is None else f"{change * 100:+.1f}%".replace("-", "−")


def _week(w: WeekTrend) -> str:
    """A week of the trend by its first and last UTC days."""
    last = (w.until - timedelta(microseconds=1)).astimezone(UTC).date()
    return f"{w.since.astimezone(UTC).date().isoformat()} – {last.isoformat()}"


def _owner_line(o: OwnerQuarantines, r: WeeklyReport) -> str:
    """``@team-messaging: 4 quarantined, 2 new this week, 3 min 05 s lost``."""
    when = "this week" if len(r.days) <= 8 and _title(r).startswith("Weekly") else "in the period"
    return (
        f"{o.owner or 'no owner'}: {o.quarantined} quarantined, {o.new} new {when}, "
        f"{duration(o.time_lost)} lost"
    )


def _trend_line(r: WeeklyReport) -> str:
    """The trend in one Markdown paragraph: per week, oldest first."""
    flaky = " ".join(str(w.flaky_tests) for w in r.trend)
    held = " ".join(str(w.quarantined) for w in r.trend)
    lost = ", ".join(duration(w.time_lost) for w in r.trend)
    first = r.trend[0].since.astimezone(UTC).date().isoformat()
    last = _week(r.trend[-1]).split(" – ")[-1]
    return (
        f"**The last {len(r.trend)} weeks** (7 days each, {first} to {last}, oldest first): "
        f"flaky tests `{flaky}`; quarantined `{held}`; lost to flaky tests: {lost}."
    )


def _daily(r: WeeklyReport, service: str) -> list[CIHealth]:
    by_day = {h.day: h for h in r.daily if h.service == service}
    return [by_day.get(d, CIHealth(service=service, day=d)) for d in r.days]


def _status(i: TestImpact, *, owner: bool = True) -> str:
    """``quarantined (#12, @team)``; without the owner where a column shows it."""
    if i.quarantined:
        who = ", ".join(x for x in (i.issue, _mention(i.owner) if i.owner and owner else None) if x)
        return f"quarantined ({who})" if who else "quarantined"
    if i.verdict is not None:
        return i.verdict.value
    return "not classified"


def _mention(owner: str) -> str:
    """An owner as a mention: ``@ana`` for ``ana``; ``@org/team`` and e-mail addresses kept."""
    return " ".join(o if o.startswith("@") or "@" in o else f"@{o}" for o in owner.split())


def _headline(t: CIHealth) -> str:
    if not t.runs:
        return "**No runs in this period.**"
    parts = [
        f"**{plural(t.runs, 'run')}, {t.red} red ({share(t.red, t.runs)})**: {t.red_real} with "
        f"real failures, {t.red_flaky} only because of flaky tests, {t.red_infrastructure} "
        "infrastructure."
    ]
    parts.append(
        f"{plural(t.reruns, 're-run')}; {plural(t.runs_with_retries, 'run')} retried tests "
        f"in-run ({plural(t.passed_on_retry, 'test')} passed on retry)."
    )
    parts.append(f"Time lost to flaky tests: {duration(t.time_lost)}.")
    if t.gated:
        parts.append(f"The gate failed {t.gate_failed} of the {plural(t.gated, 'run')} it decided.")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------


def markdown(r: WeeklyReport) -> str:
    """Short enough for a chat message or an issue comment: headline numbers, the top ten
    flakiest tests, quarantine changes, what is broken now, housekeeping; no charts."""
    out = [f"## {_title(r)}", "", _headline(r.total), ""]
    if r.health:
        out += [
            "| service | runs | red | real | flaky only | infra | re-runs | red share per day |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for h in r.health:
            spark = sparkline([d.red_share for d in _daily(r, h.service)])
            out.append(
                f"| {h.service} | {h.runs} | {h.red} ({share(h.red, h.runs)}) | {h.red_real} "
                f"| {h.red_flaky} | {h.red_infrastructure} | {h.reruns} | `{spark}` |"
            )
        out.append("")
    if r.trend:
        out += [_trend_line(r), ""]

    if r.broken:
        out.append(f"**Broken now** ({len(r.broken)})")
        out += [f"- {_broken_line(b)}" for b in r.broken[:MARKDOWN_LIST]]
        out += _more(len(r.broken))
        out.append("")

    if r.flakiest:
        shown = r.flakiest[:MARKDOWN_TOP]
        out += [
            f"**Flakiest tests** (top {len(shown)} of {len(r.flakiest)}, by impact)",
            "",
            "| test | service | failed | red runs | passed on retry | time lost | status |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for i in shown:
            out.append(
                f"| `{i.test_id}` | {i.service} | {i.failed_executions} of {i.executions} "
                f"| {i.runs_turned_red} | {i.passed_on_retry} | {duration(i.time_lost)} "
                f"| {_status(i)} |"
            )
        out.append("")
    if r.other_failures:
        names = ", ".join(f"`{i.test_id}` ({i.service})" for i in r.other_failures[:5])
        more = f" and {len(r.other_failures) - 5} more" if len(r.other_failures) > 5 else ""
        out += [f"**Other failing tests** ({len(r.other_failures)}): {names}{more}", ""]

    out.append(_quarantine_line(r))
    out.append("")
    if r.owners:
        out.append("**Quarantines by owner**")
        out += [f"- {_owner_line(o, r)}" for o in r.owners[:MARKDOWN_LIST]]
        out += _more(len(r.owners))
        out.append("")
    if r.housekeeping:
        out.append(_housekeeping_line(r.housekeeping))
        out += [f"- {_chore_line(h)}" for h in r.housekeeping[:MARKDOWN_LIST]]
        out += _more(len(r.housekeeping))
        out.append("")

    if r.coverage:
        out += [
            f"**Coverage** ({r.default_branch})",
            "",
            "| service | start | end | change | drops |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for c in r.coverage:
            first, last = _ends(c)
            drops = ", ".join(
                f"run {_run(p.run_id, p.attempt)} ({_day(p.at)}) " + _points(-(p.drop or 0.0))
                for p in c.drops
            )
            out.append(
                f"| {c.service} | {_pct(first)} | {_pct(last)} | {_points(c.change)} "
                f"| {drops or '–'} |"
            )
        out.append("")

    if r.benchmarks:
        out.append(_benchmark_line(r.benchmarks))
        for b in r.benchmarks:
            for line in _benchmark_news(b):
                out.append(f"- {line}")
        out.append("")

    out += [f"_{n}_" for n in r.notes]
    out.append(
        f"_Generated {r.generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC by `gatekeeper report`; "
        "how each number is counted: docs/report.md._"
    )
    return "\n".join(out) + "\n"


def _more(n: int) -> list[str]:
    return [f"- … and {n - MARKDOWN_LIST} more"] if n > MARKDOWN_LIST else []


def _broken_line(b: BrokenTest) -> str:
    since = b.since
    where = "?"
    if since is not None:
        where = f"commit `{_commit(since.commit)}` (run {since.run or '?'}, {_day(since.date)})"
    text = f"`{b.test_id}` ({b.service}): fails on every run since {where}"
    text += f"; {plural(b.runs_turned_red, 'red run')} this period"
    if b.quarantined:
        text += "; **quarantined: the quarantine hides it**"
    if b.owner:
        text += f"; owner {b.owner}"
    return text


def _quarantine_line(r: WeeklyReport) -> str:
    def names(entries: Sequence[QuarantineEntry], when: str) -> str:
        shown = [
            f"`{e.name}` ({e.service}, {_day(getattr(e.evidence, when, None))})"
            for e in entries[:MARKDOWN_LIST]
        ]
        more = len(entries) - MARKDOWN_LIST
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "") if shown else "none"

    return (
        f"**Quarantines**: {r.quarantined} in force. New: "
        f"{names(r.new_quarantines, 'detected')}. Released: "
        f"{names(r.released_quarantines, 'released')}."
    )


def _housekeeping_line(items: Sequence[Housekeeping]) -> str:
    counts = {c: sum(1 for h in items if c in h.chores) for c in _CHORE_TEXT}
    parts = [f"{n} {_CHORE_TEXT[c].split(':')[0]}" for c, n in counts.items() if n]
    return f"**Housekeeping** ({len(items)} quarantines): " + ", ".join(parts)


def _chore_line(h: Housekeeping) -> str:
    e = h.entry
    texts = []
    for c in h.chores:
        text = _CHORE_TEXT[c.value]
        if c.value == "expired" and e.expires is not None:
            text = f"expired {e.expires.isoformat()}"
        texts.append(text)
    return f"`{e.name}` ({e.service}): " + ", ".join(texts)


def _ends(c: CoverageTrend) -> tuple[float | None, float | None]:
    rates = [p.line_rate for p in c.points if p.line_rate is not None and not p.infrastructure]
    return (rates[0], rates[-1]) if rates else (None, None)


def _benchmark_line(trends: Sequence[BenchmarkTrend]) -> str:
    regressed = sum(1 for b in trends if b.regressions)
    improved = sum(1 for b in trends if b.improvements)
    judged = sum(1 for b in trends if any(p.verdict is not None for p in b.points))
    return (
        f"**Benchmarks**: {regressed} regressed, {improved} improved, of {len(trends)} "
        f"({judged} judged by the gate's rule)"
    )


def _benchmark_news(b: BenchmarkTrend) -> list[str]:
    out = []
    if b.regressions:
        first = b.regressions[0]
        out.append(
            f"regression: `{b.name}` ({b.service}) {format_value(first.value, b.unit)}, "
            f"{_change(first.change)} against its baseline, from run "
            f"{_run(first.run_id, first.attempt)} ({_day(first.at)}); "
            f"{len(b.regressions)} of {len(b.points)} results this period regressed"
        )
    if b.improvements:
        first = b.improvements[0]
        out.append(
            f"improvement: `{b.name}` ({b.service}) {_change(first.change)} from run "
            f"{_run(first.run_id, first.attempt)} ({_day(first.at)})"
        )
    return out


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


def _r(value: float | None, digits: int = 4) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(value, digits)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _health_json(h: CIHealth) -> dict[str, Any]:
    return {
        "runs": h.runs,
        "green": h.green,
        "red": h.red,
        "red_share": _r(h.red_share),
        "red_flaky": h.red_flaky,
        "red_real": h.red_real,
        "red_infrastructure": h.red_infrastructure,
        "reruns": h.reruns,
        "runs_with_retries": h.runs_with_retries,
        "passed_on_retry": h.passed_on_retry,
        "test_failures": h.test_failures,
        "test_time": _r(h.test_time, 3),
        "time_lost": _r(h.time_lost, 3),
        "gated": h.gated,
        "gate_failed": h.gate_failed,
    }


def _impact_json(i: TestImpact) -> dict[str, Any]:
    return {
        "test_id": i.test_id,
        "service": i.service,
        "verdict": i.verdict.value if i.verdict else None,
        "quarantined": i.quarantined,
        "executions": i.executions,
        "failed_executions": i.failed_executions,
        "runs_failed": i.runs_failed,
        "runs_turned_red": i.runs_turned_red,
        "runs_red_alone": i.runs_red_alone,
        "passed_on_retry": i.passed_on_retry,
        "failed_time": _r(i.failed_time, 3),
        "rerun_time": _r(i.rerun_time, 3),
        "time_lost": _r(i.time_lost, 3),
        "last_failed_at": _iso(i.last_failed_at),
        "last_message": i.last_message,
        "issue": i.issue,
        "owner": i.owner,
    }


def _entry_json(e: QuarantineEntry) -> dict[str, Any]:
    ev = e.evidence
    return {
        "name": e.name,
        "service": e.service,
        "reason": e.reason,
        "quarantined": e.quarantined,
        "pinned": e.pinned,
        "issue": e.issue,
        "owner": e.owner,
        "expires": e.expires.isoformat() if e.expires else None,
        "verdict": ev.verdict.value if ev else None,
        "failure_rate": ev.failure_rate if ev else None,
        "detected": ev.detected.isoformat() if ev and ev.detected else None,
        "released": ev.released.isoformat() if ev and ev.released else None,
    }


def _red_run_json(x: RedRun) -> dict[str, Any]:
    return {
        "service": x.service,
        "run_id": x.run_id,
        "attempt": x.attempt,
        "commit": x.commit,
        "branch": x.branch,
        "at": _iso(x.at),
        "health": x.health.value,
        "failed_tests": list(x.failed_tests),
        "flaky_tests": list(x.flaky_tests),
        "url": x.url,
    }


def _broken_json(b: BrokenTest) -> dict[str, Any]:
    s = b.since
    return {
        "test_id": b.test_id,
        "service": b.service,
        "since": None
        if s is None
        else {"commit": s.commit, "date": s.date.isoformat() if s.date else None, "run": s.run},
        "failing_executions": b.failing_executions,
        "runs_turned_red": b.runs_turned_red,
        "confidence": b.confidence,
        "quarantined": b.quarantined,
        "last_message": b.last_message,
        "owner": b.owner,
    }


def _coverage_point_json(p: CoveragePoint) -> dict[str, Any]:
    return {
        "run_id": p.run_id,
        "attempt": p.attempt,
        "commit": p.commit,
        "at": _iso(p.at),
        "line_rate": _r(p.line_rate, 6),
        "lines_covered": p.lines_covered,
        "lines_valid": p.lines_valid,
        "branch_rate": _r(p.branch_rate, 6),
        "branches_covered": p.branches_covered,
        "branches_valid": p.branches_valid,
        "source": p.source,
        "infrastructure": p.infrastructure,
        "drop": _r(p.drop, 4),
    }


def _coverage_json(c: CoverageTrend) -> dict[str, Any]:
    first, last = _ends(c)
    return {
        "service": c.service,
        "start": _r(first, 6),
        "end": _r(last, 6),
        "change": _r(c.change, 4),
        "max_drop": c.max_drop,
        "drops": [p.run_id if p.attempt == 1 else _run(p.run_id, p.attempt) for p in c.drops],
        "before": _coverage_point_json(c.before) if c.before else None,
        "points": [_coverage_point_json(p) for p in c.points],
    }


def _benchmark_json(b: BenchmarkTrend) -> dict[str, Any]:
    first = b.regressions[0] if b.regressions else None
    return {
        "service": b.service,
        "name": b.name,
        "group": b.group,
        "unit": b.unit,
        "direction": b.direction.value,
        "regressions": len(b.regressions),
        "improvements": len(b.improvements),
        "first_regression": None
        if first is None
        else {
            "run_id": first.run_id,
            "attempt": first.attempt,
            "at": _iso(first.at),
            "change": _r(first.change, 6),
        },
        "points": [
            {
                "run_id": p.run_id,
                "attempt": p.attempt,
                "commit": p.commit,
                "at": _iso(p.at),
                "value": p.value,
                "verdict": p.verdict.value if p.verdict else None,
                "change": _r(p.change, 6),
                "baseline": p.baseline,
                "judged_by": p.judged_by,
            }
            for p in b.points
        ],
    }


def json_object(r: WeeklyReport) -> dict[str, Any]:
    """Every number of the report (keys documented in docs/report.md, "JSON")."""
    return {
        "version": JSON_VERSION,
        "period": {
            "since": _iso(r.since),
            "until": _iso(r.until),
            "days": [d.isoformat() for d in r.days],
        },
        "generated_at": _iso(r.generated_at),
        "today": r.today.isoformat(),
        "service": r.service,
        "services": list(r.services),
        "default_branch": r.default_branch,
        "health": {
            "total": _health_json(r.total),
            "services": {h.service: _health_json(h) for h in r.health},
        },
        "daily": {
            "all": [{"day": _day(h.day), **_health_json(h)} for h in _daily(r, "")],
            "services": {
                s: [{"day": _day(h.day), **_health_json(h)} for h in _daily(r, s)]
                for s in r.services
            },
        },
        "red_runs": [_red_run_json(x) for x in r.red_runs],
        "bursts": [
            {
                "service": b.service,
                "run_id": b.run_id,
                "attempt": b.attempt,
                "commit": b.commit,
                "at": _iso(b.timestamp),
                "tests": b.tests,
                "failures": b.failures,
                "p_value": float(f"{b.p_value:.4g}"),
                "message": b.message,
            }
            for b in r.bursts
        ],
        "flakiest": [_impact_json(i) for i in r.flakiest],
        "other_failures": [_impact_json(i) for i in r.other_failures],
        "broken": [_broken_json(b) for b in r.broken],
        "quarantines": {
            "in_force": r.quarantined,
            "new": [_entry_json(e) for e in r.new_quarantines],
            "released": [_entry_json(e) for e in r.released_quarantines],
        },
        "housekeeping": [
            {**_entry_json(h.entry), "chores": [c.value for c in h.chores]} for h in r.housekeeping
        ],
        "coverage": [_coverage_json(c) for c in r.coverage],
        "benchmarks": [_benchmark_json(b) for b in r.benchmarks],
        "notes": list(r.notes),
        "owners": [
            {
                "owner": o.owner,
                "quarantined": o.quarantined,
                "new": o.new,
                "time_lost": _r(o.time_lost, 3),
                "tests": [{"service": s, "name": n} for s, n in o.tests],
            }
            for o in r.owners
        ],
        "trend": [
            {
                "since": _iso(w.since),
                "until": _iso(w.until),
                "runs": w.runs,
                "red": w.red,
                "flaky_tests": w.flaky_tests,
                "quarantined": w.quarantined,
                "time_lost": _r(w.time_lost, 3),
            }
            for w in r.trend
        ],
    }


# ---------------------------------------------------------------------------------------------
# HTML: one self-contained page
# ---------------------------------------------------------------------------------------------

_CSS = """
:root{--real:#D55E00;--flaky:#E69F00;--infra:#7F7F7F;--ok:#2E7D32;--ink:#1F2328;
--muted:#59636E;--line:#D8DEE4;--bg:#FFFFFF;--soft:#F6F8FA}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
sans-serif;color:var(--ink);background:var(--bg)}
main{max-width:110rem;margin:0 auto;padding:1rem clamp(.75rem,2.5vw,2.5rem)}
h1{font-size:1.5rem;margin:.5rem 0 0}h2{font-size:1.2rem;margin:2rem 0 .5rem;
border-bottom:1px solid var(--line);padding-bottom:.25rem}
.period{color:var(--muted);margin:.25rem 0 1rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(8.5rem,1fr));gap:.5rem}
.card{background:var(--soft);border-radius:.5rem;padding:.6rem .8rem}
.card b{display:block;font-size:1.4rem}.card span{color:var(--muted);font-size:.85rem}
.card.real b{color:var(--real)}.card.flaky b{color:var(--flaky)}.card.infra b{color:var(--infra)}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.5rem 0;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;
vertical-align:top}
th{background:var(--soft);vertical-align:bottom}th.n{text-align:right}
td.n{text-align:right;white-space:nowrap}
code{font-size:.85em;overflow-wrap:anywhere}
code.id{overflow-wrap:normal;word-break:keep-all;hyphens:none}
code.id>span,.who>span{white-space:nowrap}
td.id{min-width:14ch}
td.nw{white-space:nowrap}
table.compact{width:auto;min-width:min(100%,40rem)}
tr.has-fold>td{border-bottom:0}tr.fold>td{padding-top:0;padding-left:1.5rem}
tr.fold>td>*{display:block;position:sticky;left:1.5rem;width:min(100ch,calc(100vw - 8rem))}
td.prose{min-width:18rem}
details.msg>summary{cursor:pointer;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;
max-width:min(100%,90ch);
font:.8rem/1.35 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
details.msg[open]>summary{white-space:normal;color:var(--muted)}
.msg pre,span.msg{white-space:pre-wrap;overflow-wrap:anywhere;margin:.25rem 0 0;max-width:100ch;
font:.8rem/1.35 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,32rem),1fr));
gap:0 2rem}
figure.chart{margin:1rem 0;padding:0;min-width:0}
figure.chart svg{display:block;width:100%;height:auto;max-width:46rem}
figcaption{color:var(--muted);font-size:.85rem}
.tag{display:inline-block;border-radius:1rem;padding:0 .5rem;font-size:.8rem;color:#fff}
.tag.red-real{background:var(--real)}.tag.red-flaky{background:var(--flaky)}
.tag.red-infrastructure{background:var(--infra)}
.bad{color:var(--real)}.good{color:var(--ok)}.muted{color:var(--muted)}
ul.owners{padding-left:1.2rem}
footer{color:var(--muted);font-size:.85rem;margin:2rem 0}
@page{size:A4;margin:12mm}
@media print{body{font-size:9pt}td.prose{min-width:8rem}
tr.fold>td>*{position:static;width:auto;max-width:40rem}
details.msg>summary{white-space:normal}
details.msg>summary,.msg pre,span.msg{font-size:7pt}main{max-width:none;padding:0}
.scroll{overflow:visible}table{font-size:7.5pt}th,td{padding:.15rem .25rem}
td.id{min-width:10ch}
details.msg>summary{max-width:100%}
.charts{display:block}figure.chart{break-inside:avoid}figure.chart svg{max-width:100%}
tr{break-inside:avoid}thead{display:table-header-group}h2,h3{break-after:avoid}
th.wide,td.wide{display:none}a{color:inherit;text-decoration:none}}
"""

#: Where a test id may wrap: after these separators, never inside a name (docs/test-ids.md).
_ID_SEPARATORS = re.compile(r"(?<=::)|(?<=[./])(?=.)")
_SUMMARY_CHARS = 120  # a message's first line in its collapsed row
_MESSAGE_CHARS = 4000  # the most of a message the page holds


def _e(text: object) -> str:
    return html_lib.escape(str(text), quote=True)


def _id(text: str) -> str:
    """A test id (or a benchmark name) that wraps only after ``::``, ``.`` and ``/``: each
    part is kept on one line, with a break opportunity between parts."""
    parts = [part for part in _ID_SEPARATORS.split(text) if part]
    inner = "<wbr />".join(f"<span>{_e(part)}</span>" for part in parts)
    return f'<code class="id">{inner}</code>'


def _who(owner: str | None) -> str:
    """An owner (``@acme/team-search``), wrapping only after ``/`` and between owners."""
    if not owner:
        return "–"
    parts = [p for p in re.split(r"(?<=/)|(?<= )", owner) if p]
    return '<span class="who">' + "<wbr />".join(f"<span>{_e(p)}</span>" for p in parts) + "</span>"


def _table(
    head: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: Sequence[int] = (),
    *,
    ids: Sequence[int] = (),
    wide: Sequence[int] = (),
    nowrap: Sequence[int] = (),
    prose: Sequence[int] = (),
    folded: Sequence[str] = (),
    compact: bool = False,
) -> str:
    """A table in a horizontally scrolling box; cells are HTML already. ``ids`` are columns of
    test ids (kept at least a dozen characters wide), ``wide`` columns a printed page leaves
    out, ``nowrap`` columns kept on one line, ``prose`` columns of sentences.
    ``folded`` holds, per row, HTML shown in a row of its own under it, across the table (a
    failure message), or "" for none. A ``compact`` table is as wide as its content."""
    classes = []
    for i in range(len(head)):
        names = [
            name
            for name, cols in (
                ("n", numeric),
                ("id", ids),
                ("wide", wide),
                ("nw", nowrap),
                ("prose", prose),
            )
            if i in cols
        ]
        classes.append(f' class="{" ".join(names)}"' if names else "")
    table = '<table class="compact">' if compact else "<table>"
    out = [f'<div class="scroll">{table}<thead><tr>']
    # a heading wraps between its words, never at its hyphen ("re-run"): U+2011
    out += [
        f"<th{c}>{_e(h).replace('-', chr(0x2011))}</th>" for h, c in zip(head, classes, strict=True)
    ]
    out.append("</tr></thead><tbody>")
    for index, row in enumerate(rows):
        fold = folded[index] if index < len(folded) else ""
        out.append(
            ('<tr class="has-fold">' if fold else "<tr>")
            + "".join(f"<td{c}>{v}</td>" for v, c in zip(row, classes, strict=True))
            + "</tr>"
        )
        if fold:
            out.append(f'<tr class="fold"><td colspan="{len(head)}">{fold}</td></tr>')
    out.append("</tbody></table></div>")
    return "".join(out)


def _card(value: str, label: str, kind: str = "") -> str:
    cls = f"card {kind}".strip()
    return f'<div class="{cls}"><b>{_e(value)}</b><span>{_e(label)}</span></div>'


def html(r: WeeklyReport) -> str:
    """One self-contained HTML page: inline CSS and SVG charts, no script, no external
    request; readable on a phone (fluid widths, tables that scroll sideways)."""
    from gatekeeper.emit import charts

    drawn = {c.id: c for c in charts.charts(r)}
    title = _title(r)
    t = r.total
    body: list[str] = [
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="period">Runs from {_e(_iso(r.since))} to {_e(_iso(r.until))} '
        f"(UTC, end excluded); registry state of {_e(r.today.isoformat())}.</p></header>",
        '<section id="health"><h2>CI health</h2><div class="cards">',
        _card(str(t.runs), "runs"),
        _card(share(t.red, t.runs), f"red ({t.red} runs)"),
        _card(str(t.red_real), "red: real failures", "real"),
        _card(str(t.red_flaky), "red: only flaky tests", "flaky"),
        _card(str(t.red_infrastructure), "red: infrastructure", "infra"),
        _card(str(t.reruns), "jobs re-run"),
        _card(str(t.passed_on_retry), "tests passed on retry"),
        _card(duration(t.time_lost), "lost to flaky tests"),
        "</div>",
    ]
    if r.health:
        rows = [
            [
                _e(h.service),
                str(h.runs),
                f"{h.red} ({share(h.red, h.runs)})",
                str(h.red_real),
                str(h.red_flaky),
                str(h.red_infrastructure),
                str(h.reruns),
                str(h.runs_with_retries),
                str(h.passed_on_retry),
                _e(duration(h.test_time)),
                _e(duration(h.time_lost)),
                f"{h.gate_failed} of {h.gated}" if h.gated else "–",
            ]
            for h in r.health
        ]
        body.append(
            _table(
                [
                    "service",
                    "runs",
                    "red",
                    "real",
                    "flaky only",
                    "infra",
                    "re-runs",
                    "runs with retries",
                    "passed on retry",
                    "test time",
                    "lost to flaky",
                    "gate failed",
                ],
                rows,
                numeric=range(1, 12),
                wide=(7, 8, 9),
            )
        )
    body.append(
        '<div class="charts">'
        + _figure(drawn.get("chart-failure-rate"))
        + _figure(drawn.get("chart-red-runs"))
        + "</div>"
    )
    body.append(_trend_html(r))
    body.append("</section>")

    body.append(f'<section id="broken"><h2>Broken now ({len(r.broken)})</h2>')
    if r.broken:
        rows = []
        for b in r.broken:
            s = b.since
            rows.append(
                [
                    _id(b.test_id),
                    _e(b.service),
                    f"<code>{_e(_commit(s.commit if s else None))}</code>",
                    _e(s.run if s and s.run else "?"),
                    _e(_day(s.date if s else None)),
                    str(b.failing_executions),
                    str(b.runs_turned_red),
                    '<span class="bad">quarantined</span>' if b.quarantined else "no",
                    _who(b.owner),
                ]
            )
        body.append(
            _table(
                [
                    "test",
                    "service",
                    "broke at commit",
                    "run",
                    "day",
                    "failing executions",
                    "red runs this period",
                    "quarantined",
                    "owner",
                ],
                rows,
                numeric=(5, 6),
                ids=(0,),
                wide=(3,),
                nowrap=(1, 4),
                folded=[_message(b.last_message) for b in r.broken],
            )
        )
    else:
        body.append('<p class="muted">No test fails on every run.</p>')
    body.append("</section>")

    body.append(f'<section id="flakiest"><h2>Flakiest tests ({len(r.flakiest)})</h2>')
    body.append(_impact_table(r.flakiest) if r.flakiest else '<p class="muted">None.</p>')
    if r.other_failures:
        body.append(f"<h3>Other failing tests ({len(r.other_failures)})</h3>")
        body.append(_impact_table(r.other_failures))
    body.append("</section>")

    body.append(f'<section id="quarantines"><h2>Quarantines ({r.quarantined} in force)</h2>')
    body.append(_owners_html(r))
    for label, entries, when in (
        ("New", r.new_quarantines, "detected"),
        ("Released", r.released_quarantines, "released"),
    ):
        body.append(f"<h3>{label} ({len(entries)})</h3>")
        if entries:
            rows = [
                [
                    _id(e.name),
                    _e(e.service),
                    _e(_day(getattr(e.evidence, when, None))),
                    _e(e.evidence.verdict.value if e.evidence else ""),
                    _e(_pct(e.evidence.failure_rate if e.evidence else None)),
                    _e(e.issue or "–"),
                    _who(e.owner),
                    _e(e.reason),
                ]
                for e in entries
            ]
            body.append(
                _table(
                    [
                        "test",
                        "service",
                        when,
                        "verdict",
                        "failure rate",
                        "issue",
                        "owner",
                        "reason",
                    ],
                    rows,
                    numeric=(4,),
                    ids=(0,),
                    nowrap=(1, 2),
                    prose=(7,),
                    wide=(3,),
                )
            )
    body.append("<h3>Housekeeping</h3>")
    if r.housekeeping:
        rows = [
            [
                _id(h.entry.name),
                _e(h.entry.service),
                _e(", ".join(_chore_line(h).split(": ", 1)[1:])),
                _who(h.entry.owner),
                _e(h.entry.issue or "–"),
                _e(h.entry.expires.isoformat() if h.entry.expires else "–"),
            ]
            for h in r.housekeeping
        ]
        body.append(
            _table(
                ["test", "service", "to do", "owner", "issue", "expires"],
                rows,
                ids=(0,),
                nowrap=(1, 5),
            )
        )
    else:
        body.append(
            '<p class="muted">Every quarantine has an owner and an issue, none expired.</p>'
        )
    body.append("</section>")

    body.append(f'<section id="coverage"><h2>Coverage ({_e(r.default_branch)})</h2>')
    body.append(_figure(drawn.get("chart-coverage")))
    if r.coverage:
        rows = []
        for c in r.coverage:
            first, last = _ends(c)
            drops = "; ".join(
                f'<span class="bad">run {_e(_run(p.run_id, p.attempt))} ({_e(_day(p.at))}) '
                f"{_e(_points(-(p.drop or 0.0)))}</span>"
                for p in c.drops
            )
            rows.append(
                [
                    _e(c.service),
                    _e(_pct(first)),
                    _e(_pct(last)),
                    _e(_points(c.change)),
                    drops or "–",
                ]
            )
        body.append(_table(["service", "start", "end", "change", "drops"], rows, (1, 2, 3)))
    else:
        body.append('<p class="muted">No coverage reports on the default branch.</p>')
    body.append("</section>")

    body.append(f'<section id="benchmarks"><h2>Benchmarks ({len(r.benchmarks)})</h2>')
    for chart_id, chart in drawn.items():
        if chart_id.startswith("chart-bench-"):
            body.append(_figure(chart))
    if r.benchmarks:
        rows = []
        for trend in r.benchmarks:
            latest = trend.points[-1]
            news = "; ".join(_benchmark_news(trend))
            rows.append(
                [
                    _id(trend.name),
                    _e(trend.service),
                    _e(trend.group),
                    _e(format_value(latest.value, trend.unit)),
                    _e(latest.verdict.value if latest.verdict else "–"),
                    str(len(trend.regressions)),
                    str(len(trend.improvements)),
                    f'<span class="bad">{_e(news)}</span>' if trend.regressions else _e(news),
                ]
            )
        body.append(
            _table(
                [
                    "benchmark",
                    "service",
                    "group",
                    "latest",
                    "latest verdict",
                    "regressed",
                    "improved",
                    "news",
                ],
                rows,
                (3, 5, 6),
                ids=(0,),
            )
        )
    else:
        body.append('<p class="muted">No benchmarks on the default branch.</p>')
    body.append("</section>")

    body.append(f'<section id="red-runs"><h2>Red runs ({len(r.red_runs)})</h2>')
    if r.red_runs:
        rows = [
            [
                _e(_iso(x.at)),
                _e(x.service),
                _run_link(x),
                f"<code>{_e(_commit(x.commit))}</code>",
                _e(x.branch or "?"),
                f'<span class="tag {x.health.value}">{_e(_HEALTH_TEXT[x.health])}</span>',
                ", ".join(_id(t) for t in x.failed_tests[:5])
                + (f" and {len(x.failed_tests) - 5} more" if len(x.failed_tests) > 5 else ""),
            ]
            for x in r.red_runs[-HTML_RUNS:]
        ]
        body.append(
            _table(
                ["at", "service", "run", "commit", "branch", "why", "failed"],
                rows,
                ids=(6,),
                wide=(4,),
            )
        )
    body.append("</section>")

    notes = "".join(f"<p>{_e(n)}</p>" for n in r.notes)
    body.append(
        f"<footer>{notes}<p>Generated {_e(_iso(r.generated_at))} by <code>gatekeeper report"
        "</code>. How each number is counted: docs/report.md in the gatekeeper documentation."
        "</p></footer>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8" />'
        '<meta name="viewport" content="width=device-width, initial-scale=1" />'
        # no icon to fetch: a page that loads nothing else must not make the browser ask
        '<link rel="icon" href="data:," />'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n"
        "<body><main>\n" + "\n".join(body) + "\n</main></body></html>\n"
    )


def _message(text: str | None) -> str:
    """A failure message: its first line, cut to fit, that opens on a click (``<details>``,
    no script) to the whole message; the whole of a short one-line message as it is."""
    if not text:
        return ""
    whole = text.strip()
    if len(whole) > _MESSAGE_CHARS:
        whole = whole[: _MESSAGE_CHARS - 1] + "…"
    first = whole.splitlines()[0] if whole else ""
    if whole == first and len(first) <= _SUMMARY_CHARS:
        return f'<span class="msg">{_e(first)}</span>'
    shown = first if len(first) <= _SUMMARY_CHARS else first[: _SUMMARY_CHARS - 1] + "…"
    return (
        f'<details class="msg"><summary title="{_e(whole[:1000])}">{_e(shown)}</summary>'
        f"<pre>{_e(whole)}</pre></details>"
    )


def _figure(chart: Any) -> str:
    if chart is None:
        return ""
    return (
        f'<figure class="chart" id="{_e(chart.id)}" aria-label="{_e(chart.title)}">'
        f"{chart.svg}<figcaption><b>{_e(chart.title)}.</b> {_e(chart.description)}</figcaption>"
        "</figure>"
    )


def _run_link(x: RedRun) -> str:
    label = _e(_run(x.run_id, x.attempt))
    # Only links the CI gave as http(s) URLs: the page never holds a javascript: link.
    if x.url and x.url.startswith(("https://", "http://")):
        return f'<a href="{_e(x.url)}" rel="noopener">{label}</a>'
    return label


def _impact_table(items: Sequence[TestImpact]) -> str:
    rows = [
        [
            _id(i.test_id),
            _e(i.service),
            f"{i.failed_executions} of {i.executions}",
            str(i.runs_turned_red),
            str(i.passed_on_retry),
            _e(duration(i.failed_time)),
            _e(duration(i.rerun_time)),
            _e(duration(i.time_lost)),
            _e(_status(i, owner=False)),
            _who(i.owner),
        ]
        for i in items
    ]
    return _table(
        [
            "test",
            "service",
            "failed",
            "red runs",
            "passed on retry",
            "failed time",
            "re-run time",
            "time lost",
            "status",
            "owner",
        ],
        rows,
        numeric=(2, 3, 4, 5, 6, 7),
        ids=(0,),
        wide=(4, 5, 6),
        nowrap=(1,),
        folded=[_message(i.last_message) for i in items],
    )


def _owners_html(r: WeeklyReport) -> str:
    """The quarantines in force by owner, most first: what each team has to fix."""
    if not r.owners:
        return ""
    items = [f"<li>{_e(_owner_line(o, r))}</li>" for o in r.owners]
    return f'<h3>By owner</h3><ul class="owners">{"".join(items)}</ul>'


def _trend_html(r: WeeklyReport) -> str:
    """The last weeks, one row each: is it getting better?"""
    if not r.trend:
        return ""
    rows = [
        [
            _e(_week(w)),
            str(w.runs),
            f"{w.red} ({share(w.red, w.runs)})" if w.runs else "–",
            str(w.flaky_tests),
            str(w.quarantined),
            _e(duration(w.time_lost)),
        ]
        for w in r.trend
    ]
    head = ["week", "runs", "red", "flaky tests", "quarantined", "lost to flaky"]
    return f"<h3>The last {len(r.trend)} weeks</h3>" + _table(
        head, rows, numeric=(1, 2, 3, 4, 5), nowrap=(0,), compact=True
    )
