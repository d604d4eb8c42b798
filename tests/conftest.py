"""Shared fixtures: where the real-world corpus and the sample reports live, and what a test
needs from outside the repository.

Hypothesis runs a fast ``dev`` profile by default and a thorough ``ci`` one under ``CI=true``
(``HYPOTHESIS_PROFILE`` picks one by name); a test's own ``@settings`` still win.

A test that needs something the repository does not hold — the real-world corpus in
``../shared/realworld``, Chromium, a PostgreSQL server, cargo — says so with a marker
(``realworld``, ``browser``, ``postgres``, ``cargo``). When that thing is missing the test is
skipped with a one-line reason on a developer's machine, and fails in CI (``CI=true``, which
``.ci/run`` sets), so CI always runs all of them.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
REALWORLD = Path(os.environ.get("GATEKEEPER_REALWORLD", ROOT.parent / "shared" / "realworld"))
SAMPLES = ROOT / "sample_reports"
PG_HOST = os.environ.get("GATEKEEPER_TEST_PG_HOST", "127.0.0.1:5432")
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def in_ci() -> bool:
    """CI=true (GitHub Actions, GitLab CI and `.ci/run` set it): nothing may be skipped."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


# dev: quick feedback while editing (half of hypothesis's 100 examples); ci: twice as many,
# hypothesis's default, what CI always ran; no deadline on a shared noisy machine, and a failure
# prints the blob that replays it (@reproduce_failure).
settings.register_profile("dev", max_examples=50)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if in_ci() else "dev"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A selection that matches no test (``-k``, ``-m``, a path) exits 0, not 5: the summary
    already says "no tests ran"."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that share a module- or package-scoped fixture (a server, a history, a cargo
    build) run on one xdist worker, so that it is built once; the rest spread one by one.
    A parametrized fixture (the service's ``backend``) makes one group per value."""
    for item in items:
        if group := _shared_fixture_group(item):
            item.add_marker(pytest.mark.xdist_group(group))


def _shared_fixture_group(item: pytest.Item) -> str | None:
    info = getattr(item, "_fixtureinfo", None)  # pytest's own record of the item's fixtures
    if info is None:
        return None
    params = getattr(getattr(item, "callspec", None), "params", {})
    module = item.nodeid.split("::", 1)[0]
    where: dict[str, set[str]] = {}
    for name, defs in info.name2fixturedefs.items():
        scope = defs[-1].scope
        if scope in ("module", "package"):
            values = where.setdefault(
                module if scope == "module" else str(Path(module).parent), set()
            )
            if name in params:
                values.add(str(params[name]))
    return (
        " ".join(f"{k}[{','.join(sorted(v))}]" if v else k for k, v in sorted(where.items()))
        or None
    )


def missing(reason: str) -> NoReturn:
    """Skip the test with ``reason`` on a developer's machine; fail it in CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: CI must provide it)", pytrace=False)
    pytest.skip(reason)


def have_corpus() -> bool:
    return (REALWORLD / "MANIFEST.tsv").is_file()


def corpus_params(values: Iterable[Any], ids: Sequence[str] | None = None) -> list[Any]:
    """Parameters read from the corpus at collection time; without the corpus, one placeholder
    marked ``realworld`` so the test is reported as skipped (or failed in CI), not collected
    as an error."""
    values = list(values)
    if not have_corpus():
        return [pytest.param(None, id="corpus-missing", marks=pytest.mark.realworld)]
    if ids is None:
        return [pytest.param(v, marks=pytest.mark.realworld) for v in values]
    return [
        pytest.param(v, id=i, marks=pytest.mark.realworld) for v, i in zip(values, ids, strict=True)
    ]


def corpus_files(*kinds: str) -> list[Path]:
    """What the corpus holds in these folders, sorted; [] without the corpus."""
    if not have_corpus():
        return []
    return sorted(p for kind in kinds for p in (REALWORLD / kind).iterdir())


def corpus_manifest() -> list[str]:
    """MANIFEST.tsv's lines (header included); [] without the corpus."""
    if not have_corpus():
        return []
    return (REALWORLD / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()


@functools.cache
def _postgres_problem() -> str | None:
    import psycopg

    try:
        psycopg.connect(f"postgresql://postgres@{PG_HOST}/postgres", connect_timeout=3).close()
    except psycopg.OperationalError as err:
        first = (str(err).strip().splitlines() or ["no answer"])[0]
        return f"PostgreSQL is not reachable at {PG_HOST} ({first}); start it with: {PG_START}"
    return None


def chromium() -> str | None:
    found = os.environ.get("GATEKEEPER_CHROMIUM") or shutil.which("chromium")
    return found if found and Path(found).exists() else None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("realworld") and not have_corpus():
        missing(
            f"the real-world corpus is not at {REALWORLD} (set GATEKEEPER_REALWORLD to its folder)"
        )
    if item.get_closest_marker("cargo") and shutil.which("cargo") is None:
        missing("cargo is not on PATH: this test runs the real Rust toolchain")
    if item.get_closest_marker("browser") and chromium() is None:
        missing("chromium is not on PATH (nor $GATEKEEPER_CHROMIUM): apt-get install chromium")
    if item.get_closest_marker("postgres") and (problem := _postgres_problem()):
        missing(problem)


@pytest.fixture(scope="session")
def realworld() -> Path:
    """The corpus of real report files in ../shared/realworld (see its MANIFEST.tsv)."""
    if not have_corpus():
        missing(
            f"the real-world corpus is not at {REALWORLD} (set GATEKEEPER_REALWORLD to its folder)"
        )
    return REALWORLD


# Service names the client and service tests use beside the sample team's three: with services
# configured, the CLI refuses any other name (exit 2, "did you mean").
TEST_SERVICES = ("app", "corpus", "derived", "calc", "alpha", "beta", "load", "s")


def copy_samples(dest: Path) -> Path:
    """A copy of sample_reports/ whose gatekeeper.yml also lists TEST_SERVICES."""
    shutil.copytree(SAMPLES, dest)
    config = dest / "gatekeeper.yml"
    extra = "".join(f"  {name}: {{}}\n" for name in TEST_SERVICES)
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return dest


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES
