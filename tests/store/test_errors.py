"""Database URLs, where the default history goes, and what the user is told when it fails."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gatekeeper.errors import DatabaseUnavailableError, StoreError
from gatekeeper.store import DEFAULT_URL, open_store
from gatekeeper.store.engine import parse_url
from tests.store.factories import run

# -- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("postgresql://ci:s3cret@db.internal:5432/gate", "postgresql+psycopg://ci:***@db.internal:5432/gate"),
        ("postgres://ci@db.internal/gate", "postgresql+psycopg://ci@db.internal/gate"),
        ("postgresql+psycopg://u:p@h/d", "postgresql+psycopg://u:***@h/d"),
        ("postgresql+psycopg2://u@h/d", "postgresql+psycopg2://u@h/d"),
        ("  sqlite:///relative/gk.db ", "sqlite:///relative/gk.db"),
        ("sqlite:////abs/gk.db", "sqlite:////abs/gk.db"),
        ("sqlite://", "sqlite://"),
    ],
    ids=["postgresql", "postgres-heroku", "psycopg", "psycopg2-kept", "sqlite-relative",
         "sqlite-absolute", "sqlite-memory"],
)  # fmt: skip
def test_urls_are_normalised_and_passwords_masked(raw: str, normalised: str) -> None:
    assert parse_url(raw).shown == normalised


def test_sqlite_paths() -> None:
    assert parse_url("sqlite:///relative/gk.db").sqlite_path == Path("relative/gk.db")
    assert parse_url("sqlite:////abs/gk.db").sqlite_path == Path("/abs/gk.db")
    assert parse_url("sqlite:////abs/gk.db").where == "/abs/gk.db"
    assert parse_url("sqlite://").sqlite_path is None
    assert parse_url(DEFAULT_URL).sqlite_path == Path(".gatekeeper/gatekeeper.db")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "the database URL is empty"),
        ("not a url", "'not a url' is not a database URL"),
        ("mysql://u:pw@h/d", "mysql://u:***@h/d: gatekeeper keeps its history in SQLite or "),
        ("sqlite:///file:x.db?mode=ro", "sqlite:///file%3Ax.db?mode=ro: SQLite URI"),
        ("postgresql://u:pw@127.0.0.1:abc/db", "'127.0.0.1:abc/db' is not a database URL"),
        ("postgresql://u:pw@[::1/db", "'[::1/db' is not a database URL"),
        ("sqlite:///" + "a" * 300 + ".db", "a" * 20),
    ],
    ids=["empty", "garbage", "mysql", "sqlite-uri", "port-not-a-number", "ipv6-unclosed",
         "file-name-too-long"],
)  # fmt: skip
def test_unusable_urls(raw: str, message: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(raw)
    assert str(caught.value).startswith(message)
    assert "--db" in str(caught.value)
    assert "pw" not in str(caught.value)


# -- SQLite files --------------------------------------------------------------------------------


def test_the_default_location_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store(DEFAULT_URL) as store:
        assert store.save_runs([run("1")]) == [True]
    assert (tmp_path / ".gatekeeper" / "gatekeeper.db").is_file()
    with open_store(f"sqlite:///{tmp_path / '.gatekeeper' / 'gatekeeper.db'}") as store:
        assert [r.meta.run_id for r in store.runs()] == ["1"]


def test_missing_parent_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "ci-cache" / "deep" / "history.db"
    open_store(f"sqlite:///{path}").close()
    assert path.is_file()


def test_a_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    path = blocker / "sub" / "history.db"
    with pytest.raises(StoreError) as caught:
        open_store(f"sqlite:///{path}")
    assert str(caught.value).startswith(f"{path}: cannot create the folder {path.parent}")
    assert "--db" in str(caught.value)


def test_a_missing_file_is_not_created_when_asked_not_to(tmp_path: Path) -> None:
    path = tmp_path / "nope.db"
    with pytest.raises(StoreError, match="no history database here") as caught:
        open_store(f"sqlite:///{path}", create=False)
    assert str(caught.value).startswith(str(path))
    assert not path.exists()


def test_a_folder_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        open_store(f"sqlite:///{tmp_path}")


@pytest.mark.parametrize(
    "sample",
    [
        "junit/publish-unit-test-result__unicode_astral_chars.xml",
        "cobertura/gcovr__windows_empty_source.xml",
    ],
    ids=["junit-xml", "cobertura-xml"],
)  # fmt: skip
def test_a_report_passed_as_the_database(realworld: Path, tmp_path: Path, sample: str) -> None:
    """The classic slip: --db pointing at an input file."""
    path = tmp_path / "report.xml"
    original = (realworld / sample).read_bytes()
    path.write_bytes(original)
    with pytest.raises(StoreError) as caught:
        open_store(f"sqlite:///{path}")
    assert str(caught.value).startswith(f"{path}: is not a SQLite database")
    assert caught.value.__cause__ is not None
    assert path.read_bytes() == original  # untouched


# -- PostgreSQL servers --------------------------------------------------------------------------


def test_nothing_listening() -> None:
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError) as caught:
        open_store("postgresql://ci:hunter2@127.0.0.1:1/gate")
    assert time.monotonic() - started < 5
    assert str(caught.value) == (
        "postgresql+psycopg://ci:***@127.0.0.1:1/gate: cannot connect (connection refused): "
        "is the server running? check --db / $GATEKEEPER_DB"
    )
    assert "hunter2" not in str(caught.value)
    assert caught.value.__cause__ is not None


@pytest.mark.postgres
def test_a_database_that_does_not_exist(pg_admin: str) -> None:
    with pytest.raises(DatabaseUnavailableError) as caught:
        open_store("postgresql://postgres@127.0.0.1:5432/gk_no_such_database")
    message = str(caught.value)
    assert message.startswith("postgresql+psycopg://postgres@127.0.0.1:5432/gk_no_such_database: ")
    assert 'database "gk_no_such_database" does not exist' in message
    assert "createdb" in message


@pytest.mark.postgres
def test_an_unknown_role(pg_admin: str) -> None:
    with pytest.raises(DatabaseUnavailableError) as caught:
        open_store("postgresql://gk_nobody:pw@127.0.0.1:5432/postgres")
    message = str(caught.value)
    assert 'role "gk_nobody" does not exist' in message
    assert "check the user and password" in message
    assert ":pw@" not in message


@pytest.mark.postgres
def test_losing_the_server_later_is_reported_too(pg_url: str, pg_admin: str) -> None:
    import psycopg

    with open_store(pg_url) as store:
        store.save_runs([run("1")])
        database = pg_url.rsplit("/", 1)[1].split("?", 1)[0]
        with psycopg.connect(pg_admin, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
        with pytest.raises(DatabaseUnavailableError) as caught:
            store.runs()
        assert str(caught.value).startswith(f"{store.url}: lost the connection (terminating")
        # The pool notices the dead connection; the next call reconnects.
        assert [r.meta.run_id for r in store.runs()] == ["1"]
