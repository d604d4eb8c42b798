"""JSON for the one record the CLI shows only as text: a test's entry and history
(`quarantine show`). The entry has the fields of `quarantine list --format json`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gatekeeper.api import QuarantineDetail
from gatekeeper.emit.quarantine import json_list


def test_detail(d: QuarantineDetail) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    entry = d.entry
    late = (
        [entry] if entry and entry.quarantined and entry.expires and entry.expires < today else []
    )
    runs: dict[int, list[dict[str, Any]]] = {}
    heads: dict[int, dict[str, Any]] = {}
    for e in d.history:
        if e.run_pk not in heads:
            heads[e.run_pk] = {
                "run_id": e.run_id,
                "attempt": e.attempt,
                "commit": e.commit,
                "branch": e.branch,
                "timestamp": e.timestamp.isoformat() if e.timestamp else None,
            }
        runs.setdefault(e.run_pk, []).append(
            {
                "retry": e.retry,
                "outcome": e.outcome.value,
                "duration": e.duration,
                "message": e.message,
            }
        )
    return {
        "name": d.name,
        "service": d.service,
        "entry": json_list([entry], late)[0] if entry is not None else None,
        "verdict": entry.evidence.verdict.value if entry and entry.evidence else None,
        "history": [
            {**heads[pk], "executions": sorted(execs, key=lambda x: x["retry"])}
            for pk, execs in runs.items()
        ],
    }
