"""What `gatekeeper quarantine list` prints: a table, or JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gatekeeper.emit import safe
from gatekeeper.model import QuarantineEntry, TestExecution

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
    # Data, shown escaped before the widths are measured (a name leads its line: defused too).
    owner, issue = entry.owner or "-", entry.issue or "-"
    cells = (name, entry.service, rate, runs, since, owner, issue, expires)
    return tuple(safe.line(cell) for cell in cells)


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


_MARKS = {"passed": "P", "failed": "F", "error": "E", "skipped": "s"}


def show(
    name: str,
    service: str,
    entry: QuarantineEntry | None,
    history: Sequence[TestExecution],
) -> str:
    """One test: the registry's fields and evidence, then one line per recent run."""
    lines = [f"{name}  ({service})"]
    if entry is None:
        lines.append("  not in the registry")
    else:
        state = "quarantined" if entry.quarantined else "released"
        pin = ", pinned by a person" if entry.pinned else ""
        lines.append(f"  {state}{pin}: {entry.reason}")
        for label, value in (
            ("issue", entry.issue),
            ("owner", entry.owner),
            ("expires", entry.expires.isoformat() if entry.expires else None),
        ):
            if value:
                lines.append(f"  {label}: {value}")
        ev = entry.evidence
        if ev is not None:
            lines.append(
                f"  verdict: {ev.verdict.value}"
                + (f" (confidence {ev.confidence:.2f})" if ev.confidence is not None else "")
            )
            if ev.summary and ev.summary != entry.reason:
                lines.append(f"  evidence: {ev.summary}")
            for label, point in (
                ("first failure", ev.first_failure),
                ("last failure", ev.last_failure),
            ):
                if point is not None:
                    lines.append(
                        f"  {label}: {point.date or '-'} commit {(point.commit or '-')[:10]} "
                        f"run {point.run or '-'}"
                    )
    if not history:
        lines.append("  no executions in the history")
        return "\n".join(safe.line(one) for one in lines) + "\n"
    runs: dict[int, list[TestExecution]] = {}
    for e in history:
        runs.setdefault(e.run_pk, []).append(e)
    lines.append(
        f"  last {len(runs)} run(s), oldest first (P passed, F failed, E error, s skipped;"
    )
    lines.append("  several letters: the attempts of one run):")
    strip = []
    for attempts in runs.values():
        first = attempts[0]
        marks = "".join(_MARKS[a.outcome.value] for a in sorted(attempts, key=lambda a: a.retry))
        strip.append(marks if len(marks) == 1 else f"[{marks}]")
        when = first.timestamp.date().isoformat() if first.timestamp else "-"
        run = first.run_id if first.attempt == 1 else f"{first.run_id}#{first.attempt}"
        message = next((a.message for a in attempts if a.message and a.outcome.is_failure), None)
        note = f"  {message.strip().splitlines()[0][:70]}" if message else ""
        lines.append(
            f"    {when}  {(first.commit or '-')[:10]:<10}  {first.branch or '-':<20.20}  "
            f"run {run:<14} {marks:<4}{note}"
        )
    lines.append("  " + " ".join(strip))
    return "\n".join(safe.line(one) for one in lines) + "\n"
