"""Database URLs, engines (SQLite pragmas, PostgreSQL timeouts) and driver-error translation."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    SQLAlchemyError,
)

from gatekeeper.errors import (
    DatabaseLockedError,
    DatabaseUnavailableError,
    StoreError,
    reason_of,
)

DEFAULT_URL = "sqlite:///.gatekeeper/gatekeeper.db"
CONNECT_TIMEOUT = 5  # seconds; a CI job should learn quickly that the server is not there
CHECK_DB = "check --db / $GATEKEEPER_DB"
# The execution option that makes a SQLite transaction start with BEGIN IMMEDIATE.
WRITE_OPTION = "gatekeeper_write"
NOTHING_STORED = "nothing was stored; this is a bug, please report it with the input file"
SUPPORTED = ("sqlite", "postgresql")  # the SQL in history.py and the DDL are written for these


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed database URL and how messages name it (never with the password)."""

    url: URL
    shown: str  # the URL with the password masked
    where: str  # what messages start with: the SQLite file path, else ``shown``
    sqlite_path: Path | None  # None for in-memory SQLite and for servers

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()


def parse_url(raw: str) -> Target:
    """Parse a ``--db`` URL; plain PostgreSQL URLs get the psycopg (3) driver.

    ``sqlite:///relative/path``, ``sqlite:////absolute/path``, ``postgresql://...`` and
    ``postgres://...`` (what Heroku-style platforms hand out) are the documented forms; any other
    SQLAlchemy URL is passed through.
    """
    text = raw.strip()
    if not text:
        raise StoreError(
            "the database URL is empty",
            hint=f"use e.g. {DEFAULT_URL} or postgresql://user@host/db; {CHECK_DB}",
        )
    for prefix in ("postgres://", "postgresql://"):
        if text.startswith(prefix):
            text = "postgresql+psycopg://" + text[len(prefix) :]
            break
    try:
        url = make_url(text)
        url.get_backend_name()  # a bad port is only noticed here
        _ = url.port
    except (ArgumentError, ValueError) as err:  # ValueError: `host:abc`, `[::1` (no bracket)
        shown = text.split("@", 1)[-1] if "@" in text else text
        raise StoreError(
            f"{shown!r} is not a database URL",
            hint=f"use e.g. {DEFAULT_URL} or postgresql://user@host/db; {CHECK_DB}",
        ) from err
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() not in SUPPORTED:
        raise StoreError(
            f"{shown}: gatekeeper keeps its history in SQLite or PostgreSQL, "
            f"not {url.get_backend_name()}",
            hint=f"use sqlite:///path or postgresql://user@host/db; {CHECK_DB}",
        )
    path: Path | None = None
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        if url.database.startswith("file:"):
            raise StoreError(
                f"{shown}: SQLite URI filenames (file:...) are not supported",
                hint=f"use sqlite:///relative/path or sqlite:////absolute/path; {CHECK_DB}",
            )
        path = Path(url.database)
    where = str(path) if path is not None else shown
    return Target(url=url, shown=shown, where=where, sqlite_path=path)


def prepare_sqlite_file(target: Target, *, create: bool) -> None:
    """Make sure a SQLite file can be opened: its folder exists; it exists unless ``create``."""
    path = target.sqlite_path
    if path is None:
        return
    try:
        _prepare_sqlite_file(path, create=create)
    except (OSError, ValueError) as err:  # a name too long, a NUL in it
        raise StoreError(
            f"{str(path)[:200]}: cannot use this path for the database ({reason_of(err).lower()})",
            hint=f"choose another file name; {CHECK_DB}",
        ) from err


def _prepare_sqlite_file(path: Path, *, create: bool) -> None:
    if path.is_dir():
        raise StoreError(
            f"{path}: is a directory, not a SQLite database file",
            hint=f"name a file inside it, e.g. sqlite:///{path / 'gatekeeper.db'}",
        )
    if path.exists():
        return
    if not create:
        raise StoreError(
            f"{path}: no history database here",
            hint=f"run gatekeeper ingest first, or {CHECK_DB}",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise StoreError(
            f"{path}: cannot create the folder {path.parent} for the database ({reason.lower()})",
            hint=f"choose a writable location; {CHECK_DB}",
        ) from err
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise StoreError(
            f"{path}: cannot create the database: the folder {path.parent} is not writable",
            hint=f"choose a writable location; {CHECK_DB}",
        )


def make_engine(target: Target, *, lock_timeout: float) -> Engine:
    """An engine with gatekeeper's connection settings for the backend."""
    backend = target.backend
    connect_args: dict[str, Any] = {}
    try:
        if backend == "sqlite":
            connect_args["timeout"] = lock_timeout
            engine = create_engine(target.url, connect_args=connect_args)
            _configure_sqlite(engine, lock_timeout)
            return engine
        if backend == "postgresql":
            if "connect_timeout" not in target.url.query:
                connect_args["connect_timeout"] = CONNECT_TIMEOUT
            if "application_name" not in target.url.query:
                connect_args["application_name"] = "gatekeeper"
        return create_engine(target.url, connect_args=connect_args)
    except (ArgumentError, NoSuchModuleError, ImportError) as err:
        raise StoreError(
            f"{target.shown}: cannot use this database URL ({err})",
            hint=f"is its driver installed? {CHECK_DB}",
        ) from err


def _configure_sqlite(engine: Engine, lock_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below): the sqlite3 module's implicit transactions do not
        # cover DDL, and would start writes as deferred transactions, which fail at once with
        # SQLITE_BUSY instead of waiting when two writers meet.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {max(0, int(lock_timeout * 1000))}")
            # Only takes effect while the file is new: bigger pages make the bulk inserts of
            # a large run some 5-10% faster (fewer, shallower b-tree pages).
            cursor.execute("PRAGMA page_size = 16384")
            _use_wal(cursor, lock_timeout)
            cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        # IMMEDIATE takes the write lock up front and so waits (busy_timeout) for another
        # writer, instead of failing on a read-to-write upgrade halfway through.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _use_wal(cursor: Any, lock_timeout: float) -> None:
    """Switch the file to WAL (persistent, once per file): readers then never block the writer.

    SQLite answers a journal-mode switch that meets another connection with SQLITE_BUSY at once,
    without waiting on busy_timeout; several processes creating one new file hit this, so we
    wait ourselves.
    """
    deadline = time.monotonic() + lock_timeout
    pause = 0.005
    while True:
        try:
            (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() not in ("wal", "memory"):
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)


# ---------------------------------------------------------------------------------------------
# Error translation
# ---------------------------------------------------------------------------------------------


@contextmanager
def translated_errors(target: Target, doing: str, *, lock_timeout: float) -> Iterator[None]:
    """Turn SQLAlchemy and driver exceptions raised inside into StoreError subclasses.

    Driver exceptions arrive unwrapped where the bulk paths use the driver directly.
    """
    try:
        yield
    except DBAPIError as err:
        orig = err.orig if err.orig is not None else err
        raise translate(
            orig, target, doing, lock_timeout=lock_timeout, lost=err.connection_invalidated
        ) from err
    except SQLAlchemyError as err:
        raise StoreError(
            f"{target.where}: database error while {doing}: {_first_line(err)}"
        ) from err
    except Exception as err:
        if not _is_driver_error(err):
            raise
        raise translate(err, target, doing, lock_timeout=lock_timeout) from err


def _is_driver_error(err: BaseException) -> bool:
    return isinstance(err, sqlite3.Error) or type(err).__module__.split(".")[0] in (
        "psycopg",
        "psycopg2",
    )


def _is_a(err: BaseException, class_name: str) -> bool:
    """DB-API exception classes are per driver; their names are standard (PEP 249)."""
    return any(c.__name__ == class_name for c in type(err).__mro__)


def translate(
    orig: BaseException, target: Target, doing: str, *, lock_timeout: float, lost: bool = False
) -> StoreError:
    """The StoreError for a driver exception ``orig``; ``lost``: the connection broke."""
    where = target.where
    if isinstance(orig, sqlite3.Error):
        return _translate_sqlite(orig, where, doing, lock_timeout)
    sqlstate: str | None = getattr(orig, "sqlstate", None)
    if lost or (_is_a(orig, "OperationalError") and _is_unreachable(sqlstate)):
        return _unavailable(target, str(orig), lost=lost)
    if _is_a(orig, "IntegrityError") or (sqlstate or "").startswith("23"):
        constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
        what = f"the constraint {constraint}" if constraint else "a database constraint"
        return StoreError(
            f"{where}: {doing}: a value breaks {what} ({_first_line(orig)})",
            hint=NOTHING_STORED,
        )
    return StoreError(f"{where}: database error while {doing}: {_first_line(orig)}")


def _translate_sqlite(
    orig: sqlite3.Error, where: str, doing: str, lock_timeout: float
) -> StoreError:
    text = str(orig)
    if "locked" in text or "busy" in text.lower():
        return DatabaseLockedError(
            f"{where}: database is locked by another process (waited {lock_timeout:g}s): "
            "another gatekeeper is probably writing to it; try again when it is done, wait "
            "longer (--lock-timeout / $GATEKEEPER_LOCK_TIMEOUT), or use PostgreSQL for many "
            "concurrent writers"
        )
    if "unable to open database file" in text:
        return DatabaseUnavailableError(
            f"{where}: cannot open the SQLite database file ({text}): "
            f"does its folder exist and is it writable? {CHECK_DB}"
        )
    if "file is not a database" in text:
        return StoreError(
            f"{where}: is not a SQLite database ({text})",
            hint="point --db / $GATEKEEPER_DB at a gatekeeper database or at a new file name",
        )
    if "malformed" in text or "disk I/O error" in text:
        return StoreError(
            f"{where}: the SQLite database is damaged ({text}) while {doing}",
            hint="restore it from a backup, or move it away to start a new history",
        )
    if "readonly" in text:
        return StoreError(
            f"{where}: cannot write to the database ({text})",
            hint="check the file's and its folder's permissions",
        )
    if isinstance(orig, sqlite3.IntegrityError):
        return StoreError(
            f"{where}: {doing}: a value breaks a database constraint ({text})",
            hint=NOTHING_STORED,
        )
    return StoreError(f"{where}: database error while {doing}: {text}")


def _is_unreachable(sqlstate: str | None) -> bool:
    if sqlstate is None:
        return True  # client-side: refused, timed out, unknown host, connection lost
    # 08: connection exceptions; 28: bad credentials; 3D000: no such database;
    # 57P0x: the server is shutting down or starting up.
    return sqlstate.startswith(("08", "28", "57P0")) or sqlstate == "3D000"


def _unavailable(target: Target, text: str, *, lost: bool = False) -> DatabaseUnavailableError:
    first = text.strip().splitlines()[0] if text.strip() else "no reason given"
    detail = first.rsplit("failed: ", 1)[-1].replace("FATAL:", "").strip()
    lowered = detail.lower()
    if "connection refused" in lowered:
        reason, advice = "connection refused", f"is the server running? {CHECK_DB}"
    elif "timeout" in lowered or "timed out" in lowered:
        reason, advice = "timed out", f"is the server running and reachable? {CHECK_DB}"
    elif "resolve host" in lowered or "name or service not known" in lowered:
        reason, advice = detail, f"is the host name right? {CHECK_DB}"
    elif "database" in lowered and "does not exist" in lowered:
        reason, advice = detail, f"create it (createdb) or {CHECK_DB}"
    elif "password" in lowered or "role" in lowered or "authentication" in lowered:
        reason, advice = detail, "check the user and password in --db / $GATEKEEPER_DB"
    else:
        reason, advice = detail, f"is the server running? {CHECK_DB}"
    what = "lost the connection" if lost else "cannot connect"
    return DatabaseUnavailableError(f"{target.shown}: {what} ({reason}): {advice}")


def _first_line(err: BaseException | None) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
