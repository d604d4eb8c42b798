"""The history store: the only package that talks to the database (SQLite or PostgreSQL).

Only ``gatekeeper.model`` records cross this boundary; rows and SQLAlchemy objects stay inside.
"""

from __future__ import annotations

from gatekeeper.store.engine import DEFAULT_URL
from gatekeeper.store.history import HistoryStore, open_store
from gatekeeper.store.migrations import SCHEMA_VERSION

__all__ = ["DEFAULT_URL", "SCHEMA_VERSION", "HistoryStore", "open_store"]
