"""Cobertura XML coverage reports -> one CoverageReport: files merged by path, packages, totals."""

from __future__ import annotations

import io
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import cast

from lxml import etree

from gatekeeper.errors import (
    EmptyReportError,
    ReportParseError,
    UnsafeInputError,
    WrongFormatError,
)
from gatekeeper.model import CoverageReport, FileCoverage, PackageCoverage, ParsedReport
from gatekeeper.parsers._xml import UNSAFE_PROBLEM, refuse_entities, unsafe_hint

NAME = "cobertura"

_BOM = b"\xef\xbb\xbf"
_TAGS = ("coverage", "source", "package", "class", "project")
# Attribute names of the common <line> forms, as lxml lists them (in document order).
_NUMBER_HITS = ["number", "hits"]
_HITS_NUMBER = ["hits", "number"]
_COVERAGE_PY_BRANCH = ["number", "hits", "branch", "condition-coverage"]
# "50% (1/2)", "33.33% (1/3)": the counts in the parentheses are what we sum.
_CONDITION = re.compile(r"\(\s*(\d+)\s*/\s*(\d+)\s*\)")
_DRIVE = re.compile(r"^[A-Za-z]:/")
_START_NAME = re.compile(rb"<([^\s/>]+)")
_COVERAGE_PY_VERSION = re.compile(r"^[3-7]\.\d+(\.\d+)?([ab]\d+)?$")


# ---------------------------------------------------------------------------------------------
# sniff
# ---------------------------------------------------------------------------------------------


def sniff(head: bytes) -> int:
    """90 when the root element (after BOM, XML declaration, comments, DOCTYPE) is <coverage>."""
    try:
        return 90 if _is_cobertura_head(head) else 0
    except Exception:  # the contract: sniff never raises
        return 0


def _is_cobertura_head(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="ignore").encode("utf-8")
    pos = len(_BOM) if head.startswith(_BOM) else 0
    n = len(head)
    while pos < n:
        while pos < n and head[pos] in b" \t\r\n":
            pos += 1
        if head.startswith(b"<?", pos):
            end = head.find(b"?>", pos)
            pos = end + 2 if end >= 0 else n
        elif head.startswith(b"<!--", pos):
            end = head.find(b"-->", pos)
            pos = end + 3 if end >= 0 else n
        elif head.startswith(b"<!DOCTYPE", pos):
            pos = _skip_doctype(head, pos)
        else:
            m = _START_NAME.match(head, pos)
            if m is None or m.group(1) != b"coverage":
                return False
            end = head.find(b">", pos)
            tag = head[pos : end + 1] if end >= 0 else head[pos:]
            # Clover XML (OpenClover, PHPUnit --coverage-clover) also has a <coverage> root,
            # with clover="..." and/or a <project> first child; it is not Cobertura.
            after = head[end + 1 :].lstrip() if end >= 0 else b""
            return b"clover=" not in tag and not after.startswith(b"<project")
    return False


def _skip_doctype(head: bytes, pos: int) -> int:
    depth = 0
    quote = 0
    for i in range(pos + 2, len(head)):
        c = head[i]
        if quote:
            if c == quote:
                quote = 0
        elif c in b"\"'":
            quote = c
        elif c == 0x5B:  # [
            depth += 1
        elif c == 0x5D:  # ]
            depth -= 1
        elif c == 0x3E and depth <= 0:  # >
            return i + 1
    return len(head)


# ---------------------------------------------------------------------------------------------
# parse
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _File:
    package: str
    # Merged over all its <class>es, kept compact (a 500,000-line report holds every number):
    covered: tuple[int, ...] = ()  # sorted line numbers with hits > 0
    missed: tuple[int, ...] = ()  # sorted line numbers with no hit
    # line number -> (branches covered, branches total), for the lines with branch data only
    branches: dict[int, tuple[int, int]] = field(default_factory=dict)
    attr_valid: int = 0  # from <class lines-valid/lines-covered> when a class lists no <line>
    attr_covered: int = 0
    attr_line: int = 0
    declared_rates: list[tuple[float, int]] = field(default_factory=list)  # (line-rate, xml line)


@dataclass(slots=True)
class _Problems:
    """Non-fatal oddities, counted per kind so one broken producer does not flood the output."""

    counts: Counter[str] = field(default_factory=Counter)
    first_line: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, line: int | None) -> None:
        self.counts[kind] += 1
        if line is not None:
            self.first_line.setdefault(kind, line)

    def render(self, source: str) -> list[str]:
        out = []
        for kind, n in self.counts.items():
            line = self.first_line.get(kind, 0)
            more = f" ({n} times, first here)" if n > 1 else ""
            out.append(f"{source}:{line}: {kind}{more}")
        return out


def parse(data: bytes, source: str) -> ParsedReport:
    """Parse one Cobertura XML report (streamed with lxml iterparse; no DTD, no network)."""
    if not data.strip(_BOM + b" \t\r\n"):
        raise EmptyReportError(
            source, "the file is empty", hint="did the coverage step write its report?"
        )
    # Entity declarations are refused before libxml2 sees the document (the check after the
    # parse, in _check_root, stays as a second line of defence).
    refuse_entities(data, source, "coverage reports")
    problems = _Problems()
    sources: list[str] = []
    files: dict[str, _File] = {}
    package_order: list[str] = []
    packages_seen: set[str] = set()
    package = ""
    root_checked = False
    root_attrs: dict[str, str] = {}
    root_line = 1
    doctype_url = ""
    classes = 0

    context = etree.iterparse(
        io.BytesIO(data),
        events=("start", "end"),
        tag=_TAGS,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
        remove_blank_text=True,  # the indentation between elements: not worth building
    )
    try:
        for event, el in context:
            if not root_checked:
                root = el.getroottree().getroot()
                _check_root(root, source)
                root_checked = True
                root_attrs = {str(k): str(v) for k, v in root.attrib.items()}
                root_line = _line(root) or 1
                doctype_url = root.getroottree().docinfo.system_url or ""
            tag = el.tag
            if tag == "class":
                if event == "start":
                    continue
                classes += 1
                _finish_class(el, package, _class_lines(el, problems), sources, files, problems)
                el.clear()
                # free the classes already read: the tree would otherwise grow with the file
                parent = el.getparent()
                while parent is not None and el.getprevious() is not None:
                    del parent[0]
            elif tag == "package":
                if event == "start":
                    package = el.get("name") or ""
                    if package not in packages_seen:
                        packages_seen.add(package)
                        package_order.append(package)
                else:
                    package = ""
            elif tag == "project":
                raise _clover(source, root)
            elif tag == "source" and event == "end":
                src = _norm_source(el.text or "")
                if src and src not in sources:
                    sources.append(src)
    except etree.XMLSyntaxError as err:
        raise _syntax_error(source, err, data) from err
    if not root_checked:
        root = context.root
        if root is None:  # pragma: no cover - lxml raises XMLSyntaxError first
            raise ReportParseError(source, "not XML: no root element")
        _check_root(root, source)
    if classes == 0:
        raise EmptyReportError(
            source,
            "the report lists no <class>: coverage was measured for no source file",
            hint="check the coverage tool's include/exclude and source settings",
        )
    report, warnings = _build(files, package_order, sources, root_attrs, root_line, source)
    producer = _producer(data[:4096], root_attrs, doctype_url, [f.path for f in report.files])
    report = CoverageReport(
        producer=producer,
        sources=report.sources,
        files=report.files,
        packages=report.packages,
        total=report.total,
        declared_line_rate=report.declared_line_rate,
    )
    return ParsedReport(
        format=NAME,
        source=source,
        coverage=(report,),
        warnings=tuple(problems.render(source) + warnings),
    )


def _check_root(root: etree._Element, source: str) -> None:
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None:
        # lxml-stubs lack DTD.iterentities(); it lists <!ENTITY> and <!ENTITY %> declarations
        names = [str(e.name) for e in getattr(dtd, "iterentities")()]  # noqa: B009
        if names:
            raise UnsafeInputError(
                source,
                f"{UNSAFE_PROBLEM}: {', '.join(names[:5])}",
                line=1,
                hint=unsafe_hint("coverage reports"),
            )
    tag = root.tag if isinstance(root.tag, str) else "?"
    if tag != "coverage":
        raise WrongFormatError(
            source,
            f"the root element is <{tag}>, not Cobertura's <coverage>",
            line=_line(root),
            hint="is this Cobertura XML? JaCoCo writes <report>; convert it or pass --format",
        )
    if root.get("clover") is not None:
        raise _clover(source, root)


def _clover(source: str, root: etree._Element) -> WrongFormatError:
    return WrongFormatError(
        source,
        "this is Clover XML (<coverage> with <project>), not Cobertura",
        line=_line(root),
        hint="ask the coverage tool for Cobertura output (PHPUnit: --coverage-cobertura)",
    )


def _syntax_error(source: str, err: etree.XMLSyntaxError, data: bytes) -> ReportParseError:
    msg = str(err.msg or err).strip()
    line = err.lineno if err.lineno and err.lineno > 0 else None
    if "Start tag expected" in msg and line == 1:
        return ReportParseError(
            source,
            f"not XML: {msg}",
            line=line,
            hint="is this a Cobertura XML file? the coverage step may have written text instead",
        )
    tail = data.rstrip()[-64:]
    if b"<coverage" in data[:65536] and b"</coverage>" not in tail:
        return ReportParseError(
            source,
            f"XML is truncated: no closing </coverage> ({msg})",
            line=line,
            hint="was the coverage job killed while writing it?",
        )
    return ReportParseError(
        source,
        f"not well-formed XML: {msg}",
        line=line,
        hint="regenerate the report; gatekeeper does not guess around broken XML",
    )


# What one <class> says: (numbers with hits > 0, all numbers, number -> (branches covered, total))
_ClassLines = tuple[set[int], set[int], dict[int, tuple[int, int]]]


def _class_lines(cls: etree._Element, problems: _Problems) -> _ClassLines:
    """The lines of one <class>, merged by number.

    The class's own <lines> are the truth; its <methods> repeat some of them. Only when a class
    has no <line> of its own are the method lines used (the Swift xccov converter writes them
    there only).
    """
    lines: _ClassLines = (set(), set(), {})
    if cls.find("lines/line") is not None:
        for block in cls.iterchildren("lines"):
            _read_lines(block.iterchildren("line"), lines, problems)
    else:
        _read_lines(cls.iterfind("methods/method/lines/line"), lines, problems)
    return lines


def _read_lines(elements: Iterator[etree._Element], into: _ClassLines, problems: _Problems) -> None:
    """Merge <line> elements into (hit numbers, numbers, branches).

    This loop runs once per <line> of the report (500,000 in a big one), so the common forms
    are read here with one call for the attribute names and one for the values: the plain
    ``<line number="12" hits="3"/>`` (coverage.py, tarpaulin, gcovr, istanbul) and coverage.py's
    ``branch="true" condition-coverage="50% (1/2)"``. Every other form goes through
    ``_read_line``, which handles them all (and gives the same answer for these).
    """
    hit_numbers, numbers, branches = into
    add_number, add_hit = numbers.add, hit_numbers.add
    search = _CONDITION.search
    # lxml's stubs say str | bytes; a document parsed from bytes gives str (int() takes both)
    raw_number: str | bytes
    raw_hits: str | bytes
    condition: str | None
    for el in elements:
        keys = el.keys()
        if keys == _NUMBER_HITS:
            raw_number, raw_hits = el.values()
            condition = None
        elif keys == _HITS_NUMBER:
            raw_hits, raw_number = el.values()
            condition = None
        elif keys[:4] == _COVERAGE_PY_BRANCH:
            raw_number, raw_hits, flag, condition = cast("list[str]", el.values()[:4])
            if flag != "true":
                _read_line(el, keys, into, problems)
                continue
        else:
            _read_line(el, keys, into, problems)
            continue
        try:
            number = int(raw_number)
            hits = int(raw_hits)
        except ValueError:
            number = -1
        if number < 0:  # "1.0", "-1", "NaN", ...
            _read_line(el, keys, into, problems)
            continue
        add_number(number)
        if hits > 0:
            add_hit(number)
        if condition is None:
            continue
        m = search(condition)
        if m is None:
            covered, total = _branches(el, hits > 0, "true", condition)
        else:
            total = int(m.group(2))
            covered = min(int(m.group(1)), total)
        if total:
            old = branches.get(number)
            branches[number] = (
                (covered, total) if old is None else (max(old[0], covered), max(old[1], total))
            )


def _read_line(
    el: etree._Element, keys: Sequence[str | bytes], into: _ClassLines, problems: _Problems
) -> None:
    """One <line> in any of its forms: branch attributes, odd numbers, missing attributes."""
    hit_numbers, numbers, branches = into
    attrs = dict(zip(keys, cast("list[str]", el.values()), strict=True))
    raw_number, raw_hits = attrs.get("number"), attrs.get("hits")
    flag, condition = attrs.get("branch"), attrs.get("condition-coverage")
    number = _int(raw_number)  # also "1.0" (Swift converter); None for "-1", "NaN", nothing
    if number is None:
        problems.add("<line> without a usable number attribute was skipped", _line(el))
        return
    try:
        hit = int(raw_hits) > 0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        hits = _num(raw_hits)
        if hits is None:
            problems.add("<line> without a usable hits attribute was skipped", _line(el))
            return
        hit = hits > 0
    numbers.add(number)
    if hit:
        hit_numbers.add(number)
    if flag is None and condition is None:
        return
    covered, total = _branches(el, hit, flag, condition)
    if total:
        old = branches.get(number)
        # the same line twice (sbt-scoverage: one <line> per statement; several classes)
        branches[number] = (
            (covered, total) if old is None else (max(old[0], covered), max(old[1], total))
        )


def _branches(
    el: etree._Element, hit: bool, flag: str | None, condition: str | None
) -> tuple[int, int]:
    """(covered, total) branches of one <line> with a ``branch`` or ``condition-coverage``."""
    # coverlet writes branch="True"/"False"
    is_branch = flag is not None and flag.strip().lower() == "true"
    if flag is not None and not is_branch:
        return 0, 0
    if condition:
        m = _CONDITION.search(condition)
        if m:
            covered, total = int(m.group(1)), int(m.group(2))
            return min(covered, total), total
    if not is_branch:
        return 0, 0
    # grcov writes branch lines without condition-coverage, one <condition coverage="0|1"> each
    conditions = el.findall("conditions/condition")
    if conditions:
        taken = sum(1 for c in conditions if (_num((c.get("coverage") or "").rstrip("%")) or 0) > 0)
        return taken, len(conditions)
    # sbt-scoverage writes one branch="true" <line> per branch statement, nothing else
    return (1 if hit else 0), 1


def _finish_class(
    el: etree._Element,
    package: str,
    lines: _ClassLines,
    sources: list[str],
    files: dict[str, _File],
    problems: _Problems,
) -> None:
    raw = el.get("filename")
    if raw is None or not raw.strip():
        raw = el.get("name") or ""
        problems.add("<class> without a filename attribute: its name is used as path", _line(el))
    path = normalise_path(raw, sources)
    f = files.get(path)
    if f is None:
        f = files[path] = _File(package=package)
    hit_numbers, numbers, branches = lines
    if numbers:
        if f.covered or f.missed:
            # Java inner classes, coverlet async state machines, tarpaulin: same file again;
            # a line is covered when any entry hit it
            hit_numbers.update(f.covered)
            numbers.update(f.covered, f.missed)
        f.covered = tuple(sorted(hit_numbers))
        f.missed = tuple(sorted(numbers.difference(hit_numbers)))
        for number, (covered, total) in branches.items():
            old = f.branches.get(number)
            f.branches[number] = (
                (covered, total) if old is None else (max(old[0], covered), max(old[1], total))
            )
        return
    valid, covered_attr = _int(el.get("lines-valid")), _int(el.get("lines-covered"))
    if valid is not None and covered_attr is not None:
        f.attr_valid += valid
        f.attr_covered += min(covered_attr, valid)
        f.attr_line = f.attr_line or _line(el) or 0
        return
    rate = _rate(el.get("line-rate"))
    if rate is not None and 0 < rate < 1:
        f.declared_rates.append((rate, _line(el) or 0))


def _build(
    files: dict[str, _File],
    package_order: list[str],
    sources: list[str],
    root_attrs: dict[str, str],
    root_line: int,
    source: str,
) -> tuple[CoverageReport, list[str]]:
    warnings: list[str] = []
    out: list[FileCoverage] = []
    for path in sorted(files):
        f = files[path]
        valid, covered = len(f.covered) + len(f.missed), len(f.covered)
        if not valid and f.attr_valid:
            valid, covered = f.attr_valid, f.attr_covered
            warnings.append(
                f"{source}:{f.attr_line}: {path}: no <line> elements; counts taken from the "
                "<class> attributes (line numbers unknown, patch coverage cannot use them)"
            )
        elif not valid and f.declared_rates:
            rate, line = f.declared_rates[0]
            warnings.append(
                f"{source}:{line}: {path}: <class> declares line-rate {rate:g} but lists no "
                "<line>; counted as 0 lines"
            )
        out.append(
            FileCoverage(
                path=path,
                package=f.package,
                lines_valid=valid,
                lines_covered=covered,
                branches_valid=sum(v[1] for v in f.branches.values()),
                branches_covered=sum(v[0] for v in f.branches.values()),
                covered_lines=f.covered,
                missed_lines=f.missed,
            )
        )
    by_package: dict[str, list[FileCoverage]] = {name: [] for name in package_order}
    for fc in out:
        by_package.setdefault(fc.package, []).append(fc)
    packages = tuple(_sum(name, members) for name, members in by_package.items())
    total = _sum("", out)
    warnings.extend(_declared_mismatch(root_attrs, total, root_line, source))
    report = CoverageReport(
        producer="unknown",
        sources=tuple(sources),
        files=tuple(out),
        packages=packages,
        total=total,
        declared_line_rate=_rate(root_attrs.get("line-rate")),
    )
    return report, warnings


def _sum(name: str, members: list[FileCoverage]) -> PackageCoverage:
    return PackageCoverage(
        name=name,
        lines_valid=sum(f.lines_valid for f in members),
        lines_covered=sum(f.lines_covered for f in members),
        branches_valid=sum(f.branches_valid for f in members),
        branches_covered=sum(f.branches_covered for f in members),
    )


def _declared_mismatch(
    attrs: dict[str, str], total: PackageCoverage, root_line: int, source: str
) -> list[str]:
    """Say so when the root's own counts disagree with its <line> elements (we trust the lines)."""
    out = []
    for what, valid_key, covered_key, valid, covered in (
        ("lines", "lines-valid", "lines-covered", total.lines_valid, total.lines_covered),
        (
            "branches",
            "branches-valid",
            "branches-covered",
            total.branches_valid,
            total.branches_covered,
        ),
    ):
        d_valid, d_covered = _int(attrs.get(valid_key)), _int(attrs.get(covered_key))
        if d_valid is None or d_covered is None:
            continue
        if (d_valid, d_covered) != (valid, covered):
            out.append(
                f"{source}:{root_line}: <coverage> declares {covered_key}={d_covered} "
                f"{valid_key}={d_valid}, but its <line> elements give {covered} of {valid} "
                f"{what}; gatekeeper uses the <line> elements"
            )
    return out


# ---------------------------------------------------------------------------------------------
# paths
# ---------------------------------------------------------------------------------------------


def _norm_source(text: str) -> str:
    """A <source> as a comparable prefix: '' for empty ones and leaked '--source' flags."""
    s = text.strip().replace("\\", "/")
    # sbt-scoverage, Cobertura 1.9 and ReportGenerator leak command-line flags as sources
    if not s or s.startswith("--"):
        return ""
    while len(s) > 1 and s.endswith("/") and not re.fullmatch(r"[A-Za-z]:/", s):
        s = s[:-1]
    return s


def _is_absolute(p: str) -> bool:
    return p.startswith("/") or bool(_DRIVE.match(p))


def normalise_path(raw: str, sources: list[str] | tuple[str, ...]) -> str:
    """Forward slashes, no './', relative to the first <source> an absolute path lies under.

    ``sources`` are already normalised by ``_norm_source``. Windows paths (``C:/...``) compare
    case-insensitively, as Windows does.
    """
    p = raw.strip().replace("\\", "/")
    unc = "//" if p.startswith("//") else ""  # keep a UNC share's leading //
    p = unc + re.sub(r"/{2,}", "/", p[len(unc) :])
    while "/./" in p:
        p = p.replace("/./", "/")
    while p.startswith("./"):
        p = p[2:]
    if not _is_absolute(p):
        return p
    fold = bool(_DRIVE.match(p))
    key = p.casefold() if fold else p
    for src in sources:
        if not _is_absolute(src):
            continue
        prefix = src.rstrip("/") + "/"
        if key.startswith(prefix.casefold() if fold else prefix) and len(p) > len(prefix):
            return p[len(prefix) :]
    return p


# ---------------------------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------------------------


def _line(el: etree._Element) -> int | None:
    n = el.sourceline
    return n if isinstance(n, int) else None


def _num(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _int(value: str | None) -> int | None:
    """An integer attribute; also accepts '1.0' (Swift converter), not 'NaN' (MATLAB)."""
    if value is not None and value.isdigit():
        return int(value)
    x = _num(value)
    if x is None or x != int(x) or x < 0:
        return None
    return int(x)


def _rate(value: str | None) -> float | None:
    x = _num(value)
    return x if x is not None and 0 <= x <= 1 else None


# ---------------------------------------------------------------------------------------------
# producer
# ---------------------------------------------------------------------------------------------


def _producer(head: bytes, attrs: dict[str, str], doctype_url: str, paths: list[str]) -> str:
    """Best effort: which tool wrote the report (see docs/formats/cobertura.md for the rules)."""
    text = head.decode("utf-8", errors="replace")
    version = attrs.get("version", "").strip()
    order = tuple(attrs)
    suffixes = Counter(p.rsplit(".", 1)[-1].lower() for p in paths if "." in p.rsplit("/", 1)[-1])
    main = suffixes.most_common(1)[0][0] if suffixes else ""
    if "Generated by coverage.py" in text:
        return "coverage.py"
    if "simplecov-cobertura" in text:
        return "simplecov-cobertura"
    if version.startswith("gcovr"):
        return "gcovr"
    if order[:3] == ("lines-covered", "lines-valid", "line-rate") and version == "1.9":
        # grcov and tarpaulin write the same attributes; only grcov writes a DOCTYPE
        return "grcov" if doctype_url else "cargo-tarpaulin"
    if order[:3] == ("lines-valid", "lines-covered", "line-rate") and version == "0.1":
        return "istanbul"
    if version.startswith("2.0.") and list(order) == sorted(order):
        # lcov_cobertura / lcov2cobertura (what cargo-llvm-cov --cobertura uses) sort attributes
        return "cargo-llvm-cov" if main == "rs" else "lcov_cobertura"
    if _COVERAGE_PY_VERSION.match(version) and list(order) == sorted(order):
        return "coverage.py"  # 3.x/4.x wrote no generator comment; minidom sorted attributes
    if version == "1.9" and order[:5] == (
        "line-rate",
        "branch-rate",
        "version",
        "timestamp",
        "lines-covered",
    ):
        return "coverlet"  # Java Cobertura 1.9 has the same order but no lines-covered
    if version == "1.9" and order[:4] == ("line-rate", "branch-rate", "complexity", "version"):
        return "dotnet-coverage"
    if version == "0" and order[:3] == ("line-rate", "branch-rate", "lines-covered"):
        return "reportgenerator"
    if version == "0.4" and main == "php":
        return "phpunit"
    if main == "scala":
        return "scoverage"
    if main == "java" and version[:2] in ("1.", "2."):
        return "cobertura"
    return "unknown"
