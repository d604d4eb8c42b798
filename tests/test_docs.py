"""Docs that mirror the code are generated from it; this keeps them in step."""

from __future__ import annotations

import re
import runpy

from .conftest import ROOT


def test_cli_reference_is_current() -> None:
    gen = runpy.run_path(str(ROOT / "docs" / "generate_cli.py"))
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == gen["render"](), (
        "docs/cli.md is out of date: run python docs/generate_cli.py"
    )


def test_every_format_has_a_docs_page() -> None:
    from gatekeeper.parsers import FORMATS

    index = (ROOT / "docs" / "formats" / "README.md").read_text(encoding="utf-8")
    for name in FORMATS:
        assert f"| `{name}` |" in index, f"docs/formats/README.md does not list {name}"


def test_relative_links_in_docs_resolve() -> None:
    pages = [*ROOT.glob("docs/**/*.md"), ROOT / "README.md", *ROOT.glob("sample_reports/**/*.md")]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []
