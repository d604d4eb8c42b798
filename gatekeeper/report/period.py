"""The report's period: `--since 7d` / `2w` / `24h` / an ISO date, `--until`, and its UTC days."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from gatekeeper.errors import ConfigError

_RELATIVE = re.compile(r"^(\d{1,5})\s*([hdw])$", re.IGNORECASE)
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_HINT = "write 7d, 2w, 24h, or an ISO date or time such as 2026-11-14 or 2026-11-14T08:00Z"


def parse_moment(text: str, option: str, expected: str = "a date or a time") -> datetime:
    """An ISO 8601 date (midnight UTC) or time (naive means UTC; a trailing Z allowed)."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise ConfigError(f"{option} {text!r}: not {expected}", hint=_HINT) from err
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_period(
    since: str, until: str | None = None, *, now: datetime
) -> tuple[datetime, datetime]:
    """``[since, until)`` from the options: ``until`` defaults to ``now``; a relative ``since``
    (``7d``, ``2w``, ``24h``) counts back from ``until``."""
    end = parse_moment(until, "--until") if until else now.astimezone(UTC)
    match = _RELATIVE.match(since.strip())
    if match:
        count, unit = int(match.group(1)), match.group(2).lower()
        if count == 0:
            raise ConfigError(f"--since {since!r}: an empty period", hint=_HINT)
        start = end - count * _UNITS[unit]
    else:
        start = parse_moment(since, "--since", "a period or a date")
    if start >= end:
        raise ConfigError(
            f"--since {since!r}: the period is empty: it starts at {start.isoformat()}, not "
            f"before its end {end.isoformat()}",
            hint="give an earlier --since or a later --until",
        )
    return start, end


def period_days(since: datetime, until: datetime) -> tuple[date, ...]:
    """The UTC days the period ``[since, until)`` touches, in order."""
    first = since.astimezone(UTC).date()
    days: list[date] = []
    day = first
    while datetime.combine(day, time(), UTC) < until:
        days.append(day)
        day += timedelta(days=1)
    return tuple(days)


def day_of(moment: datetime) -> date:
    """The UTC day of a moment (naive means UTC)."""
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(UTC).date()
