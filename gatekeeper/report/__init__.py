"""The weekly report (`gatekeeper report`): the store's aggregates, the registry and the
classifier's verdicts in, one ``model.WeeklyReport`` out (pure; docs/report.md).

It imports only ``gatekeeper.model``, ``gatekeeper.rules`` and ``gatekeeper.errors``; the API
gathers the inputs and ``gatekeeper.emit.report`` renders the result.
"""

from gatekeeper.report.build import (
    ALL_SERVICES,
    TREND_WEEKS,
    build_report,
    decided_benchmarks,
    history_window,
    impact_order,
    owner_quarantines,
    replay_plan,
    weekly_trend,
)
from gatekeeper.report.period import parse_period, period_days

__all__ = [
    "ALL_SERVICES",
    "TREND_WEEKS",
    "build_report",
    "decided_benchmarks",
    "history_window",
    "impact_order",
    "owner_quarantines",
    "parse_period",
    "period_days",
    "replay_plan",
    "weekly_trend",
]
