"""The report's last eight weeks and its quarantines by owner, on the sample history.

Expected runs per week come from the samples' manifest (the generator's timestamps), the owners
from the registry edits the fixture makes (conftest.OWNED), not from the report."""

from __future__ import annotations

from datetime import datetime, timedelta

from gatekeeper.emit.report import render
from gatekeeper.model import WeeklyReport

from .conftest import OWNED, UNTIL, manifest_lines


def test_eight_weeks_ending_with_the_period(week: WeeklyReport) -> None:
    assert len(week.trend) == 8
    assert week.trend[-1].until == UNTIL
    assert week.trend[0].since == UNTIL - timedelta(days=56)
    for before, after in zip(week.trend, week.trend[1:], strict=False):
        assert before.until == after.since and after.until - after.since == timedelta(days=7)


def test_runs_per_week_match_the_manifest(week: WeeklyReport) -> None:
    runs = {  # a manifest line is a report file; a run may have several
        (x["service"], x["run_id"], x.get("attempt", 1)): datetime.fromisoformat(
            str(x["timestamp"]).replace("Z", "+00:00")
        )
        for x in manifest_lines()
    }
    expected = [sum(1 for t in runs.values() if w.since <= t < w.until) for w in week.trend]
    assert [w.runs for w in week.trend] == expected
    assert sum(expected) > 0 and expected[0] == 0  # the sample is two weeks long


def test_the_last_week_is_the_report(week: WeeklyReport) -> None:
    last = week.trend[-1]
    assert (last.runs, last.red) == (week.total.runs, week.total.red)
    assert last.flaky_tests == len(week.flakiest)
    assert abs(last.time_lost - week.total.time_lost) < 1e-9
    assert last.quarantined == week.quarantined
    assert all(w.flaky_tests == 0 and w.time_lost == 0 for w in week.trend if w.runs == 0)


def test_quarantines_by_owner(week: WeeklyReport) -> None:
    by_owner = {o.owner: o for o in week.owners}
    owners = {owner for owner, _, _ in OWNED.values()}
    assert set(by_owner) == owners | {None}
    for (service, name), (owner, _, _) in OWNED.items():
        assert (service, name) in by_owner[owner].tests
    assert sum(o.quarantined for o in week.owners) == week.quarantined
    assert sum(o.new for o in week.owners) == len(week.new_quarantines)
    assert week.owners[-1].owner is None  # the entries nobody owns come last
    lost = {i.key: i.time_lost for i in week.flakiest}
    for o in week.owners:
        assert abs(o.time_lost - sum(lost.get(k, 0.0) for k in o.tests)) < 1e-9


def test_every_format_shows_them(week: WeeklyReport) -> None:
    md = render(week, "md")
    assert "**The last 8 weeks**" in md and "**Quarantines by owner**" in md
    assert "- ana: 1 quarantined, 0 new this week" in md
    html = render(week, "html")
    assert "<h3>The last 8 weeks</h3>" in html and "<h3>By owner</h3>" in html
    assert "no owner: 7 quarantined, 1 new this week" in html
