"""The coverage gate: one run's Cobertura reports + the rules -> a figure per service and overall,
judged against the thresholds, the ratchet and patch coverage (pure: no I/O).

The rules are explained for people in docs/gate-coverage.md; keep the two in step.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from fractions import Fraction
from functools import lru_cache

from gatekeeper.model import (
    CoverageFigure,
    CoverageReport,
    FailureKind,
    FileCoverage,
    GateFailure,
)
from gatekeeper.rules import CoverageRules, GateConfig

OVERALL = "overall"

# How many files or line ranges a message names before it says "and N more".
_LIST_LIMIT = 8
_DRIVE = re.compile(r"^[A-Za-z]:/")


@dataclass(frozen=True, slots=True)
class CoverageOutcome:
    """What the coverage gate found.

    ``figures``: one per service that has files in the reports, plus ``overall`` when more than
    one service has; with no services configured, ``overall`` alone. ``failures`` fail the gate
    (kind ``coverage``, subject = the figure's subject); ``warnings`` are shown and never fail it
    (informational shortfalls, files no service claims, patch data that could not be used).
    """

    figures: tuple[CoverageFigure, ...] = ()
    failures: tuple[GateFailure, ...] = ()
    warnings: tuple[GateFailure, ...] = ()


def coverage_outcome(
    reports: Sequence[CoverageReport],
    config: GateConfig,
    service: str,
    *,
    repo_root: str | None = None,
    baselines: Mapping[str, tuple[float, str]] | None = None,
    changed: Mapping[str, frozenset[int]] | None = None,
) -> CoverageOutcome:
    """Judge the coverage of one run.

    ``service`` is the gate's ``--service``: it owns the files that no configured service
    claims. ``repo_root`` (absolute) turns report paths into repository paths: absolute file
    names inside it, and names relative to a ``<source>`` inside it. ``baselines`` maps a
    subject (service name or ``overall``) to (line rate, run id) of its last passing gate on
    the default branch: the ratchet. ``changed`` maps repository paths to the line numbers
    changed against the base ref (``--base``); ``None`` when there is no base.
    """
    notes = _Notes(service)
    files = _merge(reports, _norm_root(repo_root), notes)
    files = [f for f in files if not _matches_any(f.path, config.coverage.exclude)]

    # Which service owns each file, then each service's own exclusions.
    owners: dict[str, list[_File]] = {}
    configured = bool(config.services)
    # files nobody claims are worth a warning only where the configuration maps files at all
    mapping = any(s.paths or s.packages for s in config.services)
    unmapped: list[str] = []
    for f in files:
        owner = _owner(f, config) if configured else None
        if owner is None:
            owner = service
            if mapping:
                unmapped.append(f.path)
        owners.setdefault(owner, []).append(f)
    for name in list(owners):
        own_exclude = config.coverage_rules(name).exclude
        if own_exclude and own_exclude != config.coverage.exclude:
            owners[name] = [f for f in owners[name] if not _matches_any(f.path, own_exclude)]
            if not owners[name]:
                del owners[name]
    kept = {f.path for f in owners.get(service, ())}
    unmapped = [path for path in unmapped if path in kept]
    if unmapped:
        notes.warn(
            service,
            f"{_count(len(unmapped), 'file')} match no service's paths or packages and count "
            f"for {service}: {_names(sorted(unmapped))}",
        )
    if not owners:
        if any(r.files for r in reports):
            what = "every file in the coverage reports is excluded (coverage.exclude)"
        else:
            what = "the coverage reports list no file"
        notes.warn(service, f"no coverage figure: {what}")
        return CoverageOutcome(warnings=tuple(notes.warnings))

    changed_paths = _norm_changed(changed)
    figures: list[CoverageFigure] = []
    if not configured:
        (members,) = owners.values()
        figures.append(
            _judge(OVERALL, members, config.coverage, True, baselines, changed_paths, notes)
        )
    else:
        order = [s.name for s in config.services if s.name in owners]
        order += [name for name in owners if name not in order]
        for name in order:
            rules = config.coverage_rules(name)
            figures.append(_judge(name, owners[name], rules, True, baselines, changed_paths, notes))
        if len(order) > 1:
            everything = [f for name in order for f in owners[name]]
            figures.append(
                _judge(OVERALL, everything, config.coverage, False, baselines, changed_paths, notes)
            )
    if changed_paths and not any(f.path in changed_paths for fs in owners.values() for f in fs):
        notes.warn(
            OVERALL,
            f"patch coverage not judged: none of the changed files ({len(changed_paths):,}) is "
            "in the coverage reports (only files the reports list can be judged)",
        )
    return CoverageOutcome(
        figures=tuple(figures), failures=tuple(notes.failures), warnings=tuple(notes.warnings)
    )


# ---------------------------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Notes:
    service: str
    failures: list[GateFailure] = field(default_factory=list)
    warnings: list[GateFailure] = field(default_factory=list)

    def _finding(self, subject: str, message: str) -> GateFailure:
        owner = self.service if subject == OVERALL else subject
        return GateFailure(FailureKind.COVERAGE, subject, message, owner)

    def fail(self, subject: str, message: str, informational: bool) -> None:
        if informational:
            self.warn(subject, f"{message} (informational: does not fail the gate)")
        else:
            self.failures.append(self._finding(subject, message))

    def warn(self, subject: str, message: str) -> None:
        self.warnings.append(self._finding(subject, message))


# ---------------------------------------------------------------------------------------------
# Judging one figure
# ---------------------------------------------------------------------------------------------


def _judge(
    subject: str,
    members: Sequence[_File],
    rules: CoverageRules,
    judge_patch: bool,
    baselines: Mapping[str, tuple[float, str]] | None,
    changed: Mapping[str, frozenset[int]] | None,
    notes: _Notes,
) -> CoverageFigure:
    valid = sum(f.lines_valid for f in members)
    covered = sum(f.lines_covered for f in members)
    b_valid = sum(f.branches_valid for f in members)
    b_covered = sum(f.branches_covered for f in members)
    informational = rules.informational
    passed = True

    if not valid:
        notes.warn(
            subject,
            f"{subject}: no coverable lines in its {_count(len(members), 'file')}; "
            "line coverage not judged",
        )
    elif rules.line is not None and not _at_least(covered, valid, rules.line):
        passed = False
        notes.fail(
            subject,
            f"{subject}: line coverage {_pct(covered, valid, rules.line)} "
            f"({covered:,} of {_count(valid, 'line')}) is below the {rules.line:g}% minimum",
            informational,
        )
    if b_valid and rules.branch is not None and not _at_least(b_covered, b_valid, rules.branch):
        passed = False
        notes.fail(
            subject,
            f"{subject}: branch coverage {_pct(b_covered, b_valid, rules.branch)} "
            f"({b_covered:,} of {_count(b_valid, 'branch')}) is below the {rules.branch:g}% "
            "minimum",
            informational,
        )

    baseline = (baselines or {}).get(subject)
    baseline_rate = baseline_run = max_drop = None
    if baseline is not None and rules.max_drop is not None and math.isfinite(baseline[0]):
        baseline_rate, baseline_run = float(baseline[0]), str(baseline[1])
        max_drop = rules.max_drop
        if valid:
            drop = _exact(baseline_rate) * 100 - Fraction(100 * covered, valid)
            if drop > _exact(max_drop):
                passed = False
                notes.fail(
                    subject,
                    f"{subject}: line coverage fell {_points(drop, max_drop)} points, from "
                    f"{_pct_of(_exact(baseline_rate))} (run {baseline_run}) to "
                    f"{_pct(covered, valid)}; the most allowed is {max_drop:g}",
                    informational,
                )

    patch_valid = patch_covered = 0
    patch_threshold = None
    if changed is not None:
        patch_valid, patch_covered, missed, unusable, touched = _patch(members, changed)
        if unusable and judge_patch:
            notes.warn(
                subject,
                f"{subject}: patch coverage cannot use {_count(len(unusable), 'changed file')}: "
                f"the report gives counts but no line numbers: {_names(unusable)}",
            )
        if judge_patch and rules.patch is not None:
            patch_threshold = rules.patch
            if patch_valid and not _at_least(patch_covered, patch_valid, rules.patch):
                passed = False
                notes.fail(
                    subject,
                    f"{subject}: patch coverage {_pct(patch_covered, patch_valid, rules.patch)} "
                    f"({patch_covered:,} of {_count(patch_valid, 'changed coverable line')}) "
                    f"is below the {rules.patch:g}% minimum; not covered: {_names(missed)}",
                    informational,
                )
            elif not patch_valid and touched:
                notes.warn(
                    subject,
                    f"{subject}: patch coverage not judged: the changed lines of "
                    f"{_count(touched, 'file')} are none of them coverable lines "
                    "(comments, blank lines, declarations)",
                )

    return CoverageFigure(
        subject=subject,
        files=len(members),
        lines_valid=valid,
        lines_covered=covered,
        branches_valid=b_valid,
        branches_covered=b_covered,
        line_threshold=rules.line,
        branch_threshold=rules.branch,
        baseline_line_rate=baseline_rate,
        baseline_run=baseline_run,
        max_drop=max_drop,
        patch_valid=patch_valid,
        patch_covered=patch_covered,
        patch_threshold=patch_threshold,
        passed=passed,
    )


def _patch(
    members: Sequence[_File], changed: Mapping[str, frozenset[int]]
) -> tuple[int, int, list[str], list[str], int]:
    """(changed coverable lines, of them covered, the missed ones as "path:ranges", files with
    changes but no line numbers, files with changes)."""
    valid = covered = touched = 0
    missed: list[str] = []
    unusable: list[str] = []
    for f in members:
        lines = changed.get(f.path)
        if not lines:
            continue
        touched += 1
        if not f.numbered:
            unusable.append(f.path)
            continue
        hit = lines.intersection(f.covered)
        miss = lines.intersection(f.missed)
        valid += len(hit) + len(miss)
        covered += len(hit)
        if miss:
            missed.append(f"{f.path}:{_ranges(sorted(miss))}")
    return valid, covered, missed, unusable, touched


# ---------------------------------------------------------------------------------------------
# Exact comparisons and the numbers in messages
# ---------------------------------------------------------------------------------------------


def _exact(value: float) -> Fraction:
    """A configured or stored number as the decimal it was written as (80.0 -> 80, 0.1 -> 1/10),
    so that a comparison is not decided by the binary rounding of a float."""
    return Fraction(repr(float(value)))


def _at_least(covered: int, valid: int, percent: float) -> bool:
    """covered / valid >= percent %, exactly: covered * 100 >= percent * valid."""
    return covered * 100 >= _exact(percent) * valid


def _pct(covered: int, valid: int, below: float | None = None) -> str:
    return _pct_of(Fraction(covered, valid), below)


def _pct_of(rate: Fraction, below: float | None = None) -> str:
    """A rate as percent with two decimals; more when two would round a failing figure up to
    its threshold (79.996 % is shown as 79.996 %, not 80.00 %)."""
    value = rate * 100
    text = f"{float(value):.2f}"
    if below is not None:
        limit = _exact(below)
        digits = 2
        while value < limit and Fraction(text) >= limit and digits < 12:
            digits += 1
            text = f"{float(value):.{digits}f}"
    return f"{text}%"


def _points(drop: Fraction, allowed: float) -> str:
    """A drop in points with two decimals; more when two would round it down to the limit."""
    limit = _exact(allowed)
    digits = 2
    text = f"{float(drop):.2f}"
    while drop > limit and Fraction(text) <= limit and digits < 12:
        digits += 1
        text = f"{float(drop):.{digits}f}"
    return text


def _ranges(numbers: Sequence[int]) -> str:
    """[3, 4, 5, 9] -> "3-5,9"."""
    out: list[str] = []
    start = prev = numbers[0]
    for n in numbers[1:]:
        if n != prev + 1:
            out.append(f"{start}-{prev}" if prev != start else str(start))
            start = n
        prev = n
    out.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(out)


def _names(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_LIST_LIMIT])
    more = len(items) - _LIST_LIMIT
    return f"{shown} and {more} more" if more > 0 else shown


def _count(n: int, noun: str) -> str:
    """1 file, 2 files, 3 branches."""
    if n == 1:
        return f"1 {noun}"
    return f"{n:,} {noun}{'es' if noun.endswith('ch') else 's'}"


# ---------------------------------------------------------------------------------------------
# Files: repository paths, merging several reports
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _File:
    """One source file, merged over every report that lists it."""

    path: str  # the repository path (see _resolver)
    package: str
    lines_valid: int
    lines_covered: int
    branches_valid: int
    branches_covered: int
    covered: Iterable[int]  # line numbers (a tuple from one report, a set when merged)
    missed: Iterable[int]
    numbered: bool  # the line numbers are known (not only counts)


def _from_report(f: FileCoverage, path: str) -> _File:
    return _File(
        path=path,
        package=f.package,
        lines_valid=f.lines_valid,
        lines_covered=f.lines_covered,
        branches_valid=f.branches_valid,
        branches_covered=f.branches_covered,
        covered=f.covered_lines,
        missed=f.missed_lines,
        numbered=bool(f.covered_lines or f.missed_lines) or not f.lines_valid,
    )


def _merge(reports: Sequence[CoverageReport], root: str | None, notes: _Notes) -> list[_File]:
    """Files by repository path; a file in several reports is merged (see _combine)."""
    by_path: dict[str, list[tuple[FileCoverage, str]]] = {}
    for report in reports:
        resolve = _resolver(report, root, notes)
        for f in report.files:
            path = resolve(f.path)
            by_path.setdefault(path, []).append((f, path))
    out: list[_File] = []
    for path in sorted(by_path):
        entries = by_path[path]
        if len(entries) == 1:
            out.append(_from_report(*entries[0]))
        else:
            out.append(_combine(path, [e[0] for e in entries]))
    return out


def _combine(path: str, entries: Sequence[FileCoverage]) -> _File:
    """A file listed by several reports (unit and integration runs, shards).

    With line numbers: a line is covered when any report covers it, and the counts are those of
    the union. Reports that give only counts are used only when none gives numbers; then the
    largest count stands (a lower bound: the overlap is unknown). Branches are not kept per
    line, so the report with the most covered branches stands for the file's branches.
    """
    numbered = [e for e in entries if e.covered_lines or e.missed_lines]
    package = next((e.package for e in entries if e.package), entries[0].package)
    best_branches = max(entries, key=lambda e: (e.branches_covered, e.branches_valid))
    if numbered:
        covered: set[int] = set()
        every: set[int] = set()
        for e in numbered:
            covered.update(e.covered_lines)
            every.update(e.covered_lines)
            every.update(e.missed_lines)
        missed = every - covered
        return _File(
            path,
            package,
            len(every),
            len(covered),
            best_branches.branches_valid,
            best_branches.branches_covered,
            covered,
            missed,
            True,
        )
    best = max(entries, key=lambda e: (e.lines_valid, e.lines_covered))
    return _File(
        path,
        package,
        best.lines_valid,
        best.lines_covered,
        best_branches.branches_valid,
        best_branches.branches_covered,
        (),
        (),
        not best.lines_valid,
    )


def _is_absolute(p: str) -> bool:
    return p.startswith("/") or bool(_DRIVE.match(p))


def _norm_root(root: str | None) -> str | None:
    if root is None or not root.strip():
        return None
    r = root.strip().replace("\\", "/")
    while len(r) > 1 and r.endswith("/") and not re.fullmatch(r"[A-Za-z]:/", r):
        r = r[:-1]
    return r if _is_absolute(r) else None


def _inside(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` when it lies under it ("" for the root itself), else None.

    Windows paths (``C:/...``) compare case-insensitively, as Windows does."""
    fold = bool(_DRIVE.match(root))
    key, base = (path.casefold(), root.casefold()) if fold else (path, root)
    if key == base:
        return ""
    prefix = base if base.endswith("/") else base + "/"
    if key.startswith(prefix):
        return path[len(prefix) :]
    return None


def _resolver(report: CoverageReport, root: str | None, notes: _Notes) -> Callable[[str], str]:
    """How one report's file paths become repository paths.

    - An absolute path inside ``root`` becomes relative to it; outside it stays as it is.
    - A relative path is relative to the report's ``<source>``: when the first absolute source
      lies inside ``root``, its place in the repository is put in front
      (``<source>/repo/backend/api</source>`` + ``app/main.py`` -> ``backend/api/app/main.py``).
    - Otherwise (no root, no absolute source, or a source outside the repository, such as a
      report made on another machine) the path stays as the report wrote it.

    No suffix matching: a path is never matched by its tail (``src/lib.rs`` is in every crate).
    """
    prefix: str | None = None
    if root is not None:
        inside = [
            rel for s in report.sources if _is_absolute(s) and (rel := _inside(s, root)) is not None
        ]
        if inside:
            prefix = inside[0]
            if len(set(inside)) > 1 and any(not _is_absolute(f.path) for f in report.files):
                notes.warn(
                    notes.service,
                    f"a coverage report lists {len(inside)} sources inside the repository; its "
                    f"relative file names are taken as relative to the first ({prefix or '.'})",
                )

    def resolve(path: str) -> str:
        if _is_absolute(path):
            if root is not None:
                rel = _inside(path, root)
                if rel:
                    return rel
            return path
        if prefix:
            joined = posixpath.normpath(f"{prefix}/{path}")
            return joined if not joined.startswith("../") else path
        return path

    return resolve


def _norm_changed(
    changed: Mapping[str, frozenset[int]] | None,
) -> dict[str, frozenset[int]] | None:
    if changed is None:
        return None
    out: dict[str, frozenset[int]] = {}
    for path, lines in changed.items():
        p = path.strip().replace("\\", "/")
        while p.startswith("./"):
            p = p[2:]
        out[p] = out.get(p, frozenset()) | frozenset(lines)
    return out


# ---------------------------------------------------------------------------------------------
# Services: path globs, then package globs
# ---------------------------------------------------------------------------------------------


def _owner(f: _File, config: GateConfig) -> str | None:
    for s in config.services:
        if _matches_any(f.path, s.paths):
            return s.name
    for s in config.services:
        if any(fnmatchcase(f.package, g) for g in s.packages):
            return s.name
    return None


def _matches_any(path: str, globs: Iterable[str]) -> bool:
    return any(_glob(g).fullmatch(path) for g in globs)


@lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    """A path glob as a regex, anchored at the repository root.

    ``*`` and ``?`` stay inside one folder, ``[...]`` is a character class, ``**`` as a whole
    segment spans any number of folders (none included): ``a/**/b`` matches ``a/b`` and
    ``a/x/y/b``, ``a/**`` everything under ``a``, ``**/gen/**`` a ``gen`` folder at any depth. A
    trailing ``/`` means the folder and everything under it; a leading ``./`` is dropped. A
    pattern that starts with ``/`` (or ``C:/``) matches absolute paths: files outside the
    repository, such as ``/usr/include/**`` in a gcovr report.
    """
    p = pattern.strip().replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    if p.endswith("/"):
        p += "**"
    parts = p.split("/")
    out: list[str] = []
    last = len(parts) - 1
    for i, part in enumerate(parts):
        if part == "**":
            if i == last:
                out.append(".*" if i == 0 else "/.*")
            else:
                out.append("(?:.*/)?" if i == 0 else "/(?:.*/)?")
            continue
        sep = "" if i == 0 or parts[i - 1] == "**" else "/"
        out.append(sep + _segment(part))
    return re.compile("".join(out), re.DOTALL)


def _segment(part: str) -> str:
    out: list[str] = []
    i, n = 0, len(part)
    while i < n:
        c = part[i]
        if c == "*":
            while i + 1 < n and part[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = part.find("]", i + 2)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = part[i + 1 : end]
                negate = body.startswith("!")
                if negate:
                    body = body[1:]
                escaped = "".join("\\" + ch if ch in "\\^[]" else ch for ch in body)
                out.append("[^/" + escaped + "]" if negate else "[" + escaped + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)
