"""The Gatekeeper object: the one orchestrator, the only place that does file and database I/O."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gatekeeper import ci, parsers
from gatekeeper.config import Settings
from gatekeeper.errors import (
    ConfigError,
    InputError,
    ManifestError,
    MetadataError,
    NoReportsError,
    UnknownFormatError,
)
from gatekeeper.model import (
    BenchmarkResult,
    CoverageReport,
    IngestOutcome,
    ParsedReport,
    Run,
    RunCounts,
    RunMeta,
    ServiceSummary,
    SourceFile,
    TestFailureTally,
    TestResult,
)

if TYPE_CHECKING:
    from gatekeeper.store import HistoryStore

Progress = Callable[[int, int], None]  # (done, total)

# Directories never worth walking into when a folder of reports is given.
_SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", "venv", ".gatekeeper"}
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


@dataclass(frozen=True, slots=True)
class ReportFile:
    path: Path
    fmt: str  # "auto" or a format name


def parse_timestamp(value: str, where: str) -> datetime:
    """ISO 8601 (a trailing Z allowed); naive times are taken as UTC."""
    try:
        ts = datetime.fromisoformat(value.strip())
    except ValueError as err:
        raise MetadataError(
            f"{where}: timestamp {value!r} is not ISO 8601",
            hint="write it like 2026-11-27T10:50:00Z",
        ) from err
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _git(args: Sequence[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return value if out.returncode == 0 and value else None


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
        self._git_cache: dict[tuple[str, ...], str | None] = {}

    def _git(self, *args: str) -> str | None:
        if args not in self._git_cache:
            self._git_cache[args] = _git(args, self.cwd)
        return self._git_cache[args]

    # -- the history ---------------------------------------------------------------------------

    @property
    def store(self) -> HistoryStore:
        if self._store is None:
            from gatekeeper.store import open_store  # SQLAlchemy is imported only when needed

            url = self.settings.db_url
            if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
                # a relative SQLite path is relative to this Gatekeeper's working directory
                rel = url[len("sqlite:///") :]
                if rel and rel != ":memory:":
                    url = "sqlite:///" + str(self.cwd / rel)
            self._store = open_store(url, lock_timeout=self.settings.lock_timeout)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- ingest ---------------------------------------------------------------------------------

    def collect(self, patterns: Sequence[str], fmt: str = "auto") -> list[ReportFile]:
        """Files, globs or folders -> report files; a pattern that matches nothing is an error."""
        if fmt != "auto" and fmt not in parsers.FORMATS:
            raise ConfigError(
                f"--format {fmt}: not a format gatekeeper reads",
                hint="choose one of: auto, " + ", ".join(parsers.FORMATS),
            )
        found: list[ReportFile] = []
        seen: set[Path] = set()
        for pattern in patterns:
            path = self.cwd / pattern
            if path.is_dir():
                files = self._walk(path, fmt)
                if not files:
                    raise NoReportsError(
                        f"{pattern}: the directory holds no report gatekeeper can read",
                        hint="point at the report files, or pass --format",
                    )
            elif path.is_file():
                files = [ReportFile(path, fmt)]
            elif glob.has_magic(pattern):
                matches = sorted(glob.glob(str(path), recursive=True))
                files = [ReportFile(Path(m), fmt) for m in matches if Path(m).is_file()]
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
            for f in files:
                resolved = f.path.resolve()
                if resolved not in seen:
                    seen.add(resolved)
                    found.append(f)
        if not found:
            raise NoReportsError(
                "no report files given", hint="name the report files, globs or folders to read"
            )
        return found

    def _walk(self, root: Path, fmt: str) -> list[ReportFile]:
        out: list[ReportFile] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(
                d
                for d in dirnames
                if d not in _SKIP_DIRS
                and not d.startswith(".")
                and not (d in _CRITERION_SKIP and "criterion" in Path(dirpath).parts)
            )
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if fmt != "auto":
                    out.append(ReportFile(path, fmt))
                    continue
                try:
                    with path.open("rb") as fh:
                        head = fh.read(parsers.HEAD_BYTES)
                    parsers.detect(head, str(path))
                except (InputError, OSError):
                    continue  # in a folder, files that are not reports are passed over
                out.append(ReportFile(path, fmt))
        return out

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
        parsed = parsers.parse(data, shown, report.fmt)
        source = SourceFile(
            path=shown,
            format=parsed.format,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
        )
        return parsed, source

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
        run_id = flags.run_id or from_ci.run_id
        if not run_id:
            # Outside CI: the same report files make the same run, so re-ingesting is a no-op.
            digest = hashlib.sha256()
            for s in sorted(sources, key=lambda s: s.sha256):
                digest.update(s.sha256.encode())
            run_id = "local-" + digest.hexdigest()[:12]
        attempt = flags.attempt if flags.attempt is not None else (from_ci.attempt or 1)
        if attempt < 1:
            raise MetadataError(f"attempt {attempt}: must be 1 or more")
        return RunMeta(
            service=service,
            run_id=run_id,
            attempt=attempt,
            commit=commit,
            branch=branch,
            timestamp=flags.timestamp or datetime.now(UTC),
            ci_provider=from_ci.provider,
            url=from_ci.url,
        )

    def build_run(self, reports: Sequence[ReportFile], flags: MetaFlags) -> Run:
        parsed: list[ParsedReport] = []
        sources: list[SourceFile] = []
        for report in reports:
            p, s = self.parse_file(report)
            parsed.append(p)
            sources.append(s)
        return assemble_run(self.resolve_meta(flags, sources), parsed, sources)

    def ingest(
        self, patterns: Sequence[str], flags: MetaFlags, fmt: str = "auto"
    ) -> list[IngestOutcome]:
        """Parse every report first, then store the run in one transaction (all or nothing)."""
        run = self.build_run(self.collect(patterns, fmt), flags)
        return self.save([run])

    def ingest_manifest(
        self, manifest: Path, progress: Progress | None = None
    ) -> list[IngestOutcome]:
        """Backfill: every line of a JSONL manifest is one run's report; one transaction for all."""
        entries = list(read_manifest(manifest, self._display(manifest)))
        runs: list[Run] = []
        total = sum(len(paths) for _, paths, _ in entries)
        done = 0
        for flags, paths, fmt in entries:
            parsed: list[ParsedReport] = []
            sources: list[SourceFile] = []
            for path in paths:
                if not path.is_file():
                    raise ManifestError(
                        self._display(manifest),
                        f"{self._display(path)} does not exist",
                        hint="paths in a manifest are relative to the manifest's folder",
                    )
                p, s = self.parse_file(ReportFile(path, fmt))
                parsed.append(p)
                sources.append(s)
                done += 1
                if progress:
                    progress(done, total)
            runs.append(
                assemble_run(self.resolve_meta(flags, sources, backfill=True), parsed, sources)
            )
        return self.save(runs)

    def history_summary(self) -> list[ServiceSummary]:
        """Per service: runs, red runs, the latest counts and coverage, the most failing tests."""
        return _history_summary(self.store)

    def save(self, runs: Sequence[Run]) -> list[IngestOutcome]:
        stored = self.store.save_runs(runs)
        return [outcome_of(run, was_stored) for run, was_stored in zip(runs, stored, strict=True)]


def assemble_run(
    meta: RunMeta, parsed: Sequence[ParsedReport], sources: Sequence[SourceFile]
) -> Run:
    tests: list[TestResult] = []
    coverage: list[CoverageReport] = []
    benchmarks: list[BenchmarkResult] = []
    warnings: list[str] = []
    for p in parsed:
        tests.extend(p.tests)
        coverage.extend(p.coverage)
        benchmarks.extend(p.benchmarks)
        warnings.extend(p.warnings)
    has_test_report = any(p.format not in _NON_TEST_FORMATS for p in parsed)
    if has_test_report and not tests:
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


def read_manifest(manifest: Path, shown: str) -> Iterator[tuple[MetaFlags, list[Path], str]]:
    """Yield (metadata, report paths, format) per run; lines of the same run are merged."""
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(shown, f"cannot read the manifest ({err})") from err
    runs: dict[tuple[str, str, int], tuple[MetaFlags, list[Path], str]] = {}
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
        if not isinstance(obj, dict):
            raise ManifestError(shown, "not a JSON object", line=lineno)
        flags, paths, fmt = _manifest_entry(obj, shown, lineno, base)
        assert flags.service is not None and flags.run_id is not None
        key = (flags.service, flags.run_id, flags.attempt or 1)
        if key in runs:
            runs[key][1].extend(paths)
        else:
            runs[key] = (flags, paths, fmt)
    if not runs:
        raise ManifestError(shown, "the manifest lists no reports")
    yield from runs.values()


def _manifest_entry(
    obj: dict[str, Any], shown: str, lineno: int, base: Path
) -> tuple[MetaFlags, list[Path], str]:
    def text(key: str, required: bool = False) -> str | None:
        value = obj.get(key)
        if value is None or value == "":
            if required:
                raise ManifestError(shown, f"missing {key!r}", line=lineno)
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise ManifestError(shown, f"{key!r} must be a string", line=lineno)
        return value

    raw_paths = obj.get("paths", obj.get("path"))
    if isinstance(raw_paths, str):
        raw_paths = [raw_paths]
    if not raw_paths or not all(isinstance(p, str) for p in raw_paths):
        raise ManifestError(shown, "missing 'path' (a string, or 'paths': a list)", line=lineno)
    attempt_raw = obj.get("attempt", 1)
    if not isinstance(attempt_raw, int) or isinstance(attempt_raw, bool) or attempt_raw < 1:
        if isinstance(attempt_raw, str) and attempt_raw.isdigit() and int(attempt_raw) >= 1:
            attempt_raw = int(attempt_raw)
        else:
            raise ManifestError(shown, "'attempt' must be a whole number >= 1", line=lineno)
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
    return flags, [base / p for p in raw_paths], fmt


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
        tallies: dict[str, list[int]] = {}
        messages: dict[str, str | None] = {}
        for ex in store.executions(service=service):
            t = tallies.setdefault(ex.test_id, [0, 0])
            t[0] += 1
            if ex.outcome.is_failure:
                t[1] += 1
                messages[ex.test_id] = ex.message
        ranked = sorted(
            (
                TestFailureTally(tid, n, f, messages.get(tid))
                for tid, (n, f) in tallies.items()
                if f
            ),
            key=lambda t: (-t.failures, t.test_id),
        )[:top]
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
