"""The classifier package keeps to its place in the layering (docs/statistics.md, DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import gatekeeper.flaky

PACKAGE = Path(gatekeeper.flaky.__file__).parent
ALLOWED_OURS = {"gatekeeper", "gatekeeper.model", "gatekeeper.errors"}
ALLOWED_THIRD_PARTY = {"numpy", "scipy"}
STDLIB = {"__future__", "collections", "dataclasses", "datetime", "itertools", "math", "operator",
          "re", "typing"}  # fmt: skip


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "gatekeeper":
                names.update(f"gatekeeper.{alias.name}" for alias in node.names)
    return names


def test_the_classifier_imports_only_the_model_and_errors_of_ours() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 4
    for path in modules:
        for name in imported(path):
            if name.startswith("gatekeeper.flaky"):
                continue
            top = name.split(".")[0]
            if top == "gatekeeper":
                assert name in ALLOWED_OURS, f"{path.name} imports {name}"
            elif top in ALLOWED_THIRD_PARTY:
                continue
            else:
                # Everything else must be the standard library (no I/O libraries here).
                assert top in STDLIB, f"{path.name} imports {name}"


def test_the_classifier_does_no_io() -> None:
    for path in PACKAGE.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        for call in ("open(", "print(", "Path(", "os.environ"):
            assert call not in source, f"{path.name} uses {call}"
