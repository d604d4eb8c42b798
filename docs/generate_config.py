"""Write docs/configuration.md from gatekeeper/rules.py (tests/config/test_docs_config.py checks).

python docs/generate_config.py          # rewrite docs/configuration.md
python docs/generate_config.py --check  # exit 1 if docs/configuration.md is out of date

Every key, its type, default, range and meaning come from the dataclasses in rules.py and their
``metadata``; the search order and the environment variables from gatekeeper/config/file.py; the
error messages shown are produced by the loader itself. The prose around them is written here.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any, get_args, get_type_hints

from gatekeeper.config.file import (
    CONFIG_NAMES,
    ENV_VARS,
    find_config,
    parse_config,
    value_description,
    yaml_scalar,
)
from gatekeeper.errors import ConfigError
from gatekeeper.rules import (
    BenchmarkOverride,
    BenchmarkRules,
    ClassifyRules,
    CoverageRules,
    GateConfig,
    HistoryRules,
    ServiceConfig,
    TestRules,
)

OUT = Path(__file__).resolve().parent / "configuration.md"

# A complete gatekeeper.yml: every key is set (tests/config/test_docs_config.py checks that, and
# loads it).
EXAMPLE = """\
# gatekeeper.yml, at the repository's root
default_branch: main
registry: flaky-tests.yml         # relative to this file's folder

tests:
  flaky_result: pass              # failed, then passed on a retry: recorded as flaky, passes
  allow_empty: false
  min_tests_ratio: 0.5            # fewer than half the usual number of tests ran: fail
  recent_runs: 10
  expired_quarantine: warn

classify:
  max_new_quarantine_share: 0.05  # more new quarantines than 5% of a service's tests: refused

coverage:
  line: 80                        # percent, of everything this run's coverage reports cover
  service_line: 75                # each service's minimum, unless it sets its own `line`
  branch: null                    # off
  max_drop: 0.5                   # percentage points below the last passing gate on main
  patch: "80%"                    # the lines changed against `gate --base REF`
  exclude: ["**/generated/**", "**/migrations/**"]
  informational: false

history:
  keep_days: 180                  # gatekeeper prune deletes older runs (not the gate's baselines)

benchmarks:
  max_regression: 20              # percent worse, and statistically significant
  significance: 0.01
  window: 20
  min_history: 5
  direction: null                 # as each report states (times: lower is better)
  ceiling: null
  informational: false
  common_shift: undecided         # most benchmarks moved together (a loaded machine): exit 2
  overrides:                      # the first entry whose name matches wins
    - name: "startup/*"
      max_regression: 10
    - name: "latency/p99*"
      ceiling: 2500000            # 2.5 ms in nanoseconds, whatever the history says
    - name: "*_experimental"
      informational: true

services:
  user-service:
    paths: ["backend/user-service/**"]
    packages: ["user_service*"]
    runner: nextest
    coverage: {line: 85}          # the rest of `coverage` applies as above
  messaging-service:
    paths: backend/messaging-service/**
    runner: cargo
    tests: {flaky_result: fail}
    benchmarks: {max_regression: 30, window: 30}
  api-gateway:
    paths: ["gateway/**", "proto/**"]
    runner: gotest
    coverage:
      line: null                  # no minimum for this service; the ratchet still applies
      max_drop: 1
"""

# The same configuration as a [tool.gatekeeper] table (the test checks that both read the same).
EXAMPLE_TOML = """\
[tool.gatekeeper]
default_branch = "main"
registry = "flaky-tests.yml"

[tool.gatekeeper.tests]
flaky_result = "pass"
allow_empty = false
min_tests_ratio = 0.5
recent_runs = 10
expired_quarantine = "warn"

[tool.gatekeeper.classify]
max_new_quarantine_share = 0.05

[tool.gatekeeper.coverage]
line = 80
service_line = 75
branch = false                    # TOML has no null: false turns a check off
max_drop = 0.5
patch = "80%"
exclude = ["**/generated/**", "**/migrations/**"]
informational = false

[tool.gatekeeper.history]
keep_days = 180

[tool.gatekeeper.benchmarks]
max_regression = 20
significance = 0.01
window = 20
min_history = 5
direction = false
ceiling = false
informational = false
common_shift = "undecided"

[[tool.gatekeeper.benchmarks.overrides]]
name = "startup/*"
max_regression = 10

[[tool.gatekeeper.benchmarks.overrides]]
name = "latency/p99*"
ceiling = 2500000

[[tool.gatekeeper.benchmarks.overrides]]
name = "*_experimental"
informational = true

[tool.gatekeeper.services.user-service]
paths = ["backend/user-service/**"]
packages = ["user_service*"]
runner = "nextest"
coverage = {line = 85}

[tool.gatekeeper.services.messaging-service]
paths = "backend/messaging-service/**"
runner = "cargo"
tests = {flaky_result = "fail"}
benchmarks = {max_regression = 30, window = 30}

[tool.gatekeeper.services.api-gateway]
paths = ["gateway/**", "proto/**"]
runner = "gotest"
coverage = {line = false, max_drop = 1}
"""

# Mistakes and what gatekeeper says about them (the messages are produced by the loader).
MISTAKES = [
    ("A misspelt key", "coverage:\n  line: 80\n  max_dorp: 1\n"),
    ("A value out of range", "services:\n  user-service:\n    coverage:\n      line: 120\n"),
    ("`yes` for a boolean", "coverage:\n  informational: yes\n"),
    ("A key given twice", "benchmarks:\n  window: 20\n  max_regression: 20\n  window: 30\n"),
    ("A choice that does not exist", "tests:\n  flaky_result: retry\n"),
    ("A top-level-only key in a service", "services:\n  api:\n    coverage: {service_line: 70}\n"),
    ("Turning off a key that cannot be off", "benchmarks:\n  window: null\n"),
    (
        "A run-wide key in a per-benchmark override",
        'benchmarks:\n  overrides:\n    - name: "parse/*"\n      common_shift: warn\n',
    ),
    ("Broken YAML", "coverage:\n  line: 80\n patch: 80\n"),
]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _takes(cls: type, f: Field[Any]) -> str:
    if (cls, f.name) == (GateConfig, "services"):
        return "a mapping: service name → [its settings](#services)"
    text = value_description(cls, f.name)
    low, high = f.metadata.get("minimum"), f.metadata.get("maximum")
    if low is not None and high is not None:
        text += f", {yaml_scalar(low)} to {yaml_scalar(high)}"
    elif low is not None:
        text += f", at least {yaml_scalar(low)}"
    elif high is not None:
        text += f", at most {yaml_scalar(high)}"
    if type(None) in get_args(get_type_hints(cls)[f.name]) and text != "a mapping of keys":
        text += ", or `null`"
    return text


def _default(f: Field[Any]) -> str:
    if f.name == "services":
        return "`{}`"
    if f.default is not MISSING:
        return f"`{yaml_scalar(f.default)}`"
    if f.default_factory is not MISSING:
        return "its keys' defaults"
    return "(required)"


def _table(
    cls: type, *, skip: tuple[str, ...] = (), notes: dict[str, str] | None = None
) -> list[str]:
    rows = ["| key | takes | default | meaning |", "|---|---|---|---|"]
    for f in fields(cls):
        if f.name in skip or f.metadata.get("internal"):
            continue
        meaning = str(f.metadata["doc"])
        if f.metadata.get("top_level_only"):
            meaning += " Top-level section only: an error inside a service."
        if notes and f.name in notes:
            meaning += " " + notes[f.name]
        rows.append(
            f"| `{f.name}` | {_cell(_takes(cls, f))} | {_cell(_default(f))} | {_cell(meaning)} |"
        )
    return rows


def _paragraphs(obj: Any) -> str:
    """A docstring without its first (summary) paragraph."""
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n", 1)[1] if "\n\n" in doc else doc


def _mistakes() -> list[str]:
    out: list[str] = []
    for title, text in MISTAKES:
        try:
            parse_config(text, CONFIG_NAMES[0])
        except ConfigError as err:
            message = str(err)
        else:  # pragma: no cover - the test of this page fails first
            raise AssertionError(f"the example {title!r} is accepted")
        out += [
            f"**{title}:**",
            "",
            "```yaml",
            text.rstrip("\n"),
            "```",
            "",
            "```",
            message,
            "```",
            "",
        ]
    return out


def _doc(cls: type) -> str:
    return " ".join((inspect.getdoc(cls) or "").split())


INTRO = """\
# Configuration reference

Generated from the code by `python docs/generate_config.py`; do not edit by hand. The keys,
their defaults and ranges come from `gatekeeper/rules.py`, where each one is documented.

gatekeeper reads its rules from `gatekeeper.yml` at the repository's root, or from a
`[tool.gatekeeper]` table in `pyproject.toml`. Without either, the defaults below apply. Every
key is optional; a key you leave out keeps its default.
"""

WHERE = """\
`--config FILE` (on the commands that take it) or `$GATEKEEPER_CONFIG` names the file
instead; a file named by either must exist. A name ending in `.toml` is read for its
`[tool.gatekeeper]` table, any other name as YAML.
"""

PRECEDENCE = """\
defaults < the file < `GATEKEEPER_*` environment variables < command-line flags.
"""

REGISTRY = """\
The registry path in the file is relative to the file's folder, not to the folder the command
runs in, so `gatekeeper gate` finds the same registry from any subfolder. When the file does
not set `registry`, `flaky-tests.yml` beside the file is meant.
"""

VALUES = """\
- **Percentages** are percent: `80`, `80.5` and `"80%"` all mean 80 %. Shares and
  significance levels (`min_tests_ratio`, `significance`) are plain numbers (`0.5`, `0.01`).
- **`null` turns a check off** where the table says `or null`. TOML has no null: write
  `false` there instead (YAML accepts `false` the same way).
- **A list of strings** may be written as one string: `paths: backend/**` is
  `paths: [backend/**]`. In YAML, quote a glob that starts with `*` (`"*_slow"`): a bare `*`
  starts an alias.
- **Booleans** are `true` or `false`. gatekeeper reads YAML 1.2, where `yes`, `no`, `on` and
  `off` are strings, so `informational: yes` is an error rather than a silent surprise.
- **An unknown key is an error**, with the closest known key as a suggestion: a misspelt
  threshold must not silently leave a check at its default.
- **An empty section** (every key commented out) is the same as no section; an empty
  `gatekeeper.yml` is the defaults.
- YAML anchors, aliases and `<<` merge keys work (e.g. to share settings between services).
  Every top-level key must be one of the keys below, so anchor a value where it is first used.
"""

OVERRIDES = """\
A list under `benchmarks`; each entry is `{name: GLOB, ...}` with any keys of
[benchmarks](#benchmarks). The keys an entry leaves out are the top-level `benchmarks` values
(not the service's). An override wins over the service's and the global rules; two entries
with the same name are an error, since the second could never apply.
"""

OVERRIDES_EXAMPLE = """\
```yaml
benchmarks:
  max_regression: 20
  overrides:
    - name: "parse/*"
      max_regression: 35      # window, significance, ... as above
```
"""

SERVICES = """\
A service's `coverage`, `benchmarks` and `tests` are partial: the keys it sets replace the
top-level section's, the rest are the top-level values. One exception: a service's
`coverage.line` is the top-level `service_line` unless the service sets `line` itself (`line`
at the top level is the minimum for everything the run covers together). A service without a
`coverage` section is judged by the top-level section with `service_line` as its minimum, the
same thing.

```yaml
coverage:
  line: 80
  service_line: 75
  max_drop: 0.5
services:
  user-service:
    coverage: {patch: 90}    # line 75 (service_line), max_drop 0.5, patch 90
```
"""

ERRORS = """\
The command stops with exit code 2 (could not decide) and one line that names the file, the
line, the key and what to do. In `pyproject.toml` the key path starts with `tool.gatekeeper`.
Python's TOML reader reports no line numbers, so gatekeeper finds them by reading the
`[table]` headers and `key = value` lines itself; a key inside an inline table
(`coverage = {line = 120}`) or a multi-line list is named by the line of the key that holds it.
"""


def render() -> str:
    top_notes = {
        "tests": "See [tests](#tests).",
        "classify": "See [classify](#classify).",
        "coverage": "See [coverage](#coverage).",
        "history": "See [history](#history).",
        "benchmarks": "See [benchmarks](#benchmarks); per-benchmark rules go under "
        "[benchmarks.overrides](#benchmarksoverrides).",
        "services": "See [services](#services).",
    }
    env_rows = ["| variable | what it does |", "|---|---|"]
    env_rows += [f"| `{name}` | {_cell(text)} |" for name, text in ENV_VARS.items()]
    parts = [
        INTRO,
        "## Where gatekeeper looks",
        "",
        _paragraphs(find_config),
        "",
        WHERE,
        "## What wins",
        "",
        PRECEDENCE,
        *env_rows,
        "",
        REGISTRY,
        "## Writing values",
        "",
        VALUES,
        "## Top level",
        "",
        _doc(GateConfig),
        "",
        *_table(GateConfig, skip=("benchmark_overrides",), notes=top_notes),
        "",
    ]
    for title, cls in (
        ("tests", TestRules),
        ("classify", ClassifyRules),
        ("coverage", CoverageRules),
        ("history", HistoryRules),
    ):
        parts += [f"## {title}", "", _doc(cls), "", *_table(cls), ""]
    parts += ["## benchmarks", "", _doc(BenchmarkRules), "", *_table(BenchmarkRules), ""]
    parts += ["## benchmarks.overrides", "", _doc(BenchmarkOverride), "", OVERRIDES]
    parts += [*_table(BenchmarkOverride, skip=("rules",)), "", OVERRIDES_EXAMPLE]
    parts += ["## services", "", _doc(ServiceConfig) + " `services` maps each name to:", ""]
    parts += [*_table(ServiceConfig, skip=("name",)), "", SERVICES]
    parts += ["## A complete example", "", "Every key, set (most to their defaults):", ""]
    parts += ["```yaml", EXAMPLE.rstrip("\n"), "```", "", "The same in `pyproject.toml`:", ""]
    parts += ["```toml", EXAMPLE_TOML.rstrip("\n"), "```", ""]
    parts += ["## When the file is wrong", "", ERRORS, *_mistakes()]
    return "\n".join(parts).rstrip("\n") + "\n"


def main() -> None:
    text = render()
    if "--check" in sys.argv[1:]:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUT} is out of date: run python docs/generate_config.py")
        return
    OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
