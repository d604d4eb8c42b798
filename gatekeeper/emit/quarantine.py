"""What `gatekeeper quarantine list` prints: a table, or JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gatekeeper.model import QuarantineEntry

COLUMNS = ("test", "service", "failure rate", "runs", "since", "owner", "issue", "expires")


def _row(entry: QuarantineEntry, expired: bool) -> tuple[str, ...]:
    ev = entry.evidence
    rate = "-" if ev is None or ev.failure_rate is None else f"{ev.failure_rate * 100:.1f}%"
    runs = "-" if ev is None or ev.runs is None else str(ev.runs)
    since = "-" if ev is None or ev.detected is None else ev.detected.isoformat()
    expires = "-" if entry.expires is None else entry.expires.isoformat()
    if expired:
        expires += " (expired)"
    name = entry.name if entry.quarantined else f"{entry.name} (released)"
    return (name, entry.service, rate, runs, since, entry.owner or "-", entry.issue or "-", expires)


def table(entries: Sequence[QuarantineEntry], expired: Sequence[QuarantineEntry]) -> str:
    """Aligned columns, one quarantined test a line; a closing line counts them."""
    if not entries:
        return "No quarantined tests.\n"
    late = {e.key for e in expired}
    rows = [COLUMNS, *(_row(e, e.key in late) for e in entries)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    count = sum(1 for e in entries if e.quarantined)
    footer = f"{count} quarantined"
    if late:
        footer += f", {len(late)} expired"
    return "\n".join([*lines, "", footer]) + "\n"


def json_list(
    entries: Sequence[QuarantineEntry], expired: Sequence[QuarantineEntry]
) -> list[dict[str, Any]]:
    late = {e.key for e in expired}
    out = []
    for e in entries:
        ev = e.evidence
        out.append(
            {
                "name": e.name,
                "service": e.service,
                "quarantined": e.quarantined,
                "pinned": e.pinned,
                "reason": e.reason,
                "issue": e.issue,
                "owner": e.owner,
                "expires": e.expires.isoformat() if e.expires else None,
                "expired": e.key in late,
                "verdict": ev.verdict.value if ev else None,
                "failure_rate": ev.failure_rate if ev else None,
                "runs": ev.runs if ev else None,
                "failures": ev.failures if ev else None,
                "detected": ev.detected.isoformat() if ev and ev.detected else None,
            }
        )
    return out
