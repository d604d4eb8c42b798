"""gatekeeper.yml and [tool.gatekeeper]: reading, checking, merging, precedence and search.

The expected configurations and messages are written out by hand from the input above each
case (lines counted in the text); none is produced by the loader.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatekeeper.config.file import (
    CONFIG_NAMES,
    find_config,
    load_config,
    parse_config,
    resolve_config,
    toml_key_lines,
)
from gatekeeper.errors import ConfigError
from gatekeeper.model import Direction
from gatekeeper.rules import (
    BenchmarkOverride,
    BenchmarkRules,
    CommonShift,
    CoverageRules,
    ExpiredQuarantine,
    FlakyResult,
    GateConfig,
    ServiceConfig,
    TestRules,
)

from ..conftest import ROOT

# The core shape of gatekeeper.yml as the design notes agreed it (copied here: the notes live
# outside the repository, which a user's clone does not have).
DESIGN_EXAMPLE = """\
default_branch: main
registry: flaky-tests.yml
coverage:
  line: 80            # overall minimum, percent
  max_drop: 0.5       # ratchet against the last passing run on the default branch, points
  patch: 80           # lines changed against the base ref, percent
benchmarks:
  max_regression: 20  # percent worse than the baseline, and statistically significant
services:
  user-service:
    paths: ["backend/user-service/**"]
    coverage: {line: 75}
"""
DEFAULT_COVERAGE = CoverageRules()
DEFAULT_BENCH = BenchmarkRules()
DEFAULT_TESTS = TestRules()


def yaml_error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "gatekeeper.yml")
    return str(caught.value)


def toml_error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "pyproject.toml")
    return str(caught.value)


# ---------------------------------------------------------------------------------------------
# Valid files
# ---------------------------------------------------------------------------------------------

VALID_YAML = [
    ("empty file", "", GateConfig()),
    ("only comments", "# nothing configured yet\n", GateConfig()),
    ("a lone document marker", "---\n", GateConfig()),
    ("empty sections", "tests:\ncoverage:\nbenchmarks:\nservices:\n", GateConfig()),
    (
        "top-level scalars",
        "default_branch: trunk\nregistry: ci/flaky.yml\n",
        GateConfig(default_branch="trunk", registry="ci/flaky.yml"),
    ),
    (
        "percent written three ways, null turns off",
        'coverage:\n  line: 80.5\n  patch: "90%"\n  max_drop: 1\n  branch: " 60 %"\n'
        "  service_line: null\n",
        GateConfig(
            coverage=replace(
                DEFAULT_COVERAGE,
                line=80.5,
                patch=90.0,
                max_drop=1.0,
                branch=60.0,
                service_line=None,
            )
        ),
    ),
    (
        "false turns an optional threshold off too",
        "coverage:\n  max_drop: false\nbenchmarks:\n  ceiling: false\n  direction: false\n",
        GateConfig(coverage=replace(DEFAULT_COVERAGE, max_drop=None)),
    ),
    (
        "enums and booleans",
        "tests:\n  flaky_result: fail\n  expired_quarantine: fail\n  allow_empty: true\n"
        "benchmarks:\n  direction: higher\n  informational: true\n",
        GateConfig(
            tests=replace(
                DEFAULT_TESTS,
                flaky_result=FlakyResult.FAIL,
                expired_quarantine=ExpiredQuarantine.FAIL,
                allow_empty=True,
            ),
            benchmarks=replace(
                DEFAULT_BENCH, direction=Direction.HIGHER_IS_BETTER, informational=True
            ),
        ),
    ),
    (
        "a string where a list is expected is a one-item list",
        "coverage:\n  exclude: '**/gen/**'\nservices:\n  api:\n    paths: api/**\n"
        "    packages: [api, api_*]\n",
        GateConfig(
            coverage=replace(DEFAULT_COVERAGE, exclude=("**/gen/**",)),
            services=(ServiceConfig(name="api", paths=("api/**",), packages=("api", "api_*")),),
        ),
    ),
    (
        "an empty list, and a null list",
        "coverage:\n  exclude: []\nservices:\n  api:\n    paths:\n",
        GateConfig(services=(ServiceConfig(name="api"),)),
    ),
    (
        "a service with nothing under it",
        "services:\n  api:\n  web: {}\n",
        GateConfig(services=(ServiceConfig(name="api"), ServiceConfig(name="web"))),
    ),
    (
        "numbers in other YAML spellings",
        "benchmarks:\n  window: 0x10\n  significance: 1e-3\n  ceiling: -2.5\n",
        GateConfig(benchmarks=replace(DEFAULT_BENCH, window=16, significance=0.001, ceiling=-2.5)),
    ),
    (
        "YAML 1.1 booleans under a %YAML 1.1 directive are booleans",
        "%YAML 1.1\n---\ncoverage:\n  informational: yes\n",
        GateConfig(coverage=replace(DEFAULT_COVERAGE, informational=True)),
    ),
    (
        "a quoted service name that looks like a number",
        "services:\n  '2024':\n    runner: gotest\n",
        GateConfig(services=(ServiceConfig(name="2024", runner="gotest"),)),
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in VALID_YAML], ids=[c[0] for c in VALID_YAML]
)
def test_valid_yaml(text: str, expected: GateConfig) -> None:
    assert parse_config(text, "gatekeeper.yml") == expected


def test_numbers_come_back_as_their_field_type() -> None:
    config = parse_config("coverage: {line: 80}\nbenchmarks: {max_regression: 5, window: 7}\n")
    assert type(config.coverage.line) is float
    assert type(config.benchmarks.max_regression) is float
    assert type(config.benchmarks.window) is int


VALID_TOML = [
    (
        "an empty table",
        '[project]\nname = "x"\n\n[tool.gatekeeper]\n',
        GateConfig(),
    ),
    (
        "tables, dotted keys, inline tables and an array of tables",
        """\
[tool.gatekeeper]
default_branch = "develop"
coverage.line = 85
coverage.patch = "75%"

[tool.gatekeeper.benchmarks]
max_regression = 10

[[tool.gatekeeper.benchmarks.overrides]]
name = "io/*"
window = 50

[tool.gatekeeper.services.user-service]
paths = "backend/user/**"
coverage = {line = 70}
tests.flaky_result = "fail"
""",
        GateConfig(
            default_branch="develop",
            coverage=replace(DEFAULT_COVERAGE, line=85.0, patch=75.0),
            benchmarks=replace(DEFAULT_BENCH, max_regression=10.0),
            benchmark_overrides=(
                BenchmarkOverride(
                    name="io/*", rules=replace(DEFAULT_BENCH, max_regression=10.0, window=50)
                ),
            ),
            services=(
                ServiceConfig(
                    name="user-service",
                    paths=("backend/user/**",),
                    coverage=replace(DEFAULT_COVERAGE, line=70.0, patch=75.0),
                    tests=replace(DEFAULT_TESTS, flaky_result=FlakyResult.FAIL),
                ),
            ),
        ),
    ),
    (
        "false for TOML's missing null",
        "[tool.gatekeeper.coverage]\nline = false\nbranch = false\n",
        GateConfig(coverage=replace(DEFAULT_COVERAGE, line=None)),
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in VALID_TOML], ids=[c[0] for c in VALID_TOML]
)
def test_valid_toml(text: str, expected: GateConfig) -> None:
    assert parse_config(text, "pyproject.toml") == expected


# ---------------------------------------------------------------------------------------------
# Invalid files: the exact message
# ---------------------------------------------------------------------------------------------

INVALID_YAML = [
    (
        "out of range in a service",
        "coverage:\n  line: 80\nservices:\n  user-service:\n    paths: [a/**]\n"
        "    coverage:\n      line: 120\n",
        "gatekeeper.yml:7: services.user-service.coverage.line: 120 is above 100 "
        "(write a percentage from 0 to 100)",
    ),
    (
        "below the minimum",
        "benchmarks:\n  window: 0\n",
        "gatekeeper.yml:2: benchmarks.window: 0 is below 1 (write a whole number of at least 1)",
    ),
    (
        "a share above its maximum",
        "tests:\n  min_tests_ratio: 1.5\n",
        "gatekeeper.yml:2: tests.min_tests_ratio: 1.5 is above 1 (write a number from 0 to 1)",
    ),
    (
        "a percent string above the maximum",
        'coverage:\n  patch: "101%"\n',
        "gatekeeper.yml:2: coverage.patch: 101 is above 100 (write a percentage from 0 to 100)",
    ),
    (
        "a misspelt key",
        "coverage:\n  line: 80\n  max_dorp: 0.5\n",
        "gatekeeper.yml:3: coverage.max_dorp: unknown key (did you mean `max_drop`?)",
    ),
    (
        "a misspelt top-level key",
        "service:\n  api: {}\n",
        "gatekeeper.yml:1: service: unknown key (did you mean `services`?)",
    ),
    (
        "an unknown key with nothing close",
        "tests:\n  colour: blue\n",
        "gatekeeper.yml:2: tests.colour: unknown key (the keys here are flaky_result, "
        "allow_empty, min_tests_ratio, recent_runs, expired_quarantine)",
    ),
    (
        "yes is a string in YAML 1.2",
        "tests:\n  allow_empty: yes\n",
        "gatekeeper.yml:2: tests.allow_empty: expected `true` or `false`, got the string 'yes' "
        "(write true or false; YAML 1.2 reads yes as a string, not as a boolean)",
    ),
    (
        "1 is not a boolean",
        "coverage:\n  informational: 1\n",
        "gatekeeper.yml:2: coverage.informational: expected `true` or `false`, got the number 1 "
        "(write true or false)",
    ),
    (
        "a boolean is not a number",
        "benchmarks:\n  window: true\n",
        "gatekeeper.yml:2: benchmarks.window: expected a whole number, got true",
    ),
    (
        "a duplicate key names both lines",
        "coverage:\n  line: 80\n  patch: 70\n  line: 85\n",
        "gatekeeper.yml:4: coverage.line: duplicate key: also on line 2 "
        "(keep one of the two; YAML keys must be unique in a mapping)",
    ),
    (
        "a duplicate service",
        "services:\n  api: {}\n  web: {}\n  api: {runner: cargo}\n",
        "gatekeeper.yml:4: services.api: duplicate key: also on line 2 "
        "(keep one of the two; YAML keys must be unique in a mapping)",
    ),
    (
        "two documents",
        "coverage: {line: 80}\n---\ncoverage: {line: 70}\n",
        "gatekeeper.yml:2: the file holds more than one YAML document "
        "(keep one document: remove the `---` line and what follows)",
    ),
    (
        "the top level is a list",
        "- coverage\n",
        "gatekeeper.yml:1: expected a mapping of keys, got a list "
        "(write its keys below it, indented)",
    ),
    (
        "a section that is a scalar",
        "coverage: 80\n",
        "gatekeeper.yml:1: coverage: expected a mapping of keys, got the number 80 "
        "(write its keys below it, indented)",
    ),
    (
        "a wrong enum value, with a suggestion",
        "tests:\n  flaky_result: Fail\n",
        "gatekeeper.yml:2: tests.flaky_result: expected `pass` or `fail`, got the string 'Fail' "
        "(did you mean `fail`?)",
    ),
    (
        "expired_quarantine",
        "tests:\n  expired_quarantine: error\n",
        "gatekeeper.yml:2: tests.expired_quarantine: expected `warn` or `fail`, got the string "
        "'error' (write one of warn, fail)",
    ),
    (
        "direction",
        "benchmarks:\n  direction: up\n",
        "gatekeeper.yml:2: benchmarks.direction: expected `lower` or `higher`, got the string "
        "'up' (write one of lower, higher)",
    ),
    (
        "an unknown runner",
        "services:\n  api:\n    runner: cargo-nextest\n",
        "gatekeeper.yml:3: services.api.runner: expected `cargo`, `nextest`, `pytest` or "
        "`gotest`, got the string 'cargo-nextest' (did you mean `nextest`?)",
    ),
    (
        "service_line inside a service",
        "services:\n  api:\n    coverage:\n      line: 70\n      service_line: 60\n",
        "gatekeeper.yml:5: services.api.coverage.service_line: `service_line` belongs in the "
        "top-level section only (move it to the top-level coverage section)",
    ),
    (
        "an internal field",
        "default_branch: main\nsource: elsewhere.yml\n",
        "gatekeeper.yml:2: source: set by gatekeeper, not by the configuration file "
        "(remove this line)",
    ),
    (
        "overrides at the top level",
        "benchmark_overrides:\n  - name: a\n",
        "gatekeeper.yml:1: benchmark_overrides: per-benchmark rules are written under "
        "benchmarks.overrides (move the list to benchmarks: {overrides: [{name: GLOB, ...}]})",
    ),
    (
        "overrides inside a service",
        "services:\n  api:\n    benchmarks:\n      overrides: []\n",
        "gatekeeper.yml:4: services.api.benchmarks.overrides: per-benchmark overrides apply to "
        "every service and are not set per service (move the list to the top-level "
        "benchmarks.overrides)",
    ),
    (
        "a name inside a service",
        "services:\n  api:\n    name: api\n",
        "gatekeeper.yml:3: services.api.name: a service is named by its key under services "
        "(remove this line; write services: {NAME: {...}})",
    ),
    (
        "services as a list",
        "services:\n  - name: api\n",
        "gatekeeper.yml:1: services: expected a mapping of service names, got a list "
        "(write services: {NAME: {paths: [...]}}; the name is the key)",
    ),
    (
        "an override without a name",
        "benchmarks:\n  overrides:\n    - name: a/*\n    - max_regression: 5\n",
        "gatekeeper.yml:4: benchmarks.overrides[1]: has no name (add name: GLOB, e.g. name: "
        "parse/*)",
    ),
    (
        "an override repeated",
        "benchmarks:\n  overrides:\n    - name: a/*\n      window: 3\n    - name: a/*\n",
        "gatekeeper.yml:5: benchmarks.overrides[1].name: 'a/*' repeats benchmarks.overrides[0]: "
        "the first match wins, so this entry never applies (merge the two entries)",
    ),
    (
        "overrides as a mapping",
        "benchmarks:\n  overrides:\n    name: a/*\n",
        "gatekeeper.yml:2: benchmarks.overrides: expected a list of entries, got a mapping "
        "(write overrides: [{name: GLOB, max_regression: 30}, ...]; the first match wins)",
    ),
    (
        "a common_shift that does not exist",
        "benchmarks:\n  common_shift: undecidable\n",
        "gatekeeper.yml:2: benchmarks.common_shift: expected `fail`, `warn` or `undecided`, got "
        "the string 'undecidable' (did you mean `undecided`?)",
    ),
    (
        "common_shift in an override",
        "benchmarks:\n  overrides:\n    - name: a/*\n      common_shift: warn\n",
        "gatekeeper.yml:4: benchmarks.overrides[0].common_shift: `common_shift` is about a whole "
        "run, not single benchmarks (move it to benchmarks or services.NAME.benchmarks)",
    ),
    (
        "an unknown key in an override",
        "benchmarks:\n  overrides:\n    - name: a/*\n      rules: {window: 3}\n",
        "gatekeeper.yml:4: benchmarks.overrides[0].rules: unknown key (the keys here are "
        "max_regression, significance, window, min_history, direction, ceiling, informational, "
        "name)",
    ),
    (
        "null where a check cannot be off",
        "benchmarks:\n  window: null\n",
        "gatekeeper.yml:2: benchmarks.window: null is not allowed here: this key cannot be "
        "turned off (write a whole number, or remove the line for the default (20))",
    ),
    (
        "null for a string",
        "default_branch:\n",
        "gatekeeper.yml:1: default_branch: null is not allowed here: this key cannot be turned "
        "off (write a string, or remove the line for the default (main))",
    ),
    (
        "a fraction for a whole number",
        "tests:\n  recent_runs: 2.5\n",
        "gatekeeper.yml:2: tests.recent_runs: 2.5 is not a whole number (write e.g. 2)",
    ),
    (
        "a quoted number",
        "coverage:\n  line: '80'\n",
        "gatekeeper.yml:2: coverage.line: expected a percentage, got the string '80' "
        "(remove the quotes)",
    ),
    (
        "percent for a plain number",
        "benchmarks:\n  significance: 1%\n",
        "gatekeeper.yml:2: benchmarks.significance: expected a number, got the string '1%' "
        "(write a plain number, e.g. 0.01)",
    ),
    (
        "not a number at all",
        "coverage:\n  line: high\n",
        "gatekeeper.yml:2: coverage.line: expected a percentage, got the string 'high'",
    ),
    (
        "infinity",
        "benchmarks:\n  ceiling: .inf\n",
        "gatekeeper.yml:2: benchmarks.ceiling: inf is not a finite number (write a number)",
    ),
    (
        "a number in a list of globs",
        "services:\n  api:\n    paths:\n      - api/**\n      - 42\n",
        "gatekeeper.yml:5: services.api.paths[1]: expected a string, got the number 42 "
        "(quote it to make it a string)",
    ),
    (
        "a mapping for a list",
        "coverage:\n  exclude: {a: 1}\n",
        "gatekeeper.yml:2: coverage.exclude: expected a list of strings or one string, "
        "got a mapping",
    ),
    (
        "a number for a branch name",
        "default_branch: 2024\n",
        "gatekeeper.yml:1: default_branch: expected a string, got the number 2024 "
        "(quote it to make it a string)",
    ),
    (
        "a date for a branch name",
        "default_branch: 2024-06-01\n",
        "gatekeeper.yml:1: default_branch: expected a string, got the date 2024-06-01 "
        "(quote it to make it a string)",
    ),
    (
        "an empty string",
        "registry: ''\n",
        "gatekeeper.yml:1: registry: the value is empty (write a value or remove the line)",
    ),
    (
        "a key that is not a string",
        "services:\n  2024: {runner: cargo}\n",
        "gatekeeper.yml:2: services: the key 2024 is not a string "
        "(write keys as plain names; quote a name that looks like a number)",
    ),
    (
        "an unknown tag",
        "coverage:\n  line: !percent 80\n",
        "gatekeeper.yml:2: coverage.line: the tag !percent is not supported (remove the tag)",
    ),
    (
        "an alias that contains itself",
        "services:\n  api: &a\n    paths: [*a]\n",
        "gatekeeper.yml:2: services.api.paths[0]: an alias refers to itself (remove the alias)",
    ),
    (
        "an unknown key under a merge key is still unknown",
        "services:\n  api: &base\n    runner: cargo\n    pahts: [a]\n  web:\n    <<: *base\n",
        "gatekeeper.yml:4: services.api.pahts: unknown key (did you mean `paths`?)",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), [c[1:] for c in INVALID_YAML], ids=[c[0] for c in INVALID_YAML]
)
def test_invalid_yaml(text: str, message: str) -> None:
    assert yaml_error(text) == message


# YAML syntax errors: the file, the line and the hint are ours; the words between are PyYAML's,
# which change between its releases, so they are only required to be there.
YAML_SYNTAX = [
    ("bad indentation", "coverage:\n  line: 80\n patch: 80\n", 3),
    ("an unclosed flow list", "services:\n  api:\n    paths: [a/**, b/**\n", 4),
]


@pytest.mark.parametrize(
    ("text", "line"), [c[1:] for c in YAML_SYNTAX], ids=[c[0] for c in YAML_SYNTAX]
)
def test_invalid_yaml_syntax(text: str, line: int) -> None:
    message = yaml_error(text)
    prefix = f"gatekeeper.yml:{line}: not valid YAML: "
    hint = " (check the indentation, the colons and the quotes)"
    assert message.startswith(prefix) and message.endswith(hint), message
    assert message.removeprefix(prefix).removesuffix(hint).strip(), message
    assert "\n" not in message


INVALID_TOML = [
    (
        "a key in a table",
        "[project]\nname = 'x'\n\n[tool.gatekeeper.coverage]\nline = 80\nlnie = 70\n",
        "pyproject.toml:6: tool.gatekeeper.coverage.lnie: unknown key (did you mean `line`?)",
    ),
    (
        "a key in an inline table is named by its enclosing key's line",
        "[tool.gatekeeper]\ndefault_branch = 'main'\n\n[tool.gatekeeper.services.api]\n"
        "paths = ['api/**']\ncoverage = {line = 120}\n",
        "pyproject.toml:6: tool.gatekeeper.services.api.coverage.line: 120 is above 100 "
        "(write a percentage from 0 to 100)",
    ),
    (
        "a dotted key",
        "[tool.gatekeeper]\ntests.allow_empty = 'yes'\n",
        "pyproject.toml:2: tool.gatekeeper.tests.allow_empty: expected `true` or `false`, got "
        "the string 'yes' (write true or false; YAML 1.2 reads yes as a string, not as a "
        "boolean)",
    ),
    (
        "the second entry of an array of tables",
        "[tool.gatekeeper.benchmarks]\nwindow = 10\n\n"
        "[[tool.gatekeeper.benchmarks.overrides]]\nname = 'a/*'\n\n"
        "[[tool.gatekeeper.benchmarks.overrides]]\nname = 'b/*'\nsignificance = 0.9\n",
        "pyproject.toml:9: tool.gatekeeper.benchmarks.overrides[1].significance: 0.9 is above "
        "0.5 (write a number from 0 to 0.5)",
    ),
    (
        "a quoted service name in the header",
        '[tool.gatekeeper.services."web.app"]\nrunner = "jest"\n',
        "pyproject.toml:2: tool.gatekeeper.services.web.app.runner: expected `cargo`, "
        "`nextest`, `pytest` or `gotest`, got the string 'jest' (write one of cargo, nextest, "
        "pytest, gotest)",
    ),
    (
        "a TOML date",
        "[tool.gatekeeper]\ndefault_branch = 2024-06-01\n",
        "pyproject.toml:2: tool.gatekeeper.default_branch: expected a string, got the date "
        "2024-06-01 (quote it to make it a string)",
    ),
    (
        "tool.gatekeeper that is not a table",
        "[tool]\ngatekeeper = 'yes'\n",
        "pyproject.toml:2: tool.gatekeeper: expected a table, got the string 'yes' "
        "(write it as a [table] or an inline table {key = value})",
    ),
    (
        "a syntax error",
        "[tool.gatekeeper]\ndefault_branch = main\n",
        "pyproject.toml:2: not valid TOML: Invalid value (column 18) "
        "(check the quotes, the `=` signs and the [table] headers)",
    ),
    (
        "a key given twice",
        "[tool.gatekeeper.coverage]\nline = 80\nline = 70\n",
        "pyproject.toml:3: not valid TOML: Cannot overwrite a value (column 10) "
        "(check the quotes, the `=` signs and the [table] headers)",
    ),
    (
        "no table",
        "[project]\nname = 'x'\n",
        "pyproject.toml: has no [tool.gatekeeper] table "
        "(add one, or write the configuration in gatekeeper.yml)",
    ),
    (
        "a key inside a multi-line string is not taken for a key",
        '[tool.gatekeeper]\nregistry = """\nwindow = 3\n"""\n[tool.gatekeeper.benchmarks]\n'
        "window = 0\n",
        "pyproject.toml:6: tool.gatekeeper.benchmarks.window: 0 is below 1 "
        "(write a whole number of at least 1)",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), [c[1:] for c in INVALID_TOML], ids=[c[0] for c in INVALID_TOML]
)
def test_invalid_toml(text: str, message: str) -> None:
    assert toml_error(text) == message


def test_an_alias_bomb_is_refused() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    message = yaml_error("\n".join(levels) + "\n")
    assert "more than 100000 values" in message


# ---------------------------------------------------------------------------------------------
# Checks driven by the fields' metadata: every field, not a chosen few
# ---------------------------------------------------------------------------------------------

SECTIONS: list[tuple[str, type]] = [
    ("tests", TestRules),
    ("coverage", CoverageRules),
    ("benchmarks", BenchmarkRules),
]
PERCENT_KEYS = {"line", "service_line", "branch", "max_drop", "patch", "max_regression"}


def _numeric(cls: type) -> list[Any]:
    return [f for f in fields(cls) if f.type in ("float", "int", "float | None", "int | None")]


@pytest.mark.parametrize(
    ("section", "key", "bound", "value"),
    [
        (section, f.name, bound, f.metadata[bound] + (-1 if bound == "minimum" else 1))
        for section, cls in SECTIONS
        for f in _numeric(cls)
        for bound in ("minimum", "maximum")
        if bound in f.metadata
    ],
)
def test_every_bound_is_enforced(section: str, key: str, bound: str, value: float) -> None:
    message = yaml_error(f"{section}:\n  {key}: {value}\n")
    word = "below" if bound == "minimum" else "above"
    assert message.startswith(f"gatekeeper.yml:2: {section}.{key}: {value:g} is {word} ")


@pytest.mark.parametrize(
    ("section", "key"),
    [(s, f.name) for s, cls in SECTIONS for f in fields(cls) if f.type == "bool"],
)
def test_every_boolean_refuses_yes(section: str, key: str) -> None:
    assert "got the string 'on'" in yaml_error(f"{section}:\n  {key}: on\n")


@pytest.mark.parametrize(
    ("section", "key"), [(s, f.name) for s, cls in SECTIONS for f in _numeric(cls)]
)
def test_percent_strings_only_where_the_key_is_a_percentage(section: str, key: str) -> None:
    text = f'{section}:\n  {key}: "0.5%"\n'
    if key in PERCENT_KEYS:
        assert getattr(getattr(parse_config(text), section), key) == 0.5
    else:
        assert "got the string '0.5%'" in yaml_error(text)


# ---------------------------------------------------------------------------------------------
# Merging
# ---------------------------------------------------------------------------------------------

MERGE = """\
coverage:
  line: 85
  service_line: 70
  max_drop: 1
  exclude: ["**/gen/**"]
tests:
  recent_runs: 20
benchmarks:
  max_regression: 15
  window: 30
  overrides:
    - name: "parse/*"
      max_regression: 40
    - name: "*"
      informational: true
services:
  plain:
    paths: plain/**
  own-line:
    coverage: {line: 90, patch: 50}
  partial:
    coverage: {branch: 60}
    tests: {allow_empty: true}
    benchmarks: {window: 5}
  off:
    coverage: {line: null}
"""


def test_a_service_section_merges_over_the_global_one() -> None:
    config = parse_config(MERGE)
    glob = replace(
        DEFAULT_COVERAGE, line=85.0, service_line=70.0, max_drop=1.0, exclude=("**/gen/**",)
    )
    assert config.coverage == glob
    # no section: the global rules with service_line as the minimum
    assert config.service("plain") == ServiceConfig(name="plain", paths=("plain/**",))
    assert config.coverage_rules("plain") == replace(glob, line=70.0)
    # its own line wins; the rest is global
    assert config.coverage_rules("own-line") == replace(glob, line=90.0, patch=50.0)
    # a partial section without line: line is service_line, not the global line
    assert config.coverage_rules("partial") == replace(glob, line=70.0, branch=60.0)
    assert config.coverage_rules("off") == replace(glob, line=None)
    # tests and benchmarks merge over the global sections
    assert config.test_rules("partial") == replace(DEFAULT_TESTS, recent_runs=20, allow_empty=True)
    assert config.test_rules("plain") == replace(DEFAULT_TESTS, recent_runs=20)
    bench = replace(DEFAULT_BENCH, max_regression=15.0, window=30)
    assert config.benchmark_rules("plain", "x") == replace(bench, informational=True)


def test_overrides_merge_over_the_global_benchmarks_in_order() -> None:
    config = parse_config(MERGE)
    bench = replace(DEFAULT_BENCH, max_regression=15.0, window=30)
    assert config.benchmark_overrides == (
        BenchmarkOverride(name="parse/*", rules=replace(bench, max_regression=40.0)),
        BenchmarkOverride(name="*", rules=replace(bench, informational=True)),
    )
    # an override's missing keys are the global values, not the service's (window 30, not 5)
    assert config.benchmark_rules("partial", "parse/json") == replace(bench, max_regression=40.0)


def test_the_order_of_sections_in_the_file_does_not_matter() -> None:
    reordered = "services:\n  a:\n    coverage: {patch: 10}\ncoverage:\n  service_line: 60\n"
    assert parse_config(reordered).coverage_rules("a") == replace(
        DEFAULT_COVERAGE, line=60.0, service_line=60.0, patch=10.0
    )


def test_merge_keys_share_settings_between_services() -> None:
    text = (
        "services:\n  api: &rust\n    runner: nextest\n    coverage: {line: 65}\n"
        "  worker:\n    <<: *rust\n    paths: worker/**\n"
    )
    worker = parse_config(text).service("worker")
    assert worker == ServiceConfig(
        name="worker",
        paths=("worker/**",),
        runner="nextest",
        coverage=replace(DEFAULT_COVERAGE, line=65.0),
    )


# ---------------------------------------------------------------------------------------------
# Files on disk: load_config, find_config, resolve_config
# ---------------------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_load_config_resolves_the_registry_beside_the_file(tmp_path: Path) -> None:
    conf = write(tmp_path / "repo" / "gatekeeper.yml", "registry: ci/flaky.yml\n")
    config = load_config(conf)
    assert config.registry == str(tmp_path / "repo" / "ci" / "flaky.yml")
    assert config.source == str(conf)
    default = load_config(write(tmp_path / "other" / "gatekeeper.yml", "default_branch: dev\n"))
    assert default.registry == str(tmp_path / "other" / "flaky-tests.yml")
    absolute = load_config(write(tmp_path / "abs" / "gatekeeper.yml", "registry: /srv/r.yml\n"))
    assert absolute.registry == "/srv/r.yml"


def test_load_config_reads_pyproject(tmp_path: Path) -> None:
    conf = write(tmp_path / "pyproject.toml", "[tool.gatekeeper]\nregistry = '../flaky.yml'\n")
    assert load_config(conf) == GateConfig(
        registry=str(tmp_path.parent / "flaky.yml"), source=str(conf)
    )


def test_load_config_picks_the_format_by_the_file_not_the_name(tmp_path: Path) -> None:
    conf = write(tmp_path / "ci" / "gate.toml", "[tool.gatekeeper]\ndefault_branch = 'dev'\n")
    assert load_config(conf, name="the CI configuration").default_branch == "dev"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path / "plain.toml", "[tool.other]\n"), name="plain.toml")
    assert str(caught.value) == (
        "plain.toml: has no [tool.gatekeeper] table "
        "(add one, or write the configuration in gatekeeper.yml)"
    )


def test_unknown_keys_in_a_service_do_not_suggest_top_level_only_keys() -> None:
    assert yaml_error("services:\n  a:\n    coverage: {service_lines: 1}\n") == (
        "gatekeeper.yml:3: services.a.coverage.service_lines: unknown key (the keys here are "
        "line, branch, max_drop, patch, exclude, informational)"
    )


def test_load_config_names_the_file_in_errors(tmp_path: Path) -> None:
    conf = write(tmp_path / "gatekeeper.yml", "coverage:\n  line: 101\n")
    with pytest.raises(ConfigError) as caught:
        load_config(conf)
    assert str(caught.value).startswith(f"{conf}:2: coverage.line: 101 is above 100")
    with pytest.raises(ConfigError) as caught:
        load_config(conf, name="gatekeeper.yml")
    assert str(caught.value).startswith("gatekeeper.yml:2: coverage.line: 101 is above 100")


def test_load_config_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^x\.yml: no such file \(check the path\)$"):
        load_config(tmp_path / "x.yml", name="x.yml")
    (tmp_path / "d.yml").mkdir()
    with pytest.raises(ConfigError, match=r"^d\.yml: cannot be read: "):
        load_config(tmp_path / "d.yml", name="d.yml")
    latin1 = tmp_path / "l.yml"
    latin1.write_bytes("# ok\ndefault_branch: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_config(latin1, name="l.yml")
    assert str(caught.value) == "l.yml:2: not UTF-8 text (byte 0xe9) (save the file as UTF-8)"


def test_find_config_in_cwd_then_parents_up_to_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    deep = repo / "services" / "api" / "src"
    deep.mkdir(parents=True)
    (repo / ".git").mkdir()
    write(tmp_path / "gatekeeper.yml", "default_branch: outside\n")  # above the repository
    assert find_config(deep) is None
    root_conf = write(repo / "gatekeeper.yml", "")
    assert find_config(deep) == root_conf
    assert find_config(repo) == root_conf
    nearer = write(repo / "services" / "api" / "gatekeeper.yaml", "")
    assert find_config(deep) == nearer


def test_find_config_without_git_goes_to_the_root(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    conf = write(tmp_path / "gatekeeper.yml", "")
    assert find_config(deep) == conf


def test_find_config_git_file_marks_a_worktree_root(tmp_path: Path) -> None:
    write(tmp_path / "gatekeeper.yml", "")
    wt = tmp_path / "wt"
    write(wt / ".git", "gitdir: /elsewhere\n")
    (wt / "sub").mkdir()
    assert find_config(wt / "sub") is None


def test_find_config_pyproject_needs_the_table(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    sub = tmp_path / "pkg"
    write(sub / "pyproject.toml", "[project]\nname = 'pkg'\n")
    assert find_config(sub) is None
    root = write(tmp_path / "pyproject.toml", "[tool.gatekeeper]\n")
    assert find_config(sub) == root
    yml = write(tmp_path / "gatekeeper.yml", "")
    assert find_config(sub) == yml  # gatekeeper.yml wins over [tool.gatekeeper] in one folder


def test_find_config_refuses_two_yaml_files(tmp_path: Path) -> None:
    write(tmp_path / "gatekeeper.yml", "")
    write(tmp_path / "gatekeeper.yaml", "")
    with pytest.raises(ConfigError) as caught:
        find_config(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'gatekeeper.yaml'}: gatekeeper.yml is in the same folder; gatekeeper "
        "would read only one of them (keep one: merge them into gatekeeper.yml)"
    )


def test_find_config_reports_a_broken_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.gatekeeper\n")
    with pytest.raises(ConfigError, match=r"pyproject\.toml:1: not valid TOML: "):
        find_config(tmp_path)


def test_the_repository_itself_has_no_configuration() -> None:
    # a real pyproject.toml without [tool.gatekeeper], in a real git checkout
    assert (ROOT / ".git").exists()
    assert find_config(ROOT / "docs") is None


def test_resolve_config_precedence(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "gatekeeper.yml", "default_branch: from-file\nregistry: r/file.yml\n")
    write(tmp_path / "alt.yml", "default_branch: from-env-file\n")
    write(tmp_path / "cli.toml", "[tool.gatekeeper]\ndefault_branch = 'from-flag-file'\n")
    sub = tmp_path / "sub"
    sub.mkdir()

    found = resolve_config(sub, {})
    assert (found.default_branch, found.registry, found.source) == (
        "from-file",
        str(tmp_path / "r" / "file.yml"),
        str(tmp_path / "gatekeeper.yml"),
    )
    env = {"GATEKEEPER_CONFIG": "../alt.yml"}
    assert resolve_config(sub, env).default_branch == "from-env-file"
    flagged = resolve_config(sub, env, Path("../cli.toml"))
    assert flagged.default_branch == "from-flag-file"
    assert flagged.source == str(tmp_path / "cli.toml")

    overridden = resolve_config(
        sub, {"GATEKEEPER_DEFAULT_BRANCH": "release", "GATEKEEPER_REGISTRY": "mine.yml"}
    )
    assert overridden.default_branch == "release"
    assert overridden.registry == str(sub / "mine.yml")  # relative to the working folder
    assert overridden.source == str(tmp_path / "gatekeeper.yml")
    # empty variables are unset
    assert resolve_config(sub, {"GATEKEEPER_DEFAULT_BRANCH": "", "GATEKEEPER_CONFIG": ""}) == found


def test_resolve_config_without_a_file_is_the_defaults(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    assert resolve_config(tmp_path, {}) == GateConfig()
    assert resolve_config(tmp_path, {"GATEKEEPER_DEFAULT_BRANCH": "dev"}) == GateConfig(
        default_branch="dev"
    )


def test_resolve_config_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_config(tmp_path, {}, Path("nope.yml"))
    assert str(caught.value) == (
        "nope.yml: no such configuration file (named by --config) "
        "(check the path; it is relative to the working folder)"
    )
    with pytest.raises(ConfigError) as caught:
        resolve_config(tmp_path, {"GATEKEEPER_CONFIG": "gone.yml"})
    assert str(caught.value).startswith(
        "gone.yml: no such configuration file (named by GATEKEEPER_CONFIG)"
    )


def test_resolve_config_names_a_found_file_relative_to_the_working_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "gatekeeper.yml", "tests:\n  flaky_result: maybe\n")
    (tmp_path / "sub").mkdir()
    with pytest.raises(ConfigError) as caught:
        resolve_config(tmp_path / "sub", {})
    assert str(caught.value).startswith(
        f"..{os.sep}gatekeeper.yml:2: tests.flaky_result: expected `pass` or `fail`"
    )


# ---------------------------------------------------------------------------------------------
# Real files
# ---------------------------------------------------------------------------------------------


def _first_yaml_block_after(text: str, marker: str) -> str:
    start = text.index(marker)
    block = re.search(r"```yaml\n(.*?)```", text[start:], re.S)
    assert block is not None
    return block[1]


def test_the_design_example_loads() -> None:
    assert parse_config(DESIGN_EXAMPLE) == GateConfig(
        coverage=replace(DEFAULT_COVERAGE, line=80.0, max_drop=0.5, patch=80.0),
        benchmarks=replace(DEFAULT_BENCH, max_regression=20.0),
        services=(
            ServiceConfig(
                name="user-service",
                paths=("backend/user-service/**",),
                coverage=replace(DEFAULT_COVERAGE, line=75.0),
            ),
        ),
    )


def test_the_ci_guide_example_loads() -> None:
    example = _first_yaml_block_after(
        (ROOT / "docs" / "ci.md").read_text(encoding="utf-8"), "## The configuration file"
    )
    config = parse_config(example)
    assert [s.name for s in config.services] == [
        n for n in re.findall(r"^  ([\w-]+):$", example, re.M)
    ]


def test_toml_key_lines_on_the_real_pyproject() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    lines = text.splitlines()
    found = toml_key_lines(text)
    assert found[("tool", "mypy", "strict")] == lines.index("strict = true") + 1
    assert found[("project", "name")] == lines.index('name = "gatekeeper"') + 1
    contracts = [i + 1 for i, line in enumerate(lines) if line == "[[tool.importlinter.contracts]]"]
    assert len(contracts) > 2
    for index, line in enumerate(contracts):
        assert found[("tool", "importlinter", "contracts", index)] == line
        assert found[("tool", "importlinter", "contracts", index, "name")] == line + 1


# ---------------------------------------------------------------------------------------------
# Round trip: any configuration, written out, reads back as itself
# ---------------------------------------------------------------------------------------------

_text = st.text(
    st.characters(whitelist_categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=12
).filter(lambda s: s.strip() != "")
_globs = st.lists(_text, max_size=3).map(tuple)


def _in(low: float | None, high: float | None) -> st.SearchStrategy[float]:
    return st.floats(
        min_value=low,
        max_value=high if high is not None else 1e6,
        allow_nan=False,
        allow_infinity=False,
    )


def _maybe(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | s


_tests = st.builds(
    TestRules,
    flaky_result=st.sampled_from(FlakyResult),
    allow_empty=st.booleans(),
    min_tests_ratio=_in(0, 1),
    recent_runs=st.integers(1, 10**6),
    expired_quarantine=st.sampled_from(ExpiredQuarantine),
)
_coverage = st.builds(
    CoverageRules,
    line=_maybe(_in(0, 100)),
    service_line=_maybe(_in(0, 100)),
    branch=_maybe(_in(0, 100)),
    max_drop=_maybe(_in(0, 100)),
    patch=_maybe(_in(0, 100)),
    exclude=_globs,
    informational=st.booleans(),
)
_bench = st.builds(
    BenchmarkRules,
    max_regression=_in(0, None),
    significance=_in(0, 0.5),
    window=st.integers(1, 10**6),
    min_history=st.integers(1, 10**6),
    direction=_maybe(st.sampled_from(Direction)),
    ceiling=_maybe(st.floats(allow_nan=False, allow_infinity=False)),
    informational=st.booleans(),
    common_shift=st.sampled_from(CommonShift),
)


@st.composite
def configs(draw: st.DrawFn) -> GateConfig:
    coverage = draw(_coverage)
    names = draw(st.lists(_text, max_size=3, unique=True))
    services = tuple(
        ServiceConfig(
            name=name,
            paths=draw(_globs),
            packages=draw(_globs),
            runner=draw(_maybe(st.sampled_from(["cargo", "nextest", "pytest", "gotest"]))),
            # a service cannot set service_line: it always has the global one
            coverage=draw(
                _maybe(_coverage.map(lambda c: replace(c, service_line=coverage.service_line)))
            ),
            benchmarks=draw(_maybe(_bench)),
            tests=draw(_maybe(_tests)),
        )
        for name in names
    )
    globs = draw(st.lists(_text, max_size=3, unique=True))
    benchmarks = draw(_bench)
    # `common_shift` is about whole runs: an override has the global one
    overrides = tuple(
        BenchmarkOverride(name=g, rules=replace(draw(_bench), common_shift=benchmarks.common_shift))
        for g in globs
    )
    return GateConfig(
        default_branch=draw(_text),
        registry=draw(_text),
        tests=draw(_tests),
        coverage=coverage,
        benchmarks=benchmarks,
        benchmark_overrides=overrides,
        services=services,
    )


def _plain(value: Any, *, none: Any) -> Any:
    """A rule value as the file writes it (enums by value, tuples as lists)."""
    if value is None:
        return none
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def _section(rules: Any, *, none: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        f.name: _plain(getattr(rules, f.name), none=none)
        for f in fields(rules)
        if f.name not in skip
    }


def document(config: GateConfig, *, none: Any = None) -> dict[str, Any]:
    """The file for ``config``, written by hand from rules.py's shape (not by the loader)."""
    benchmarks = _section(config.benchmarks, none=none)
    benchmarks["overrides"] = [
        {"name": o.name, **_section(o.rules, none=none, skip=("common_shift",))}
        for o in config.benchmark_overrides
    ]
    services: dict[str, Any] = {}
    for s in config.services:
        entry: dict[str, Any] = {
            "paths": list(s.paths),
            "packages": list(s.packages),
            "runner": _plain(s.runner, none=none),
        }
        if s.coverage is not None:
            entry["coverage"] = _section(s.coverage, none=none, skip=("service_line",))
        if s.benchmarks is not None:
            entry["benchmarks"] = _section(s.benchmarks, none=none)
        if s.tests is not None:
            entry["tests"] = _section(s.tests, none=none)
        services[s.name] = entry
    return {
        "default_branch": config.default_branch,
        "registry": config.registry,
        "tests": _section(config.tests, none=none),
        "coverage": _section(config.coverage, none=none),
        "benchmarks": benchmarks,
        "services": services,
    }


def block_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML; scalars as JSON, which YAML reads the same."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return " {}\n"
        out = "\n"
        for key, item in value.items():
            out += f"{pad}{json.dumps(key, ensure_ascii=False)}:{block_yaml(item, indent + 2)}"
        return out
    if isinstance(value, list):
        if not value:
            return " []\n"
        out = "\n"
        for item in value:
            body = block_yaml(item, indent + 2)
            out += f"{pad}-" + (f" {body.lstrip()}" if body.startswith("\n") else body)
        return out
    return f" {json.dumps(value, ensure_ascii=False)}\n"


def inline_toml(value: Any) -> str:
    if isinstance(value, dict):
        body = ", ".join(
            f"{json.dumps(k, ensure_ascii=False)} = {inline_toml(v)}" for k, v in value.items()
        )
        return "{" + body + "}"
    if isinstance(value, list):
        return "[" + ", ".join(inline_toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def toml_file(doc: dict[str, Any]) -> str:
    lines = ["[tool.gatekeeper]"]
    lines += [f"{json.dumps(k)} = {inline_toml(v)}" for k, v in doc.items()]
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_any_configuration_reads_back_as_itself(config: GateConfig) -> None:
    as_json = json.dumps(document(config), ensure_ascii=False)
    assert parse_config(as_json, "gatekeeper.yml") == config
    assert parse_config(block_yaml(document(config)).lstrip("\n"), "gatekeeper.yml") == config
    assert parse_config(toml_file(document(config, none=False)), "pyproject.toml") == config


def test_the_block_renderer_writes_yaml_a_person_would() -> None:
    # the renderer is test code: check it on one small case so a bug there cannot hide one here
    text = block_yaml({"a": {"b": [1, {"c": "x"}], "d": []}}).lstrip("\n")
    assert text == '"a":\n  "b":\n    - 1\n    - "c": "x"\n  "d": []\n'


def test_config_names() -> None:
    assert CONFIG_NAMES == ("gatekeeper.yml", "gatekeeper.yaml")


def test_common_shift_is_read_for_the_run_globally_and_per_service() -> None:
    config = parse_config(
        "benchmarks:\n  common_shift: fail\n  overrides:\n    - name: slow/*\n      window: 5\n"
        "services:\n  api:\n    benchmarks: {common_shift: warn}\n  web:\n    paths: [web/**]\n",
        "gatekeeper.yml",
    )
    assert config.run_benchmark_rules("api").common_shift is CommonShift.WARN
    assert config.run_benchmark_rules("web").common_shift is CommonShift.FAIL
    assert config.run_benchmark_rules("other").common_shift is CommonShift.FAIL
    # an override carries the global value; overrides never decide about a run
    assert config.benchmark_rules("web", "slow/x").common_shift is CommonShift.FAIL
    assert BenchmarkRules().common_shift is CommonShift.UNDECIDED
