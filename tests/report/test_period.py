"""`--since` / `--until` and the period's days."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatekeeper.emit.report import duration, sparkline
from gatekeeper.errors import ConfigError
from gatekeeper.report import parse_period, period_days

NOW = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "start", "end"),
    [
        ("7d", None, NOW - timedelta(days=7), NOW),
        ("2w", None, NOW - timedelta(days=14), NOW),
        ("24h", None, NOW - timedelta(hours=24), NOW),
        (" 7D ", None, NOW - timedelta(days=7), NOW),
        ("2026-11-14", None, datetime(2026, 11, 14, tzinfo=UTC), NOW),
        ("7d", "2026-11-21", datetime(2026, 11, 14, tzinfo=UTC),
         datetime(2026, 11, 21, tzinfo=UTC)),
        ("2026-11-14T08:00Z", "2026-11-14T20:00+02:00", datetime(2026, 11, 14, 8, tzinfo=UTC),
         datetime(2026, 11, 14, 18, tzinfo=UTC)),
        ("2026-11-14T08:00", None, datetime(2026, 11, 14, 8, tzinfo=UTC), NOW),
    ],
)  # fmt: skip
def test_periods(since: str, until: str | None, start: datetime, end: datetime) -> None:
    assert parse_period(since, until, now=NOW) == (start, end)


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("7x", None, "--since '7x': not a period or a date"),
        ("last week", None, "--since 'last week': not a period or a date"),
        ("", None, "--since '': not a period or a date"),
        ("0d", None, "--since '0d': an empty period"),
        ("2026-13-01", None, "--since '2026-13-01': not a period or a date"),
        ("7d", "tomorrow", "--until 'tomorrow': not a date or a time"),
        ("2026-11-22", "2026-11-21", "--since '2026-11-22': the period is empty"),
        ("2026-11-21", "2026-11-21", "--since '2026-11-21': the period is empty"),
    ],
)
def test_bad_periods_say_what_to_write(since: str, until: str | None, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_period(since, until, now=NOW)
    assert str(err.value).startswith(message)
    assert err.value.hint


def test_days_of_a_week_and_of_a_partial_week() -> None:
    week = period_days(datetime(2026, 11, 14, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))
    assert week == tuple(date(2026, 11, d) for d in range(14, 21))
    rolling = period_days(NOW - timedelta(days=7), NOW)
    assert rolling[0] == date(2026, 11, 14) and rolling[-1] == date(2026, 11, 21)
    assert len(rolling) == 8  # two partial days at the ends
    other_zone = timezone(timedelta(hours=-5))
    evening = datetime(2026, 11, 13, 22, tzinfo=other_zone)  # 03:00 UTC on the 14th
    assert period_days(evening, evening + timedelta(hours=1)) == (date(2026, 11, 14),)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                 timezones=st.just(UTC)),
    st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=400)),
)  # fmt: skip
def test_days_cover_the_period_exactly(start: datetime, length: timedelta) -> None:
    days = period_days(start, start + length)
    assert days[0] == start.date()
    assert days[-1] == (start + length - timedelta(microseconds=1)).date()
    assert all((b - a).days == 1 for a, b in itertools.pairwise(days))


def test_duration_and_sparkline_words() -> None:
    assert [duration(s) for s in (0.04, 12.34, 60, 252, 3599.6, 3600, 11_100)] == [
        "0.0 s", "12.3 s", "1 min 00 s", "4 min 12 s", "1 h 00 min", "1 h 00 min",
        "3 h 05 min",
    ]  # fmt: skip
    assert sparkline([0.0, 0.5, 1.0, None, 0.25]) == "▁▅█·▃"
