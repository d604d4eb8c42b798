"""`gatekeeper report` as a scheduled job runs it: a real process on the sample history."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import clean_env, gatekeeper

from .conftest import History


def test_report_command_writes_each_format(history: History, tmp_path: Path) -> None:
    period = ("--since", "2026-11-14", "--until", "2026-11-21")
    where = ("--db", history.db_url, "--registry", str(history.registry))
    for fmt in ("md", "json", "html"):
        out = tmp_path / f"week.{fmt}"
        done = gatekeeper("report", *period, "--format", fmt, "--out", str(out), *where,
                          cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert out.stat().st_size > 0
    text = (tmp_path / "week.md").read_text(encoding="utf-8")
    assert text.startswith("## Weekly CI report: 2026-11-14 – 2026-11-20 (all services)")
    data = json.loads((tmp_path / "week.json").read_text(encoding="utf-8"))
    assert data["health"]["total"]["runs"] == 46  # the sample's second week (README tables)
    html = (tmp_path / "week.html").read_text(encoding="utf-8")
    assert html.count("<svg") >= 6
    # stdout when there is no --out, and the same bytes (a fixed stamp: the clock may tick over
    # a minute between the two runs)
    pinned = clean_env(SOURCE_DATE_EPOCH="1795000000")
    written = gatekeeper("report", *period, *where, "--out", "pinned.md", cwd=tmp_path, env=pinned)
    printed = gatekeeper("report", *period, *where, cwd=tmp_path, env=pinned)
    assert written.returncode == 0 and printed.returncode == 0, written.stderr + printed.stderr
    assert printed.stdout == (tmp_path / "pinned.md").read_text(encoding="utf-8")
    assert "_Generated 2026-11-18 " in printed.stdout  # 1795000000 s after 1970 (UTC)

    # apart from that stamp, the report is the one written without it
    def unstamped(report: str) -> list[str]:
        return [line for line in report.splitlines() if not line.startswith("_Generated")]

    assert unstamped(printed.stdout) == unstamped(text)
    bad = gatekeeper("report", *period, *where, cwd=tmp_path,
                     env=clean_env(SOURCE_DATE_EPOCH="yesterday"))  # fmt: skip
    assert bad.returncode == 2 and "SOURCE_DATE_EPOCH='yesterday'" in bad.stderr


def test_report_refuses_what_it_cannot_do(history: History, tmp_path: Path) -> None:
    where = ("--db", history.db_url, "--registry", str(history.registry))
    cases = {
        ("--since", "7x"): "--since '7x': not a period or a date",
        ("--format", "pdf"): "--format pdf: not a report format",
        ("--out", str(tmp_path / "missing" / "r.md")): "cannot write the report",
    }
    for args, message in cases.items():
        done = gatekeeper("report", *args, *where, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_markdown_is_md_and_a_month_is_not_titled_weekly(history: History, tmp_path: Path) -> None:
    where = ("--db", history.db_url, "--registry", str(history.registry))
    week = ("--since", "2026-11-14", "--until", "2026-11-21")
    md = gatekeeper("report", *week, "--format", "md", *where, cwd=tmp_path, env=clean_env(
        SOURCE_DATE_EPOCH="1795000000"))  # fmt: skip
    markdown = gatekeeper("report", *week, "--format", "markdown", *where, cwd=tmp_path,
                          env=clean_env(SOURCE_DATE_EPOCH="1795000000"))  # fmt: skip
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout == md.stdout
    month = gatekeeper("report", "--since", "2026-10-22", "--until", "2026-11-21", *where,
                       cwd=tmp_path)  # fmt: skip
    assert month.returncode == 0, month.stderr
    assert month.stdout.startswith("## CI report: 2026-10-22 – 2026-11-20 (all services)")
    assert "Weekly" not in month.stdout.splitlines()[0]
