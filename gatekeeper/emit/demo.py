"""The history summary `gatekeeper demo` prints: one block per service."""

from __future__ import annotations

from collections.abc import Sequence

from gatekeeper.model import ServiceSummary


def _short(text: str | None, width: int = 70) -> str:
    if not text:
        return ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= width else first[: width - 1] + "…"


def render_summary(services: Sequence[ServiceSummary]) -> str:
    if not services:
        return "The history is empty."
    lines: list[str] = []
    for s in services:
        span = ""
        if s.first and s.last:
            span = f", {s.first:%Y-%m-%d} to {s.last:%Y-%m-%d}"
        lines.append(f"{s.service}: {s.runs} runs{span}; {s.red_runs} red")
        c = s.latest
        latest = (
            f"  latest run: {c.tests} tests, {c.failed} failed, {c.errors} errors, "
            f"{c.skipped} skipped"
        )
        if s.line_rate is not None:
            latest += f"; line coverage {s.line_rate * 100:.1f}%"
        if s.benchmarks:
            latest += f"; {s.benchmarks} benchmarks"
        lines.append(latest)
        if s.most_failing:
            lines.append("  most failing tests (failures / executions):")
            for t in s.most_failing:
                lines.append(f"    {t.failures:>3} / {t.executions:<3} {t.test_id}")
                if t.last_message:
                    lines.append(f"              last: {_short(t.last_message)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
