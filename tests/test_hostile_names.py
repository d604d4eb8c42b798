"""Names are data: a test name or message that holds a newline and a workflow command, terminal
escapes, or Markdown and HTML reaches the terminal, the CI log and the job summary escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .cli import clean_env, gatekeeper

PKG = "example.com/svc"
NL = "TestNL\n::warning::INJECTED"
ESC = "TestESC\x1b]0;title\x07\x1b[2J"
MD = "Test`tick`<b>bold</b>"
MESSAGE = "boom <img src=x onerror=alert(1)> [link](https://evil.example) `x` \x1b[31mred"
SERVICE = "web<b>x</b>"
ANNOTATION = re.compile(r"::(error|notice) [^\n]*")  # our own workflow commands


def _events(failing: set[str]) -> bytes:
    lines = []
    for name in (NL, ESC, MD):
        lines.append({"Action": "run", "Package": PKG, "Test": name})
        if name in failing:
            out = {"Action": "output", "Package": PKG, "Test": name, "Output": MESSAGE + "\n"}
            lines.append(out)
        action = "fail" if name in failing else "pass"
        lines.append({"Action": action, "Package": PKG, "Test": name, "Elapsed": 0.01})
    fail = "fail" if failing else "pass"
    lines.append({"Action": fail, "Package": PKG, "Elapsed": 0.1})
    return "".join(json.dumps(e) + "\n" for e in lines).encode()


def _check_terminal(text: str, where: str) -> None:
    assert "\x1b" not in text, f"{where}: a raw ESC"
    assert "\x07" not in text, f"{where}: a raw BEL"
    for line in text.splitlines():
        if line.lstrip().startswith("::"):
            assert ANNOTATION.fullmatch(line.lstrip()), (
                f"{where}: a name starts a command: {line!r}"
            )


def test_hostile_names_are_escaped_in_gate_classify_and_quarantine_list(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    env = clean_env(GITHUB_ACTIONS="true")
    report = tmp_path / "go.json"
    for i in range(12):  # a flaky history for classify: the same commit, each test failing
        # alone in every third run (all three failing together would be a common cause)
        report.write_bytes(_events({(NL, ESC, MD)[i % 3]}))
        run = gatekeeper(
            "ingest", str(report), "--format", "gotest-json", "--service", SERVICE, "--run-id",
            f"r{i}", "--commit", "c" * 40, "--branch", "main", "--db", db, cwd=tmp_path, env=env,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        _check_terminal(run.stdout + run.stderr, "ingest")

    report.write_bytes(_events({NL, ESC, MD}))
    summary = tmp_path / "summary.md"
    gate = gatekeeper(
        "gate", str(report), "--report-format", "gotest-json", "--service", SERVICE,
        "--run-id", "gate", "--commit", "d" * 40, "--branch", "main", "--db", db,
        "--summary", str(summary), cwd=tmp_path, env=env,
    )  # fmt: skip
    assert gate.returncode == 1, gate.stderr
    _check_terminal(gate.stdout + gate.stderr, "gate")
    assert "TestNL\\n\\x3a:warning::INJECTED" in gate.stdout or "TestNL\\n::warning" in gate.stdout
    assert "TestESC\\x1b]0;title\\x07\\x1b[2J" in gate.stdout

    md = summary.read_text(encoding="utf-8")
    assert "\x1b" not in md
    code = f"``{PKG}::Test`tick`<b>bold</b>``"  # a code span that the backticks cannot close
    assert code in md
    outside = md.replace(code, "")  # inside a code span, HTML is text
    assert "<img" not in outside and "<b>" not in outside  # no live HTML
    assert "[link](" not in md  # no live link
    assert "&lt;img src=x onerror=alert(1)&gt;" in md
    assert "### ❌ gatekeeper: web&lt;b&gt;x&lt;/b&gt; failed" in md

    classify = gatekeeper("classify", "--db", db, cwd=tmp_path, env=env)
    assert classify.returncode == 0, classify.stderr
    _check_terminal(classify.stdout + classify.stderr, "classify")
    assert "TestNL\\n::warning::INJECTED" in classify.stdout  # escaped, mid-line
    listing = gatekeeper("quarantine", "list", cwd=tmp_path, env=env)
    assert listing.returncode == 0, listing.stderr
    _check_terminal(listing.stdout + listing.stderr, "quarantine list")
    assert "TestESC\\x1b]0;title\\x07\\x1b[2J" in listing.stdout
    # JSON keeps the data exactly (machines read it)
    raw = gatekeeper("quarantine", "list", "--format", "json", cwd=tmp_path, env=env)
    assert {e["name"] for e in json.loads(raw.stdout)} >= {f"{PKG}::{NL}", f"{PKG}::{ESC}"}

    # a name given on the command line, which starts its line in the table
    add = gatekeeper(
        "quarantine", "add", "::warning::LEAD", "--service", "s", "--reason", "r",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    _check_terminal(add.stdout, "quarantine add")
    listing = gatekeeper("quarantine", "list", "--service", "s", cwd=tmp_path, env=env)
    _check_terminal(listing.stdout, "quarantine list")
    assert "\\x3a:warning::LEAD" in listing.stdout
