"""The coverage gate: the real Cobertura corpus, Rust workspaces, hand-computed policy cases and a
real measured run gated on patch coverage against a real git base."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycobertura import Cobertura

from gatekeeper.gate.coverage import OVERALL, CoverageOutcome, coverage_outcome
from gatekeeper.gate.patch import diff_args, parse_diff
from gatekeeper.model import CoverageFigure, CoverageReport, FailureKind, FileCoverage
from gatekeeper.model import PackageCoverage as Pkg
from gatekeeper.parsers import cobertura
from gatekeeper.rules import CoverageRules, GateConfig, ServiceConfig
from tests.conftest import REALWORLD, corpus_manifest, corpus_params

CORPUS = REALWORLD / "cobertura"
VALID = sorted(
    line.split("\t")[0].removeprefix("cobertura/")
    for line in corpus_manifest()[1:]
    if line.startswith("cobertura/") and "MALFORMED" not in line.split("\t")[4]
)
# pycobertura reads only a class's own <lines>; this converter writes lines under methods only
PYCOBERTURA_CANNOT = {"reportgenerator__swift_xccov_converted.xml"}


def ids(names: Sequence[str]) -> list[str]:
    return [n.removesuffix(".xml") for n in names]


def parsed(name: str) -> CoverageReport:
    return cobertura.parse((CORPUS / name).read_bytes(), name).coverage[0]


def figures(outcome: CoverageOutcome) -> dict[str, CoverageFigure]:
    return {f.subject: f for f in outcome.figures}


def messages(findings: Sequence[object]) -> list[str]:
    return [f.message for f in findings]  # type: ignore[attr-defined]


def exact(path: str) -> str:
    """A glob that matches exactly this path (glob characters put in classes)."""
    return re.sub(r"([*?\[])", r"[\1]", path)


# ---------------------------------------------------------------------------------------------
# An independent reading of a Cobertura file: the standard library's ElementTree
# ---------------------------------------------------------------------------------------------


def norm(raw: str, sources: list[str]) -> str:
    p = raw.strip().replace("\\", "/")
    while "//" in p[1:]:
        p = p[0] + p[1:].replace("//", "/")
    while p.startswith("./"):
        p = p[2:]
    for s in sources:
        s = s.strip().replace("\\", "/").rstrip("/")
        if not s or s.startswith("--") or not (s.startswith("/") or s[1:3] == ":/"):
            continue
        if p.lower().startswith(s.lower() + "/"):
            return p[len(s) + 1 :]
    return p


class Independent:
    """Per file: line number -> hit, merged over classes; each file's first <package>."""

    def __init__(self, data: bytes) -> None:
        root = ET.fromstring(data)
        sources = [s.text or "" for s in root.iter("source")]
        self.lines: dict[str, dict[int, bool]] = defaultdict(dict)
        self.package: dict[str, str] = {}
        package = ""
        for event, el in ET.iterparse(io.BytesIO(data), events=("start", "end")):
            if el.tag == "package":
                package = el.get("name", "") if event == "start" else ""
            if el.tag != "class" or event != "end":
                continue
            path = norm(el.get("filename") or el.get("name", ""), sources)
            self.package.setdefault(path, package)
            table = self.lines[path]
            for line in el.findall("lines/line") or el.findall("methods/method/lines/line"):
                n = int(float(line.get("number", "")))
                table[n] = table.get(n, False) or float(line.get("hits", "")) > 0

    def counts(self, paths: Sequence[str]) -> tuple[int, int]:
        valid = sum(len(self.lines[p]) for p in paths)
        covered = sum(sum(self.lines[p].values()) for p in paths)
        return valid, covered

    def by_package(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for path, package in self.package.items():
            out[package].append(path)
        return out


# ---------------------------------------------------------------------------------------------
# The corpus: per-file and per-package figures equal the file's own counts
# ---------------------------------------------------------------------------------------------


@pytest.mark.realworld
def test_the_corpus_is_all_there() -> None:
    assert len(VALID) == 54
    assert all((CORPUS / n).is_file() for n in VALID)


@pytest.mark.realworld
@pytest.mark.parametrize("name", corpus_params(VALID, ids(VALID)))
def test_corpus_per_package_figures(name: str) -> None:
    """Each Cobertura package mapped to a service by a `packages` glob: every service's figure
    equals the independent count of the files whose first <package> it is."""
    data = (CORPUS / name).read_bytes()
    truth = Independent(data)
    packages = truth.by_package()
    names = {pkg: f"pkg{i}" for i, pkg in enumerate(sorted(packages))}
    config = GateConfig(
        services=tuple(
            ServiceConfig(name=names[pkg], packages=(exact(pkg),)) for pkg in sorted(packages)
        )
    )
    outcome = coverage_outcome([parsed(name)], config, "not-mapped")
    got = figures(outcome)
    assert "not-mapped" not in got
    for pkg, paths in packages.items():
        fig = got[names[pkg]]
        assert (fig.lines_valid, fig.lines_covered) == truth.counts(paths), pkg
        assert fig.files == len(paths)
    total_valid, total_covered = truth.counts(list(truth.lines))
    if len(packages) > 1:
        assert (got[OVERALL].lines_valid, got[OVERALL].lines_covered) == (
            total_valid,
            total_covered,
        )
        assert got[OVERALL].files == len(truth.lines)
    else:
        assert OVERALL not in got


@pytest.mark.realworld
@pytest.mark.parametrize("name", corpus_params(VALID, ids(VALID)))
def test_corpus_per_file_figures(name: str) -> None:
    """Each file mapped to a service of its own by its exact path."""
    data = (CORPUS / name).read_bytes()
    truth = Independent(data)
    paths = sorted(truth.lines)
    config = GateConfig(
        services=tuple(ServiceConfig(name=f"f{i}", paths=(exact(p),)) for i, p in enumerate(paths))
    )
    got = figures(coverage_outcome([parsed(name)], config, "not-mapped"))
    assert "not-mapped" not in got
    for i, path in enumerate(paths):
        fig = got[f"f{i}"]
        assert (fig.lines_valid, fig.lines_covered) == truth.counts([path]), path
        assert fig.files == 1


@pytest.mark.realworld
def test_corpus_figures_equal_the_parsers_own_packages() -> None:
    """With no services, the one figure is the report's total; per package, the parser's sums."""
    for name in VALID:
        report = parsed(name)
        (fig,) = coverage_outcome([report], GateConfig(), "svc").figures
        assert fig.subject == OVERALL
        assert (fig.lines_valid, fig.lines_covered) == (
            report.total.lines_valid,
            report.total.lines_covered,
        )
        assert (fig.branches_valid, fig.branches_covered) == (
            report.total.branches_valid,
            report.total.branches_covered,
        )


# ---------------------------------------------------------------------------------------------
# pycobertura: every difference is a partly covered branch line
# ---------------------------------------------------------------------------------------------

PYCOBERTURA_FILES = [n for n in VALID if n not in PYCOBERTURA_CANNOT]


def partial_branch_lines(data: bytes) -> dict[str, set[int]]:
    """Per file: lines that ran (hits > 0) but whose every entry that ran has a
    condition-coverage below 100% -- what pycobertura counts as partial or miss."""
    root = ET.fromstring(data)
    sources = [s.text or "" for s in root.iter("source")]
    partial: dict[str, set[int]] = defaultdict(set)
    full: dict[str, set[int]] = defaultdict(set)
    for cls in root.iter("class"):
        path = norm(cls.get("filename", ""), sources)
        for line in cls.findall("lines/line"):
            if float(line.get("hits", "0")) <= 0:
                continue
            n = int(line.get("number", ""))
            cc = line.get("condition-coverage")
            (partial if cc and not cc.startswith("100%") else full)[path].add(n)
    return {p: lines - full[p] for p, lines in partial.items() if lines - full[p]}


@pytest.mark.realworld
@pytest.mark.parametrize("name", corpus_params(PYCOBERTURA_FILES, ids(PYCOBERTURA_FILES)))
def test_differences_from_pycobertura_are_its_branch_rule(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    sources = [s.text or "" for s in ET.fromstring(data).iter("source")]
    py = Cobertura(str(CORPUS / name))
    py_hit: dict[str, set[int]] = defaultdict(set)
    for raw in py.files():
        for n, status in py.line_statuses(raw):
            if status == "hit":
                py_hit[norm(raw, sources)].add(n)
    ours = {f.path: set(f.covered_lines) for f in parsed(name).files}
    expected = partial_branch_lines(data)
    for path, covered in ours.items():
        assert py_hit[path] <= covered, path  # pycobertura never covers more
        assert covered - py_hit[path] == expected.get(path, set()), path


@pytest.mark.realworld
def test_the_branch_rule_in_numbers() -> None:
    """gcovr 5.0's report: gcovr and Cobertura's line-rate say 345 of 572 lines ran;
    pycobertura says 274, because 71 of those lines took only some of their branches."""
    name = "codecoveragesummary__gcovr_5_0.xml"
    data = (CORPUS / name).read_bytes()
    (fig,) = coverage_outcome([parsed(name)], GateConfig(), "svc").figures
    assert (fig.lines_covered, fig.lines_valid) == (345, 572)
    root = ET.fromstring(data)
    assert float(root.get("line-rate", "")) == pytest.approx(345 / 572, abs=1e-4)
    assert Cobertura(str(CORPUS / name)).total_hits() == 274
    assert sum(len(v) for v in partial_branch_lines(data).values()) == 345 - 274


# ---------------------------------------------------------------------------------------------
# Rust: tarpaulin and cargo-llvm-cov workspaces mapped to crates by path
# ---------------------------------------------------------------------------------------------


def class_names(name: str) -> list[str]:
    return [c.get("name", "") for c in ET.parse(CORPUS / name).getroot().iter("class")]


def crate_counts(name: str, prefix: str) -> tuple[int, int, int]:
    truth = Independent((CORPUS / name).read_bytes())
    paths = [p for p in truth.lines if p.startswith(prefix)]
    return (len(paths), *truth.counts(paths))


def fig_counts(fig: CoverageFigure) -> tuple[int, int, int]:
    return fig.files, fig.lines_valid, fig.lines_covered


@pytest.mark.realworld
def test_tarpaulin_workspace_crates_by_path() -> None:
    """tarpaulin names classes by bare file stem: `contract`, `cw1`, `multitest`... repeat
    across crates, so only the file path tells the crates apart."""
    name = "tarpaulin__sylvia_workspace.xml"
    names = class_names(name)
    assert {"contract", "multitest", "utils"} <= {n for n in names if names.count(n) > 1}
    crates = {
        "sylvia-derive": "sylvia-derive/",
        "sylvia": "sylvia/",
        "cw20-base": "contracts/cw20-base/",
        "cw1-whitelist": "contracts/cw1-whitelist/",
        "cw1-subkeys": "contracts/cw1-subkeys/",
    }
    config = GateConfig(
        services=tuple(ServiceConfig(name=n, paths=(p + "**",)) for n, p in crates.items())
    )
    outcome = coverage_outcome([parsed(name)], config, "sylvia")
    got = figures(outcome)
    for crate, prefix in crates.items():
        assert fig_counts(got[crate]) == crate_counts(name, prefix), crate
    assert fig_counts(got["sylvia-derive"]) == (9, 974, 504)  # counted by hand in the XML
    assert fig_counts(got[OVERALL]) == (31, 1904, 1336)  # the root's lines-valid/-covered
    assert outcome.warnings == ()  # every file has its crate


@pytest.mark.realworld
def test_tarpaulin_workspace_under_a_monorepo_root() -> None:
    """The same report, the repository one folder up: the <source> puts the workspace's
    folder in front of every file, and the globs are written from the repository root."""
    name = "tarpaulin__sylvia_workspace.xml"
    config = GateConfig(
        services=(
            ServiceConfig(name="derive", paths=("sylvia/sylvia-derive/**",)),
            ServiceConfig(name="contracts", paths=("sylvia/contracts/**",)),
            ServiceConfig(name="lib", paths=("sylvia/sylvia/**",)),
        )
    )
    got = figures(
        coverage_outcome([parsed(name)], config, "lib", repo_root="/home/janw/workspace/confio/")
    )
    assert fig_counts(got["derive"]) == crate_counts(name, "sylvia-derive/")
    assert fig_counts(got["contracts"]) == crate_counts(name, "contracts/")
    assert fig_counts(got["lib"]) == crate_counts(name, "sylvia/")


@pytest.mark.realworld
def test_tarpaulin_crates_with_empty_packages() -> None:
    name = "tarpaulin__karva_empty_packages.xml"
    crates = ["karva_core", "karva_cli", "karva_project", "karva", "karva_benchmark"]
    config = GateConfig(
        services=tuple(ServiceConfig(name=c, paths=(f"crates/{c}/**",)) for c in crates)
    )
    got = figures(coverage_outcome([parsed(name)], config, "karva"))
    # karva and karva_benchmark have packages but no file: no figure
    assert set(got) == {"karva_core", "karva_cli", "karva_project", OVERALL}
    for crate in ("karva_core", "karva_cli", "karva_project"):
        assert fig_counts(got[crate]) == crate_counts(name, f"crates/{crate}/"), crate
    assert fig_counts(got["karva_core"])[0] == 6


@pytest.mark.realworld
def test_tarpaulin_on_windows_backslashes_and_a_drive_root() -> None:
    """`src\\bluetooth\\adapter.rs` under <source>C:\\Code\\RustPods</source>; the repository
    is C:\\Code (any case, as on Windows)."""
    name = "tarpaulin__rustpods_windows_backslash_packages.xml"
    names = class_names(name)
    assert {"battery", "filter", "mod"} <= {n for n in names if names.count(n) > 1}
    config = GateConfig(
        services=(
            ServiceConfig(name="bluetooth", paths=("RustPods/src/bluetooth/**",)),
            ServiceConfig(name="ui", paths=("RustPods/src/ui/**",)),
            ServiceConfig(name="airpods", packages=("src\\airpods",)),  # a package glob
        )
    )
    outcome = coverage_outcome([parsed(name)], config, "app", repo_root="c:\\code")
    got = figures(outcome)
    assert fig_counts(got["bluetooth"]) == crate_counts(name, "src/bluetooth/")
    assert fig_counts(got["ui"]) == crate_counts(name, "src/ui/")
    assert fig_counts(got["airpods"]) == crate_counts(name, "src/airpods/")
    rest = [p for p in Independent((CORPUS / name).read_bytes()).lines]
    rest = [p for p in rest if not p.startswith(("src/bluetooth/", "src/ui/", "src/airpods/"))]
    assert got["app"].files == len(rest)
    (warning,) = outcome.warnings
    assert warning.message.startswith(f"{len(rest)} files match no service's paths or packages")
    assert "RustPods/src/app/mod.rs" in warning.message


@pytest.mark.realworld
def test_llvm_cov_dotted_packages_and_paths_agree() -> None:
    """cargo-llvm-cov writes dotted packages (`libs.things-core.src`) but slash paths."""
    name = "cargo-llvm-cov__rust_things3_workspace.xml"
    crates = {
        "things-cli": "apps/things-cli",
        "xtask": "tools/xtask",
        "things-core": "libs/things-core",
        "things-common": "libs/things-common",
    }
    by_path = GateConfig(
        services=tuple(ServiceConfig(name=n, paths=(f"{p}/**",)) for n, p in crates.items())
    )
    by_package = GateConfig(
        services=tuple(
            ServiceConfig(name=n, packages=(p.replace("/", ".") + ".*",)) for n, p in crates.items()
        )
    )
    report = parsed(name)
    a = coverage_outcome([report], by_path, "things-cli")
    b = coverage_outcome([report], by_package, "things-cli")
    assert a.figures == b.figures
    got = figures(a)
    for crate, prefix in crates.items():
        assert fig_counts(got[crate]) == crate_counts(name, prefix + "/"), crate
    assert fig_counts(got[OVERALL]) == (13, 4381, 4123)  # the root's own counts


# ---------------------------------------------------------------------------------------------
# Policy, with hand-computed numbers
# ---------------------------------------------------------------------------------------------


def fc(
    path: str,
    covered: Sequence[int] = (),
    missed: Sequence[int] = (),
    package: str = "",
    branches: tuple[int, int] = (0, 0),
) -> FileCoverage:
    return FileCoverage(
        path=path,
        package=package,
        lines_valid=len(covered) + len(missed),
        lines_covered=len(covered),
        branches_valid=branches[1],
        branches_covered=branches[0],
        covered_lines=tuple(sorted(covered)),
        missed_lines=tuple(sorted(missed)),
    )


def lines(n: int, start: int = 1) -> list[int]:
    return list(range(start, start + n))


def report(*files: FileCoverage, sources: Sequence[str] = ()) -> CoverageReport:
    total = Pkg(
        "",
        sum(f.lines_valid for f in files),
        sum(f.lines_covered for f in files),
        sum(f.branches_valid for f in files),
        sum(f.branches_covered for f in files),
    )
    return CoverageReport("coverage.py", tuple(sources), tuple(files), (), total)


def cov(covered: int, missed: int, path: str = "src/a.py", **kw: object) -> FileCoverage:
    return fc(path, lines(covered), lines(missed, start=covered + 1), **kw)  # type: ignore[arg-type]


TWO = GateConfig(
    services=(
        ServiceConfig(name="api", paths=("api/**",)),
        ServiceConfig(name="worker", paths=("worker/**",)),
    )
)


def test_defaults_80_overall_75_per_service() -> None:
    # api 3 of 4 = 75% (passes 75); worker 7 of 10 = 70% (fails); overall 10 of 14 = 71.43%
    out = coverage_outcome([report(cov(3, 1, "api/a.py"), cov(7, 3, "worker/w.py"))], TWO, "api")
    got = figures(out)
    assert [f.subject for f in out.figures] == ["api", "worker", OVERALL]
    assert (got["api"].line_threshold, got["api"].passed) == (75.0, True)
    assert (got["worker"].line_threshold, got["worker"].passed) == (75.0, False)
    assert (got[OVERALL].line_threshold, got[OVERALL].passed) == (80.0, False)
    assert messages(out.failures) == [
        "worker: line coverage 70.00% (7 of 10 lines) is below the 75% minimum",
        "overall: line coverage 71.43% (10 of 14 lines) is below the 80% minimum",
    ]
    assert [(f.kind, f.subject, f.service) for f in out.failures] == [
        (FailureKind.COVERAGE, "worker", "worker"),
        (FailureKind.COVERAGE, OVERALL, "api"),
    ]
    assert out.warnings == ()


@pytest.mark.parametrize(
    ("covered", "valid", "threshold", "passes", "shown"),
    [
        (8000, 10000, 80.0, True, None),
        (7999, 10000, 80.0, False, "79.99%"),
        (79995, 100000, 80.0, False, "79.995%"),  # not "80.00%": two decimals would round up
        (799999, 1000000, 80.0, False, "79.9999%"),
        (333, 1000, 33.3, True, None),  # exactly the decimal written in the configuration
        (332, 1000, 33.3, False, "33.20%"),
        (1, 1000, 0.1, True, None),  # 0.1 as written, not the float just above it
        (0, 5, 0.0, True, None),
        (5, 5, 100.0, True, None),
        (4, 5, 100.0, False, "80.00%"),
        (2, 3, 66.67, False, "66.667%"),  # 66.666...% < 66.67%: shown so, not as 66.67%
    ],
)
def test_thresholds_compare_exactly(
    covered: int, valid: int, threshold: float, passes: bool, shown: str | None
) -> None:
    config = GateConfig(coverage=CoverageRules(line=threshold))
    out = coverage_outcome([report(cov(covered, valid - covered))], config, "svc")
    (fig,) = out.figures
    assert fig.passed is passes
    if passes:
        assert out.failures == ()
    else:
        (failure,) = out.failures
        assert failure.message.startswith(f"overall: line coverage {shown} (")
        assert f"below the {threshold:g}% minimum" in failure.message


def test_threshold_off_and_branch_threshold_only_with_branch_data() -> None:
    config = GateConfig(coverage=CoverageRules(line=None, branch=90.0))
    no_branches = coverage_outcome([report(cov(1, 9))], config, "svc")
    assert no_branches.failures == () and no_branches.figures[0].passed
    with_branches = coverage_outcome([report(cov(1, 9, branches=(17, 20)))], config, "svc")
    assert messages(with_branches.failures) == [
        "overall: branch coverage 85.00% (17 of 20 branches) is below the 90% minimum"
    ]


def test_a_service_section_wins_over_service_line() -> None:
    config = GateConfig(
        coverage=CoverageRules(service_line=75.0),
        services=(
            ServiceConfig(name="api", paths=("api/**",), coverage=CoverageRules(line=60.0)),
            ServiceConfig(name="worker", paths=("worker/**",)),
        ),
    )
    out = coverage_outcome(
        [report(cov(13, 7, "api/a.py"), cov(15, 5, "worker/w.py"))], config, "api"
    )
    got = figures(out)
    assert (got["api"].line_threshold, got["api"].passed) == (60.0, True)  # 65% >= 60%
    assert (got["worker"].line_threshold, got["worker"].passed) == (75.0, True)  # 75%
    assert (got[OVERALL].line_threshold, got[OVERALL].passed) == (80.0, False)  # 70%


@pytest.mark.parametrize(
    ("baseline", "covered", "max_drop", "fails", "message"),
    [
        (0.85, 169, 0.5, False, None),  # 84.5%: a drop of exactly 0.5 points is allowed
        (0.85, 168, 0.5, True, "fell 1.00 points, from 85.00% (run r41) to 84.00%"),
        (0.85, 170, 0.0, False, None),  # no drop at all
        (0.851, 169, 0.5, True, "fell 0.60 points, from 85.10% (run r41) to 84.50%"),
        (0.850005, 169, 0.5, True, "fell 0.5005 points"),  # not "0.50": it must read > 0.5
        (0.80, 199, 0.5, False, None),  # a rise
    ],
)
def test_ratchet(
    baseline: float, covered: int, max_drop: float, fails: bool, message: str | None
) -> None:
    config = GateConfig(coverage=CoverageRules(line=None, max_drop=max_drop))
    out = coverage_outcome(
        [report(cov(covered, 200 - covered))],
        config,
        "svc",
        baselines={OVERALL: (baseline, "r41")},
    )
    (fig,) = out.figures
    assert (fig.baseline_line_rate, fig.baseline_run, fig.max_drop) == (baseline, "r41", max_drop)
    assert fig.passed is not fails
    if fails:
        (failure,) = out.failures
        assert message is not None and message in failure.message
        assert failure.message.endswith(f"the most allowed is {max_drop:g}")
    else:
        assert out.failures == ()


def test_ratchet_per_service_and_overall() -> None:
    # api 90 of 100 against 0.92: -2 points fails; worker 50 of 100 against 0.5: same, passes;
    # overall 140 of 200 = 70% against 0.705: -0.5 points, allowed
    out = coverage_outcome(
        [report(cov(90, 10, "api/a.py"), cov(50, 50, "worker/w.py"))],
        GateConfig(coverage=CoverageRules(line=None, service_line=None), services=TWO.services),
        "api",
        baselines={"api": (0.92, "7"), "worker": (0.5, "7"), OVERALL: (0.705, "7")},
    )
    assert messages(out.failures) == [
        "api: line coverage fell 2.00 points, from 92.00% (run 7) to 90.00%; "
        "the most allowed is 0.5"
    ]
    assert [f.baseline_line_rate for f in out.figures] == [0.92, 0.5, 0.705]


def test_ratchet_off() -> None:
    config = GateConfig(coverage=CoverageRules(line=None, max_drop=None))
    out = coverage_outcome([report(cov(1, 9))], config, "svc", baselines={OVERALL: (0.99, "r1")})
    assert out.failures == ()
    assert out.figures[0].baseline_line_rate is None and out.figures[0].max_drop is None


PATCH_FILE = fc("src/a.py", covered=[1, 2, 5, 6], missed=[3, 4, 7])


@pytest.mark.parametrize(
    ("changed", "valid", "covered", "failure"),
    [
        # lines 1, 2 covered, 3 missed, 10 not coverable: 2 of 3 = 66.67% < 80%
        (
            {"src/a.py": {1, 2, 3, 10}},
            3,
            2,
            "overall: patch coverage 66.67% (2 of 3 changed coverable lines) is below the 80% "
            "minimum; not covered: src/a.py:3",
        ),
        ({"src/a.py": {1, 2, 5, 6, 8}}, 4, 4, None),  # 100%
        # 4 of 5 = 80%: passes exactly
        ({"src/a.py": {1, 2, 5, 6, 7}}, 5, 4, None),
        (
            {"src/a.py": {3, 4, 6, 7}},
            4,
            1,
            "overall: patch coverage 25.00% (1 of 4 changed coverable lines) is below the 80% "
            "minimum; not covered: src/a.py:3-4,7",
        ),
        ({"src/a.py": {8, 9}}, 0, 0, None),  # nothing coverable changed: not judged
        ({"docs/readme.md": {1}}, 0, 0, None),  # a file the report does not list
        ({}, 0, 0, None),  # a base with no change
    ],
)
def test_patch_coverage(
    changed: dict[str, set[int]], valid: int, covered: int, failure: str | None
) -> None:
    out = coverage_outcome(
        [report(PATCH_FILE)],
        GateConfig(coverage=CoverageRules(line=None)),
        "svc",
        changed={k: frozenset(v) for k, v in changed.items()},
    )
    (fig,) = out.figures
    assert (fig.patch_valid, fig.patch_covered, fig.patch_threshold) == (valid, covered, 80.0)
    assert messages(out.failures) == ([failure] if failure else [])


def test_patch_not_judged_is_said() -> None:
    config = GateConfig(coverage=CoverageRules(line=None))
    blank = coverage_outcome(
        [report(PATCH_FILE)], config, "svc", changed={"src/a.py": frozenset({8, 9})}
    )
    assert messages(blank.warnings) == [
        "overall: patch coverage not judged: the changed lines of 1 file are none of them "
        "coverable lines (comments, blank lines, declarations)"
    ]
    elsewhere = coverage_outcome(
        [report(PATCH_FILE)], config, "svc", changed={"docs/a.md": frozenset({1})}
    )
    assert messages(elsewhere.warnings) == [
        "patch coverage not judged: none of the changed files (1) is in the coverage reports "
        "(only files the reports list can be judged)"
    ]
    no_base = coverage_outcome([report(PATCH_FILE)], config, "svc", changed=None)
    assert no_base.figures[0].patch_threshold is None and no_base.warnings == ()


def test_patch_per_service_and_counts_only_files() -> None:
    counts_only = FileCoverage("worker/old.py", "", 10, 5)  # no line numbers
    out = coverage_outcome(
        [report(fc("api/a.py", [1, 2], [3]), fc("worker/w.py", [1], [2, 3, 4]), counts_only)],
        GateConfig(coverage=CoverageRules(line=None, service_line=None), services=TWO.services),
        "api",
        changed={
            "api/a.py": frozenset({1, 2}),
            "worker/w.py": frozenset({1, 2}),
            "worker/old.py": frozenset({4}),
        },
    )
    got = figures(out)
    assert (got["api"].patch_valid, got["api"].patch_covered) == (2, 2)
    assert (got["worker"].patch_valid, got["worker"].patch_covered) == (2, 1)
    # overall shows the sum, and judges nothing the services did not already judge
    assert (got[OVERALL].patch_valid, got[OVERALL].patch_covered) == (4, 3)
    assert got[OVERALL].patch_threshold is None
    assert messages(out.failures) == [
        "worker: patch coverage 50.00% (1 of 2 changed coverable lines) is below the 80% "
        "minimum; not covered: worker/w.py:2"
    ]
    assert messages(out.warnings) == [
        "worker: patch coverage cannot use 1 changed file: the report gives counts but no "
        "line numbers: worker/old.py"
    ]


def test_exclusions_drop_files_from_every_figure() -> None:
    config = GateConfig(
        coverage=CoverageRules(line=None, exclude=("**/generated/**", "api/*_pb2.py")),
        services=TWO.services,
    )
    out = coverage_outcome(
        [
            report(
                cov(5, 5, "api/a.py"),
                cov(0, 50, "api/generated/client.py"),
                cov(0, 40, "api/user_pb2.py"),
                cov(0, 30, "api/sub/user_pb2.py"),  # * stays in one folder: not excluded
                cov(8, 2, "worker/w.py"),
                cov(0, 9, "worker/generated/x.py"),
            )
        ],
        config,
        "api",
        changed={"api/generated/client.py": frozenset({1})},
    )
    got = figures(out)
    assert fig_counts(got["api"]) == (2, 40, 5)
    assert fig_counts(got["worker"]) == (1, 10, 8)
    assert fig_counts(got[OVERALL]) == (3, 50, 13)
    assert got["api"].patch_valid == 0


def test_a_services_own_exclusions() -> None:
    config = GateConfig(
        coverage=CoverageRules(line=None),
        services=(
            ServiceConfig(
                name="api", paths=("api/**",), coverage=CoverageRules(exclude=("api/legacy/**",))
            ),
        ),
    )
    out = coverage_outcome(
        [report(cov(5, 5, "api/a.py"), cov(0, 9, "api/legacy/l.py"))], config, "api"
    )
    assert fig_counts(out.figures[0]) == (1, 10, 5)


def test_everything_excluded_or_nothing_reported() -> None:
    config = GateConfig(coverage=CoverageRules(exclude=("**",)))
    out = coverage_outcome([report(cov(1, 1))], config, "svc")
    assert out.figures == () and out.failures == ()
    assert messages(out.warnings) == [
        "no coverage figure: every file in the coverage reports is excluded (coverage.exclude)"
    ]
    empty = coverage_outcome([report()], GateConfig(), "svc")
    assert messages(empty.warnings) == ["no coverage figure: the coverage reports list no file"]


def test_informational_shortfalls_are_warnings() -> None:
    config = GateConfig(
        coverage=CoverageRules(line=80.0, patch=90.0, informational=True),
    )
    out = coverage_outcome(
        [report(cov(5, 5))],
        config,
        "svc",
        baselines={OVERALL: (0.9, "r9")},
        changed={"src/a.py": frozenset({9})},
    )
    assert out.failures == ()
    assert messages(out.warnings) == [
        "overall: line coverage 50.00% (5 of 10 lines) is below the 80% minimum "
        "(informational: does not fail the gate)",
        "overall: line coverage fell 40.00 points, from 90.00% (run r9) to 50.00%; the most "
        "allowed is 0.5 (informational: does not fail the gate)",
        "overall: patch coverage 0.00% (0 of 1 changed coverable line) is below the 90% "
        "minimum; not covered: src/a.py:9 (informational: does not fail the gate)",
    ]
    assert out.figures[0].passed is False  # the figure fell short; the gate does not fail


def test_files_no_service_claims_go_to_the_gates_service() -> None:
    out = coverage_outcome(
        [report(cov(9, 1, "api/a.py"), cov(1, 1, "scripts/x.py"), cov(1, 1, "setup.py"))],
        TWO,
        "worker",
    )
    got = figures(out)
    assert set(got) == {"api", "worker", OVERALL}
    assert fig_counts(got["worker"]) == (2, 4, 2)
    assert messages(out.warnings) == [
        "2 files match no service's paths or packages and count for worker: scripts/x.py, setup.py"
    ]


def test_services_without_paths_claim_nothing_and_warn_nothing() -> None:
    """Services named only for their thresholds (each job reports its own service): the files
    are the gate's service's, without a warning about mapping nobody asked for."""
    config = GateConfig(services=(ServiceConfig("api"), ServiceConfig("worker")))
    out = coverage_outcome([report(cov(4, 3, "src/a.rs"), cov(4, 1, "src/b.rs"))], config, "api")
    assert [(f.subject, f.lines_covered, f.lines_valid) for f in out.figures] == [("api", 8, 12)]
    assert out.warnings == ()


def test_one_service_present_has_no_overall() -> None:
    out = coverage_outcome([report(cov(3, 1, "api/a.py"))], TWO, "api")
    assert [f.subject for f in out.figures] == ["api"]
    assert out.figures[0].line_threshold == 75.0


def test_no_services_configured_is_overall_alone() -> None:
    out = coverage_outcome([report(cov(3, 1, "api/a.py"), cov(1, 0, "x.py"))], GateConfig(), "api")
    assert [(f.subject, f.line_threshold) for f in out.figures] == [(OVERALL, 80.0)]
    assert out.warnings == ()  # nothing is "unmapped" when there is nothing to map to


def test_a_figure_without_lines_is_warned_not_failed() -> None:
    out = coverage_outcome([report(fc("api/empty.rs"), cov(9, 1, "worker/w.py"))], TWO, "api")
    assert out.failures == ()
    assert messages(out.warnings) == [
        "api: no coverable lines in its 1 file; line coverage not judged"
    ]
    assert fig_counts(figures(out)["api"]) == (1, 0, 0)


def test_packages_map_files_that_no_path_claims() -> None:
    config = GateConfig(
        services=(
            ServiceConfig(name="api", paths=("api/**",), packages=("api_pkg",)),
            ServiceConfig(name="worker", packages=("worker*",)),
        )
    )
    out = coverage_outcome(
        [
            report(
                cov(1, 0, "api/a.py", package="worker.x"),  # the path wins over the package
                cov(1, 0, "lib/b.py", package="worker.lib"),
                cov(1, 0, "lib/c.py", package="api_pkg"),
            )
        ],
        config,
        "api",
    )
    got = figures(out)
    assert (got["api"].files, got["worker"].files) == (2, 1)


# ---------------------------------------------------------------------------------------------
# Several reports, and paths
# ---------------------------------------------------------------------------------------------


def test_reports_of_one_file_merge_by_line() -> None:
    unit = report(fc("src/a.py", covered=[1, 2], missed=[3, 4, 5], branches=(1, 4)))
    integration = report(fc("src/a.py", covered=[3, 6], missed=[1, 2, 4], branches=(3, 4)))
    (fig,) = coverage_outcome([unit, integration], GateConfig(), "svc").figures
    # lines 1..6; covered by either: 1, 2, 3, 6
    assert fig_counts(fig) == (1, 6, 4)
    assert (fig.branches_covered, fig.branches_valid) == (3, 4)  # the better report's


def test_counts_only_files_merge_by_the_larger_count() -> None:
    a = report(FileCoverage("src/a.py", "", 10, 4))
    b = report(FileCoverage("src/a.py", "", 10, 6))
    (fig,) = coverage_outcome([a, b], GateConfig(), "svc").figures
    assert fig_counts(fig) == (1, 10, 6)


def test_absolute_paths_inside_the_repository_become_relative() -> None:
    absolute = report(fc("/ci/repo/api/a.py", [1], [2]))
    relative = report(fc("api/a.py", [2], [1, 3]))
    out = coverage_outcome([absolute, relative], TWO, "api", repo_root="/ci/repo")
    assert [(f.subject, f.files, f.lines_valid, f.lines_covered) for f in out.figures] == [
        ("api", 1, 3, 2)
    ]
    outside = coverage_outcome(
        [report(fc("/usr/include/x.h", [1]))], TWO, "api", repo_root="/ci/repo"
    )
    assert "/usr/include/x.h" in outside.warnings[0].message  # kept absolute, unmapped


def test_relative_names_are_relative_to_the_reports_source() -> None:
    """coverage.py run inside a service's folder writes names relative to its <source>."""
    api = report(fc("app/main.py", [1], [2]), sources=("/ci/repo/api",))
    worker = report(fc("app/main.py", [1, 2], []), sources=("/ci/repo/worker",))
    out = coverage_outcome([api, worker], TWO, "api", repo_root="/ci/repo/")
    got = figures(out)
    assert fig_counts(got["api"]) == (1, 2, 1)  # not merged with the worker's app/main.py
    assert fig_counts(got["worker"]) == (1, 2, 2)
    # without the repository root the two names are one file, and nothing maps it
    merged = coverage_outcome([api, worker], TWO, "api")
    assert fig_counts(merged.figures[0]) == (1, 2, 2)


def test_a_source_outside_the_repository_leaves_names_alone() -> None:
    other_machine = report(fc("api/a.py", [1], []), sources=("/home/dev/checkout",))
    out = coverage_outcome([other_machine], TWO, "worker", repo_root="/ci/repo")
    assert [f.subject for f in out.figures] == ["api"]


def test_several_sources_inside_the_repository_are_warned() -> None:
    r = report(fc("main.py", [1]), sources=("/ci/repo/a", "/ci/repo/b"))
    out = coverage_outcome([r], GateConfig(), "svc", repo_root="/ci/repo")
    assert messages(out.warnings) == [
        "a coverage report lists 2 sources inside the repository; its relative file names are "
        "taken as relative to the first (a)"
    ]


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("api/**", "api/a.py", True),
        ("api/**", "api/x/y/z.py", True),
        ("api/**", "apix/a.py", False),
        ("api/**", "src/api/a.py", False),  # anchored at the repository root: no suffixes
        ("api/", "api/x/a.py", True),
        ("*.py", "setup.py", True),
        ("*.py", "src/a.py", False),  # * stays in one folder
        ("**/*.py", "src/a.py", True),
        ("**/*.py", "a.py", True),
        ("src/**/test_*.py", "src/test_a.py", True),
        ("src/**/test_*.py", "src/x/y/test_a.py", True),
        ("src/**/test_*.py", "src/x/y/a_test.py", False),
        ("**/generated/**", "generated/a.py", True),
        ("**/generated/**", "a/generated/b/c.py", True),
        ("**/generated/**", "a/generated.py", False),
        ("crates/[ab]*/**", "crates/alpha/src/lib.rs", True),
        ("crates/[!ab]*/**", "crates/alpha/src/lib.rs", False),
        ("crates/[!ab]*/**", "crates/core/src/lib.rs", True),
        ("src/?.rs", "src/a.rs", True),
        ("src/?.rs", "src/ab.rs", False),
        ("./api/**", "api/a.py", True),
        ("/usr/**", "/usr/include/stdio.h", True),
        ("/usr/**", "usr/include/stdio.h", False),
        ("C:/temp/*.cs", "C:/temp/A.cs", True),
        ("**", "anything/at/all.py", True),
        ("tést ünï/*.py", "tést ünï/a b.py", True),
    ],
)
def test_path_globs(pattern: str, path: str, matches: bool) -> None:
    config = GateConfig(services=(ServiceConfig(name="s", paths=(pattern,)),))
    out = coverage_outcome([report(cov(1, 0, path))], config, "other")
    assert (out.figures[0].subject == "s") is matches


# ---------------------------------------------------------------------------------------------
# Invariants
# ---------------------------------------------------------------------------------------------

file_lines = st.dictionaries(st.integers(1, 60), st.booleans(), max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    files=st.dictionaries(
        st.sampled_from(["api/a.py", "api/b.py", "worker/w.py", "lib/l.py"]), file_lines
    ),
    split=st.integers(1, 3),
    changed=st.dictionaries(
        st.sampled_from(["api/a.py", "worker/w.py", "x.md"]),
        st.frozensets(st.integers(1, 70), max_size=10),
    ),
)
def test_invariants(
    files: dict[str, dict[int, bool]], split: int, changed: dict[str, frozenset[int]]
) -> None:
    """Split every file's lines over up to three reports at random: the figures are those of
    the whole, services add up to overall, and patch counts are the changed lines' own."""
    reports = []
    for k in range(split):
        part = []
        for path, table in files.items():
            mine = {n: hit for n, hit in table.items() if n % split == k}
            part.append(
                fc(path, [n for n, h in mine.items() if h], [n for n, h in mine.items() if not h])
            )
        reports.append(report(*part))
    out = coverage_outcome(reports, TWO, "worker", changed=changed)
    got = figures(out)
    services = [f for f in out.figures if f.subject != OVERALL]
    assert sum(f.lines_valid for f in services) == sum(len(t) for t in files.values())
    assert sum(f.lines_covered for f in services) == sum(sum(t.values()) for t in files.values())
    if OVERALL in got:
        assert got[OVERALL].lines_valid == sum(f.lines_valid for f in services)
        assert got[OVERALL].patch_valid == sum(f.patch_valid for f in services)
    patch_valid = sum(len(changed.get(p, frozenset()) & set(t)) for p, t in files.items())
    patch_covered = sum(
        sum(1 for n in changed.get(p, frozenset()) if t.get(n)) for p, t in files.items()
    )
    assert sum(f.patch_valid for f in services) == patch_valid
    assert sum(f.patch_covered for f in services) == patch_covered
    for f in out.figures:
        assert 0 <= f.lines_covered <= f.lines_valid
        assert 0 <= f.patch_covered <= f.patch_valid
    assert all(x.kind is FailureKind.COVERAGE for x in (*out.failures, *out.warnings))


# ---------------------------------------------------------------------------------------------
# A real measured test run, gated on patch coverage against a real git base
# ---------------------------------------------------------------------------------------------

OPS_BASE = """\
def add(a, b):
    return a + b
"""
OPS_FEATURE = """\
def add(a, b):
    return a + b


def sub(a, b):
    return a - b


def div(a, b):
    if b == 0:
        raise ZeroDivisionError("b")
    return a / b
"""
TESTS = """\
from calc.ops import add, div


def test_add():
    assert add(1, 2) == 3


def test_div():
    assert div(4, 2) == 2
"""


def run(cmd: Sequence[str], cwd: Path, **env: str) -> str:
    # the inner pytest must not inherit the outer run's options or xdist worker settings
    full = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | env
    full.pop("GIT_DIR", None)
    proc = subprocess.run(cmd, cwd=cwd, env=full, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_a_real_run_gated_on_patch_coverage(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    (repo / "calc").mkdir(parents=True)
    (repo / "tests").mkdir()
    (tmp_path / "home").mkdir()
    git_env = {
        "HOME": str(tmp_path / "home"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    (repo / "calc" / "__init__.py").write_text("")
    (repo / "calc" / "ops.py").write_text(OPS_BASE)
    (repo / "tests" / "test_ops.py").write_text(
        TESTS.replace(", div", "").split("\n\n\ndef test_div")[0] + "\n"
    )
    run(["git", "init", "-q", "-b", "main"], repo, **git_env)
    run(["git", "add", "-A"], repo, **git_env)
    run(["git", "commit", "-qm", "base"], repo, **git_env)
    run(["git", "checkout", "-qb", "feature"], repo, **git_env)
    (repo / "calc" / "ops.py").write_text(OPS_FEATURE)
    (repo / "tests" / "test_ops.py").write_text(TESTS)
    run(["git", "commit", "-qam", "sub and div"], repo, **git_env)

    # the tests, measured for real: pytest with pytest-cov (coverage.py) writing Cobertura XML
    run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--cov=calc",
            "--cov-report=xml:coverage.xml", "--junitxml=junit.xml", "tests",
        ],
        repo,
        PYTHONDONTWRITEBYTECODE="1",
    )  # fmt: skip
    (parsed_report,) = cobertura.parse(
        (repo / "coverage.xml").read_bytes(), "coverage.xml"
    ).coverage
    assert parsed_report.producer == "coverage.py"
    ops = next(f for f in parsed_report.files if f.path.endswith("ops.py"))
    # what ran, from the source above: the def lines at import, add's and div's bodies but
    # not sub's body nor the raise
    assert ops.covered_lines == (1, 2, 5, 9, 10, 12)
    assert ops.missed_lines == (6, 11)

    changed = parse_diff(run(["git", *diff_args("main")], repo, **git_env))
    assert changed == {
        "calc/ops.py": frozenset(range(3, 13)),  # lines 3..12 are new
        "tests/test_ops.py": frozenset({1, 6, 7, 8, 9}),
    }
    outcome = coverage_outcome(
        [parsed_report],
        GateConfig(coverage=CoverageRules(line=50.0, patch=80.0)),
        "calc",
        repo_root=str(repo),
        changed=changed,
    )
    (fig,) = outcome.figures
    assert fig.subject == OVERALL
    # changed coverable lines: 5, 6, 9, 10, 11, 12; covered: 5, 9, 10, 12 -> 4 of 6 = 66.67%
    assert (fig.patch_valid, fig.patch_covered) == (6, 4)
    assert (fig.lines_valid, fig.lines_covered) == (8, 6)  # 75% >= 50%
    assert messages(outcome.failures) == [
        "overall: patch coverage 66.67% (4 of 6 changed coverable lines) is below the 80% "
        "minimum; not covered: calc/ops.py:6,11"
    ]
