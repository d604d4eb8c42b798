"""Schema versions: version 1's frozen DDL, the ordered upgrade steps, and applying them.

How it works (docs/database.md says the same for users):

- ``schema_meta`` holds ``schema_version``. An empty database is version 0.
- ``STEPS[n]`` takes a database from version ``n`` to ``n + 1``. Opening a store runs the
  pending steps in ONE transaction (both SQLite and PostgreSQL have transactional DDL), under a
  lock, so two processes opening an old database at once upgrade it once.
- A database newer than ``SCHEMA_VERSION`` is refused, as is one that holds tables but no
  ``schema_meta`` (not a gatekeeper database).

Rules for adding version N + 1: append a step; never edit an earlier step or ``_V1`` (databases
in the field were made by them); update ``tables.py`` to the new shape and bump
``SCHEMA_VERSION``. ``tests/store/test_migrations.py`` checks that the steps build exactly what
``tables.py`` describes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateIndex
from sqlalchemy.types import TypeEngine

SCHEMA_VERSION = 5
VERSION_KEY = "schema_version"
# Any constant: a PostgreSQL advisory lock that serialises concurrent upgrades.
_PG_UPGRADE_LOCK = 0x6761_7465  # "gate"

# ---------------------------------------------------------------------------------------------
# Version 1, frozen. Do not edit: existing databases were created by exactly this.
# ---------------------------------------------------------------------------------------------

_PK = BigInteger().with_variant(Integer(), "sqlite")


def _v1_tables() -> MetaData:
    md = MetaData()

    def pk() -> Column[int]:
        return Column("id", _PK, primary_key=True, autoincrement=True)

    def fk(name: str, target: str) -> Column[int]:
        return Column(name, _PK, ForeignKey(target, ondelete="CASCADE"), nullable=False)

    def req(name: str, type_: Any = Text) -> Column[Any]:
        return Column(name, type_, nullable=False)

    def opt(name: str, type_: Any = Text) -> Column[Any]:
        return Column(name, type_, nullable=True)

    Table(
        "schema_meta",
        md,
        Column("key", Text, primary_key=True),
        req("value"),
    )
    Table(
        "runs",
        md,
        pk(),
        req("service"),
        req("run_id"),
        req("attempt", Integer),
        opt("commit_sha"),
        opt("branch"),
        opt("run_at", DateTime),
        req("effective_at", DateTime),
        req("ingested_at", DateTime),
        opt("ci_provider"),
        opt("url"),
        *(req(n, Integer) for n in ("tests", "passed", "failed", "errors", "skipped")),
        req("retried", Integer),
        req("flaky", Integer),
        req("warnings"),
        UniqueConstraint("service", "run_id", "attempt", name="uq_runs_key"),
        Index("ix_runs_service_branch_time", "service", "branch", "effective_at"),
        Index("ix_runs_effective_at", "effective_at"),
    )
    Table(
        "source_files",
        md,
        pk(),
        fk("run_fk", "runs.id"),
        req("path"),
        req("format"),
        req("sha256"),
        req("size", BigInteger),
        Index("ix_source_files_run", "run_fk"),
    )
    Table(
        "tests",
        md,
        pk(),
        req("service"),
        req("test_id"),
        req("suite"),
        req("name"),
        opt("file"),
        req("first_seen", DateTime),
        UniqueConstraint("service", "test_id", name="uq_tests_key"),
    )
    Table(
        "results",
        md,
        pk(),
        fk("run_fk", "runs.id"),
        fk("test_fk", "tests.id"),
        req("retry", Integer),
        req("outcome", SmallInteger),
        opt("duration", Float),
        opt("message"),
        opt("failure_kind"),
        opt("line", Integer),
        CheckConstraint("outcome BETWEEN 0 AND 3", name="ck_results_outcome"),
        CheckConstraint("retry >= 0", name="ck_results_retry"),
        Index("ix_results_test_run", "test_fk", "run_fk"),
        Index("ix_results_run", "run_fk"),
    )
    counts = ("lines_valid", "lines_covered", "branches_valid", "branches_covered")
    Table(
        "coverage_reports",
        md,
        pk(),
        fk("run_fk", "runs.id"),
        req("producer"),
        req("sources"),
        opt("declared_line_rate", Float),
        req("total_name"),
        *(req(n, Integer) for n in counts),
        Index("ix_coverage_reports_run", "run_fk"),
    )
    Table(
        "coverage_packages",
        md,
        pk(),
        fk("report_fk", "coverage_reports.id"),
        req("name"),
        *(req(n, Integer) for n in counts),
        Index("ix_coverage_packages_report", "report_fk"),
    )
    Table(
        "coverage_files",
        md,
        pk(),
        fk("report_fk", "coverage_reports.id"),
        req("path"),
        req("package"),
        *(req(n, Integer) for n in counts),
        req("covered_lines"),
        req("missed_lines"),
        Index("ix_coverage_files_report", "report_fk"),
    )
    Table(
        "benchmarks",
        md,
        pk(),
        fk("run_fk", "runs.id"),
        req("name"),
        req("bench_group"),
        req("value", Float),
        req("unit"),
        req("statistic"),
        req("direction"),
        opt("spread", Float),
        opt("spread_kind"),
        opt("lower", Float),
        opt("upper", Float),
        Index("ix_benchmarks_run", "run_fk"),
    )
    return md


def _create_v1(conn: Connection) -> None:
    _v1_tables().create_all(conn)


# ---------------------------------------------------------------------------------------------
# Later steps
# ---------------------------------------------------------------------------------------------


def _add_column(conn: Connection, table: str, column: str, type_: TypeEngine[Any]) -> None:
    prep = conn.dialect.identifier_preparer
    conn.exec_driver_sql(
        f"ALTER TABLE {prep.quote(table)} ADD COLUMN {prep.quote(column)} "
        f"{type_.compile(dialect=conn.dialect)}"
    )


def _v2_benchmark_samples(conn: Connection) -> None:
    # The raw samples and iteration counts let the gate test a regression for significance
    # instead of comparing two means; the index serves benchmark_history(name).
    _add_column(conn, "benchmarks", "samples", Text())
    _add_column(conn, "benchmarks", "iterations", BigInteger())
    md = MetaData()
    benchmarks = Table("benchmarks", md, Column("name", Text), Column("run_fk", _PK))
    conn.execute(
        CreateIndex(Index("ix_benchmarks_name_run", benchmarks.c.name, benchmarks.c.run_fk))
    )


def _v3_gate_history(conn: Connection) -> None:
    # The gate's decision per run, and its coverage figures: the coverage ratchet compares with
    # the last *passing* run, which only a stored decision can tell. Frozen once released, like
    # _v1_tables: spelled out here, never taken from tables.py.
    md = MetaData()
    Table("runs", md, Column("id", _PK, primary_key=True))  # only as the foreign keys' target
    decisions = Table(
        "gate_decisions",
        md,
        Column("id", _PK, primary_key=True, autoincrement=True),
        Column("run_fk", _PK, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        Column("passed", Boolean, nullable=False),
        Column("decided_at", DateTime, nullable=False),
        Column("base_ref", Text, nullable=True),
        Column("failures", Integer, nullable=False),
        Column("document", Text, nullable=False),
        UniqueConstraint("run_fk", name="uq_gate_decisions_run"),
    )
    coverage = Table(
        "gate_coverage",
        md,
        Column("id", _PK, primary_key=True, autoincrement=True),
        Column(
            "decision_fk", _PK, ForeignKey("gate_decisions.id", ondelete="CASCADE"), nullable=False
        ),
        Column("subject", Text, nullable=False),
        *(
            Column(n, Integer, nullable=False)
            for n in ("lines_valid", "lines_covered", "branches_valid", "branches_covered")
        ),
        UniqueConstraint("decision_fk", "subject", name="uq_gate_coverage_key"),
    )
    decisions.create(conn)
    coverage.create(conn)


def _v4_api_tokens(conn: Connection) -> None:
    # The API tokens of `gatekeeper serve`: a name, a scope and the SHA-256 of the secret (never
    # the secret). Frozen once released, like the steps before it.
    md = MetaData()
    tokens = Table(
        "api_tokens",
        md,
        Column("id", _PK, primary_key=True, autoincrement=True),
        Column("name", Text, nullable=False),
        Column("scope", Text, nullable=False),
        Column("token_hash", Text, nullable=False),
        Column("created_at", DateTime, nullable=False),
        Column("revoked_at", DateTime, nullable=True),
        Column("last_used_at", DateTime, nullable=True),
        UniqueConstraint("name", name="uq_api_tokens_name"),
        UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
        CheckConstraint("scope IN ('read', 'upload', 'admin')", name="ck_api_tokens_scope"),
    )
    tokens.create(conn)


# PostgreSQL's btree takes at most about 2,700 bytes per index entry: a 3,000-character pytest
# parameter id or a 4,000-character branch failed the insert ("index row size ... exceeds btree
# version 4 maximum 2704"). From version 5 these indexes hold the MD5 of the long text instead
# (equal texts, equal hashes; the unique key still compares whole names through the hash, and a
# lookup filters on the text too). SQLite has no such limit and keeps its indexes.
V5_POSTGRES = (
    "ALTER TABLE tests DROP CONSTRAINT uq_tests_key",
    "CREATE UNIQUE INDEX uq_tests_key ON tests (service, md5(test_id))",
    "DROP INDEX ix_runs_service_branch_time",
    "CREATE INDEX ix_runs_service_branch_time ON runs (service, md5(branch), effective_at)",
    "DROP INDEX ix_benchmarks_name_run",
    "CREATE INDEX ix_benchmarks_name_run ON benchmarks (md5(name), run_fk)",
    "ALTER TABLE gate_coverage DROP CONSTRAINT uq_gate_coverage_key",
    "CREATE UNIQUE INDEX uq_gate_coverage_key ON gate_coverage (decision_fk, md5(subject))",
)


def _v5_long_keys(conn: Connection) -> None:
    # Frozen once released, like the steps before it.
    if conn.dialect.name != "postgresql":
        return
    for statement in V5_POSTGRES:
        conn.exec_driver_sql(statement)


@dataclass(frozen=True, slots=True)
class Step:
    to_version: int
    summary: str
    apply: Callable[[Connection], None]


STEPS: tuple[Step, ...] = (
    Step(1, "initial schema", _create_v1),
    Step(2, "benchmark samples and iterations; index on benchmark names", _v2_benchmark_samples),
    Step(3, "gate decisions and their coverage figures", _v3_gate_history),
    Step(4, "API tokens of gatekeeper serve", _v4_api_tokens),
    Step(
        5,
        "PostgreSQL: long test names, branches and benchmark names indexed by hash",
        _v5_long_keys,
    ),
)
assert [s.to_version for s in STEPS] == list(range(1, SCHEMA_VERSION + 1))


# ---------------------------------------------------------------------------------------------
# Reading and upgrading
# ---------------------------------------------------------------------------------------------


class NotOurs(Exception):
    """The database holds tables, but no gatekeeper schema_meta."""


def read_version(conn: Connection) -> int:
    """The database's schema version: 0 when it is empty; NotOurs when it is someone else's."""
    tables = set(inspect(conn).get_table_names())
    if "schema_meta" not in tables:
        if tables:
            raise NotOurs(", ".join(sorted(tables)[:5]))
        return 0
    meta = Table("schema_meta", MetaData(), Column("key", Text), Column("value", Text))
    value = conn.execute(select(meta.c.value).where(meta.c.key == VERSION_KEY)).scalar()
    if value is None or not str(value).strip().isdigit():
        raise NotOurs(f"schema_meta has no valid {VERSION_KEY} ({value!r})")
    return int(value)


def lock_for_upgrade(conn: Connection) -> None:
    """Serialise upgrades between processes (SQLite's BEGIN IMMEDIATE already does)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_UPGRADE_LOCK})


def upgrade(conn: Connection, *, target: int = SCHEMA_VERSION) -> tuple[int, int]:
    """Apply the steps from the current version to ``target`` inside the caller's transaction.

    Returns (version before, version after). The caller must have called
    :func:`lock_for_upgrade` and checked that the version is not newer than known.
    """
    before = read_version(conn)
    for step in STEPS[before:target]:
        step.apply(conn)
    if target > before:
        meta = Table("schema_meta", MetaData(), Column("key", Text), Column("value", Text))
        if before == 0:
            conn.execute(meta.insert().values(key=VERSION_KEY, value=str(target)))
        else:
            conn.execute(meta.update().where(meta.c.key == VERSION_KEY).values(value=str(target)))
    return before, max(before, target)
