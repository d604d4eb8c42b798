"""Every bad sample input has its own file and its expected message (docs/errors.md lists them).

The messages are the contract with the user: one line that starts with the file (and line),
says what is wrong and, in parentheses, what to do. A change here is a change to the docs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper import errors
from gatekeeper.api import Gatekeeper, MetaFlags
from gatekeeper.config import Settings

from .conftest import SAMPLES

INVALID = SAMPLES / "invalid"

CASES = [
    (
        "truncated.xml",
        errors.ReportParseError,
        "truncated.xml:74: XML is truncated: <failure> opened on line 73 is never closed "
        "(was the test job killed while writing it?)",
    ),
    (
        "not_xml.xml",
        errors.UnknownFormatError,
        "not_xml.xml: not a report format gatekeeper reads (tried junit, libtest, libtest-json, "
        "nextest, cobertura, criterion, criterion-json, pytest-benchmark, google-benchmark, "
        "go-bench, gotest-json) (pass --format NAME if you know it; see docs/formats/)",
    ),
    (
        "empty.xml",
        errors.EmptyReportError,
        "empty.xml: the file is empty (did the test step write its report?)",
    ),
    (
        "billion_laughs.xml",
        errors.UnsafeInputError,
        "billion_laughs.xml:2: the DOCTYPE declares XML entities; refusing to read it (entity "
        "expansion and external entities are how billion-laughs and XXE attacks work) (JUnit "
        "reports never need a DOCTYPE: remove it, or check where this file came from)",
    ),
    (
        "xxe.xml",
        errors.UnsafeInputError,
        "xxe.xml:2: the DOCTYPE declares XML entities; refusing to read it (entity expansion and "
        "external entities are how billion-laughs and XXE attacks work) (JUnit reports never "
        "need a DOCTYPE: remove it, or check where this file came from)",
    ),
    (
        "unknown_format.txt",
        errors.UnknownFormatError,
        "unknown_format.txt: not a report format gatekeeper reads (tried junit, libtest, "
        "libtest-json, nextest, cobertura, criterion, criterion-json, pytest-benchmark, "
        "google-benchmark, go-bench, gotest-json) (pass --format NAME if you know it; see "
        "docs/formats/)",
    ),
    (
        "cargo_no_result_line.txt",
        errors.ReportParseError,
        "cargo_no_result_line.txt:6: no `test result:` line: the log is cut off or the tests did "
        "not run (keep the whole `cargo test` output (2>&1), up to its last line)",
    ),
    (
        "cobertura_truncated.xml",
        errors.ReportParseError,
        "cobertura_truncated.xml:225: XML is truncated: no closing </coverage> (AttValue: ' "
        "expected, line 225, column 22) (was the coverage job killed while writing it?)",
    ),
]


@pytest.fixture()
def gk(tmp_path: Path) -> Gatekeeper:
    return Gatekeeper(Settings(db_url=f"sqlite:///{tmp_path / 'h.db'}"), env={}, cwd=INVALID)


@pytest.mark.parametrize(("name", "error", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_sample_input(
    gk: Gatekeeper, name: str, error: type[errors.InputError], message: str
) -> None:
    with pytest.raises(error) as info:
        gk.ingest([name], MetaFlags(service="s", run_id="1"))
    assert str(info.value) == message
    assert info.value.exit_code == errors.EXIT_CANNOT_DECIDE
    assert gk.store.runs() == []


def test_bad_manifest_names_its_first_bad_line(gk: Gatekeeper) -> None:
    with pytest.raises(errors.ManifestError) as info:
        gk.ingest_manifest(INVALID / "bad_manifest.jsonl")
    assert str(info.value) == (
        "bad_manifest.jsonl:5: not a JSON object (Expecting ',' delimiter) (one object per line)"
    )
    assert gk.store.runs() == []


def test_every_invalid_sample_has_a_case() -> None:
    covered = {c[0] for c in CASES} | {"bad_manifest.jsonl", "zero_tests.xml", "README.md"}
    assert {p.name for p in INVALID.iterdir()} == covered


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (MetaFlags(service="s", attempt=0), "attempt 0: must be between 1 and 10,000"),
        (
            MetaFlags(service="s", attempt=10**20),
            "attempt 100000000000000000000: must be between 1 and 10,000",
        ),
    ],
)
def test_bad_metadata(gk: Gatekeeper, flags: MetaFlags, message: str) -> None:
    with pytest.raises(errors.MetadataError, match=f"^{message}$"):
        gk.ingest(["zero_tests.xml"], flags)


def test_bad_timestamp_says_how_to_write_one() -> None:
    from gatekeeper.api import parse_timestamp

    with pytest.raises(errors.MetadataError) as info:
        parse_timestamp("yesterday", "--timestamp")
    assert str(info.value) == (
        "--timestamp: timestamp 'yesterday' is not an ISO 8601 time gatekeeper can store "
        "(write it like 2026-11-27T10:50:00Z)"
    )
    with pytest.raises(errors.MetadataError, match="not an ISO 8601 time"):
        parse_timestamp("9999-12-31T23:59:59-05:00", "--timestamp")  # past the year 9999 in UTC


def test_bad_lock_timeout_in_the_environment() -> None:
    from gatekeeper.config import resolve

    with pytest.raises(errors.ConfigError) as info:
        resolve({"GATEKEEPER_LOCK_TIMEOUT": "soon"})
    assert str(info.value) == (
        "GATEKEEPER_LOCK_TIMEOUT='soon': not a number of seconds (set it to e.g. 30)"
    )
    for value in ("inf", "nan", "-1"):
        with pytest.raises(errors.ConfigError, match="must be a number of seconds, 0 or more"):
            resolve({"GATEKEEPER_LOCK_TIMEOUT": value})


def test_an_in_memory_database_is_refused() -> None:
    from gatekeeper.config import resolve

    for url in ("sqlite://", "sqlite:///:memory:"):
        with pytest.raises(errors.ConfigError, match="an in-memory database keeps nothing"):
            resolve({}, db=url)


def test_unknown_format_flag(gk: Gatekeeper) -> None:
    with pytest.raises(errors.ConfigError) as info:
        gk.ingest(["no-such-file.xml"], MetaFlags(service="s"), fmt="xunit")
    assert str(info.value).startswith(
        "--format xunit: not a format gatekeeper reads (choose one of: auto, junit, libtest,"
    )


# -- special files are refused wherever a path is read -------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["quarantine", "list", "--registry", "pipe"], "pipe: cannot read it: is a named pipe"),
        (["skip-list", "--registry", "pipe"], "pipe: cannot read it: is a named pipe"),
        (
            ["gate", "x.xml", "--service", "s", "--config", "pipe"],
            "pipe: cannot be read: is a named pipe (FIFO), not a regular file",
        ),
        (["ingest", "--manifest", "pipe"], "pipe: cannot read the manifest (is a named pipe"),
        (["quarantine", "list", "--registry", "."], ".: cannot read it: is a folder"),
    ],
    ids=["registry", "skip-list", "config", "manifest", "folder"],
)
def test_a_fifo_or_a_folder_given_as_a_file_is_refused_at_once(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """A FIFO nobody writes to used to block the command forever (a FIFO as a report was
    already refused)."""
    import os

    from .cli import gatekeeper_process

    os.mkfifo(tmp_path / "pipe")
    done = gatekeeper_process(*args, cwd=tmp_path, timeout=30)  # in a process: a hang times out
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"gatekeeper: error: {message}"), done.stderr
