"""Tests for the Cobertura parser: the real corpus, checked against independent counts."""

from __future__ import annotations

import http.server
import re
import threading
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycobertura import Cobertura

from gatekeeper.errors import (
    EmptyReportError,
    ReportParseError,
    UnsafeInputError,
    WrongFormatError,
)
from gatekeeper.model import CoverageReport, FileCoverage, PackageCoverage
from gatekeeper.parsers import cobertura
from tests.conftest import REALWORLD, corpus_files, corpus_params

CORPUS = REALWORLD / "cobertura"
ALL_FILES = [p.name for p in corpus_files("cobertura") if p.suffix == ".xml"]
NOT_XML = "bpkg__not_xml_placeholder.xml"
VALID = [name for name in ALL_FILES if name != NOT_XML]

# Root <coverage> counts that do not match the file's own <line> elements (checked: the parser
# must warn about each of these, and match the root everywhere else).
LINE_COUNTS_DIFFER = {
    "jest-cov-reporter__sbt_scoverage_scala_large.xml": "scoverage counts statements, "
    "several per source line; we count distinct lines",
    "pycobertura__no_branch_rate.xml": "trimmed fixture: the class lists no <line> at all",
    "reportgenerator__dotnet_coverage.xml": "hand-edited fixture: counts do not add up",
    "reportgenerator__dotnet_test_collect_old.xml": "fixture cut down from a 14k-line report",
    "reportgenerator__reportgenerator_output.xml": "ReportGenerator fixture: counts differ",
}
BRANCH_COUNTS_DIFFER = {
    "cobertura-action__istanbul_nyc.xml": "istanbul puts condition-coverage only on statement "
    "lines; its root counts every branch",
    "jest-istanbul__grandlinex_core.xml": "istanbul, as above",
    "jest-istanbul__mjml_bar_chart_small.xml": "istanbul, as above",
    "reportgenerator__istanbul_large.xml": "istanbul lines carry no branch data at all",
    "jest-cov-reporter__sbt_scoverage_scala_large.xml": "one branch per statement; several on "
    "one line collapse",
    "reportgenerator__dotnet_test_collect_old.xml": "fixture cut down",
    "reportgenerator__swift_xccov_converted.xml": "root declares 1 branch, no line has one",
}
# The MANIFEST's producer column, mapped to the names the parser uses.
PRODUCERS = {
    "cargo-llvm-cov__rust_things3_workspace.xml": "cargo-llvm-cov",
    "cobertura-action__coveragepy_4_0_empty_source.xml": "coverage.py",
    "cobertura-action__istanbul_nyc.xml": "istanbul",
    "codecoveragesummary__coverlet_edlib_300k.xml": "coverlet",
    "codecoveragesummary__gcovr_5_0.xml": "gcovr",
    "codecoveragesummary__matlab_nan_rates.xml": "unknown",
    "codecoveragesummary__simplecov_cobertura_ruby.xml": "simplecov-cobertura",
    "coveragepy__gold_x_xml_5_0.xml": "coverage.py",
    "coveragepy__gold_y_xml_branch_5_0.xml": "coverage.py",
    "diff-cover__coveragepy_3_6.xml": "coverage.py",
    "diff-cover__dotnet_opencover_to_cobertura_bom.xml": "reportgenerator",
    "diff-cover__luacov_cobertura_windows_paths.xml": "unknown",
    "diff-cover__missing_lines.xml": "coverage.py",
    "diff-cover__unicode_filename_src.xml": "coverage.py",
    "gcovr__coexisting_objdirs.xml": "gcovr",
    "gcovr__example_conditions.xml": "gcovr",
    "gcovr__filter_absolute_paths.xml": "gcovr",
    "gcovr__nested_packages_clang12.xml": "gcovr",
    "gcovr__no_branches_rate_1.xml": "gcovr",
    "gcovr__source_dir_with_space.xml": "gcovr",
    "gcovr__template_function_merged.xml": "gcovr",
    "gcovr__throw_branches_gcc11.xml": "gcovr",
    "gcovr__virtual_classes_clang17_darwin.xml": "gcovr",
    "gcovr__windows_empty_source.xml": "gcovr",
    "jest-cov-reporter__sbt_scoverage_scala_large.xml": "scoverage",
    "jest-istanbul__grandlinex_core.xml": "istanbul",
    "jest-istanbul__mjml_bar_chart_small.xml": "istanbul",
    "neo4j-symfony__phpunit_cobertura.xml": "phpunit",
    "pycobertura__cobertura_maven_java_classic.xml": "cobertura",
    "pycobertura__coveragepy_3_7_no_sources.xml": "coverage.py",
    "pycobertura__coveragepy_6_branch_missing_branches.xml": "coverage.py",
    "pycobertura__coveragepy_moved_files.xml": "coverage.py",
    "pycobertura__coveragepy_source1.xml": "coverage.py",
    "pycobertura__istanbul_coffeescript_no_package_elem.xml": "istanbul",
    "pycobertura__no_branch_rate.xml": "istanbul",
    "reportgenerator__altcover.xml": "unknown",
    "reportgenerator__cobertura_2_1_1_multisource.xml": "cobertura",
    "reportgenerator__coverlet.xml": "coverlet",
    "reportgenerator__dotnet_coverage.xml": "dotnet-coverage",
    "reportgenerator__dotnet_test_collect_old.xml": "dotnet-coverage",
    "reportgenerator__istanbul_large.xml": "istanbul",
    "reportgenerator__opencppcoverage_minimal.xml": "unknown",
    "reportgenerator__reportgenerator_output.xml": "reportgenerator",
    "reportgenerator__swift_xccov_converted.xml": "unknown",
    "tarpaulin__async_fsm_small.xml": "cargo-tarpaulin",
    "tarpaulin__candle_optimisers.xml": "cargo-tarpaulin",
    "tarpaulin__derive_enum_zero_coverage_empty_package.xml": "cargo-tarpaulin",
    "tarpaulin__karva_empty_packages.xml": "cargo-tarpaulin",
    "tarpaulin__rustpods_windows_backslash_packages.xml": "cargo-tarpaulin",
    "tarpaulin__s2json_small.xml": "cargo-tarpaulin",
    "tarpaulin__sylvia_workspace.xml": "cargo-tarpaulin",
    "tarpaulin__tgit_windows_source_path.xml": "cargo-tarpaulin",
    "tarpaulin__typed_fsm_full_coverage_examples_pkg.xml": "cargo-tarpaulin",
    "tarpaulin__yl_single_line_65k.xml": "cargo-tarpaulin",
}
# pycobertura reads only a class's own <lines>; this converter writes lines under methods only.
PYCOBERTURA_CANNOT = {"reportgenerator__swift_xccov_converted.xml"}


def ids(names: list[str]) -> list[str]:
    return [n.removesuffix(".xml") for n in names]


def load(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def report_of(data: bytes, source: str = "cov.xml") -> CoverageReport:
    parsed = cobertura.parse(data, source)
    assert parsed.format == "cobertura"
    assert len(parsed.coverage) == 1
    return parsed.coverage[0]


def xml(body: str, root_attrs: str = "", sources: str = "") -> bytes:
    return (
        f'<?xml version="1.0" ?>\n<coverage {root_attrs}>\n<sources>{sources}</sources>\n'
        f"<packages>{body}</packages>\n</coverage>\n"
    ).encode()


def cls(filename: str, lines: str, name: str = "C", extra: str = "") -> str:
    return f'<class name="{name}" filename="{filename}" {extra}><lines>{lines}</lines></class>'


def pkg(name: str, *classes: str) -> str:
    return f'<package name="{name}"><classes>{"".join(classes)}</classes></package>'


# ---------------------------------------------------------------------------------------------
# An independent reading, with the standard library's ElementTree and a merge written here
# ---------------------------------------------------------------------------------------------


def expected_path(raw: str, sources: list[str]) -> str:
    p = raw.strip().replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    for s in sources:
        s = s.strip().replace("\\", "/").rstrip("/")
        if not s or s.startswith("--") or not (s.startswith("/") or s[1:3] == ":/"):
            continue
        if p.lower().startswith(s.lower() + "/"):
            return p[len(s) + 1 :]
    return p


def branch_counts(line: ET.Element, hit: bool) -> tuple[int, int]:
    flag = (line.get("branch") or "").lower()
    if flag == "false":
        return 0, 0
    m = re.search(r"\((\d+)/(\d+)\)", line.get("condition-coverage") or "")
    if m:
        return int(m[1]), int(m[2])
    if flag != "true":
        return 0, 0
    conditions = line.findall("conditions/condition")
    if conditions:
        return sum(float(c.get("coverage", "0").rstrip("%")) > 0 for c in conditions), len(
            conditions
        )
    return int(hit), 1


def independent(data: bytes) -> dict[str, dict[int, tuple[bool, int, int]]]:
    root = ET.fromstring(data)
    sources = [s.text or "" for s in root.iter("source")]
    files: dict[str, dict[int, tuple[bool, int, int]]] = defaultdict(dict)
    for c in root.iter("class"):
        use = c.findall("lines/line") or c.findall("methods/method/lines/line")
        merged = files[expected_path(c.get("filename", ""), sources)]
        for line in use:
            n = int(line.get("number", ""))
            hit = float(line.get("hits", "")) > 0
            bc, bt = branch_counts(line, hit)
            old = merged.get(n, (False, 0, 0))
            merged[n] = (old[0] or hit, max(old[1], bc), max(old[2], bt))
    return files


# ---------------------------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------------------------


@pytest.mark.realworld
@pytest.mark.parametrize("name", corpus_params(VALID, ids(VALID)))
def test_corpus_counts_match_an_independent_reading(name: str) -> None:
    data = load(name)
    report = report_of(data, name)
    expected = independent(data)
    got = {f.path: f for f in report.files}
    assert sorted(got) == sorted(expected)
    for path, lines in expected.items():
        f = got[path]
        assert f.covered_lines == tuple(sorted(n for n, v in lines.items() if v[0])), path
        assert f.missed_lines == tuple(sorted(n for n, v in lines.items() if not v[0])), path
        assert f.lines_valid == len(lines), path
        assert f.branches_valid == sum(v[2] for v in lines.values()), path
        assert f.branches_covered == sum(v[1] for v in lines.values()), path
    assert report.total.lines_valid == sum(len(v) for v in expected.values())
    assert report.total.lines_covered == sum(
        1 for v in expected.values() for hit, _, _ in v.values() if hit
    )


def root_counts(data: bytes, valid: str, covered: str) -> tuple[int, int] | None:
    root = ET.fromstring(data)
    try:
        return int(float(root.attrib[valid])), int(float(root.attrib[covered]))
    except (KeyError, ValueError):  # absent, or "NaN" (MATLAB)
        return None


WITH_ROOT_LINE_COUNTS = [
    n for n in VALID if root_counts(load(n), "lines-valid", "lines-covered") is not None
]
WITH_ROOT_BRANCH_COUNTS = [
    n for n in VALID if root_counts(load(n), "branches-valid", "branches-covered") is not None
]


@pytest.mark.realworld
@pytest.mark.parametrize("name", corpus_params(WITH_ROOT_LINE_COUNTS, ids(WITH_ROOT_LINE_COUNTS)))
def test_corpus_line_totals_match_the_producers_own_summary(name: str) -> None:
    data = load(name)
    parsed = cobertura.parse(data, name)
    total = parsed.coverage[0].total
    declared = root_counts(data, "lines-valid", "lines-covered")
    mismatch = [w for w in parsed.warnings if "lines-valid=" in w]
    if name in LINE_COUNTS_DIFFER:
        assert declared != (total.lines_valid, total.lines_covered)
        assert len(mismatch) == 1 and mismatch[0].startswith(f"{name}:")
    else:
        assert declared == (total.lines_valid, total.lines_covered)
        assert mismatch == []


@pytest.mark.realworld
@pytest.mark.parametrize(
    "name", corpus_params(WITH_ROOT_BRANCH_COUNTS, ids(WITH_ROOT_BRANCH_COUNTS))
)
def test_corpus_branch_totals_match_the_producers_own_summary(name: str) -> None:
    data = load(name)
    parsed = cobertura.parse(data, name)
    total = parsed.coverage[0].total
    declared = root_counts(data, "branches-valid", "branches-covered")
    mismatch = [w for w in parsed.warnings if "branches-valid=" in w]
    if name in BRANCH_COUNTS_DIFFER:
        assert declared != (total.branches_valid, total.branches_covered)
        assert len(mismatch) == 1
    else:
        assert declared == (total.branches_valid, total.branches_covered)
        assert mismatch == []


@pytest.mark.realworld
def test_the_known_differences_are_all_in_the_corpus() -> None:
    assert set(LINE_COUNTS_DIFFER) <= set(WITH_ROOT_LINE_COUNTS)
    assert set(BRANCH_COUNTS_DIFFER) <= set(WITH_ROOT_BRANCH_COUNTS)


PYCOBERTURA_FILES = [n for n in VALID if n not in PYCOBERTURA_CANNOT]


@pytest.mark.realworld
@pytest.mark.parametrize("name", corpus_params(PYCOBERTURA_FILES, ids(PYCOBERTURA_FILES)))
def test_corpus_lines_agree_with_pycobertura(name: str) -> None:
    """pycobertura as a second, unrelated reader of the same files.

    It keeps raw filenames and counts partly covered branch lines as misses, so we compare what
    both must agree on: which line numbers each file has, and that its fully hit lines are ours.
    """
    data = load(name)
    report = report_of(data, name)
    ours = {f.path: f for f in report.files}
    sources = [s.text or "" for s in ET.fromstring(data).iter("source")]
    py = Cobertura(str(CORPUS / name))
    numbers: dict[str, set[int]] = defaultdict(set)
    hit: dict[str, set[int]] = defaultdict(set)
    for raw in py.files():
        path = expected_path(raw, sources)
        numbers[path] |= set()  # a file without lines is still a file
        for n, status in py.line_statuses(raw):
            numbers[path].add(n)
            if status == "hit":
                hit[path].add(n)
    assert set(numbers) == set(ours)
    has_conditions = b"condition-coverage" in data
    for path, f in ours.items():
        assert numbers[path] == set(f.covered_lines) | set(f.missed_lines), path
        assert hit[path] <= set(f.covered_lines), path
        if not has_conditions:  # then pycobertura's "hit" is exactly hits > 0
            assert hit[path] == set(f.covered_lines), path


@pytest.mark.realworld
def test_swift_method_only_lines_are_read_where_pycobertura_sees_none() -> None:
    name = "reportgenerator__swift_xccov_converted.xml"
    assert Cobertura(str(CORPUS / name)).total_statements() == 0
    report = report_of(load(name))
    (f,) = report.files
    assert (f.path, f.package) == ("test_folder/firstTest.swift", "ComponentsTests/app")
    assert (f.covered_lines, f.missed_lines) == ((16,), (5,))


@pytest.mark.realworld
@pytest.mark.parametrize("name", corpus_params(VALID, ids(VALID)))
def test_corpus_report_invariants(name: str) -> None:
    parsed = cobertura.parse(load(name), name)
    report = parsed.coverage[0]
    paths = [f.path for f in report.files]
    assert paths == sorted(set(paths))
    for f in report.files:
        assert "\\" not in f.path and not f.path.startswith("./") and f.path
        assert f.lines_valid == len(f.covered_lines) + len(f.missed_lines)
        assert not set(f.covered_lines) & set(f.missed_lines)
        assert list(f.covered_lines) == sorted(f.covered_lines)
        assert 0 <= f.branches_covered <= f.branches_valid
    for part in (report.packages, [report.total]):
        assert sum(p.lines_valid for p in part) == sum(f.lines_valid for f in report.files)
        assert sum(p.lines_covered for p in part) == sum(f.lines_covered for f in report.files)
        assert sum(p.branches_valid for p in part) == sum(f.branches_valid for f in report.files)
    for w in parsed.warnings:
        assert re.match(rf"{re.escape(name)}:\d+: ", w), w


@pytest.mark.realworld
@pytest.mark.parametrize("name", corpus_params(VALID, ids(VALID)))
def test_corpus_package_names_are_kept(name: str) -> None:
    data = load(name)
    report = report_of(data)
    names = list(dict.fromkeys(p.get("name", "") for p in ET.fromstring(data).iter("package")))
    listed = [p.name for p in report.packages]
    # every <package> is listed, in document order; "" is added for classes outside any package
    assert [n for n in listed if n in names] == names
    assert set(listed) - set(names) <= {""}
    assert {f.package for f in report.files} <= set(listed)


@pytest.mark.realworld
@pytest.mark.parametrize("name", corpus_params(VALID, ids(VALID)))
def test_corpus_declared_line_rate_is_the_root_attribute(name: str) -> None:
    data = load(name)
    raw = ET.fromstring(data).get("line-rate")
    declared = report_of(data).declared_line_rate
    if raw is None or raw == "NaN":
        assert declared is None
    else:
        assert declared == float(raw)


@pytest.mark.realworld
@pytest.mark.parametrize("name", corpus_params(sorted(PRODUCERS), ids(sorted(PRODUCERS))))
def test_corpus_producer_as_the_manifest_says(name: str) -> None:
    assert report_of(load(name)).producer == PRODUCERS[name]


@pytest.mark.realworld
def test_every_corpus_file_has_an_expected_producer() -> None:
    assert sorted(PRODUCERS) == VALID


@pytest.mark.realworld
@pytest.mark.parametrize("name", corpus_params(VALID, ids(VALID)))
def test_sniff_claims_every_corpus_report(name: str) -> None:
    assert cobertura.sniff(load(name)[:65536]) == 90


OTHER_FORMATS = [str(p.relative_to(REALWORLD)) for p in corpus_files("junit", "cargo", "bench")]


@pytest.mark.realworld
@pytest.mark.parametrize("rel", corpus_params(OTHER_FORMATS, OTHER_FORMATS))
def test_sniff_leaves_other_formats_alone(rel: str) -> None:
    assert cobertura.sniff((REALWORLD / rel).read_bytes()[:65536]) == 0


# ---------------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------------


@pytest.mark.realworld
def test_tarpaulin_windows_backslash_paths_become_slashes_package_names_kept() -> None:
    report = report_of(load("tarpaulin__rustpods_windows_backslash_packages.xml"))
    by_path = {f.path: f for f in report.files}
    assert report.sources == ("C:/Code/RustPods",)
    assert by_path["src/airpods/battery.rs"].package == "src\\airpods"
    assert "src\\airpods" in [p.name for p in report.packages]
    assert all("\\" not in p for p in by_path)
    assert [f.path for f in report_of(load("tarpaulin__tgit_windows_source_path.xml")).files] == [
        "src/main.rs"
    ]


@pytest.mark.realworld
def test_absolute_windows_filenames_are_made_relative_to_their_source() -> None:
    report = report_of(load("reportgenerator__altcover.xml"))  # <source>C:\temp</source>
    assert "AbstractClass.cs" in [f.path for f in report.files]
    assert all(not f.path.startswith("C:") for f in report.files)


@pytest.mark.realworld
def test_absolute_filenames_without_sources_stay_absolute_with_slashes() -> None:
    paths = [f.path for f in report_of(load("reportgenerator__dotnet_coverage.xml")).files]
    assert "C:/temp/AbstractClass.cs" in paths
    assert (
        "C:/Users/Daniel Palme/Documents/Projects/ReportGenerator/src/Testprojects/CSharp/"
        "Project_DotNetCore/UnitTests/UnitTest.cs" in paths
    )
    self_closed = report_of(load("reportgenerator__reportgenerator_output.xml"))  # <sources />
    assert self_closed.sources == ()
    assert "C:/temp/PartialClass.cs" in [f.path for f in self_closed.files]


@pytest.mark.realworld
def test_dot_backslash_filenames_lose_the_dot() -> None:
    report = report_of(load("diff-cover__luacov_cobertura_windows_paths.xml"))
    assert [f.path for f in report.files] == ["scripts/maths.lua", "tests/test.lua"]


@pytest.mark.realworld
def test_bogus_and_whitespace_sources() -> None:
    report = report_of(load("diff-cover__dotnet_opencover_to_cobertura_bom.xml"))
    assert report.sources == ("/code/samplediff/SampleApp",)  # '--source' dropped, trimmed
    coverlet = report_of(load("codecoveragesummary__coverlet_edlib_300k.xml"))
    assert coverlet.sources == ("D:/Dev/Csharp/EDlib/src",)  # trailing backslash dropped
    scala = load("jest-cov-reporter__sbt_scoverage_scala_large.xml")
    real = [s.text for s in ET.fromstring(scala).iter("source") if s.text != "--source"]
    assert report_of(scala).sources == tuple(dict.fromkeys(real))  # listed once each
    assert len(real) > len(set(real))
    assert report_of(load("gcovr__windows_empty_source.xml")).sources == ()
    assert report_of(load("cobertura-action__coveragepy_4_0_empty_source.xml")).sources == ()


def test_inline_absolute_posix_paths_relative_to_the_first_matching_source() -> None:
    body = pkg(
        "p",
        cls("/home/u/proj/src/a.py", '<line number="1" hits="1"/>'),
        cls("/home/u/projector/b.py", '<line number="1" hits="0"/>'),
        cls("/elsewhere/c.py", '<line number="1" hits="0"/>'),
        cls("./d.py", '<line number="1" hits="0"/>'),
        cls("src//e.py", '<line number="1" hits="0"/>'),
    )
    sources = "<source>--source</source><source>\n  /home/u/proj/ \n</source><source>/home</source>"
    report = report_of(xml(body, sources=sources))
    assert [f.path for f in report.files] == [
        "/elsewhere/c.py",
        "d.py",
        "src/a.py",
        "src/e.py",
        "u/projector/b.py",  # not under /home/u/proj (no directory boundary), under /home
    ]
    assert report.sources == ("/home/u/proj", "/home")


@pytest.mark.parametrize(
    ("raw", "sources", "expected"),
    [
        ("C:\\Temp\\X.cs", ["c:/temp"], "X.cs"),  # Windows compares case-insensitively
        ("/Home/x.py", ["/home"], "/Home/x.py"),  # POSIX does not
        ("/a/bc/x.py", ["/a/b"], "/a/bc/x.py"),  # a prefix that is not a directory
        ("/a/b", ["/a/b"], "/a/b"),  # the source itself is no file path
        ("\\\\server\\share\\x.cs", [], "//server/share/x.cs"),  # UNC kept
        (" ./././src/./m.rs ", [], "src/m.rs"),
        ("src/x.py", ["/abs"], "src/x.py"),
    ],
)
def test_normalise_path(raw: str, sources: list[str], expected: str) -> None:
    assert cobertura.normalise_path(raw, sources) == expected


# ---------------------------------------------------------------------------------------------
# Merging, branches, fallbacks
# ---------------------------------------------------------------------------------------------


def test_classes_of_one_file_are_merged_by_line_number() -> None:
    body = pkg(
        "p",
        cls("a.java", '<line number="1" hits="1"/><line number="3" hits="0"/>', "A"),
        cls("a.java", '<line number="3" hits="2"/><line number="4" hits="0"/>', "A$Inner"),
        cls("b.java", '<line number="1" hits="0"/>', "B"),
    )
    report = report_of(xml(body, 'lines-valid="5" lines-covered="3"'))
    a, b = report.files
    assert (a.path, a.lines_valid, a.lines_covered) == ("a.java", 3, 2)
    assert (a.covered_lines, a.missed_lines) == ((1, 3), (4,))
    assert (b.lines_valid, b.lines_covered) == (1, 0)
    assert (report.total.lines_valid, report.total.lines_covered) == (4, 2)


def test_a_file_in_two_packages_stays_in_the_first() -> None:
    body = pkg("one", cls("x.c", '<line number="1" hits="1"/>')) + pkg(
        "two", cls("x.c", '<line number="2" hits="0"/>'), cls("y.c", '<line number="1" hits="1"/>')
    )
    report = report_of(xml(body))
    assert [(f.path, f.package, f.lines_valid) for f in report.files] == [
        ("x.c", "one", 2),
        ("y.c", "two", 1),
    ]
    assert report.packages == (PackageCoverage("one", 2, 1), PackageCoverage("two", 1, 1))


@pytest.mark.realworld
@pytest.mark.parametrize(
    ("name", "classes", "files"),
    [
        ("codecoveragesummary__coverlet_edlib_300k.xml", 93, 39),
        ("pycobertura__cobertura_maven_java_classic.xml", 5, 4),
        ("jest-cov-reporter__sbt_scoverage_scala_large.xml", 212, 135),
    ],
    ids=["coverlet", "java-cobertura", "scoverage"],
)
def test_corpus_duplicate_classes_merge_into_one_file_each(
    name: str, classes: int, files: int
) -> None:
    root = ET.fromstring(load(name))
    assert len(list(root.iter("class"))) == classes
    assert len({c.get("filename") for c in root.iter("class")}) == files
    assert len(report_of(load(name)).files) == files


GRCOV_LINE = (
    '<line number="7" hits="3" branch="true"><conditions>'
    '<condition number="0" type="jump" coverage="1"/>'
    '<condition number="1" type="jump" coverage="0"/></conditions></line>'
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('<line number="7" hits="3" branch="true" condition-coverage="50% (1/2)"/>', (1, 2)),
        # coverlet writes capitalised booleans
        ('<line number="7" hits="3" branch="True" condition-coverage="33.33% (1/3)"/>', (1, 3)),
        ('<line number="7" hits="3" branch="False" condition-coverage="50% (1/2)"/>', (0, 0)),
        ('<line number="7" hits="3" condition-coverage="100% (4/4)"/>', (4, 4)),
        ('<line number="7" hits="3" branch="false"/>', (0, 0)),
        ('<line number="7" hits="3"/>', (0, 0)),
        (GRCOV_LINE, (1, 2)),  # grcov: one <condition> per branch, no condition-coverage
        ('<line number="7" hits="3" branch="true"/>', (1, 1)),  # sbt-scoverage: one per line
        ('<line number="7" hits="3" branch="true" condition-coverage="n/a"/>', (1, 1)),
    ],
    ids=["cc", "True", "False", "cc-only", "false", "plain", "grcov", "scoverage", "bad-cc"],
)
def test_branch_counting(line: str, expected: tuple[int, int]) -> None:
    f = report_of(xml(pkg("p", cls("a.c", line)))).files[0]
    assert (f.branches_covered, f.branches_valid) == expected
    assert f.covered_lines == (7,)


def test_branch_line_with_no_taken_branch_is_still_a_covered_line() -> None:
    # Cobertura's line-rate: a line is covered when hits > 0 (pycobertura would call it a miss)
    lines = '<line number="1" hits="4" branch="true" condition-coverage="0% (0/2)"/>'
    f = report_of(xml(pkg("p", cls("a.js", lines)))).files[0]
    assert (f.lines_covered, f.branches_covered, f.branches_valid) == (1, 0, 2)


def test_duplicate_branch_lines_take_the_better_entry() -> None:
    body = pkg(
        "p",
        cls("a.cs", '<line number="2" hits="0" branch="True" condition-coverage="0% (0/2)"/>'),
        cls("a.cs", '<line number="2" hits="1" branch="True" condition-coverage="50% (1/2)"/>'),
    )
    f = report_of(xml(body)).files[0]
    assert (f.lines_valid, f.lines_covered, f.branches_valid, f.branches_covered) == (1, 1, 2, 1)


@pytest.mark.realworld
def test_corpus_branch_formats() -> None:
    gcovr = report_of(load("codecoveragesummary__gcovr_5_0.xml")).total
    assert (gcovr.branches_covered, gcovr.branches_valid) == (100, 252)
    coverlet = report_of(load("reportgenerator__coverlet.xml")).total  # branch="True"
    assert (coverlet.branches_covered, coverlet.branches_valid) == (9, 14)


def test_method_lines_are_not_counted_twice() -> None:
    lines = '<line number="1" hits="1"/><line number="2" hits="0"/>'
    body = (
        '<class name="A" filename="a.ts"><methods><method name="m" signature="()V">'
        f'<lines><line number="1" hits="1"/></lines></method></methods><lines>{lines}</lines>'
        "</class>"
    )
    f = report_of(xml(pkg("p", body))).files[0]
    assert (f.lines_valid, f.lines_covered) == (2, 1)


def test_class_without_lines_falls_back_to_its_count_attributes() -> None:
    body = pkg("p", '<class name="A" filename="a.py" lines-valid="10" lines-covered="4"/>')
    parsed = cobertura.parse(xml(body), "cov.xml")
    f = parsed.coverage[0].files[0]
    assert (f.lines_valid, f.lines_covered, f.covered_lines) == (10, 4, ())
    assert any("counts taken from the <class> attributes" in w for w in parsed.warnings)


@pytest.mark.realworld
def test_class_with_only_a_rate_counts_zero_lines_and_says_so() -> None:
    parsed = cobertura.parse(load("pycobertura__no_branch_rate.xml"), "n.xml")
    f = parsed.coverage[0].files[0]
    assert (f.path, f.lines_valid, f.lines_covered) == ("app.coffee", 0, 0)
    assert any(
        w.startswith("n.xml:8: app.coffee: <class> declares line-rate 0.875")
        for w in parsed.warnings
    )
    assert parsed.coverage[0].declared_line_rate == 0.875


@pytest.mark.realworld
def test_istanbul_classes_directly_under_packages() -> None:
    report = report_of(load("pycobertura__istanbul_coffeescript_no_package_elem.xml"))
    assert report.packages == (PackageCoverage("", 8, 7, 2, 1),)  # the root's own counts
    (f,) = report.files
    assert (f.path, f.package) == ("app.coffee", "")
    nyc = report_of(load("cobertura-action__istanbul_nyc.xml"))
    assert [f.path for f in nyc.files] == ["src/action.js", "src/cobertura.js"]
    assert (nyc.total.lines_valid, nyc.total.lines_covered) == (51, 51)


@pytest.mark.realworld
def test_empty_packages_are_listed_with_zero_counts() -> None:
    report = report_of(load("tarpaulin__typed_fsm_full_coverage_examples_pkg.xml"))
    by_name = {p.name: p for p in report.packages}
    assert by_name["examples"] == PackageCoverage("examples", 0, 0)
    assert report.total.line_rate == 1.0


@pytest.mark.realworld
def test_nan_rates_and_counts() -> None:
    parsed = cobertura.parse(load("codecoveragesummary__matlab_nan_rates.xml"), "m.xml")
    report = parsed.coverage[0]
    assert report.declared_line_rate == 0.3705
    assert (report.total.lines_valid, report.total.lines_covered) == (278, 103)
    assert parsed.warnings == ()  # branches-valid="NaN" is no count to compare with
    nan = report_of(xml(pkg("", cls("a", '<line number="1" hits="1"/>')), 'line-rate="NaN"'))
    assert nan.declared_line_rate is None


@pytest.mark.realworld
def test_float_count_attributes_are_read_as_integers() -> None:
    parsed = cobertura.parse(load("reportgenerator__swift_xccov_converted.xml"), "s.xml")
    assert any("declares branches-covered=1 branches-valid=1" in w for w in parsed.warnings)
    assert not any("lines-valid" in w for w in parsed.warnings)  # "2" and "1" match


def test_unusable_line_attributes_are_skipped_with_one_warning() -> None:
    lines = (
        '<line number="x" hits="1"/><line hits="1"/><line number="3" hits="junk"/>'
        '<line number="4" hits="2.0"/><line number="5" hits="-1"/>'
    )
    parsed = cobertura.parse(xml(pkg("p", cls("a.c", lines))), "c.xml")
    f = parsed.coverage[0].files[0]
    assert (f.covered_lines, f.missed_lines) == ((4,), (5,))
    assert len(parsed.warnings) == 2
    assert parsed.warnings[0].startswith("c.xml:4: <line> without a usable number")
    assert "(2 times, first here)" in parsed.warnings[0]


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["a.rs", "src/b.rs", "C:\\w\\c.cs", "./d.py"]),
        st.lists(
            st.tuples(st.integers(1, 40), st.integers(0, 3), st.integers(0, 2)),
            min_size=1,
            max_size=30,
        ),
        min_size=1,
    )
)
def test_random_reports_split_over_classes(
    files: dict[str, list[tuple[int, int, int]]],
) -> None:
    """Lines spread over several <class>es per file (entry i goes to class i % split)."""
    classes = []
    expected: dict[str, dict[int, bool]] = {}
    for name, entries in files.items():
        split = 1 + len(entries) % 3
        for k in range(split):
            lines = "".join(
                f'<line number="{n}" hits="{h}"/>'
                for i, (n, h, _) in enumerate(entries)
                if i % split == k
            )
            classes.append(cls(name, lines, f"K{k}"))
        merged: dict[int, bool] = {}
        for n, h, _ in entries:
            merged[n] = merged.get(n, False) or h > 0
        expected[cobertura.normalise_path(name, [])] = merged
    report = report_of(xml(pkg("p", *classes)))
    got = {f.path: f for f in report.files}
    assert set(got) == set(expected)
    for path, merged in expected.items():
        assert got[path].covered_lines == tuple(sorted(n for n, h in merged.items() if h))
        assert got[path].missed_lines == tuple(sorted(n for n, h in merged.items() if not h))


# ---------------------------------------------------------------------------------------------
# Errors and safety
# ---------------------------------------------------------------------------------------------


@pytest.mark.realworld
def test_placeholder_text_is_refused_as_not_xml() -> None:
    with pytest.raises(ReportParseError) as exc:
        cobertura.parse(load(NOT_XML), NOT_XML)
    assert exc.value.line == 1
    assert str(exc.value).startswith(f"{NOT_XML}:1: not XML")
    assert cobertura.sniff(load(NOT_XML)) == 0


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"  \r\n\t"], ids=["zero", "bom", "ws"])
def test_empty_input(data: bytes) -> None:
    with pytest.raises(EmptyReportError, match=r"^e\.xml: the file is empty"):
        cobertura.parse(data, "e.xml")


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><coverage line-rate="0"><sources/><packages/></coverage>',
        b'<coverage><packages><package name="p"><classes></classes></package></packages>'
        b"</coverage>",
    ],
    ids=["no-packages", "empty-package"],
)
def test_report_without_classes_is_empty(data: bytes) -> None:
    with pytest.raises(EmptyReportError, match="lists no <class>"):
        cobertura.parse(data, "e.xml")


@pytest.mark.realworld
@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_corpus_file(cut: float) -> None:
    data = load("gcovr__nested_packages_clang12.xml")
    part = data[: int(len(data) * cut)]
    with pytest.raises(ReportParseError) as exc:
        cobertura.parse(part, "t.xml")
    assert "XML is truncated: no closing </coverage>" in str(exc.value)
    assert exc.value.line is not None and exc.value.line >= part.count(b"\n") - 1
    assert exc.value.__cause__ is not None


def test_broken_xml_in_the_middle() -> None:
    data = xml(pkg("p", cls("a.c", '<line number="1" hits="1"/><line number="2" hits=3/>')))
    with pytest.raises(ReportParseError, match=r"^b\.xml:4: not well-formed XML"):
        cobertura.parse(data, "b.xml")


@pytest.mark.realworld
def test_other_xml_is_the_wrong_format() -> None:
    junit = REALWORLD / "junit" / "action-junit-report__pytest_single_line.xml"
    with pytest.raises(WrongFormatError, match=r"root element is <testsuites?>"):
        cobertura.parse(junit.read_bytes(), "j.xml")


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><coverage generated="1" clover="4.4.1"><project/></coverage>',
        b'<?xml version="1.0" encoding="UTF-8"?>\n<coverage generated="1700000000">\n'
        b'  <project timestamp="1700000000"><metrics files="0"/></project>\n</coverage>\n',
    ],
    ids=["openclover", "phpunit-clover"],
)
def test_clover_is_the_wrong_format(data: bytes) -> None:
    assert cobertura.sniff(data) == 0
    with pytest.raises(WrongFormatError, match="Clover XML"):
        cobertura.parse(data, "c.xml")


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE coverage [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
]>
<coverage line-rate="1"><sources><source>&f;</source></sources><packages>
<package name="&f;"><classes><class name="x" filename="x.py"><lines>
<line number="1" hits="1"/></lines></class></classes></package></packages></coverage>
"""


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(UnsafeInputError, match=r"^bomb\.xml:2: the DOCTYPE declares XML entities"):
        cobertura.parse(BOMB, "bomb.xml")


def test_external_entities_are_refused_and_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    for doctype in (
        f'<!DOCTYPE coverage [<!ENTITY x SYSTEM "file://{secret}">]>',
        f'<!DOCTYPE coverage [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>',
    ):
        data = (
            f'<?xml version="1.0"?>\n{doctype}\n<coverage><sources><source>&x;</source>'
            '</sources><packages><package name="p"><classes><class name="a" filename="a.py">'
            '<lines><line number="1" hits="1"/></lines></class></classes></package></packages>'
            "</coverage>"
        ).encode()
        with pytest.raises(UnsafeInputError) as exc:
            cobertura.parse(data, "xxe.xml")
        assert "TOP-SECRET" not in str(exc.value)


@pytest.fixture
def dtd_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request (a fetched DTD would show up here)."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = b'<!ENTITY secret "FETCHED">'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_plain_doctype_is_accepted_and_never_fetched(
    dtd_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, requests = dtd_server
    local = tmp_path / "coverage-04.dtd"
    local.write_text('<!ENTITY secret "FROM-LOCAL-DTD">')
    for system in (f"{url}/xml/coverage-04.dtd", f"file://{local}"):
        data = (
            f'<?xml version="1.0" ?>\n<!DOCTYPE coverage SYSTEM "{system}">\n'
            '<coverage line-rate="1"><sources><source>/src&secret;</source></sources><packages>'
            '<package name="p"><classes><class name="a" filename="/src/a.py"><lines>'
            '<line number="1" hits="1"/></lines></class></classes></package></packages>'
            "</coverage>"
        ).encode()
        report = report_of(data)
        assert report.sources == ("/src",)  # the entity stayed unresolved
        assert [f.path for f in report.files] == ["a.py"]
    assert requests == []


@pytest.mark.realworld
def test_corpus_doctypes_are_not_fetched(dtd_server: tuple[str, list[str]]) -> None:
    url, requests = dtd_server
    data = load("cargo-llvm-cov__rust_things3_workspace.xml").replace(
        b"https://cobertura.sourceforge.net", url.encode()
    )
    assert url.encode() in data
    assert report_of(data).total.lines_valid == 4381
    assert requests == []


# ---------------------------------------------------------------------------------------------
# sniff
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "score"),
    [
        (
            b"\xef\xbb\xbf<?xml version='1.0'?>\n<!-- c -->\n<!DOCTYPE coverage [\n"
            b"<!ELEMENT coverage ANY>]>\n<coverage line-rate='1'>",
            90,
        ),
        (b"<coverage\nline-rate='1'>", 90),
        (b'<?xml version="1.0"?><coverage/>', 90),
        ('<?xml version="1.0" encoding="utf-16"?><coverage>'.encode("utf-16"), 90),
        (b"<coverageX>", 0),
        (b"<testsuites><coverage>", 0),
        (b"<?xml version='1.0'?>", 0),
        (b"coverage", 0),
        (b"", 0),
        (b"<!DOCTYPE coverage [ <!-- ] > -->", 0),
    ],
)
def test_sniff_inline(head: bytes, score: int) -> None:
    assert cobertura.sniff(head) == score


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_sniff_never_raises(head: bytes) -> None:
    assert cobertura.sniff(head) in (0, 90)
    assert cobertura.sniff(b"<coverage " + head) in (0, 90)


@pytest.mark.realworld
def test_report_types_are_the_model() -> None:
    report = report_of(load("coveragepy__gold_y_xml_branch_5_0.xml"))
    assert report.files == (
        FileCoverage(
            path="y.py",
            package=".",
            lines_valid=5,
            lines_covered=4,
            branches_valid=2,
            branches_covered=1,
            covered_lines=(1, 2, 3, 7),
            missed_lines=(5,),
        ),
    )
    assert report.total == PackageCoverage("", 5, 4, 2, 1)
