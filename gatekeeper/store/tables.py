"""The current schema (version 5) as SQLModel tables; queries use their Core ``__table__``.

Rows never leave ``gatekeeper.store``. The schema is *created* by ``migrations.py`` (v1's frozen
DDL plus each later step), never from these classes; a test checks that both agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

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
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

# Integer primary keys: INTEGER on SQLite (a rowid alias, so free), BIGINT on PostgreSQL, where
# results of many runs over years can pass 2**31 rows.
PK = BigInteger().with_variant(Integer(), "sqlite")


def _pk() -> Any:
    return Field(default=None, sa_column=Column("id", PK, primary_key=True, autoincrement=True))


def _fk(target: str) -> Any:
    return Field(sa_column=Column(PK, ForeignKey(target, ondelete="CASCADE"), nullable=False))


def _text() -> Any:
    return Field(default=None, sa_column=Column(Text))


def _required_text() -> Any:
    return Field(sa_column=Column(Text, nullable=False))


class SchemaMetaRow(SQLModel, table=True):
    """Key/value facts about the database itself; ``schema_version`` is the one that matters."""

    __tablename__ = "schema_meta"

    key: str = Field(sa_column=Column(Text, primary_key=True))
    value: str = _required_text()


class RunRow(SQLModel, table=True):
    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("service", "run_id", "attempt", name="uq_runs_key"),
        # Long text is indexed by its MD5 on PostgreSQL (schema version 5; migrations.py says why).
        Index("ix_runs_service_branch_time", "service", "branch", "effective_at").ddl_if(
            dialect="sqlite"
        ),
        Index("ix_runs_service_branch_time", "service", text("md5(branch)"), "effective_at").ddl_if(
            dialect="postgresql"
        ),
        Index("ix_runs_effective_at", "effective_at"),
    )

    id: int | None = _pk()
    service: str = _required_text()
    run_id: str = _required_text()
    attempt: int = Field(sa_column=Column(Integer, nullable=False))
    commit_sha: str | None = _text()
    branch: str | None = Field(default=None, sa_column=Column(Text))
    # As the run stated it (nullable); effective_at is run_at or else ingested_at, and is what
    # ordering and "since" use.
    run_at: datetime | None = Field(default=None, sa_column=Column(DateTime))
    effective_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
    ingested_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
    ci_provider: str | None = _text()
    url: str | None = _text()
    tests: int = Field(sa_column=Column(Integer, nullable=False))
    passed: int = Field(sa_column=Column(Integer, nullable=False))
    failed: int = Field(sa_column=Column(Integer, nullable=False))
    errors: int = Field(sa_column=Column(Integer, nullable=False))
    skipped: int = Field(sa_column=Column(Integer, nullable=False))
    retried: int = Field(sa_column=Column(Integer, nullable=False))
    flaky: int = Field(sa_column=Column(Integer, nullable=False))
    warnings: str = _required_text()  # JSON list of strings


class SourceFileRow(SQLModel, table=True):
    __tablename__ = "source_files"
    __table_args__ = (Index("ix_source_files_run", "run_fk"),)

    id: int | None = _pk()
    run_fk: int = _fk("runs.id")
    path: str = _required_text()
    format: str = _required_text()
    sha256: str = _required_text()
    size: int = Field(sa_column=Column(BigInteger, nullable=False))


class TestRow(SQLModel, table=True):
    """The tests dimension: one row per (service, test id) ever seen, so results stay narrow."""

    __test__ = False
    __tablename__ = "tests"
    __table_args__ = (
        UniqueConstraint("service", "test_id", name="uq_tests_key").ddl_if(dialect="sqlite"),
        Index("uq_tests_key", "service", text("md5(test_id)"), unique=True).ddl_if(
            dialect="postgresql"
        ),
    )

    id: int | None = _pk()
    service: str = _required_text()
    test_id: str = _required_text()
    suite: str = _required_text()
    name: str = _required_text()
    file: str | None = _text()
    first_seen: datetime = Field(sa_column=Column(DateTime, nullable=False))


class ResultRow(SQLModel, table=True):
    """One execution of one test in one run; the big table, so only codes and keys."""

    __tablename__ = "results"
    __table_args__ = (
        CheckConstraint("outcome BETWEEN 0 AND 3", name="ck_results_outcome"),
        CheckConstraint("retry >= 0", name="ck_results_retry"),
        Index("ix_results_test_run", "test_fk", "run_fk"),
        Index("ix_results_run", "run_fk"),
    )

    id: int | None = _pk()
    run_fk: int = _fk("runs.id")
    test_fk: int = _fk("tests.id")
    retry: int = Field(sa_column=Column(Integer, nullable=False))
    outcome: int = Field(sa_column=Column(SmallInteger, nullable=False))
    duration: float | None = Field(default=None, sa_column=Column(Float))
    message: str | None = _text()
    failure_kind: str | None = _text()
    line: int | None = Field(default=None, sa_column=Column(Integer))


class CoverageReportRow(SQLModel, table=True):
    __tablename__ = "coverage_reports"
    __table_args__ = (Index("ix_coverage_reports_run", "run_fk"),)

    id: int | None = _pk()
    run_fk: int = _fk("runs.id")
    producer: str = _required_text()
    sources: str = _required_text()  # JSON list of strings
    declared_line_rate: float | None = Field(default=None, sa_column=Column(Float))
    total_name: str = _required_text()
    lines_valid: int = Field(sa_column=Column(Integer, nullable=False))
    lines_covered: int = Field(sa_column=Column(Integer, nullable=False))
    branches_valid: int = Field(sa_column=Column(Integer, nullable=False))
    branches_covered: int = Field(sa_column=Column(Integer, nullable=False))


class CoveragePackageRow(SQLModel, table=True):
    __tablename__ = "coverage_packages"
    __table_args__ = (Index("ix_coverage_packages_report", "report_fk"),)

    id: int | None = _pk()
    report_fk: int = _fk("coverage_reports.id")
    name: str = _required_text()
    lines_valid: int = Field(sa_column=Column(Integer, nullable=False))
    lines_covered: int = Field(sa_column=Column(Integer, nullable=False))
    branches_valid: int = Field(sa_column=Column(Integer, nullable=False))
    branches_covered: int = Field(sa_column=Column(Integer, nullable=False))


class CoverageFileRow(SQLModel, table=True):
    __tablename__ = "coverage_files"
    __table_args__ = (Index("ix_coverage_files_report", "report_fk"),)

    id: int | None = _pk()
    report_fk: int = _fk("coverage_reports.id")
    path: str = _required_text()
    package: str = _required_text()
    lines_valid: int = Field(sa_column=Column(Integer, nullable=False))
    lines_covered: int = Field(sa_column=Column(Integer, nullable=False))
    branches_valid: int = Field(sa_column=Column(Integer, nullable=False))
    branches_covered: int = Field(sa_column=Column(Integer, nullable=False))
    # Range strings such as "1-4,7,9-12" (codec.encode_lines): a tenth of a JSON list's size.
    covered_lines: str = _required_text()
    missed_lines: str = _required_text()


class BenchmarkRow(SQLModel, table=True):
    __tablename__ = "benchmarks"
    __table_args__ = (
        Index("ix_benchmarks_run", "run_fk"),
        # added in schema version 2; by MD5 of the name on PostgreSQL from version 5
        Index("ix_benchmarks_name_run", "name", "run_fk").ddl_if(dialect="sqlite"),
        Index("ix_benchmarks_name_run", text("md5(name)"), "run_fk").ddl_if(dialect="postgresql"),
    )

    id: int | None = _pk()
    run_fk: int = _fk("runs.id")
    name: str = _required_text()
    bench_group: str = _required_text()
    value: float = Field(sa_column=Column(Float, nullable=False))
    unit: str = _required_text()
    statistic: str = _required_text()
    direction: str = _required_text()
    spread: float | None = Field(default=None, sa_column=Column(Float))
    spread_kind: str | None = Field(default=None, sa_column=Column(Text))
    lower: float | None = Field(default=None, sa_column=Column(Float))
    upper: float | None = Field(default=None, sa_column=Column(Float))
    samples: str | None = _text()  # JSON list of floats; added in schema version 2
    iterations: int | None = Field(default=None, sa_column=Column(BigInteger))  # version 2


class GateDecisionRow(SQLModel, table=True):
    """The gate's decision on one run (added in schema version 3); a re-run replaces it."""

    __tablename__ = "gate_decisions"
    __table_args__ = (UniqueConstraint("run_fk", name="uq_gate_decisions_run"),)

    id: int | None = _pk()
    run_fk: int = _fk("runs.id")
    passed: bool = Field(sa_column=Column(Boolean, nullable=False))
    decided_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
    base_ref: str | None = _text()
    failures: int = Field(sa_column=Column(Integer, nullable=False))
    document: str = _required_text()  # the decision as JSON, exactly as the gate wrote it


class GateCoverageRow(SQLModel, table=True):
    """One coverage figure of a decision (version 3): the ratchet's baselines are read here."""

    __tablename__ = "gate_coverage"
    __table_args__ = (
        UniqueConstraint("decision_fk", "subject", name="uq_gate_coverage_key").ddl_if(
            dialect="sqlite"
        ),
        Index("uq_gate_coverage_key", "decision_fk", text("md5(subject)"), unique=True).ddl_if(
            dialect="postgresql"
        ),
    )

    id: int | None = _pk()
    decision_fk: int = _fk("gate_decisions.id")
    subject: str = _required_text()  # a service name, or "overall"
    lines_valid: int = Field(sa_column=Column(Integer, nullable=False))
    lines_covered: int = Field(sa_column=Column(Integer, nullable=False))
    branches_valid: int = Field(sa_column=Column(Integer, nullable=False))
    branches_covered: int = Field(sa_column=Column(Integer, nullable=False))


class ApiTokenRow(SQLModel, table=True):
    """An API token of `gatekeeper serve` (added in schema version 4): its name, scope and the
    SHA-256 of the secret; the secret itself is never stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        UniqueConstraint("name", name="uq_api_tokens_name"),
        UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
        CheckConstraint("scope IN ('read', 'upload', 'admin')", name="ck_api_tokens_scope"),
    )

    id: int | None = _pk()
    name: str = _required_text()
    scope: str = _required_text()
    token_hash: str = _required_text()  # hex SHA-256 of the whole token string
    created_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(DateTime))


def _table(row: type[SQLModel]) -> Table:
    return cast(Table, row.__table__)  # type: ignore[attr-defined]


SCHEMA_META = _table(SchemaMetaRow)
RUNS = _table(RunRow)
SOURCE_FILES = _table(SourceFileRow)
TESTS = _table(TestRow)
RESULTS = _table(ResultRow)
COVERAGE_REPORTS = _table(CoverageReportRow)
COVERAGE_PACKAGES = _table(CoveragePackageRow)
COVERAGE_FILES = _table(CoverageFileRow)
BENCHMARKS = _table(BenchmarkRow)
GATE_DECISIONS = _table(GateDecisionRow)
GATE_COVERAGE = _table(GateCoverageRow)
API_TOKENS = _table(ApiTokenRow)
METADATA = SQLModel.metadata
