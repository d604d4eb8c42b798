"""The same report from a PostgreSQL history as from SQLite (byte for byte)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.emit.report import render
from gatekeeper.model import WeeklyReport

from ..store.conftest import pg_admin, pg_database, pg_url  # noqa: F401  (fixtures)
from .conftest import build_history, make_report


@pytest.mark.postgres
def test_postgres_gives_the_same_report(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
    week: WeeklyReport,
) -> None:
    history = build_history(tmp_path, pg_url)
    try:
        on_postgres = make_report(history)
    finally:
        history.gk.close()
    for fmt in ("md", "json"):
        assert render(on_postgres, fmt) == render(week, fmt), fmt
