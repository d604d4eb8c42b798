"""docs/configuration.md is generated from rules.py; its examples are real, loadable files."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from dataclasses import fields, replace
from typing import Any

from gatekeeper.config.file import parse_config
from gatekeeper.errors import ConfigError
from gatekeeper.rules import (
    BenchmarkOverride,
    BenchmarkRules,
    CoverageRules,
    FlakyResult,
    GateConfig,
    ServiceConfig,
    TestRules,
)

from ..conftest import ROOT

GENERATOR = ROOT / "docs" / "generate_config.py"
PAGE = ROOT / "docs" / "configuration.md"
GEN: dict[str, Any] = runpy.run_path(str(GENERATOR))


def test_configuration_reference_is_current() -> None:
    assert PAGE.read_text(encoding="utf-8") == GEN["render"](), (
        "docs/configuration.md is out of date: run python docs/generate_config.py"
    )


def test_check_mode_agrees() -> None:
    done = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_every_key_is_in_the_reference() -> None:
    page = PAGE.read_text(encoding="utf-8")
    for cls in (GateConfig, TestRules, CoverageRules, BenchmarkRules, ServiceConfig):
        for f in fields(cls):
            if f.metadata.get("internal") or f.name in ("benchmark_overrides", "name"):
                continue
            assert f"| `{f.name}` |" in page, f"{cls.__name__}.{f.name} is not documented"
            assert str(f.metadata["doc"]).split(".")[0] in page


def test_the_example_sets_every_key() -> None:
    example: str = GEN["EXAMPLE"]
    sections = {"tests": TestRules, "coverage": CoverageRules, "benchmarks": BenchmarkRules}
    keys = {f.name for cls in sections.values() for f in fields(cls)}
    keys |= {"default_branch", "registry", "services", "overrides", "name"}
    keys |= {f.name for f in fields(ServiceConfig)} - {"name"}
    for key in keys:
        assert re.search(rf"(^|[\s{{,])(- )?{key}:", example, re.M), f"the example lacks {key}"


def test_the_example_loads_as_written() -> None:
    """Read by hand from EXAMPLE in docs/generate_config.py."""
    config = parse_config(GEN["EXAMPLE"], "gatekeeper.yml")
    coverage = replace(CoverageRules(), exclude=("**/generated/**", "**/migrations/**"), patch=80.0)
    bench = BenchmarkRules()
    assert config.coverage == coverage
    assert config.benchmarks == bench
    assert config.tests == TestRules()
    assert config.benchmark_overrides == (
        BenchmarkOverride("startup/*", replace(bench, max_regression=10.0)),
        BenchmarkOverride("latency/p99*", replace(bench, ceiling=2500000.0)),
        BenchmarkOverride("*_experimental", replace(bench, informational=True)),
    )
    assert config.services == (
        ServiceConfig(
            name="user-service",
            paths=("backend/user-service/**",),
            packages=("user_service*",),
            runner="nextest",
            coverage=replace(coverage, line=85.0),
        ),
        ServiceConfig(
            name="messaging-service",
            paths=("backend/messaging-service/**",),
            runner="cargo",
            tests=replace(TestRules(), flaky_result=FlakyResult.FAIL),
            benchmarks=replace(bench, max_regression=30.0, window=30),
        ),
        ServiceConfig(
            name="api-gateway",
            paths=("gateway/**", "proto/**"),
            runner="gotest",
            coverage=replace(coverage, line=None, max_drop=1.0),
        ),
    )


def test_the_toml_example_is_the_same_configuration() -> None:
    as_yaml = parse_config(GEN["EXAMPLE"], "gatekeeper.yml")
    assert parse_config(GEN["EXAMPLE_TOML"], "pyproject.toml") == as_yaml


def test_every_mistake_shown_is_refused() -> None:
    for title, text in GEN["MISTAKES"]:
        try:
            parse_config(text, "gatekeeper.yml")
        except ConfigError as err:
            assert str(err) in PAGE.read_text(encoding="utf-8")
        else:
            raise AssertionError(f"{title}: accepted")
