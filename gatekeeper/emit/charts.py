"""The weekly report's charts as inline SVG (matplotlib, imported only when a chart is drawn).

Output is deterministic (fixed hash salt, no date in the metadata) and ready to inline in one
HTML page: no XML prologue, ids prefixed with the chart's id so several charts never clash,
a ``<title>`` and ``role="img"``/``aria-labelledby`` for screen readers, and a fluid width (the
``viewBox`` keeps the aspect ratio). Text stays text (``svg.fonttype: none``): the browser's
own sans-serif draws it, crisp at any zoom, and the files stay small.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from gatekeeper.model import BenchmarkTrend, BenchmarkVerdict, Direction, WeeklyReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Colours that read on a phone in daylight and for the common colour-vision deficiencies
# (Okabe-Ito), one meaning each across the charts.
REAL = "#D55E00"  # vermillion: real failures, regressions, drops
FLAKY = "#E69F00"  # orange: red only because of flaky tests
INFRA = "#7F7F7F"  # grey: infrastructure bursts
GREEN = "#A6D5A0"  # pale green: green runs (context, not news)
IMPROVED = "#009E73"  # bluish green: improvements
SERIES = ("#0072B2", "#CC79A7", "#009E73", "#56B4E9", "#E69F00", "#D55E00", "#000000", "#F0E442")

_WIDTH = 6.4  # inches at 72 pt: a 461-unit viewBox, scaled to the page (a phone: ~0.8x)
_RC: dict[Any, Any] = {
    "svg.hashsalt": "gatekeeper-report",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica Neue", "Arial", "sans-serif"],
    "font.size": 10.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#E0E0E0",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "legend.frameon": False,
}
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^)"]+)')


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart of the HTML report: ``svg`` is inline markup, ``description`` its alt text."""

    id: str
    title: str
    description: str
    svg: str


def charts(report: WeeklyReport) -> list[Chart]:
    """Every chart the report has data for, in page order."""
    out = [
        failure_rate(report),
        red_runs(report),
        coverage(report),
        *benchmark_charts(report),
    ]
    return [c for c in out if c is not None]


# ---------------------------------------------------------------------------------------------
# The charts
# ---------------------------------------------------------------------------------------------


def failure_rate(report: WeeklyReport) -> Chart | None:
    """Share of red runs per day, one line per service (a day without runs is a gap)."""
    if not report.services or not report.days or not report.total.runs:
        return None
    days = list(report.days)
    x = list(range(len(days)))
    with _figure(3.0) as (fig, ax):
        for i, service in enumerate(report.services):
            shares = {h.day: h.red_share for h in report.daily if h.service == service}
            y = [_nan(shares.get(d)) for d in days]
            y = [v * 100 for v in y]
            ax.plot(x, y, marker="o", markersize=4, linewidth=1.8, color=_colour(i), label=service)
        ax.set_ylim(-3, 103)
        ax.set_ylabel("red runs (%)")
        _day_axis(ax, days)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=3, fontsize=9)
        svg = _svg(fig, "chart-failure-rate")
    title = "Share of red runs per day, by service"
    lines = []
    for h in report.health:
        share = "no runs" if h.red_share is None else f"{h.red_share:.0%} red"
        lines.append(f"{h.service}: {h.runs} runs, {share}")
    return _chart("chart-failure-rate", title, "; ".join(lines), svg)


def red_runs(report: WeeklyReport) -> Chart | None:
    """Runs per day over all services, stacked: real failures, flaky only, infrastructure,
    green."""
    totals = [h for h in report.daily if h.service == "" and h.day is not None]
    if not totals or not report.total.runs:
        return None
    days = [h.day for h in totals if h.day is not None]
    x = list(range(len(days)))
    layers = (
        ("real failures", REAL, [h.red_real for h in totals]),
        ("only flaky tests", FLAKY, [h.red_flaky for h in totals]),
        ("infrastructure", INFRA, [h.red_infrastructure for h in totals]),
        ("green", GREEN, [h.green for h in totals]),
    )
    with _figure(3.0) as (fig, ax):
        bottom = [0] * len(x)
        for label, colour, values in layers:
            ax.bar(x, values, bottom=bottom, color=colour, width=0.7, label=label)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_ylabel("runs")
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        _day_axis(ax, days)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=4, fontsize=9)
        svg = _svg(fig, "chart-red-runs")
    t = report.total
    description = (
        f"{t.runs} runs: {t.red_real} red with real failures, {t.red_flaky} red only because "
        f"of flaky tests, {t.red_infrastructure} infrastructure burst"
        f"{'' if t.red_infrastructure == 1 else 's'}, {t.green} green"
    )
    return _chart("chart-red-runs", "Runs per day: red by cause, and green", description, svg)


def coverage(report: WeeklyReport) -> Chart | None:
    """Line coverage per service over time (default branch); drops marked and labelled.
    Infrastructure bursts are left out: their coverage says nothing about the code."""
    trends = [t for t in report.coverage if any(_plotted(p) for p in t.points)]
    if not trends:
        return None
    with _figure(3.2) as (fig, ax):
        for i, trend in enumerate(trends):
            points = [p for p in trend.points if _plotted(p)]
            x = [_x(report, p.at) for p in points]
            y = [_nan(p.line_rate) * 100 for p in points]
            ax.plot(x, y, marker="o", markersize=3.5, linewidth=1.8, color=_colour(i),
                    label=trend.service)  # fmt: skip
            for p in points:
                if p.drop is not None and p.line_rate is not None:
                    at = _x(report, p.at)
                    ax.plot([at], [p.line_rate * 100], marker="v", markersize=9, color=REAL,
                            linestyle="none")  # fmt: skip
                    ax.annotate(
                        f"−{p.drop:.1f} pts",
                        (at, p.line_rate * 100),
                        textcoords="offset points",
                        xytext=(0, -16),
                        ha="center",
                        fontsize=8.5,
                        color=REAL,
                    )
        ax.set_ylabel("line coverage (%)")
        _time_axis(ax, report)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=3, fontsize=9)
        svg = _svg(fig, "chart-coverage")
    parts = []
    for t in trends:
        rates = [p.line_rate for p in t.points if _plotted(p) and p.line_rate is not None]
        text = f"{t.service}: {rates[0]:.1%} to {rates[-1]:.1%}"
        if t.drops:
            text += ", drops at " + ", ".join(f"run {p.run_id} (−{p.drop:.1f} pts)"
                                              for p in t.drops)  # fmt: skip
        parts.append(text)
    return _chart("chart-coverage", "Line coverage per service", "; ".join(parts), svg)


_LEGEND_TWO_COLUMNS = 28  # longer labels than this get one legend column, or they spill out
_LEGEND_MAX = 48  # and are shortened in the middle beyond this


def legend_labels(names: list[str]) -> list[str]:
    """Legend labels for benchmark names: the prefix they all share dropped at a separator
    (pytest-benchmark names every benchmark ``tests/benchmarks/test_bench.py::test_...``), and
    what is still too long for a chart shortened in the middle."""
    first, last = (min(names), max(names)) if len(names) > 1 else ("", "")
    shared = 0
    while shared < min(len(first), len(last)) and first[shared] == last[shared]:
        shared += 1
    prefix = first[:shared]
    cut = max(prefix.rfind("::") + 2 if "::" in prefix else 0, prefix.rfind("/") + 1)
    out = []
    for name in names:
        label = name[cut:] or name
        if len(label) > _LEGEND_MAX:
            half = (_LEGEND_MAX - 1) // 2
            label = label[:half] + "…" + label[-half:]
        out.append(label)
    return out


def benchmark_charts(report: WeeklyReport) -> list[Chart]:
    """One chart per service: each benchmark relative to its first result of the period,
    drawn so that up is always worse; regressions and improvements the gate found marked."""
    out: list[Chart] = []
    used: set[str] = set()
    services = sorted({b.service for b in report.benchmarks})
    for service in services:
        trends = [b for b in report.benchmarks if b.service == service and b.points]
        if not trends:
            continue
        chart_id = "chart-bench-" + _slug(service)
        while chart_id in used:  # two names with the same slug
            chart_id += "-2"
        used.add(chart_id)
        labels = legend_labels([t.name for t in trends])
        with _figure(3.2) as (fig, ax):
            for i, trend in enumerate(trends):
                x = [_x(report, p.at) for p in trend.points]
                y = [_worse(trend, p.value) for p in trend.points]
                ax.plot(x, y, marker="o", markersize=3, linewidth=1.5, color=_colour(i),
                        label=labels[i])  # fmt: skip
                marks = list(zip(x, y, trend.points, strict=True))
                bad = [(at, v) for at, v, p in marks if p.is_regression]
                good = [(at, v) for at, v, p in marks if p.verdict is BenchmarkVerdict.IMPROVEMENT]
                if bad:
                    ax.plot(*zip(*bad, strict=True), marker="^", markersize=9, color=REAL,
                            linestyle="none")  # fmt: skip
                if good:
                    ax.plot(*zip(*good, strict=True), marker="v", markersize=9, color=IMPROVED,
                            linestyle="none")  # fmt: skip
            ax.axhline(0, color="#9E9E9E", linewidth=0.8)
            ax.set_ylabel("% worse than first result")
            _time_axis(ax, report)
            columns = 2 if max(len(label) for label in labels) <= _LEGEND_TWO_COLUMNS else 1
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=columns, fontsize=8.5)
            svg = _svg(fig, chart_id)
        notes = []
        for t in trends:
            if t.regressions:
                first = t.regressions[0]
                change = "" if first.change is None else f" ({first.change:+.1%})"
                notes.append(f"{t.name} regressed at run {first.run_id}{change}")
            if t.improvements:
                notes.append(f"{t.name} improved at run {t.improvements[0].run_id}")
        description = f"{len(trends)} benchmark(s) of {service}; " + (
            "; ".join(notes) if notes else "no regression or improvement"
        )
        out.append(_chart(chart_id, f"Benchmarks of {service}", description, svg))
    return out


# ---------------------------------------------------------------------------------------------
# Plumbing
# ---------------------------------------------------------------------------------------------


@contextmanager
def _figure(height: float) -> Iterator[tuple[Figure, Axes]]:
    import matplotlib

    matplotlib.use("Agg")  # never a window, whatever MPLBACKEND says
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    with matplotlib.rc_context(_RC):
        # The browser draws the text with its own sans-serif (svg.fonttype none), a little
        # wider than matplotlib measured: keep a margin so edge labels are never cut off.
        fig = Figure(
            figsize=(_WIDTH, height),
            layout=ConstrainedLayoutEngine(w_pad=0.15, h_pad=0.08),
        )
        ax = fig.subplots()
        yield fig, ax


def _svg(fig: Figure, chart_id: str) -> str:
    import matplotlib

    buffer = io.StringIO()
    # The salt is per chart so that hashed ids (clip paths, markers) differ between charts.
    with matplotlib.rc_context({**_RC, "svg.hashsalt": chart_id}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()


def _chart(chart_id: str, title: str, description: str, raw_svg: str) -> Chart:
    return Chart(chart_id, title, description, inline_svg(raw_svg, chart_id, title))


def inline_svg(raw: str, chart_id: str, title: str) -> str:
    """matplotlib's SVG file as markup for an HTML page (see the module docstring)."""
    text = raw[raw.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)
    text = _ID.sub(lambda m: f'id="{chart_id}-{m.group(1)}"', text)
    text = _REF.sub(lambda m: f"{m.group(1)}{chart_id}-{m.group(2)}", text)
    head_end = text.index(">") + 1
    head = text[:head_end]
    head = re.sub(r'\s(width|height)="[^"]*"', "", head)
    label = f"{chart_id}-title"
    head = head.replace(
        "<svg", f'<svg class="chart-svg" role="img" aria-labelledby="{label}" width="100%"', 1
    )
    title_tag = f'<title id="{label}">{html.escape(title)}</title>'
    return head + title_tag + text[head_end:].strip() + "\n"


def _day_axis(ax: Axes, days: Sequence[date]) -> None:
    ax.set_xticks(range(len(days)), [d.strftime("%a %d") for d in days])
    ax.set_xlim(-0.6, len(days) - 0.4)


def _time_axis(ax: Axes, report: WeeklyReport) -> None:
    """An x axis in days since the period's start, a tick at each UTC midnight."""
    days = list(report.days)
    step = max(1, math.ceil(len(days) / 10))
    ticks = [_x(report, datetime.combine(d, time(), UTC)) for d in days[::step]]
    ax.set_xticks(ticks, [d.strftime("%a %d") for d in days[::step]], ha="left")
    ax.set_xlim(0, _x(report, report.until))


def _x(report: WeeklyReport, moment: datetime) -> float:
    return (moment - report.since).total_seconds() / 86400


def _plotted(p: Any) -> bool:
    return not p.infrastructure and p.line_rate is not None


def _worse(trend: BenchmarkTrend, value: float) -> float:
    first = trend.points[0].value
    if not first or not value:
        return math.nan
    change = (
        value / first - 1 if trend.direction is Direction.LOWER_IS_BETTER else first / value - 1
    )
    return change * 100


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _colour(i: int) -> str:
    return SERIES[i % len(SERIES)]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "service"
