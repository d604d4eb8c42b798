"""Settings: defaults < GATEKEEPER_* environment < command-line flags, resolved in one function."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from gatekeeper.errors import ConfigError

DEFAULT_DB_URL = "sqlite:///.gatekeeper/gatekeeper.db"
DEFAULT_LOCK_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Settings:
    db_url: str = DEFAULT_DB_URL
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT  # seconds to wait for a locked SQLite file
    default_service: str | None = None


def resolve(
    env: Mapping[str, str],
    *,
    db: str | None = None,
    lock_timeout: float | None = None,
    service: str | None = None,
) -> Settings:
    """Combine the environment and the flags (flags win) into Settings."""
    # An empty value is a mistake (an unset secret, a misspelt variable), not "the default": a
    # nightly job must not quietly classify a fresh, empty database.
    for given, name in ((db, "--db"), (env.get("GATEKEEPER_DB"), "$GATEKEEPER_DB")):
        if given is not None and not given.strip():
            raise ConfigError(
                f"{name} is empty (an unset secret or variable?)",
                hint="set it to the history database, e.g. sqlite:///.gatekeeper/gatekeeper.db "
                "or postgresql://user@host/db, or leave it out for the default",
            )
        if given is not None:
            break
    db_url = db or env.get("GATEKEEPER_DB") or DEFAULT_DB_URL
    timeout = lock_timeout
    if timeout is None and env.get("GATEKEEPER_LOCK_TIMEOUT"):
        raw = env["GATEKEEPER_LOCK_TIMEOUT"]
        try:
            timeout = float(raw)
        except ValueError as err:
            raise ConfigError(
                f"GATEKEEPER_LOCK_TIMEOUT={raw!r}: not a number of seconds",
                hint="set it to e.g. 30",
            ) from err
    if timeout is None:
        timeout = DEFAULT_LOCK_TIMEOUT
    if not math.isfinite(timeout) or timeout < 0:
        raise ConfigError(
            f"lock timeout {timeout}: must be a number of seconds, 0 or more",
            hint="e.g. --lock-timeout 30",
        )
    if db_url.strip() in ("sqlite://", "sqlite:///:memory:", "sqlite+pysqlite://"):
        raise ConfigError(
            f"--db {db_url}: an in-memory database keeps nothing",
            hint="name a file (sqlite:///path/history.db) or a PostgreSQL URL",
        )
    return Settings(
        db_url=db_url,
        lock_timeout=timeout,
        default_service=service or env.get("GATEKEEPER_SERVICE") or None,
    )
