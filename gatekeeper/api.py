"""The Gatekeeper object: the one orchestrator, the only place that does file and database I/O."""

from __future__ import annotations

import contextlib
import difflib
import gc
import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import threading
import unicodedata
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple

from gatekeeper import ci, parsers
from gatekeeper.config import DEFAULT_LOCK_TIMEOUT, Settings
from gatekeeper.errors import (
    ConfigError,
    EmptyReportError,
    GatekeeperError,
    InputError,
    ManifestError,
    MassQuarantineError,
    MetadataError,
    NoReportsError,
    RegistryError,
    StoreError,
    UndecidedError,
    UnknownFormatError,
    reason_of,
)
from gatekeeper.model import (
    TOKEN_SCOPES,
    ApiToken,
    BenchmarkJudgement,
    BenchmarkResult,
    BenchmarkSample,
    BurstRun,
    Classification,
    CoverageReport,
    FailureKind,
    FiledTicket,
    GateDecision,
    GateFailure,
    IngestOutcome,
    MassQuarantine,
    ParsedReport,
    PruneOutcome,
    QuarantineEntry,
    Registry,
    RegistryChange,
    Run,
    RunCounts,
    RunMeta,
    RunPoint,
    RunShift,
    ServiceSummary,
    SourceFile,
    TestExecution,
    TestImpact,
    TestResult,
    TestVerdict,
    Ticket,
    WeeklyReport,
    WeekTrend,
)
from gatekeeper.pauses import gc_paused
from gatekeeper.rules import GateConfig

if TYPE_CHECKING:
    from gatekeeper.flaky import ClassifierConfig
    from gatekeeper.store import HistoryStore

Progress = Callable[[int, int], None]  # (done, total)
FORMATS = parsers.FORMATS
#: Results per transaction of a backfill (``ingest --manifest``): memory is bounded by a batch.
BACKFILL_BATCH = 100_000
MAX_ATTEMPT = 10_000  # more re-runs of one CI run than any CI allows: a typo, not an attempt
# In a folder, an empty file with one of these names was meant to be a report: refuse it rather
# than pass it over, so a test step that wrote nothing does not go unnoticed.
_REPORT_SUFFIXES = (".xml", ".json", ".jsonl", ".log", ".txt")

# Directories never worth walking into when a folder of reports is given.
# How many recent runs the ratchet looks through for a green one when no gate decided yet.
_RATCHET_LOOKBACK = 50
_SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", "venv", ".gatekeeper"}
# Build artifacts a service's folder holds beside its reports: setuptools' metadata folders
# (`pricing.egg-info/dependency_links.txt` is empty by design), never a report.
_SKIP_DIR_SUFFIXES = (".egg-info", ".dist-info")
# Criterion keeps the previous run in base/ and the comparison in change/; only new/ is this run.
_CRITERION_SKIP = {"base", "change", "report"}


@dataclass(frozen=True, slots=True)
class MetaFlags:
    """Run metadata given explicitly (flags or a manifest line); None means "find out"."""

    service: str | None = None
    commit: str | None = None
    branch: str | None = None
    run_id: str | None = None
    attempt: int | None = None
    timestamp: datetime | None = None
    # the CI that ran it, as a client in CI found it (an upload carries them; the server's own
    # environment says nothing about the run)
    ci_provider: str | None = None
    ci_url: str | None = None


@dataclass(frozen=True, slots=True)
class ReportFile:
    path: Path
    fmt: str  # "auto" or a format name


# -- errors the HTTP service tells apart (each is still a GatekeeperError: exit code 2) ----------


class OptionError(ConfigError):
    """An option or query parameter with a value gatekeeper does not take."""


class NotFoundError(ConfigError):
    """The test or token asked for does not exist."""


class TokenNameTakenError(ConfigError):
    """A token of that name exists already (perhaps revoked: names are never reused)."""


class UploadTooLargeError(InputError):
    """An uploaded file, or a whole upload, is larger than the server's limit."""


class AuthenticationError(GatekeeperError):
    """No bearer token, or one this server does not accept (unknown, malformed, revoked).

    ``reason`` (and ``token_name``, when the token is known) are for the server's log; neither
    ever holds the secret."""

    kind = "auth"

    def __init__(
        self, message: str, *, reason: str, token_name: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason
        self.token_name = token_name


class PermissionDeniedError(AuthenticationError):
    """A valid token whose scope does not allow the request."""


# -- uploads ------------------------------------------------------------------------------------

MIB = 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_NAME = 255


@dataclass(frozen=True, slots=True)
class Upload:
    """A report sent over HTTP: its name (for messages and the history; never opened as a path
    on the server) and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class OutgoingReport:
    """A report a client sends to the service: the name the local command would show and
    store it under, and the file (read when it is sent, so a retry sends it again)."""

    name: str
    path: Path


@dataclass(frozen=True, slots=True)
class OutgoingRun:
    """One run as ``ingest --server`` and ``gate --server`` send it: its reports, its
    metadata resolved by the client, the report format asked for, and the notes on files the
    client passed over in folders (the run's first warnings, as in a local ingest)."""

    reports: tuple[OutgoingReport, ...]
    meta: RunMeta
    fmt: str
    notes: tuple[str, ...] = ()


MAX_CHANGED_BYTES = 16 * MIB  # the changed lines of a gate upload, as JSON


def changed_lines_json(changed: Mapping[str, frozenset[int]]) -> bytes:
    """The lines a change added, per file, as the gate upload's ``changed_lines`` field:
    ``{"path": [1, 2, 5], ...}`` (sorted, so the same diff is the same bytes)."""
    plain = {path: sorted(lines) for path, lines in sorted(changed.items())}
    return json.dumps(plain, separators=(",", ":")).encode("utf-8")


def parse_changed_lines(data: bytes) -> dict[str, frozenset[int]]:
    """``changed_lines_json``'s output back; OptionError for anything else."""
    hint = 'send {"path/in/repo.py": [12, 13, 40], ...}: the added lines of each changed file'
    if len(data) > MAX_CHANGED_BYTES:
        raise OptionError(
            f"changed_lines: {len(data):,} bytes is more than the limit of "
            f"{size_text(MAX_CHANGED_BYTES)}",
            hint="patch coverage of a change this large says little: leave out --base",
        )
    try:
        plain: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise OptionError("changed_lines: not JSON", hint=hint) from err
    if not isinstance(plain, dict):
        raise OptionError("changed_lines: not a JSON object", hint=hint)
    out: dict[str, frozenset[int]] = {}
    for path, lines in plain.items():
        if not isinstance(lines, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in lines
        ):
            raise OptionError(
                f"changed_lines: {path!r}: not a list of line numbers (whole numbers from 1)",
                hint=hint,
            )
        out[path] = frozenset(lines)
    return out


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """What one upload request may hold (`gatekeeper serve --max-file-mb/--max-request-mb`)."""

    max_file_bytes: int = 50 * MIB
    max_request_bytes: int = 200 * MIB
    max_files: int = 1000

    def check(self, uploads: Sequence[Upload]) -> None:
        """UploadTooLargeError for a file over the limit; NoReportsError for no file."""
        if not uploads:
            raise NoReportsError(
                "no report files given", hint="send the reports as form fields named files"
            )
        if len(uploads) > self.max_files:
            raise UploadTooLargeError(
                "the upload",
                f"{len(uploads):,} files is more than the limit of {self.max_files:,} per request",
                hint="send the run's reports as fewer files, or raise the server's limit",
            )
        for u in uploads:
            if len(u.data) > self.max_file_bytes:
                raise self.file_too_large(u.name, len(u.data))
        total = sum(len(u.data) for u in uploads)
        if total > self.max_request_bytes:
            raise self.request_too_large()

    def file_too_large(self, name: str, size: int) -> UploadTooLargeError:
        return UploadTooLargeError(
            name,
            f"{size:,} bytes is more than the limit of {size_text(self.max_file_bytes)} per file",
            hint="raise the server's --max-file-mb, or leave the file out",
        )

    def request_too_large(self) -> UploadTooLargeError:
        return UploadTooLargeError(
            "the upload",
            f"more than the limit of {size_text(self.max_request_bytes)} per request",
            hint="a run's reports are stored from one request: raise the server's --max-request-mb",
        )


def size_text(n: int) -> str:
    """Bytes for people: ``50 MiB``, ``1.5 MiB``, ``900 KiB``, ``12 bytes``."""
    if n >= MIB:
        return f"{n / MIB:.4g} MiB"
    if n >= 1024:
        return f"{n / 1024:.4g} KiB"
    return f"{n} bytes"


def upload_name(raw: str | None, index: int) -> str:
    """A client's file name made safe to show and store: slashes kept as folders (Criterion's
    ``new/estimates.json`` needs them), but no ``..``, no leading ``/``, no drive letter, no
    control characters, at most 255 characters. It is never used as a path on the server."""
    text = unicodedata.normalize("NFC", raw or "").replace("\\", "/")
    text = _CONTROL.sub("?", text)
    parts = [p for p in text.split("/") if p not in ("", ".", "..")]
    if parts and re.fullmatch(r"[A-Za-z]:", parts[0]):
        parts = parts[1:]
    name = "/".join(parts)
    if len(name) > _MAX_NAME:
        name = "..." + name[-(_MAX_NAME - 3) :]
    return name or f"upload-{index + 1}"


def upload_flags(
    *,
    service: str | None,
    commit: str | None = None,
    branch: str | None = None,
    run_id: str | None = None,
    attempt: str | None = None,
    timestamp: str | None = None,
    ci_provider: str | None = None,
    ci_url: str | None = None,
) -> MetaFlags:
    """Run metadata from an upload's form fields (empty fields count as not given)."""
    number: int | None = None
    if attempt not in (None, ""):
        assert attempt is not None
        text = attempt.strip()
        if not (text.isdigit() and len(text) < 6 and 1 <= int(text) <= MAX_ATTEMPT):
            raise MetadataError(
                f"attempt {attempt!r}: must be a whole number from 1 to {MAX_ATTEMPT:,}"
            )
        number = int(text)
    return MetaFlags(
        service=service or None,
        commit=commit or None,
        branch=branch or None,
        run_id=run_id or None,
        attempt=number,
        timestamp=parse_timestamp(timestamp, "timestamp") if timestamp else None,
        ci_provider=ci_provider or None,
        ci_url=ci_url or None,
    )


def parse_report(data: bytes, shown: str, fmt: str = "auto") -> tuple[ParsedReport, SourceFile]:
    """One report's bytes -> its records and what the history keeps about the file. Files and
    uploads both come through here, so both get the same detection and the same XML
    protections (the parsers refuse DOCTYPEs with entities)."""
    parsed = parsers.parse(data, shown, fmt)
    source = SourceFile(
        path=shown,
        format=parsed.format,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    return parsed, source


# -- API tokens ---------------------------------------------------------------------------------

TOKEN_PATTERN = re.compile(r"gk_(read|upload|admin)_[A-Za-z0-9_-]{43}")
_TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is kept to the minute: no write per request
_SCOPES = ", ".join(TOKEN_SCOPES)


def token_hash(token: str) -> str:
    """The hex SHA-256 of a token: what the store keeps. A token carries 256 random bits, so a
    fast hash is enough (a slow KDF protects guessable passwords; nobody can guess these)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_scope(scope: str) -> str:
    if scope not in TOKEN_SCOPES:
        raise OptionError(f"--scope {scope}: not a token scope", hint=f"choose {_SCOPES}")
    return scope


def parse_timestamp(value: str, where: str) -> datetime:
    """ISO 8601 (a trailing Z allowed); naive times are taken as UTC."""
    try:
        ts = datetime.fromisoformat(value.strip())
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except (ValueError, OverflowError) as err:
        raise MetadataError(
            f"{where}: timestamp {value!r} is not an ISO 8601 time gatekeeper can store",
            hint="write it like 2026-11-27T10:50:00Z",
        ) from err


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, ValueError):  # a dangling link, a loop, no permission, a name too long, NUL
        return False


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _criterion_history(path: Path) -> bool:
    """Criterion's previous run (base/) and comparison (change/): not this run's results."""
    parts = path.parts
    return "criterion" in parts and any(p in _CRITERION_SKIP for p in parts)


def _git(args: Sequence[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return value if out.returncode == 0 and value else None


# The branch of a run stored outside CI and git with neither --commit nor --branch: not a name
# git allows (it has a space), so never the default branch.
NO_COMMIT_BRANCH = "(no commit)"


class Gatekeeper:
    """Everything gatekeeper can do, for the CLI and the HTTP service alike."""

    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.settings = settings
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd or Path.cwd()
        self._store: HistoryStore | None = None
        self._store_lock = threading.Lock()  # the service's request threads share one store
        self._git_cache: dict[tuple[str, ...], str | None] = {}

    def _git(self, *args: str) -> str | None:
        if args not in self._git_cache:
            self._git_cache[args] = _git(args, self.cwd)
        return self._git_cache[args]

    # -- the history ---------------------------------------------------------------------------

    @property
    def store(self) -> HistoryStore:
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    self._store = self._open_store()
        return self._store

    def require_history(self) -> None:
        """For commands that only read the history (classify, report, quarantine show): a
        database that does not exist yet is an error, not an empty history -- a mistyped --db
        would otherwise read nothing and succeed."""
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    self._store = self._open_store(create=False)

    def _open_store(self, *, create: bool = True) -> HistoryStore:
        from gatekeeper.store import open_store  # SQLAlchemy is imported only when needed
        from gatekeeper.store.engine import parse_url

        url = self.settings.db_url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            # a relative SQLite path is relative to this Gatekeeper's working directory
            rel = url[len("sqlite:///") :]
            if rel and rel != ":memory:":
                url = "sqlite:///" + str(self.cwd / rel)
        path = parse_url(url).sqlite_path
        # Only gatekeeper's own folder is made on first use; any other missing folder is a typo
        # or a cache that was not restored, and a new database there would be empty.
        own_folder = path is not None and path.parent.name == ".gatekeeper"
        if (
            create
            and path is not None
            and not path.parent.is_dir()
            and not (own_folder and path.parent.parent.is_dir())
        ):
            raise StoreError(
                f"{path}: the folder {path.parent} does not exist",
                hint="create it first, or check --db / $GATEKEEPER_DB (a SQLite file under "
                ".gatekeeper/ is created with its folder)",
            )
        return open_store(url, lock_timeout=self.settings.lock_timeout, create=create)

    def ready(self) -> int:
        """The schema version of a reachable, current database (opening it upgrades it);
        StoreError when the database cannot be used."""
        from gatekeeper.store import SCHEMA_VERSION

        version = self.store.schema_version()  # a real query, also when the store is open
        if version != SCHEMA_VERSION:  # another process changed it since we opened it
            raise StoreError(
                f"{self.store.url}: schema version {version}, this gatekeeper writes "
                f"{SCHEMA_VERSION}",
                hint="restart the service so that it upgrades the database, or upgrade gatekeeper",
            )
        return version

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- ingest ---------------------------------------------------------------------------------

    def collect(
        self, patterns: Sequence[str], fmt: str = "auto"
    ) -> tuple[list[ReportFile], list[str]]:
        """Files, globs or folders -> report files, and notes on what was passed over.

        A pattern that matches nothing is an error; so is an empty report-like file in a folder.
        """
        if fmt != "auto" and fmt not in parsers.FORMATS:
            raise ConfigError(
                f"--format {fmt}: not a format gatekeeper reads",
                hint="choose one of: auto, " + ", ".join(parsers.FORMATS),
            )
        found: list[ReportFile] = []
        notes: list[str] = []
        seen: set[Path] = set()
        for pattern in patterns:
            try:
                files, note = self._collect_one(pattern, fmt)
            except (OSError, ValueError) as err:  # a name too long, a NUL in it
                raise NoReportsError(
                    f"{pattern[:200]}: not a path gatekeeper can read ({reason_of(err)})",
                    hint="name the report files, globs or folders to read",
                ) from None
            if note:
                notes.append(note)
            for f in files:
                resolved = f.path.resolve()
                if resolved not in seen:
                    seen.add(resolved)
                    found.append(f)
        if not found:
            raise NoReportsError(
                "no report files given", hint="name the report files, globs or folders to read"
            )
        return found, notes

    def _collect_one(self, pattern: str, fmt: str) -> tuple[list[ReportFile], str | None]:
        """The report files of one file, glob or folder, and a note on what was passed over."""
        if not pattern.strip():
            # `gatekeeper ingest "$REPORT"` with REPORT unset would read the whole folder
            raise NoReportsError(
                f"{pattern!r}: an empty report path (an unset variable?)",
                hint="name the report files, globs or folders to read",
            )
        path = self.cwd / pattern
        note = None
        if path.is_dir():
            files, skipped = self._walk(path, fmt)
            if skipped:
                shown = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
                note = (
                    f"{pattern}: passed over {len(skipped)} file(s) that are not reports: {shown}"
                )
            if not files:
                raise NoReportsError(
                    f"{pattern}: the directory holds no report gatekeeper can read",
                    hint="point at the report files, or pass --format",
                )
        elif path.exists() and not _is_regular(path):
            raise NoReportsError(
                f"{pattern}: not a regular file", hint="name the report file itself"
            )
        elif path.is_file():
            files = [ReportFile(path, fmt)]
        elif glob.has_magic(pattern):
            matches = sorted(glob.glob(str(path), recursive=True))
            files = [
                ReportFile(Path(m), fmt)
                for m in matches
                if _is_regular(Path(m)) and not _criterion_history(Path(m))
            ]
            if not files:
                raise NoReportsError(
                    f"{pattern}: the pattern matched no file",
                    hint="did the test step write its reports there?",
                )
        else:
            raise NoReportsError(
                f"{pattern}: no such file or directory",
                hint="did the test step write its report there?",
            )
        return files, note

    def _walk(self, root: Path, fmt: str) -> tuple[list[ReportFile], list[str]]:
        out: list[ReportFile] = []
        skipped: list[str] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(
                d
                for d in dirnames
                if d not in _SKIP_DIRS
                and not d.startswith(".")
                and not d.endswith(_SKIP_DIR_SUFFIXES)
                and not (d in _CRITERION_SKIP and "criterion" in Path(dirpath).parts)
            )
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if not _is_regular(path):  # FIFOs, sockets, dangling links: never opened
                    continue
                if fmt != "auto":
                    out.append(ReportFile(path, fmt))
                    continue
                try:
                    with path.open("rb") as fh:
                        head = fh.read(parsers.HEAD_BYTES)
                    parsers.detect(head, self._display(path))
                except EmptyReportError:
                    if name.lower().endswith(_REPORT_SUFFIXES):
                        raise
                    skipped.append(name)
                    continue
                except (InputError, OSError):
                    skipped.append(name)  # in a folder, files that are not reports are passed over
                    continue
                out.append(ReportFile(path, fmt))
        return out, skipped

    def _display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.cwd))
        except ValueError:
            return str(path)

    def parse_file(self, report: ReportFile) -> tuple[ParsedReport, SourceFile]:
        shown = self._display(report.path)
        try:
            data = report.path.read_bytes()
        except OSError as err:
            raise InputError(
                shown, f"cannot read the file ({err.strerror})", hint="check the path"
            ) from err
        return parse_report(data, shown, report.fmt)

    def _source_of(self, report: ReportFile) -> SourceFile:
        """What the history keeps about a file, read in chunks (nothing is parsed here)."""
        shown = self._display(report.path)
        digest = hashlib.sha256()
        size = 0
        try:
            with report.path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
        except OSError as err:
            raise InputError(
                shown, f"cannot read the file ({err.strerror})", hint="check the path"
            ) from err
        return SourceFile(path=shown, format=report.fmt, sha256=digest.hexdigest(), size=size)

    def outgoing_run(
        self, patterns: Sequence[str], flags: MetaFlags, fmt: str = "auto"
    ) -> OutgoingRun:
        """A run to send to `gatekeeper serve` (``ingest --server``, ``gate --server``).

        The files are found and the metadata resolved here, exactly as ``ingest`` does it
        (flags, else the CI environment, else git, else derived): the server knows nothing of
        this job's CI or checkout. The reports are parsed by the server.
        """
        reports, notes = self.collect(patterns, fmt)
        sources = [self._source_of(r) for r in reports]
        return OutgoingRun(
            reports=tuple(
                OutgoingReport(s.path, r.path) for r, s in zip(reports, sources, strict=True)
            ),
            meta=self.resolve_meta(flags, sources),
            fmt=fmt,
            notes=tuple(notes),
        )

    def outgoing_manifest(self, manifest: Path) -> list[OutgoingRun]:
        """A backfill manifest's runs, to send one by one (``ingest --manifest --server``)."""
        shown = self._display(manifest)
        runs: list[OutgoingRun] = []
        for flags, files in read_manifest(manifest, shown):
            for file in files:
                self._check_manifest_file(shown, file)
            fmt = files[0].fmt
            other = next((f for f in files if f.fmt != fmt), None)
            if other is not None:
                raise ManifestError(
                    shown,
                    f"the lines of run {flags.run_id} of {flags.service} ask for different "
                    f"formats ({fmt!r}, {other.fmt!r}); the service takes one format per run",
                    line=other.line,
                    hint="leave 'format' out (gatekeeper detects it) or ingest locally",
                )
            reports = [ReportFile(f.path, fmt) for f in files]
            sources = [self._source_of(r) for r in reports]
            runs.append(
                OutgoingRun(
                    reports=tuple(
                        OutgoingReport(s.path, r.path)
                        for r, s in zip(reports, sources, strict=True)
                    ),
                    meta=self.resolve_meta(flags, sources, backfill=True),
                    fmt=fmt,
                    notes=(),
                )
            )
        return runs

    def parse_upload(self, upload: Upload, fmt: str = "auto") -> tuple[ParsedReport, SourceFile]:
        """An uploaded report, parsed exactly as a file with the same name would be."""
        return parse_report(upload.data, upload.name, fmt)

    def resolve_meta(
        self, flags: MetaFlags, sources: Sequence[SourceFile], *, backfill: bool = False
    ) -> RunMeta:
        """Flags, else the CI environment, else git, else derived defaults.

        A backfill (manifest) describes past runs: the CI environment and the checkout's git
        state say nothing about them, so only the manifest's own fields count.
        """
        from_ci = ci.CIMeta() if backfill else ci.detect(self.env)
        service = flags.service or self.settings.default_service
        if not service:
            top = self._git("rev-parse", "--show-toplevel")
            service = Path(top).name if top else self.cwd.name
        commit = flags.commit or from_ci.commit
        if commit is None and not backfill:
            commit = self._git("rev-parse", "HEAD")
        branch = flags.branch or from_ci.branch
        if branch is None and flags.commit is None and not backfill:
            git_branch = self._git("rev-parse", "--abbrev-ref", "HEAD")
            branch = git_branch if git_branch not in (None, "HEAD") else None
        if commit is None and branch is None and not backfill and from_ci.provider is None:
            # Outside CI and outside git, with neither --commit nor --branch: a developer's
            # run, which must not count as the default branch's history (NULL would).
            branch = NO_COMMIT_BRANCH
        run_id = flags.run_id or from_ci.run_id
        if not run_id:
            # Outside CI: the same reports of the same service, commit and branch make the same
            # run, so ingesting them again is a no-op.
            digest = hashlib.sha256(f"{service}\0{commit}\0{branch}".encode())
            for sha in sorted(s.sha256 for s in sources):
                digest.update(sha.encode())
            run_id = "local-" + digest.hexdigest()[:12]
        attempt = flags.attempt if flags.attempt is not None else (from_ci.attempt or 1)
        if not 1 <= attempt <= MAX_ATTEMPT:
            raise MetadataError(f"attempt {attempt}: must be between 1 and {MAX_ATTEMPT:,}")
        return RunMeta(
            service=service,
            run_id=run_id,
            attempt=attempt,
            commit=commit,
            branch=branch,
            timestamp=flags.timestamp or datetime.now(UTC),
            ci_provider=flags.ci_provider or from_ci.provider,
            url=flags.ci_url or from_ci.url,
        )

    def build_run(
        self, reports: Sequence[ReportFile], flags: MetaFlags, notes: Sequence[str] = ()
    ) -> Run:
        return self._parse_run(reports, flags, notes)[0]

    def _parse_run(
        self, reports: Sequence[ReportFile], flags: MetaFlags, notes: Sequence[str] = ()
    ) -> tuple[Run, list[ParsedReport]]:
        return self._assemble([self.parse_file(r) for r in reports], flags, notes)

    def _assemble(
        self,
        pairs: Sequence[tuple[ParsedReport, SourceFile]],
        flags: MetaFlags,
        notes: Sequence[str] = (),
        *,
        backfill: bool = False,
    ) -> tuple[Run, list[ParsedReport]]:
        parsed = [p for p, _ in pairs]
        sources = [s for _, s in pairs]
        meta = self.resolve_meta(flags, sources, backfill=backfill)
        return assemble_run(meta, parsed, sources, notes), parsed

    def _parse_uploads(
        self,
        uploads: Sequence[Upload],
        flags: MetaFlags,
        fmt: str,
        limits: UploadLimits,
        notes: Sequence[str] = (),
    ) -> tuple[Run, list[ParsedReport]]:
        """Uploads -> one run. Their metadata is only what the request says: the server's
        environment and working directory say nothing about the run (hence ``backfill``)."""
        if fmt != "auto" and fmt not in parsers.FORMATS:
            raise OptionError(
                f"--format {fmt}: not a format gatekeeper reads",
                hint="choose one of: auto, " + ", ".join(parsers.FORMATS),
            )
        if not flags.service:
            raise MetadataError(
                "service: an upload must name the service its run belongs to",
                hint="send the form field service=NAME",
            )
        limits.check(uploads)
        pairs = [self.parse_upload(u, fmt) for u in uploads]
        return self._assemble(pairs, flags, notes, backfill=True)

    def ingest(
        self, patterns: Sequence[str], flags: MetaFlags, fmt: str = "auto"
    ) -> list[IngestOutcome]:
        """Parse every report first, then store the run in one transaction (all or nothing)."""
        reports, notes = self.collect(patterns, fmt)
        run = self.build_run(reports, flags, notes)
        return self.save([run])

    def ingest_uploads(
        self,
        uploads: Sequence[Upload],
        flags: MetaFlags,
        fmt: str = "auto",
        *,
        limits: UploadLimits | None = None,
        notes: Sequence[str] = (),
    ) -> IngestOutcome:
        """`ingest` for reports sent over HTTP: the same parsing, checks and idempotency.
        ``notes`` are the client's notes on files it passed over (``ingest --server``)."""
        run, _ = self._parse_uploads(uploads, flags, fmt, limits or UploadLimits(), notes)
        return self.save([run])[0]

    def ingest_manifest(
        self, manifest: Path, progress: Progress | None = None, *, batch: int = BACKFILL_BATCH
    ) -> list[IngestOutcome]:
        """Backfill: every line of a JSONL manifest is one run's report.

        The runs are stored in batches of about ``batch`` results, each batch one
        transaction, so that memory does not grow with the manifest. Every file is checked to
        exist before anything is stored; a report that cannot be read later leaves the batches
        before it stored, and the same command run again skips them (a run is recognised by
        its service, run id and attempt, and its reports) and goes on.

        The garbage collector is paused throughout (between two reports it would rescan every
        record of the batch read so far), and run once after each batch.
        """
        with gc_paused():
            return self._ingest_manifest(manifest, progress, batch)

    def _check_manifest_file(self, shown: str, file: ManifestFile) -> None:
        if not _is_regular(file.path):
            problem = "is not a file" if _exists(file.path) else "does not exist"
            raise ManifestError(
                shown,
                f"{self._display(file.path)} {problem}",
                line=file.line,
                hint="paths in a manifest are relative to the manifest's folder",
            )

    def _ingest_manifest(
        self, manifest: Path, progress: Progress | None, batch: int
    ) -> list[IngestOutcome]:
        shown = self._display(manifest)
        entries = list(read_manifest(manifest, shown))
        for _flags, files in entries:
            for file in files:
                self._check_manifest_file(shown, file)
        outcomes: list[IngestOutcome] = []
        runs: list[Run] = []
        results = 0
        total = sum(len(files) for _, files in entries)
        done = 0
        try:
            for flags, files in entries:
                parsed: list[ParsedReport] = []
                sources: list[SourceFile] = []
                for file in files:
                    p, s = self.parse_file(ReportFile(file.path, file.fmt))
                    parsed.append(p)
                    sources.append(s)
                    done += 1
                    if progress:
                        progress(done, total)
                meta = self.resolve_meta(flags, sources, backfill=True)
                runs.append(assemble_run(meta, parsed, sources))
                del parsed
                results += len(runs[-1].tests) + 1
                if results >= batch:
                    outcomes += self.save(runs)
                    runs, results = [], 0
                    # The collector is paused: what the batch's parse left in reference
                    # cycles would otherwise stay until the end, and memory grow with the
                    # manifest. The batch is gone, so this scans little.
                    gc.collect()
            if runs:
                outcomes += self.save(runs)
        except GatekeeperError as err:
            if outcomes:
                stored = f"the {len(outcomes)} run(s) before it are stored: run the same command"
                stored += " again to go on from there"
                err.hint = f"{err.hint}; {stored}" if err.hint else stored
            raise
        return outcomes

    # -- the gate -------------------------------------------------------------------------------

    def gate(
        self,
        patterns: Sequence[str],
        flags: MetaFlags,
        fmt: str = "auto",
        *,
        config: GateConfig,
        registry_path: Path,
        registry_missing_ok: bool,
        base_ref: str | None = None,
        today: date | None = None,
    ) -> GateDecision:
        """Ingest one run (as `ingest` does), then decide on it, and store the decision.

        Everything that can make the gate unable to decide (reports, the registry, the base
        ref) is read before anything is written, so a refused gate leaves no trace. A gate that
        cannot decide on the run's own results (its benchmarks moved together, and
        ``benchmarks.common_shift`` is ``undecided``) stores the run and its decision, then
        raises ``UndecidedError``.
        """
        reports, notes = self.collect(patterns, fmt)
        run, parsed = self._parse_run(reports, flags, notes)
        root = self.repo_root()
        decision = self._decide(
            run,
            parsed,
            config=config,
            registry_path=registry_path,
            registry_missing_ok=registry_missing_ok,
            base_ref=base_ref,
            changed=(lambda: self.changed_lines(base_ref)) if base_ref else None,
            today=today,
            repo_root=root,
        )
        paths = [r.path if r.path.is_absolute() else self.cwd / r.path for r in reports]
        return _failures_from_root(decision, paths, Path(root or self.cwd))

    def repo_root(self) -> str | None:
        """The checkout's top folder (coverage report paths are made relative to it)."""
        return self._git("rev-parse", "--show-toplevel")

    def gate_uploads(
        self,
        uploads: Sequence[Upload],
        flags: MetaFlags,
        fmt: str = "auto",
        *,
        config: GateConfig,
        registry_path: Path,
        registry_missing_ok: bool,
        limits: UploadLimits | None = None,
        today: date | None = None,
        notes: Sequence[str] = (),
        base_ref: str | None = None,
        changed: Mapping[str, frozenset[int]] | None = None,
        repo_root: str | None = None,
    ) -> GateDecision:
        """`gate` for reports sent over HTTP. There is no checkout on the server: patch
        coverage judges the lines the client's `git diff` changed (``changed``, sent with the
        ``base_ref`` they were diffed against), and report paths are made relative to the
        client's ``repo_root`` when it sends one (else taken as they were sent)."""
        if (base_ref is None) != (changed is None):
            raise OptionError(
                "base_ref and changed_lines: send both (patch coverage) or neither",
                hint="gatekeeper gate --server --base REF sends them from the job's git diff",
            )
        run, parsed = self._parse_uploads(uploads, flags, fmt, limits or UploadLimits(), notes)
        lines = dict(changed) if changed is not None else None
        return self._decide(
            run,
            parsed,
            config=config,
            registry_path=registry_path,
            registry_missing_ok=registry_missing_ok,
            base_ref=base_ref,
            changed=(lambda: lines or {}) if base_ref else None,
            today=today,
            repo_root=repo_root,
        )

    def _decide(
        self,
        run: Run,
        parsed: Sequence[ParsedReport],
        *,
        config: GateConfig,
        registry_path: Path,
        registry_missing_ok: bool,
        base_ref: str | None,
        changed: Callable[[], dict[str, frozenset[int]]] | None,
        today: date | None,
        repo_root: str | None,
    ) -> GateDecision:
        from gatekeeper import registry
        from gatekeeper.gate import coverage as gate_coverage
        from gatekeeper.gate import decide as gate_decide
        from gatekeeper.gate import shift as gate_shift
        from gatekeeper.gate import tests as gate_tests

        meta = run.meta
        reg = registry.load(registry_path, missing_ok=registry_missing_ok)
        changed_lines = changed() if changed is not None else None
        outcome = self.save([run])[0]

        key = (meta.service, meta.run_id, meta.attempt)
        branch = config.default_branch
        rules = config.test_rules(meta.service)
        day = today or datetime.now(UTC).date()
        recent = self.store.recent_test_counts(
            meta.service, branch, limit=rules.recent_runs, exclude=key
        )
        tests = gate_tests.judge_tests(
            run.tests,
            service=meta.service,
            entries=[e for e in reg.entries if e.service == meta.service],
            rules=rules,
            today=day,
            recent_counts=recent,
            has_test_reports=has_test_reports(parsed),
            default_branch=branch,
        )
        cov = None
        warnings = [_input_warning(w) for w in (*reg.warnings, *run.warnings)]
        if run.coverage:
            cov = gate_coverage.coverage_outcome(
                run.coverage,
                config,
                meta.service,
                repo_root=repo_root,
                baselines=self._ratchet_baselines(config, meta.service, branch, key, repo_root),
                changed=changed_lines,
            )
        elif base_ref:
            warnings.append(
                GateFailure(
                    FailureKind.INPUT,
                    f"--base {base_ref}",
                    "no coverage report in this run, so patch coverage was not judged",
                    meta.service,
                )
            )
        elif config.service(meta.service) is not None:
            # a configured service's job that lost its coverage report must not pass unremarked
            warnings.append(
                GateFailure(
                    FailureKind.INPUT,
                    meta.service,
                    "no coverage report in this run, so its coverage was not judged (name the "
                    "coverage file among the gate's reports)",
                    meta.service,
                )
            )
        judgements: tuple[BenchmarkJudgement, ...] = ()
        shift = None
        if run.benchmarks:
            window = max(
                config.benchmark_rules(meta.service, b.name).window for b in run.benchmarks
            )
            earlier = self.store.benchmark_baseline_runs(
                meta.service,
                branch,
                window=window,
                exclude=key,
                names={(b.group, b.name) for b in run.benchmarks},
            )
            history = gate_shift.steady_history(earlier, config, meta.service)
            judged = gate_shift.judge_run(run.benchmarks, history, config, meta.service)
            judgements, shift = judged.judgements, judged.shift
        decision = gate_decide.decide(
            meta,
            outcome.counts,
            tests,
            cov,
            judgements,
            warnings=warnings,
            base_ref=base_ref,
            stored=outcome.stored,
            common_shift=shift,
            shift_rules=config.run_benchmark_rules(meta.service),
        )
        from gatekeeper.emit import gate as emit_gate

        self.store.save_decision(
            meta.service,
            meta.run_id,
            meta.attempt,
            passed=decision.passed,
            decided_at=datetime.now(UTC),
            document=json.dumps(emit_gate.json_object(decision), sort_keys=True),
            coverage=decision.coverage,
            base_ref=base_ref,
        )
        if decision.undecided:
            # stored (not as a pass), so the report sees the shift; the job is told to re-run
            raise UndecidedError(decision.undecided)
        return decision

    def _ratchet_baselines(
        self,
        config: GateConfig,
        service: str,
        branch: str,
        key: tuple[str, str, int],
        repo_root: str | None,
    ) -> dict[str, tuple[float, str]]:
        """Coverage of the service's last passing run on the default branch, per subject.

        A run the gate judged counts by its decision. When the gate has never judged a run of
        the service there (a backfilled history), the newest run whose tests all passed and
        which has coverage stands in: the coverage of a red run is not a baseline.
        """
        from gatekeeper.gate import coverage as gate_coverage

        decided = self.store.last_passing_coverage(service, branch, exclude=key)
        if decided or self.store.decisions(service, branch=branch, limit=1):
            return decided
        for run in self.store.runs(service=service, branch=branch, limit=_RATCHET_LOOKBACK):
            m = run.meta
            if (m.service, m.run_id, m.attempt) == key or run.counts.failed or run.counts.errors:
                continue
            reports = self.store.coverage(run.pk)
            if not reports:
                continue
            figures = gate_coverage.coverage_outcome(
                reports, config, service, repo_root=repo_root
            ).figures
            return {f.subject: (f.line_rate, m.run_id) for f in figures if f.line_rate is not None}
        return {}

    def changed_lines(self, base_ref: str) -> dict[str, frozenset[int]]:
        """Lines added or changed since ``base_ref`` (for patch coverage), from real `git diff`."""
        from gatekeeper.gate import patch

        if shutil.which("git") is not None and self._git("rev-parse", "--show-toplevel") is None:
            # outside a repository `git diff` compares files (--no-index) and says something
            # unrelated; say what is wrong
            raise ConfigError(
                f"--base {base_ref}: {self.cwd} is not in a git checkout",
                hint="run the gate from the repository's checkout, or leave out --base",
            )
        args = patch.diff_args(base_ref)
        try:
            proc = subprocess.run(
                ["git", *args],
                cwd=self.cwd,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="surrogateescape",
                check=False,
            )
        except OSError as err:
            raise ConfigError(
                f"--base {base_ref}: cannot run git ({err.strerror})",
                hint="patch coverage needs git on the PATH and a checkout",
            ) from err
        if proc.returncode != 0:
            why = (proc.stderr.strip().splitlines() or ["git diff failed"])[0]
            raise ConfigError(
                f"--base {base_ref}: git cannot diff against it ({why})",
                hint="fetch the base first (actions/checkout with fetch-depth: 0, or "
                "`git fetch origin main`), or leave out --base",
            )
        try:
            return patch.parse_diff(proc.stdout)
        except ValueError as err:
            raise ConfigError(
                f"--base {base_ref}: cannot read git's diff ({err})",
                hint="check the git configuration (diff.external, color.diff) of this checkout",
            ) from err

    def report(
        self,
        *,
        since: datetime,
        until: datetime | None = None,
        service: str | None = None,
        registry_path: Path,
        registry_missing_ok: bool,
        today: date | None = None,
        config: GateConfig | None = None,
        now: datetime | None = None,
        owners_root: Path | None = None,
    ) -> WeeklyReport:
        """The weekly report of the runs in ``[since, until)`` (``until``: now), of one service
        or all: CI health, the flakiest tests, broken tests, quarantines, coverage and
        benchmark trends.

        Reads the registry, runs the classifier over the history (as ``classify`` does, without
        writing anything), reads the period's aggregates from the store, and replays the gate's
        benchmark rule on results of runs the gate did not decide. ``config`` defaults to the
        configuration file found from the working folder (``default_branch``, coverage
        ``max_drop``, benchmark rules); ``today`` (expired quarantines) to the day of ``now``.
        A failing test without an owner in the registry gets the one CODEOWNERS gives it (the
        repository at ``owners_root``, default the one around the working folder).
        """
        from gatekeeper import flaky, registry
        from gatekeeper.gate import shift as gate_shift
        from gatekeeper.report import build_report, history_window, replay_plan

        self.require_history()
        moment = now or datetime.now(UTC)
        end = until or moment
        config = config or load_config(self.cwd, self.env)
        reg = registry.load(registry_path, missing_ok=registry_missing_ok)
        store = self.store
        quarantined = {e.key for e in reg.entries if e.quarantined}
        classification, _read = classify_history(
            self, flaky.ClassifierConfig(default_branch=config.default_branch), service, quarantined
        )
        del _read
        runs = store.report_runs(since=since, until=end, service=service)
        failures = store.report_failures(since=since, until=end, service=service)
        bursts = {(b.service, b.run_id, b.attempt) for b in classification.bursts}
        executions = store.report_execution_counts(
            {(f.service, f.test_id) for f in failures},
            since=since,
            until=end,
            exclude_runs={r.pk for r in runs if r.key in bursts},
        )
        decisions = store.report_decisions(since=since, until=end, service=service)
        branch = config.default_branch
        coverage = store.report_coverage(since=since, until=end, branch=branch, service=service)
        benchmarks = store.report_benchmarks(
            since=since, until=end, branch=branch, lookback=history_window(config), service=service
        )
        judgements: dict[tuple[int, str, str], BenchmarkJudgement] = {}
        shifts: dict[int, RunShift] = {}
        # Run by run, as the gate judges: a run whose benchmarks moved together (a load spike)
        # is judged with the common shift removed, so it is not named as a regression.
        by_run: dict[
            tuple[int, str], list[tuple[BenchmarkSample, Sequence[tuple[int, BenchmarkResult]]]]
        ]
        by_run = {}
        for sample, history in replay_plan(benchmarks, decisions, config, since=since, until=end):
            by_run.setdefault((sample.run_pk, sample.service), []).append((sample, history))
        for (run_pk, run_service), items in by_run.items():
            earlier = {(s.result.group, s.result.name): h for s, h in items}
            judged = gate_shift.judge_run(
                [s.result for s, _ in items],
                gate_shift.steady_history(earlier, config, run_service),
                config,
                run_service,
            )
            for (s, _), j in zip(items, judged.judgements, strict=True):
                judgements[(run_pk, s.result.group, s.result.name)] = j
            if judged.shift is not None:
                shifts[run_pk] = judged.shift
        report = build_report(
            since=since,
            until=end,
            runs=runs,
            failures=failures,
            executions=executions,
            coverage=coverage,
            benchmarks=benchmarks,
            decisions=decisions,
            judgements=judgements,
            classification=classification,
            registry=reg,
            config=config,
            today=today or moment.date(),
            generated_at=moment,
            service=service,
            shifts=shifts,
        )
        report = with_code_owners(self, report, reg, owners_root)
        return replace(report, trend=self._report_trend(end, classification, reg, config, service))

    def _report_trend(
        self,
        until: datetime,
        classification: Classification,
        reg: Registry,
        config: GateConfig,
        service: str | None,
    ) -> tuple[WeekTrend, ...]:
        """The report's last weeks (docs/report.md, "The last weeks"): two more reads of the
        store, the runs and the failed executions of the span."""
        from gatekeeper.report import TREND_WEEKS, weekly_trend

        start = until - timedelta(days=7 * TREND_WEEKS)
        return weekly_trend(
            until=until,
            runs=self.store.report_runs(since=start, until=until, service=service),
            failures=self.store.report_failures(since=start, until=until, service=service),
            classification=classification,
            registry=reg,
            config=config,
            service=service,
        )

    def prune(
        self,
        config: GateConfig,
        *,
        keep_days: int | None = None,
        dry_run: bool = False,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> PruneOutcome:
        """Delete the runs older than ``keep_days`` (else the configuration's
        ``history.keep_days``) but those the gate reads as baselines (the store's
        ``prune``; docs/retention.md). ``dry_run``: count what would go, delete nothing."""
        days = keep_days if keep_days is not None else config.history.keep_days
        if days is None:
            raise ConfigError(
                "prune: neither --keep-days nor history.keep_days in the configuration says how "
                "much history to keep",
                hint="set history.keep_days in gatekeeper.yml, e.g. 90, or pass --keep-days N",
            )
        if days < 1:
            raise OptionError(
                f"--keep-days {days}: keep at least 1 day", hint="e.g. --keep-days 90"
            )
        self.require_history()
        recent = [
            config.tests.recent_runs,
            *(s.tests.recent_runs for s in config.services if s.tests),
        ]
        windows = [
            config.benchmarks.window,
            *(s.benchmarks.window for s in config.services if s.benchmarks),
            *(o.rules.window for o in config.benchmark_overrides),
        ]
        return self.store.prune(
            (now or datetime.now(UTC)) - timedelta(days=days),
            branch=config.default_branch,
            keep_newest=max(_RATCHET_LOOKBACK, *recent),
            benchmark_window=max(windows),
            dry_run=dry_run,
            progress=progress,
        )

    def history_summary(self) -> list[ServiceSummary]:
        """Per service: runs, red runs, the latest counts and coverage, the most failing tests."""
        return _history_summary(self.store)

    def save(self, runs: Sequence[Run]) -> list[IngestOutcome]:
        """Store runs in one transaction. A run already stored from the same reports is skipped
        (and reported as it is stored); one stored from *other* reports is a RunConflictError,
        never a silent loss of the new ones. The store decides both in the transaction that
        inserts, so racing writers of one run cannot both be told their reports were kept."""
        from gatekeeper.store.codec import storable_run  # the store is open: no new imports

        # Names as the store will keep them, so the outcome shows what is stored.
        runs = [storable_run(run) for run in runs]
        kept = self.store.save_runs_kept(runs)
        return [
            outcome_of(run, True) if stored is None else outcome_of(_as_stored(run, stored), False)
            for run, stored in zip(runs, kept, strict=True)
        ]

    # -- API tokens -------------------------------------------------------------------------

    def create_token(self, name: str, scope: str) -> tuple[ApiToken, str]:
        """A new token: its record, and the secret (shown once; only its hash is stored)."""
        if not _TOKEN_NAME.fullmatch(name):
            raise OptionError(
                f"--name {name!r}: a token name is 1 to 64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit",
                hint="name it after who uses it, e.g. ci-user-service",
            )
        check_scope(scope)
        secret = f"gk_{scope}_{secrets.token_urlsafe(32)}"  # 32 random bytes: 43 characters
        token = self.store.add_token(name, scope, token_hash(secret), datetime.now(UTC))
        if token is None:
            old = self.store.token(name)
            when = f", revoked {old.revoked_at:%Y-%m-%d}" if old and old.revoked_at else ""
            raise TokenNameTakenError(
                f"token {name}: the name is taken{when}",
                hint="names are never reused: choose another, e.g. " + f"{name}-2",
            )
        return token, secret

    def tokens(self) -> list[ApiToken]:
        return self.store.tokens()

    def revoke_token(self, name: str) -> ApiToken:
        """Revoke a token at once, for every replica (they check the database per request)."""
        token = self.store.revoke_token(name, datetime.now(UTC))
        if token is None:
            raise NotFoundError(
                f"token {name}: no such token", hint="gatekeeper token list shows the names"
            )
        return token

    def authenticate(self, authorization: str | None, needed: str) -> ApiToken:
        """The token of an ``Authorization: Bearer ...`` header, if it allows ``needed``.

        AuthenticationError (HTTP 401) when there is no token or it is not one this server
        accepts; PermissionDeniedError (403) when its scope is too small.
        """
        check_scope(needed)
        hint = (
            "send Authorization: Bearer gk_...; an admin makes tokens with gatekeeper token create"
        )
        scheme, _, secret = (authorization or "").strip().partition(" ")
        secret = secret.strip()
        if not authorization or scheme.lower() != "bearer" or not secret:
            raise AuthenticationError("no bearer token", reason="missing", hint=hint)
        if not TOKEN_PATTERN.fullmatch(secret):
            raise AuthenticationError(
                "the bearer token is not a gatekeeper token (gk_<scope>_<43 characters>)",
                reason="malformed",
                hint=hint,
            )
        token = self.store.find_token(token_hash(secret))
        if token is None:
            raise AuthenticationError(
                "the bearer token is not known to this server", reason="unknown", hint=hint
            )
        if token.revoked_at is not None:
            raise AuthenticationError(
                f"the bearer token {token.name!r} was revoked on {token.revoked_at:%Y-%m-%d}",
                reason="revoked",
                token_name=token.name,
                hint="ask an admin for a new token",
            )
        if not token.allows(needed):
            raise PermissionDeniedError(
                f"the token {token.name!r} has the scope {token.scope}; this needs {needed}",
                reason="scope",
                token_name=token.name,
                hint=f"use a token made with --scope {needed} (scopes: {_SCOPES}, each allowing "
                "what the ones before it allow)",
            )
        now = datetime.now(UTC)
        if token.last_used_at is None or now - token.last_used_at >= _TOUCH_EVERY:
            self.store.touch_token(token.name, now, older_than=now - _TOUCH_EVERY)
        return token


def _failures_from_root(
    decision: GateDecision, reports: Sequence[Path], root: Path
) -> GateDecision:
    """A failed test's file as the repository names it. cargo writes source paths relative to
    its workspace (`crates/orders-core/src/lib.rs`), and the workspace may be a folder of the
    repository (`services/orders/`): the file is looked for in the folders above each report,
    up to the repository's root, so an annotation lands on the file."""
    root = root.resolve()

    def from_root(file: str | None) -> str | None:
        if not file or Path(file).is_absolute() or (root / file).is_file():
            return file
        for report in reports:
            folder = report.resolve().parent
            while folder != root and root in folder.parents:
                if (folder / file).is_file():
                    return (folder / file).relative_to(root).as_posix()
                folder = folder.parent
        return file

    failures = tuple(replace(f, file=from_root(f.file)) for f in decision.failures)
    return replace(decision, failures=failures)


def assemble_run(
    meta: RunMeta,
    parsed: Sequence[ParsedReport],
    sources: Sequence[SourceFile],
    notes: Sequence[str] = (),
) -> Run:
    """One run from the reports of one job.

    A file whose content is already in the run (the same report twice) is left out. A test
    that appears in several files is one test run several times: the later files' executions
    are numbered on as retries, so the history never holds two "first" executions of a test.
    """
    tests: list[TestResult] = []
    coverage: list[CoverageReport] = []
    benchmarks: list[BenchmarkResult] = []
    warnings: list[str] = list(notes)
    kept_sources: list[SourceFile] = []
    seen_content: set[str] = set()
    next_retry: dict[str, int] = {}
    for p, source in zip(parsed, sources, strict=True):
        if source.sha256 in seen_content:
            warnings.append(
                f"{source.path}: the same content as another report of this run: read once"
            )
            continue
        seen_content.add(source.sha256)
        kept_sources.append(source)
        file_tests = p.tests
        repeated = [r for r in file_tests if r.test_id in next_retry]
        if repeated:
            warnings.append(
                f"{source.path}: {len(repeated)} test execution(s) of tests already in another "
                f"report of this run (first: {repeated[0].test_id!r}); stored as re-runs"
            )
            file_tests = tuple(
                replace(r, retry=r.retry + next_retry[r.test_id]) if r.test_id in next_retry else r
                for r in file_tests
            )
        file_next: dict[str, int] = {}
        for r in file_tests:
            if r.retry + 1 > file_next.get(r.test_id, 0):
                file_next[r.test_id] = r.retry + 1
        next_retry.update(file_next)
        tests.extend(file_tests)
        coverage.extend(p.coverage)
        benchmarks.extend(p.benchmarks)
        warnings.extend(p.warnings)
    sources = kept_sources
    if has_test_reports(parsed) and not tests:
        warnings.append(
            f"{meta.service}: the run has test reports but no tests: a run with no tests is "
            "suspicious (did the test step run?)"
        )
    return Run(
        meta=meta,
        sources=tuple(sources),
        tests=tuple(tests),
        coverage=tuple(coverage),
        benchmarks=tuple(benchmarks),
        warnings=tuple(warnings),
    )


_NON_TEST_FORMATS = {
    "cobertura",
    "criterion",
    "criterion-json",
    "pytest-benchmark",
    "google-benchmark",
    "go-bench",
}


def has_test_reports(parsed: Sequence[ParsedReport]) -> bool:
    """Whether any report was meant to hold tests (a `cargo bench` log holds only benchmarks)."""
    return any(p.format not in _NON_TEST_FORMATS and (p.tests or not p.benchmarks) for p in parsed)


def _input_warning(text: str) -> GateFailure:
    """A reader's note ("path:line: what") as a gate warning about that input."""
    subject, sep, rest = text.partition(": ")
    return GateFailure(FailureKind.INPUT, subject, rest if sep else text)


def _as_stored(run: Run, stored: RunMeta) -> Run:
    """A run that was already stored, described by what is stored: when this ingest gave it
    another commit or branch, say so instead of printing metadata that was not kept. (Times
    are not compared: without --timestamp a run's time is when it was ingested.)"""
    given = run.meta
    differ = [
        f"{what} {new}"
        for what, new, old in (
            ("commit", given.commit, stored.commit),
            ("branch", given.branch, stored.branch),
        )
        if new is not None and new != old
    ]
    if not differ:
        return replace(run, meta=stored)
    note = (
        f"{given.service} run {given.run_id} attempt {given.attempt} was already stored with "
        f"commit {stored.commit or '(none)'} on branch {stored.branch or '(none)'}; the "
        f"{' and '.join(differ)} given now were not used"
    )
    return replace(run, meta=stored, warnings=(*run.warnings, note))


def outcome_of(run: Run, stored: bool) -> IngestOutcome:
    valid = sum(c.total.lines_valid for c in run.coverage)
    covered = sum(c.total.lines_covered for c in run.coverage)
    return IngestOutcome(
        meta=run.meta,
        counts=RunCounts.of(run.tests),
        coverage_files=sum(len(c.files) for c in run.coverage),
        line_rate=covered / valid if valid else None,
        benchmarks=len(run.benchmarks),
        stored=stored,
        warnings=run.warnings,
    )


class ManifestFile(NamedTuple):
    """One report of a manifest: its path, the format its line asks for, and that line."""

    path: Path
    fmt: str
    line: int


_DIGITS = re.compile(r"[0-9]{1,6}")  # ASCII digits only: str.isdigit() takes "²"
_MANIFEST_KEYS = (
    "path", "paths", "service", "run_id", "commit", "branch", "timestamp", "attempt", "format",
)  # fmt: skip


def read_manifest(manifest: Path, shown: str) -> Iterator[tuple[MetaFlags, list[ManifestFile]]]:
    """Yield (metadata, report files) per run; lines of the same run are merged."""
    from gatekeeper.files import read_regular

    try:
        raw = read_regular(manifest)  # a FIFO is refused, not waited on
        # utf-8-sig: Windows PowerShell writes a byte order mark; lines as read_text splits them
        text = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as err:
        bad_line = raw[: err.start].count(b"\n") + 1
        raise ManifestError(
            shown, f"not UTF-8 text (byte {err.start})", line=bad_line, hint="save it as UTF-8"
        ) from err
    except OSError as err:
        raise ManifestError(
            shown, f"cannot read the manifest ({err.strerror})", hint="check the path"
        ) from err
    runs: dict[tuple[str, str, int], tuple[MetaFlags, list[ManifestFile]]] = {}
    base = manifest.parent
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            obj: Any = json.loads(line)
        except json.JSONDecodeError as err:
            raise ManifestError(
                shown, f"not a JSON object ({err.msg})", line=lineno, hint="one object per line"
            ) from err
        except (ValueError, RecursionError) as err:  # a 5,000-digit number, [[[[...]]]]
            raise ManifestError(shown, "not a JSON object a manifest holds", line=lineno) from err
        if not isinstance(obj, dict):
            raise ManifestError(shown, "not a JSON object", line=lineno)
        flags, files = _manifest_entry(obj, shown, lineno, base)
        assert flags.service is not None and flags.run_id is not None
        key = (flags.service, flags.run_id, flags.attempt or 1)
        if key in runs:
            earlier = runs[key][0]
            if (earlier.commit, earlier.branch, earlier.timestamp) != (
                flags.commit,
                flags.branch,
                flags.timestamp,
            ):
                raise ManifestError(
                    shown,
                    f"run {flags.run_id} attempt {key[2]} of {flags.service} is listed again "
                    "with another commit, branch or timestamp",
                    line=lineno,
                    hint="lines of one run must agree; give different runs different run_ids",
                )
            have = {f.path for f in runs[key][1]}
            runs[key][1].extend(f for f in files if f.path not in have)
        else:
            runs[key] = (flags, files)
    if not runs:
        raise ManifestError(shown, "the manifest lists no reports")
    yield from runs.values()


def _manifest_entry(
    obj: dict[str, Any], shown: str, lineno: int, base: Path
) -> tuple[MetaFlags, list[ManifestFile]]:
    for key in obj:
        if key not in _MANIFEST_KEYS:
            close = difflib.get_close_matches(str(key), _MANIFEST_KEYS, n=1)
            raise ManifestError(
                shown,
                f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
                line=lineno,
                hint="the keys are " + ", ".join(_MANIFEST_KEYS),
            )

    def text(key: str, required: bool = False) -> str | None:
        value = obj.get(key)
        if value is None or value == "":
            if required:
                raise ManifestError(shown, f"missing {key!r}", line=lineno)
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise ManifestError(shown, f"{key!r} must be a string", line=lineno)
        return value

    raw_paths = obj.get("paths", obj.get("path"))
    if isinstance(raw_paths, str):
        raw_paths = [raw_paths]
    if (
        not isinstance(raw_paths, list)
        or not raw_paths
        or not all(isinstance(p, str) for p in raw_paths)
    ):
        raise ManifestError(shown, "missing 'path' (a string, or 'paths': a list)", line=lineno)
    attempt_raw = obj.get("attempt")
    if attempt_raw is None:  # as for every other key, null is absent
        attempt_raw = 1
    if isinstance(attempt_raw, str) and _DIGITS.fullmatch(attempt_raw):
        attempt_raw = int(attempt_raw)
    if (
        not isinstance(attempt_raw, int)
        or isinstance(attempt_raw, bool)
        or not 1 <= attempt_raw <= MAX_ATTEMPT
    ):
        raise ManifestError(
            shown, f"'attempt' must be a whole number from 1 to {MAX_ATTEMPT:,}", line=lineno
        )
    ts = text("timestamp")
    flags = MetaFlags(
        service=text("service", required=True),
        commit=text("commit"),
        branch=text("branch"),
        run_id=text("run_id", required=True),
        attempt=attempt_raw,
        timestamp=parse_timestamp(ts, f"{shown}:{lineno}") if ts else None,
    )
    fmt = text("format") or "auto"
    if fmt != "auto" and fmt not in parsers.FORMATS:
        raise UnknownFormatError(shown, f"unknown format {fmt!r}", line=lineno)
    for raw in raw_paths:
        if not raw or "\x00" in raw:
            raise ManifestError(shown, f"{raw!r} is not a path", line=lineno)
    return flags, [ManifestFile(base / p, fmt, lineno) for p in raw_paths]


def fresh_sqlite_url(folder: Path) -> str:
    """A new, empty SQLite database file in ``folder`` (the demo's): old files are removed."""
    db_file = folder / "demo.db"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(db_file) + suffix).unlink(missing_ok=True)
    except OSError as err:
        raise ConfigError(
            f"{folder}: cannot make a fresh demo database there ({err.strerror})",
            hint="pass --dir with a folder you can write to",
        ) from err
    return f"sqlite:///{db_file.resolve()}"


def fresh_demo_registry(folder: Path) -> Path:
    """The demo's registry file in ``folder``, removed if an earlier demo left one."""
    path = folder / "flaky-tests.yml"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
    except OSError as err:
        raise ConfigError(
            f"{folder}: cannot make a fresh demo registry there ({err.strerror})",
            hint="pass --dir with a folder you can write to",
        ) from err
    return path


@dataclass(frozen=True, slots=True)
class DemoPush:
    """The sample's next push (sample_reports/next/): what the demo gates."""

    reports: Path
    flags: MetaFlags
    config: GateConfig
    day: date | None
    shown: str
    config_shown: str
    flags_shown: str


def demo_next_push() -> DemoPush:
    """The next push's reports, its metadata (next/meta.json) and the sample configuration."""
    root = sample_reports_dir()
    reports = root / "next" / "user-service"
    meta = json.loads((root / "next" / "meta.json").read_text(encoding="utf-8"))
    stamp = parse_timestamp(meta["timestamp"], "next/meta.json: timestamp")
    flags = MetaFlags(
        service=meta["service"],
        commit=meta["commit"],
        branch=meta["branch"],
        run_id=str(meta["run_id"]),
        attempt=int(meta["attempt"]),
        timestamp=stamp,
    )
    config_path = root / "gatekeeper.yml"
    from gatekeeper.config.file import load_config as load_file

    shown = (
        f"--service {flags.service} --commit {str(flags.commit)[:12]} --branch {flags.branch} "
        f"--run-id {flags.run_id} --timestamp {meta['timestamp']}"
    )
    return DemoPush(
        reports=reports,
        flags=flags,
        config=load_file(config_path),
        day=stamp.date(),
        shown="sample_reports/next/user-service",
        config_shown="sample_reports/gatekeeper.yml",
        flags_shown=shown,
    )


def sample_reports_dir() -> Path:
    """The bundled sample history (a source checkout's top-level sample_reports/)."""
    here = Path(__file__).resolve().parent.parent / "sample_reports"
    if not (here / "manifest.jsonl").is_file():
        raise NoReportsError(
            f"{here}: the bundled sample reports are missing",
            hint="run the demo from a source checkout: pip install -e . in the repository",
        )
    return here


def _history_summary(store: HistoryStore, top: int = 5) -> list[ServiceSummary]:
    out: list[ServiceSummary] = []
    for service in store.services():
        runs = store.runs(service=service)  # newest first
        if not runs:
            continue
        ranked = store.failure_tally(service, limit=top)
        line_rate: float | None = None
        benchmarks = 0
        for r in runs:
            reports = store.coverage(r.pk)
            if reports:
                valid = sum(c.total.lines_valid for c in reports)
                covered = sum(c.total.lines_covered for c in reports)
                line_rate = covered / valid if valid else None
                break
        for r in runs:
            bench = store.benchmarks(r.pk)
            if bench:
                benchmarks = len(bench)
                break
        stamps = [r.meta.timestamp for r in runs if r.meta.timestamp]
        out.append(
            ServiceSummary(
                service=service,
                runs=len(runs),
                red_runs=sum(1 for r in runs if r.counts.failed or r.counts.errors),
                first=min(stamps) if stamps else None,
                last=max(stamps) if stamps else None,
                latest=runs[0].counts,
                line_rate=line_rate,
                benchmarks=benchmarks,
                most_failing=tuple(ranked),
            )
        )
    return out


# -- the quarantine registry ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuarantineView:
    """What `quarantine list` shows: the entries asked for, and the expired quarantines."""

    path: str
    entries: tuple[QuarantineEntry, ...]
    expired: tuple[QuarantineEntry, ...]
    warnings: tuple[str, ...]
    registry: Registry  # the entries shown, as a registry (for --format yaml)


def parse_report_period(
    since: str, until: str | None = None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """``--since`` (7d, 2w, 24h, or an ISO date or time) and ``--until`` (default: now) as the
    report's period ``[since, until)`` in UTC."""
    from gatekeeper.report import parse_period

    return parse_period(since, until, now=now or datetime.now(UTC))


def load_config(cwd: Path, env: Mapping[str, str], explicit: Path | None = None) -> GateConfig:
    """The gate's configuration: --config, else $GATEKEEPER_CONFIG, else the nearest
    gatekeeper.yml or pyproject.toml [tool.gatekeeper]; the defaults when there is none."""
    from gatekeeper.config.file import resolve_config

    return resolve_config(cwd, env, explicit)


def no_commit_warning(
    service: str, run_id: str, commit: str | None, branch: str | None
) -> str | None:
    """What to say about a run stored without a commit (the CLI prints it, locally and with
    --server alike)."""
    if commit is not None:
        return None
    text = (
        f"{service} run {run_id}: no commit (none from CI or git, no --commit): stored without one"
    )
    if branch == NO_COMMIT_BRANCH:
        text += f", on the branch {NO_COMMIT_BRANCH!r}: never default-branch history"
        text += " (pass --commit and --branch)"
    return text


def check_service(config: GateConfig, service: str | None, flag: str = "--service") -> None:
    """A service named on the command line must be one the configuration lists, when it lists
    any: a misspelt name would start a new history, or skip nothing."""
    names = [s.name for s in config.services]
    if service is None or not names or service in names:
        return
    close = difflib.get_close_matches(service, names, n=1, cutoff=0.6)
    close = close or [n for n in names if service in n or n in service][:1]
    where = Path(config.source).name if config.source else "the configuration"
    hint = f"did you mean {close[0]}?" if close else "use one of: " + ", ".join(sorted(names))
    raise ConfigError(
        f"{flag} {service}: not a service of {where}",
        hint=f"{hint} A new service goes under `services:` in {where} first",
    )


def unnamed_service_note(config: GateConfig, service: str) -> str | None:
    """With services configured and no --service: which service the run was stored under."""
    if not config.services:
        return None
    where = Path(config.source).name if config.source else "the configuration"
    known = "" if config.service(service) else f", which is not a service of {where}"
    return (
        f"no --service: the run is stored under {service!r} (the checkout's folder name)"
        f"{known}; pass --service NAME"
    )


def config_and_registry(
    cwd: Path, env: Mapping[str, str], config: Path | None, registry: str | None
) -> tuple[GateConfig, Path, bool]:
    """The configuration (``--config``, else found) and the registry it leads to:
    ``--registry`` > ``$GATEKEEPER_REGISTRY`` > the configuration's ``registry`` > the default
    (``registry_location``), with whether a missing registry file means "no quarantines"."""
    settings_config = load_config(cwd, env, config)
    configured = settings_config.registry if settings_config.source else None
    path, missing_ok = registry_location(registry, env, cwd, configured)
    return settings_config, path, missing_ok


def registry_location(
    flag: str | None, env: Mapping[str, str], cwd: Path, configured: str | None = None
) -> tuple[Path, bool]:
    """The registry file and whether a missing file is an empty registry.

    ``--registry`` > ``$GATEKEEPER_REGISTRY`` > the configuration file's ``registry`` > the
    default name. A path the user named on the command line or in the environment must exist;
    the configured or default one may be missing (no quarantines yet).
    """
    from gatekeeper.registry import DEFAULT_NAME

    named = flag or env.get("GATEKEEPER_REGISTRY")
    path = Path(named or configured or DEFAULT_NAME)
    if not path.is_absolute() and cwd.resolve() != Path.cwd().resolve():
        path = cwd / path  # relative to the caller's folder; messages then show the full path
    return path, not named


def quarantine_view(
    path: Path,
    missing_ok: bool,
    *,
    service: str | None = None,
    include_released: bool = False,
    today: date | None = None,
) -> QuarantineView:
    """The registry's quarantines (or all its entries), reading only the YAML file."""
    from gatekeeper import registry

    reg = registry.load(path, missing_ok=missing_ok)
    entries = tuple(
        e
        for e in reg.entries
        if (service is None or e.service == service) and (include_released or e.quarantined)
    )
    day = today or datetime.now(UTC).date()
    late = tuple(e for e in registry.expired(reg, day) if e in entries and e.quarantined)
    return QuarantineView(
        path=str(path),
        entries=entries,
        expired=late,
        warnings=reg.warnings,
        registry=replace(reg, entries=entries),
    )


def quarantine_add(
    path: Path,
    missing_ok: bool,
    *,
    name: str,
    service: str,
    reason: str,
    issue: str | None = None,
    owner: str | None = None,
    expires: date | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> QuarantineEntry:
    """Quarantine a test by hand (pinned: classify never releases it) and save the file.
    Read, change and write happen under the registry's lock, and the file is read back: an
    edit that did not land is an error, never reported as done."""
    from gatekeeper import registry

    with registry.locked(path, timeout=lock_timeout):
        reg = registry.load(path, missing_ok=missing_ok)
        new = registry.add_manual(reg, name, service, reason, issue, owner, expires)
        registry.save(path, new)
        entry = registry.load(path).find(service, name)
    if entry is None or entry != new.find(service, name):
        raise RegistryError(
            str(path),
            f"{name} in {service}: the entry is not in the file after writing it",
            hint="another program rewrote the file meanwhile; check it and add the entry again",
        )
    return entry


def quarantine_remove(
    path: Path,
    missing_ok: bool,
    *,
    name: str,
    service: str,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> None:
    """Take a test out of the registry and save the file (under the registry's lock)."""
    from gatekeeper import registry

    with registry.locked(path, timeout=lock_timeout):
        reg = registry.load(path, missing_ok=missing_ok)
        registry.save(path, registry.remove(reg, name, service))


def registry_lock_timeout(env: Mapping[str, str]) -> float:
    """How long a registry edit waits for another one: GATEKEEPER_LOCK_TIMEOUT, checked as
    for the database (the one setting for both)."""
    from gatekeeper.config import resolve

    return resolve({k: v for k, v in env.items() if k == "GATEKEEPER_LOCK_TIMEOUT"}).lock_timeout


def registry_yaml(view: QuarantineView) -> str:
    """The entries of a view as a registry file (`quarantine list --format yaml`)."""
    from gatekeeper import registry

    return registry.dump(view.registry)


@dataclass(frozen=True, slots=True)
class Output:
    """A listing as the CLI prints it, for the CLI and the HTTP service alike."""

    text: str  # exactly what the CLI prints on stdout
    media_type: str  # what the service sends it as
    warnings: tuple[str, ...] = ()  # what the CLI prints on stderr, each as "warning: ..."


def _view_warnings(view: QuarantineView) -> list[str]:
    return [
        *view.warnings,
        *(
            f"{e.name} in {e.service}: the quarantine expired on {e.expires} (renew or fix it)"
            for e in view.expired
        ),
    ]


LIST_FORMATS = ("table", "json", "yaml")


def quarantine_list_output(
    path: Path,
    missing_ok: bool,
    *,
    fmt: str = "table",
    service: str | None = None,
    include_released: bool = False,
) -> Output:
    """`gatekeeper quarantine list`: a table, JSON or the registry's YAML."""
    from gatekeeper.emit.quarantine import json_list, table

    if fmt not in LIST_FORMATS:
        raise OptionError(f"--format {fmt}: not a list format", hint="choose table, json or yaml")
    view = quarantine_view(path, missing_ok, service=service, include_released=include_released)
    warnings = tuple(_view_warnings(view))
    if fmt == "json":
        text = json.dumps(json_list(view.entries, view.expired), indent=2) + "\n"
        return Output(text, "application/json", warnings)
    if fmt == "yaml":
        text = registry_yaml(view)
        return Output(text if text.endswith("\n") else text + "\n", "application/yaml", warnings)
    return Output(table(view.entries, view.expired), "text/plain", warnings)


def skip_list_output(
    path: Path, missing_ok: bool, *, fmt: str = "text", service: str | None = None
) -> Output:
    """`gatekeeper skip-list`: the quarantined tests as a test runner takes them."""
    from gatekeeper.emit import skiplist

    if fmt not in skiplist.FORMATS:
        raise OptionError(
            f"--format {fmt}: not a skip-list format", hint="choose " + ", ".join(skiplist.FORMATS)
        )
    if fmt in skiplist.RUNNER_FORMATS and service is None:
        raise OptionError(
            f"--format {fmt} needs --service",
            hint="a runner's skip list is one service's: the same test id may be quarantined "
            "in one service and healthy in another",
        )
    view = quarantine_view(path, missing_ok, service=service)
    warnings = _view_warnings(view)
    if fmt == "json":
        text = json.dumps(skiplist.json_list(view.entries), indent=2) + "\n"
        return Output(text, "application/json", tuple(warnings))
    result = skiplist.runner(fmt, view.entries)
    return Output(result.text, "text/plain", (*warnings, *result.warnings))


def quarantined_per_service(path: Path, missing_ok: bool) -> dict[str, int]:
    """How many tests of each service the registry quarantines (for the service's metrics)."""
    counts: dict[str, int] = {}
    for e in quarantine_view(path, missing_ok).entries:
        counts[e.service] = counts.get(e.service, 0) + 1
    return counts


def parse_date(value: str, where: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as err:
        raise MetadataError(f"{where}: {value!r} is not a date", hint="write YYYY-MM-DD") from err


# -- classification -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClassifyOutcome:
    """What `gatekeeper classify` found and did."""

    path: str
    verdicts: tuple[TestVerdict, ...]
    bursts: tuple[BurstRun, ...]
    changes: tuple[RegistryChange, ...]
    diff: str  # with dry_run: the unified diff of the registry file (empty when no change)
    written: bool
    refused: tuple[MassQuarantine, ...] = ()  # services left as they were (mass quarantine)

    def check_refused(self) -> None:
        """Raise MassQuarantineError (exit 2) when a service was refused."""
        refuse(self.refused)


def refuse(refused: Sequence[MassQuarantine] | Sequence[str]) -> None:
    """MassQuarantineError naming every refused service (one ``;``-separated line)."""
    if refused:
        lines = [r if isinstance(r, str) else r.describe() for r in refused]
        raise MassQuarantineError(
            "; ".join(lines),
            hint="check those runs; if the tests are truly flaky, run classify again with "
            "--allow-mass-quarantine",
        )


class RegistryUploadError(InputError):
    """A registry a client sent (``classify --server``) cannot be read: the client's own file,
    so a 422 with the reader's message, not the 500 of the server's broken registry."""

    def __init__(self, err: RegistryError) -> None:
        GatekeeperError.__init__(self, err.message, hint=err.hint)
        self.path = err.where
        self.line = err.line
        self.problem = err.problem


@dataclass(frozen=True, slots=True)
class RegistryUpdate:
    """The registry text in, classify's verdicts and the new registry text out (no file I/O):
    what `classify` does to a registry file, for the CLI and the service alike."""

    source: str  # the file as messages name it
    verdicts: tuple[TestVerdict, ...]
    bursts: tuple[BurstRun, ...]
    changes: tuple[RegistryChange, ...]
    registry: Registry  # the new registry
    original: str | None  # the file's text before (\n line ends), None when there was none
    text: str | None  # the new file text when something changed (None: nothing to write)
    diff: str  # the unified diff from original to text (empty when nothing changed)
    refused: tuple[MassQuarantine, ...] = ()  # services left as they were (mass quarantine)

    def report(self, *, written: bool, dry_run: bool) -> str:
        """What `gatekeeper classify` prints after the diff: the changes, broken tests, bursts."""
        from gatekeeper.emit.classify import report

        return report(
            self.source,
            self.verdicts,
            self.bursts,
            self.changes,
            written=written,
            dry_run=dry_run,
        )


OwnerLookup = Callable[[Sequence[tuple[str, str]]], Mapping[tuple[str, str], str]]

_WALK_SKIP = frozenset({".git", "target", "node_modules", ".venv", "venv", "__pycache__", ".tox"})
_WALK_LIMIT = 500_000  # files; a repository larger than this should use git


def repository_root(cwd: Path) -> Path:
    """The repository around ``cwd`` (git's top level), else ``cwd`` itself."""
    top = _git(("rev-parse", "--show-toplevel"), cwd)
    return Path(top) if top else cwd


def code_owners(
    gk: Gatekeeper, keys: Sequence[tuple[str, str]], root: Path | None = None
) -> dict[tuple[str, str], str]:
    """The owners CODEOWNERS gives the tests ``keys`` ((service, test id)), by each test's
    file (docs/owners.md); tests without a file or an owner are left out. Nothing without a
    CODEOWNERS file in ``root``, the repository (default: the one around the working
    folder)."""
    import tomllib

    from gatekeeper import owners

    root = root or repository_root(gk.cwd)
    found = next((root / p for p in owners.LOCATIONS if (root / p).is_file()), None)
    if found is None or not keys:
        return {}
    try:
        data = found.read_bytes()[: owners.MAX_BYTES]
    except OSError as err:
        raise ConfigError(f"{found}: cannot read it: {err.strerror}") from err
    rules = owners.parse(data.decode("utf-8", "replace"), str(found.relative_to(root)))
    files = _repository_files(root)
    crates: dict[str, str] = {}
    for f in sorted(files):
        if f == "Cargo.toml" or f.endswith("/Cargo.toml"):
            try:
                manifest = tomllib.loads((root / f).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue  # not a crate we can read: its tests fall back to other rules
            package = manifest.get("package")
            lib = manifest.get("lib")
            name = lib.get("name") if isinstance(lib, dict) else None
            if not name and isinstance(package, dict):
                name = package.get("name")
            if isinstance(name, str):
                crates.setdefault(name.replace("-", "_"), str(PurePosixPath(f).parent).strip("."))
    repo = owners.RepositoryFiles.of(files, crates)
    stored = gk.store.test_files()
    out: dict[tuple[str, str], str] = {}
    for key in keys:
        path = owners.path_of(key[1], stored.get(key), repo, str(root))
        owner = rules.owner_of(path) if path else None
        if owner:
            out[key] = owner
    return out


def _repository_files(root: Path) -> list[str]:
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            timeout=60,
            check=False,
        )
        if shutil.which("git")
        else None
    )
    if listed is not None and listed.returncode == 0:
        return [f for f in listed.stdout.decode("utf-8", "replace").split("\0") if f]
    files: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _WALK_SKIP)
        base = Path(folder).relative_to(root).as_posix()
        files += [n if base == "." else f"{base}/{n}" for n in names]
        if len(files) > _WALK_LIMIT:
            break
    return files


def with_code_owners(
    gk: Gatekeeper, report: WeeklyReport, reg: Registry, root: Path | None = None
) -> WeeklyReport:
    """The report's failing and broken tests with an owner: their registry entry's, else the
    one CODEOWNERS gives them (nothing changes without a CODEOWNERS file)."""
    owned = {e.key: e.owner for e in reg.entries if e.owner}
    impacts = (*report.flakiest, *report.other_failures)
    missing = [i.key for i in impacts if not i.owner and i.key not in owned]
    missing += [
        (b.service, b.test_id) for b in report.broken if (b.service, b.test_id) not in owned
    ]
    found = {**code_owners(gk, missing, root), **owned} if missing else owned

    def impact(i: TestImpact) -> TestImpact:
        return i if i.owner or i.key not in found else replace(i, owner=found[i.key])

    return replace(
        report,
        flakiest=tuple(impact(i) for i in report.flakiest),
        other_failures=tuple(impact(i) for i in report.other_failures),
        broken=tuple(replace(b, owner=found.get((b.service, b.test_id))) for b in report.broken),
    )


def with_owners(old: Registry, new: Registry, owners: OwnerLookup | None) -> Registry:
    """``new`` with an owner on each entry classify added (not in ``old``) that has none."""
    if owners is None:
        return new
    known = {e.key for e in old.entries}
    added = [e.key for e in new.entries if e.key not in known and not e.owner]
    if not added:
        return new
    found = owners(added)
    return replace(
        new,
        entries=tuple(
            replace(e, owner=found[e.key]) if e.key in found and e.key not in known else e
            for e in new.entries
        ),
    )


def update_registry(
    gk: Gatekeeper,
    data: bytes | None,
    source: str,
    *,
    service: str | None = None,
    today: date | None = None,
    render: bool = True,
    default_branch: str = "main",
    max_new_share: float = 0.05,
    allow_mass: bool = False,
    owners: OwnerLookup | None = None,
) -> RegistryUpdate:
    """Classify the history and merge the verdicts into the registry held in ``data`` (the
    file's bytes; None when there is no file yet). ``render`` makes the new text and the diff
    (a second rendering of the file: only when they are shown or sent). A service that would
    newly quarantine more than ``max_new_share`` of its tests keeps its entries as they were
    and is listed in ``refused``, unless ``allow_mass``."""
    import difflib

    from gatekeeper import flaky, registry

    old = registry.parse(data, source) if data is not None else Registry()
    original: str | None = None
    if data is not None:  # as a text file reads (universal newlines), for the diff
        original = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    quarantined = {e.key for e in old.entries if e.quarantined}
    result, executions = classify_history(
        gk, flaky.ClassifierConfig(default_branch=default_branch), service, quarantined
    )
    entries = {e.key: e.quarantined for e in old.entries if service is None or e.service == service}
    refused: tuple[MassQuarantine, ...] = ()
    if not allow_mass:
        refused = flaky.mass_quarantines(result, entries, executions, max_new_share)
    del executions
    held = {r.service for r in refused}
    updates = [u for u in flaky.registry_updates(result, entries) if u.service not in held]
    day = today or datetime.now(UTC).date()
    new = with_owners(old, registry.merge(old, updates, today=day), owners)
    changes = registry.changes(old, new)
    text: str | None = None
    diff = ""
    if render and changes:
        text = registry.dump(new, original, source=source)
        name = PurePosixPath(source.replace("\\", "/")).name
        diff = "".join(
            difflib.unified_diff(
                (original or "").splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"a/{name}",
                tofile=f"b/{name}",
            )
        )
    return RegistryUpdate(
        source=source,
        verdicts=result.verdicts,
        bursts=result.bursts,
        changes=changes,
        registry=new,
        original=original,
        text=text,
        diff=diff,
        refused=refused,
    )


def classify_history(
    gk: Gatekeeper,
    config: ClassifierConfig,
    service: str | None,
    quarantined: Collection[tuple[str, str]],
) -> tuple[Classification, list[TestExecution]]:
    """``flaky.classify`` of the history's horizon (all services, or one): per service the
    runs its window needs (``flaky.window.horizon``), read by run, so that the work and the
    memory follow the window, not the history's length. Returns the classification and the
    executions read."""
    from gatekeeper import flaky
    from gatekeeper.flaky.window import horizon

    with gk.store.execution_reader(service) as reader:
        per_service: dict[str, list[RunPoint]] = {}
        for run in reader.runs():
            per_service.setdefault(run.service, []).append(run)
        wanted = [pk for runs in per_service.values() for pk in horizon(runs, config)]
        executions = reader.of_runs(wanted)
    return flaky.classify(executions, config, quarantined=quarantined), executions


def classify_upload(
    gk: Gatekeeper,
    data: bytes | None,
    source: str,
    *,
    service: str | None = None,
    today: date | None = None,
    default_branch: str = "main",
    max_new_share: float = 0.05,
    allow_mass: bool = False,
) -> RegistryUpdate:
    """`classify` for a registry sent over HTTP (``POST /api/v1/classify``): the caller's file
    is read, never written, here; an unreadable one is the caller's error (RegistryUploadError)."""
    try:
        return update_registry(
            gk,
            data,
            source,
            service=service,
            today=today,
            default_branch=default_branch,
            max_new_share=max_new_share,
            allow_mass=allow_mass,
        )
    except RegistryError as err:
        raise RegistryUploadError(err) from err


def read_registry_file(path: Path, missing_ok: bool) -> bytes | None:
    """A registry file's bytes, checked as every command reads it (None: no file yet, where
    that is allowed). ``classify --server`` sends them."""
    from gatekeeper import registry

    registry.load(path, missing_ok=missing_ok)  # the reader's checks and messages
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise RegistryError(str(path), f"cannot read it: {err.strerror}") from err


def write_registry_text(
    path: Path, sent: bytes | None, text: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> bool:
    """Write the registry text the service made from ``sent`` (``classify --server``), with
    the writer every command uses (atomic; the file's line ends and BOM kept). Refused when
    the file changed since it was sent: its new content was not classified."""
    from gatekeeper import registry

    with registry.locked(path, timeout=lock_timeout):
        try:
            now: bytes | None = path.read_bytes()
        except FileNotFoundError:
            now = None
        except OSError as err:
            raise RegistryError(str(path), f"cannot read it: {err.strerror}") from err
        if now != sent:
            raise RegistryError(
                str(path),
                "changed while the server classified it; nothing was written",
                hint="run classify again",
            )
        return registry.save(path, registry.parse(text, str(path)))


def classify_into_registry(
    gk: Gatekeeper,
    path: Path,
    missing_ok: bool,
    *,
    service: str | None = None,
    dry_run: bool = False,
    today: date | None = None,
    default_branch: str = "main",
    max_new_share: float = 0.05,
    allow_mass: bool = False,
    owners_root: Path | None = None,
) -> ClassifyOutcome:
    """Classify the history and update the registry (all of it, or one service's tests);
    ``default_branch`` is the configuration's (the history the verdicts rest on). Services
    refused for mass quarantine are left as they were (``ClassifyOutcome.refused``). Unless it
    is a dry run, the read, the merge and the write happen under the registry's lock (waiting
    at most the settings' lock timeout), so an entry added meanwhile is never overwritten.
    A new entry gets the owner CODEOWNERS gives its test (``code_owners``; the repository at
    ``owners_root``, default the one around the working folder)."""
    from gatekeeper import registry

    gk.require_history()
    with (
        contextlib.nullcontext()
        if dry_run
        else registry.locked(path, timeout=gk.settings.lock_timeout)
    ):
        data = read_registry_file(path, missing_ok)
        update = update_registry(
            gk,
            data,
            str(path),
            service=service,
            today=today,
            render=dry_run,
            default_branch=default_branch,
            max_new_share=max_new_share,
            allow_mass=allow_mass,
            owners=lambda keys: code_owners(gk, keys, owners_root),
        )
        written = False if dry_run or not update.changes else registry.save(path, update.registry)
    return ClassifyOutcome(
        path=str(path),
        verdicts=update.verdicts,
        bursts=update.bursts,
        changes=update.changes,
        diff=update.diff,
        written=written,
        refused=update.refused,
    )


@dataclass(frozen=True, slots=True)
class QuarantineDetail:
    """One test for `quarantine show`: its registry entry (if any) and its recent executions."""

    service: str
    name: str
    entry: QuarantineEntry | None
    history: tuple[TestExecution, ...]  # the last runs' executions, oldest first


def quarantine_show(
    gk: Gatekeeper,
    path: Path,
    missing_ok: bool,
    *,
    name: str,
    service: str | None = None,
    runs: int = 30,
) -> QuarantineDetail:
    """A test's registry entry and the executions of its last ``runs`` runs."""
    from gatekeeper import registry

    gk.require_history()
    reg = registry.load(path, missing_ok=missing_ok)
    if service is None:
        services = sorted({e.service for e in reg.entries if e.name == name})
        if len(services) > 1:
            raise ConfigError(
                f"{name}: in the registry of several services ({', '.join(services)})",
                hint="pass --service",
            )
        if not services:
            raise NotFoundError(
                f"{name}: not in the registry {path.name}", hint="pass --service to see its history"
            )
        service = services[0]
    history = gk.store.test_history(service, name)
    if not history and reg.find(service, name) is None:
        raise NotFoundError(
            f"{name} in {service}: neither in the registry nor in the history",
            hint="check the test id (gatekeeper quarantine list shows the registry's)",
        )
    recent_runs = list(dict.fromkeys(e.run_pk for e in history))[-runs:]
    keep = set(recent_runs)
    return QuarantineDetail(
        service=service,
        name=name,
        entry=reg.find(service, name),
        history=tuple(e for e in history if e.run_pk in keep),
    )


@dataclass(frozen=True, slots=True)
class TicketOutcome:
    """`quarantine ticket`: the issue made for the test, and where it is when filed."""

    ticket: Ticket
    filed: FiledTicket | None = None
    existing: str | None = None  # the registry entry's ``issue`` when it already had one


def quarantine_ticket(
    gk: Gatekeeper,
    path: Path,
    missing_ok: bool,
    *,
    name: str,
    service: str | None = None,
    create: bool = False,
    env: Mapping[str, str] | None = None,
    runs: int = 30,
) -> TicketOutcome:
    """The issue for a quarantined test (Markdown); with ``create``, filed on the tracker the
    environment names (``gatekeeper.trackers``) and its number written into the entry's
    ``issue`` under the registry's lock. An entry that has an issue already is not filed
    again; nor is one whose title an open issue has (that issue is written instead)."""
    from gatekeeper import registry, trackers
    from gatekeeper.emit.ticket import ticket as make_ticket

    detail = quarantine_show(gk, path, missing_ok, name=name, service=service, runs=runs)
    if detail.entry is None:
        raise NotFoundError(
            f"{name} in {detail.service}: not in the registry {path.name}",
            hint="a ticket is for a quarantined test; quarantine it first",
        )
    made = make_ticket(detail.entry, detail.history, path.name)
    if not create:
        return TicketOutcome(made)
    if detail.entry.issue:
        return TicketOutcome(made, existing=detail.entry.issue)
    tracker = trackers.from_environment(os.environ if env is None else env)
    filed = trackers.file_issue(tracker, made)
    with registry.locked(path, timeout=gk.settings.lock_timeout):
        reg = registry.load(path, missing_ok=False)
        entry = reg.find(detail.service, name)
        if entry is not None and entry.issue:
            return TicketOutcome(made, filed=filed, existing=entry.issue)
        if entry is None:
            raise RegistryError(
                str(path),
                f"{name} in {detail.service} was removed while its issue {filed.url} was filed",
                hint="close the issue, or add the entry again with --issue",
            )
        entries = tuple(
            replace(e, issue=filed.reference) if e.key == entry.key else e for e in reg.entries
        )
        registry.save(path, replace(reg, entries=entries))
    return TicketOutcome(made, filed=filed)
