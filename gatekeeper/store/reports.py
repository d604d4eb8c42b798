"""Read-only queries for the weekly report: aggregates over runs, results, coverage, benchmarks
and gate decisions. Mixed into HistoryStore; rows never leave the store."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


class ReportQueries:
    """The report's queries (HistoryStore provides ``_transaction``)."""

    if TYPE_CHECKING:

        def _transaction(
            self, doing: str, *, write: bool = False
        ) -> AbstractContextManager[Connection]: ...
