"""Write docs/cli.md from the CLI's own help texts (checked by tests/test_docs.py).

python docs/generate_cli.py        # rewrite docs/cli.md
python docs/generate_cli.py --check  # exit 1 if docs/cli.md is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from gatekeeper.cli import app

OUT = Path(__file__).resolve().parent / "cli.md"
WIDTH = 100


def _context(command: Any, name: str, parent: Any = None) -> Any:
    # typer ships its own copy of click: take Context from the command's own module
    context_class = command.context_class
    return context_class(
        command, info_name=name, parent=parent, terminal_width=WIDTH, max_content_width=WIDTH
    )


def _help(command: Any, name: str, parent: Any = None) -> str:
    return str(command.get_help(_context(command, name, parent)))


def render() -> str:
    group = typer.main.get_command(app)
    root = _context(group, "gatekeeper")
    parts = [
        "# Command-line reference",
        "",
        "Generated from the code by `python docs/generate_cli.py`; do not edit by hand.",
        "Exit codes: 0 done, 1 the gate failed, 2 could not decide, 3 no issue tracker token "
        "(see [errors.md](errors.md)).",
        "",
        "## gatekeeper",
        "",
        "```",
        _help(group, "gatekeeper"),
        "```",
    ]
    for name in group.list_commands(root):
        command = group.get_command(root, name)
        assert command is not None
        parts += ["", f"## gatekeeper {name}", "", "```", _help(command, name, root), "```"]
    return "\n".join(parts) + "\n"


def main() -> None:
    text = render()
    if "--check" in sys.argv[1:]:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUT} is out of date: run python docs/generate_cli.py")
        return
    OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
