"""The coverage gate's speed and memory benchmark, side by side with pycobertura.

    python benchmarks/coverage.py            # 5,000 files / 500,000 lines, 5 repetitions
    python benchmarks/coverage.py --quick    # 500 files / 50,000 lines, 2 repetitions

It writes a deterministic Cobertura file the way coverage.py (`coverage xml --branch`) does,
then runs, alternately so that machine noise hits both alike:

(a) `pycobertura show FILE`, the console script installed next to this Python;
(b) a fresh Python process that reads the same file with gatekeeper's Cobertura parser and
    computes the coverage gate's outcome for it (`gatekeeper.gate.coverage.coverage_outcome`,
    two services mapped by path, the default thresholds), and prints the figures.

Each process is timed from start to exit (wall clock) and its peak resident memory is read from
`os.wait4` (the rusage of that one child). The medians, the ratio of the medians and the targets
(gatekeeper at most 0.5x pycobertura's time, peak memory under 100 MiB) are printed and written
to benchmarks/results/coverage.json (coverage-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
RESULTS = HERE / "results"
REPO_ROOT = "/ci/checkout"  # where the generated report says the sources were

TIME_RATIO_TARGET = 0.5
RSS_TARGET_MIB = 100.0

# The gatekeeper side, run as `python -c CHILD FILE`: what `gatekeeper gate` does with one
# Cobertura file once it is read (no database).
CHILD = """
import sys
from gatekeeper.gate.coverage import coverage_outcome
from gatekeeper.parsers.cobertura import parse
from gatekeeper.rules import GateConfig, ServiceConfig

path = sys.argv[1]
with open(path, "rb") as f:
    data = f.read()
report = parse(data, path).coverage[0]
del data
config = GateConfig(
    services=(
        ServiceConfig(name="api", paths=("src/api/**",)),
        ServiceConfig(name="worker", paths=("src/worker/**",)),
    )
)
outcome = coverage_outcome([report], config, "api", repo_root=sys.argv[2])
for fig in outcome.figures:
    rate = fig.line_rate or 0.0
    print(f"{fig.subject:10} {fig.files:6} files {fig.lines_covered:8}/{fig.lines_valid:<8} "
          f"{rate:.2%}")
for finding in outcome.failures:
    print("FAIL", finding.message)
"""


# ---------------------------------------------------------------------------------------------
# The input
# ---------------------------------------------------------------------------------------------


def write_cobertura(path: Path, files: int, lines_per_file: int, seed: int = 20261120) -> None:
    """A coverage.py 7 style `coverage xml --branch` report: ``files`` files of
    ``lines_per_file`` measured lines each, in packages of 100 files; about 80 % of the lines
    hit, one line in eight a branch line (some of them partly covered)."""
    rng = random.Random(seed)
    per_package = 100
    body: list[str] = []
    total_valid = total_covered = total_bvalid = total_bcovered = 0
    for p in range(max(1, (files + per_package - 1) // per_package)):
        area = "api" if p % 2 == 0 else "worker"
        pkg = f"src/{area}/pkg{p:03d}"
        classes: list[str] = []
        pkg_valid = pkg_covered = 0
        for i in range(p * per_package, min(files, (p + 1) * per_package)):
            name = f"module_{i:05d}.py"
            lines: list[str] = []
            number = 0
            covered = bvalid = bcovered = 0
            hot = rng.random() < 0.9  # a few files are barely tested
            for _ in range(lines_per_file):
                number += rng.choice((1, 1, 1, 2, 2, 3, 4, 6))  # ~2.5 source lines a statement
                hit = rng.random() < (0.86 if hot else 0.2)
                hits = rng.choice((1, 2, 5, 17)) if hit else 0
                covered += hit
                if rng.random() < 0.125:
                    taken = (2 if rng.random() < 0.7 else 1) if hit else 0
                    bvalid += 2
                    bcovered += taken
                    pct = taken * 50
                    missing = "" if taken == 2 else f' missing-branches="{number + 2}"'
                    lines.append(
                        f'\t\t\t\t\t\t<line number="{number}" hits="{hits}" branch="true" '
                        f'condition-coverage="{pct}% ({taken}/2)"{missing}/>\n'
                    )
                else:
                    lines.append(f'\t\t\t\t\t\t<line number="{number}" hits="{hits}"/>\n')
            rate = covered / lines_per_file
            brate = bcovered / bvalid if bvalid else 1
            classes.append(
                f'\t\t\t\t<class name="{name}" filename="{pkg}/{name}" complexity="0" '
                f'line-rate="{rate:.4g}" branch-rate="{brate:.4g}">\n'
                "\t\t\t\t\t<methods/>\n\t\t\t\t\t<lines>\n"
                + "".join(lines)
                + "\t\t\t\t\t</lines>\n\t\t\t\t</class>\n"
            )
            pkg_valid += lines_per_file
            pkg_covered += covered
            total_bvalid += bvalid
            total_bcovered += bcovered
        total_valid += pkg_valid
        total_covered += pkg_covered
        dotted = pkg.replace("/", ".")
        body.append(
            f'\t\t<package name="{dotted}" line-rate="{pkg_covered / pkg_valid:.4g}" '
            'branch-rate="0" complexity="0">\n\t\t\t<classes>\n'
            + "".join(classes)
            + "\t\t\t</classes>\n\t\t</package>\n"
        )
    head = (
        '<?xml version="1.0" ?>\n'
        f'<coverage version="7.4.0" timestamp="1763632800000" lines-valid="{total_valid}" '
        f'lines-covered="{total_covered}" line-rate="{total_covered / total_valid:.4g}" '
        f'branches-covered="{total_bcovered}" branches-valid="{total_bvalid}" '
        f'branch-rate="{total_bcovered / max(1, total_bvalid):.4g}" complexity="0">\n'
        "\t<!-- Generated by coverage.py: https://coverage.readthedocs.io/en/7.4.0 -->\n"
        "\t<!-- Based on https://raw.githubusercontent.com/cobertura/web/master/htdocs/xml/"
        "coverage-04.dtd -->\n"
        f"\t<sources>\n\t\t<source>{REPO_ROOT}</source>\n\t</sources>\n\t<packages>\n"
    )
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.write(head)
        out.writelines(body)
        out.write("\t</packages>\n</coverage>\n")
    tmp.replace(path)


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


def run_child(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB, exit status) of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} exited {proc.returncode}:\n{stderr[-2000:]}")
    # Linux reports ru_maxrss in KiB
    return elapsed, usage.ru_maxrss / 1024.0, proc.returncode


def pycobertura_cmd() -> list[str]:
    """The console script next to this Python (no pyenv shim in between), else on PATH."""
    local = Path(sys.executable).parent / "pycobertura"
    if local.exists():
        return [str(local)]
    found = shutil.which("pycobertura")
    if found is None:
        raise SystemExit("pycobertura is not installed: pip install pycobertura")
    return [found]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="500 files, 2 repetitions")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 5, quick 2)")
    args = ap.parse_args()
    files, per_file = (500, 100) if args.quick else (5000, 100)
    reps = args.reps or (2 if args.quick else 5)

    WORK.mkdir(parents=True, exist_ok=True)
    report = WORK / f"coverage-{files}x{per_file}.xml"
    if not report.exists():
        write_cobertura(report, files, per_file)
    size_mib = report.stat().st_size / 2**20
    print(f"{report.name}: {files} files, {files * per_file} lines, {size_mib:.1f} MiB")

    py = [*pycobertura_cmd(), "show", str(report)]
    gk = [sys.executable, "-c", CHILD, str(report), REPO_ROOT]
    samples: dict[str, list[tuple[float, float]]] = {"pycobertura": [], "gatekeeper": []}
    for rep in range(reps):
        order = [("pycobertura", py), ("gatekeeper", gk)]
        if rep % 2:
            order.reverse()
        for label, cmd in order:
            seconds, rss, _ = run_child(cmd)
            samples[label].append((seconds, rss))
            print(f"  rep {rep + 1}: {label:11} {seconds:6.3f} s  {rss:6.1f} MiB")

    def med(label: str, i: int) -> float:
        return statistics.median(s[i] for s in samples[label])

    out: dict[str, object] = {
        "benchmark": "coverage gate vs pycobertura show",
        "files": files,
        "lines": files * per_file,
        "report_mib": round(size_mib, 2),
        "repetitions": reps,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
    }
    for label in samples:
        out[label] = {
            "seconds_median": round(med(label, 0), 4),
            "peak_rss_mib_median": round(med(label, 1), 1),
            "seconds": [round(s[0], 4) for s in samples[label]],
            "peak_rss_mib": [round(s[1], 1) for s in samples[label]],
        }
    ratio = med("gatekeeper", 0) / med("pycobertura", 0)
    rss = max(s[1] for s in samples["gatekeeper"])
    out["time_ratio"] = round(ratio, 3)
    out["time_ratio_target"] = TIME_RATIO_TARGET
    out["gatekeeper_peak_rss_mib_max"] = round(rss, 1)
    out["peak_rss_target_mib"] = RSS_TARGET_MIB
    out["met"] = ratio <= TIME_RATIO_TARGET and rss < RSS_TARGET_MIB
    print(
        f"pycobertura show: {med('pycobertura', 0):.3f} s, {med('pycobertura', 1):.0f} MiB | "
        f"gatekeeper: {med('gatekeeper', 0):.3f} s, {med('gatekeeper', 1):.0f} MiB | "
        f"time ratio {ratio:.2f} (target <= {TIME_RATIO_TARGET}), peak RSS {rss:.0f} MiB "
        f"(target < {RSS_TARGET_MIB:.0f}) -> {'met' if out['met'] else 'NOT met'}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "coverage-quick.json" if args.quick else "coverage.json"
    (RESULTS / name).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
