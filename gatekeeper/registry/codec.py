"""Registry records <-> plain values (dicts, lists, str, numbers, dates) in the file's key order."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gatekeeper.model import (
    Evidence,
    Extra,
    FailurePoint,
    QuarantineEntry,
    Registry,
    Verdict,
)

#: Keys in the order a new entry is written; unknown keys go before ``evidence``.
ENTRY_KEYS = (
    "name",
    "service",
    "reason",
    "quarantined",
    "pinned",
    "issue",
    "owner",
    "expires",
    "evidence",
)
EVIDENCE_KEYS = (
    "verdict",
    "confidence",
    "summary",
    "detected",
    "updated",
    "released",
    "runs",
    "failures",
    "failure_rate",
    "failure_rate_ci95",
    "flips",
    "same_commit_flips",
    "burst_failures",
    "first_failure",
    "last_failure",
)
FAILURE_KEYS = ("commit", "date", "run")
TOP_KEYS = ("flaky_tests",)


# ---------------------------------------------------------------------------------------------
# Reading: a document that passed validation -> records
# ---------------------------------------------------------------------------------------------


def registry_from_plain(document: dict[str, Any] | None) -> Registry:
    if document is None:
        return Registry()
    entries = tuple(entry_from_plain(e) for e in document.get("flaky_tests") or ())
    return Registry(entries=entries, extra=_extra(document, TOP_KEYS))


def entry_from_plain(raw: dict[str, Any]) -> QuarantineEntry:
    evidence = evidence_from_plain(raw["evidence"]) if raw.get("evidence") is not None else None
    pinned = raw.get("pinned")
    quarantined = raw.get("quarantined")
    issue = raw.get("issue")
    return QuarantineEntry(
        name=raw["name"],
        service=raw["service"],
        reason=raw["reason"],
        quarantined=True if quarantined is None else quarantined,
        pinned=(evidence is None) if pinned is None else pinned,
        issue=None if issue is None else str(issue),  # `issue: 1234` is a ticket number too
        owner=raw.get("owner"),
        expires=_date(raw.get("expires")),
        evidence=evidence,
        extra=_extra(raw, ENTRY_KEYS),
    )


def evidence_from_plain(raw: dict[str, Any]) -> Evidence:
    interval = raw.get("failure_rate_ci95")
    return Evidence(
        verdict=Verdict(raw["verdict"]),
        confidence=_float(raw.get("confidence")),
        summary=raw.get("summary"),
        detected=_date(raw.get("detected")),
        updated=_date(raw.get("updated")),
        released=_date(raw.get("released")),
        runs=_int(raw.get("runs")),
        failures=_int(raw.get("failures")),
        failure_rate=_float(raw.get("failure_rate")),
        failure_rate_ci95=None if interval is None else (float(interval[0]), float(interval[1])),
        flips=_int(raw.get("flips")),
        same_commit_flips=_int(raw.get("same_commit_flips")),
        burst_failures=_int(raw.get("burst_failures")),
        first_failure=_failure(raw.get("first_failure")),
        last_failure=_failure(raw.get("last_failure")),
        extra=_extra(raw, EVIDENCE_KEYS),
    )


def _failure(raw: dict[str, Any] | None) -> FailurePoint | None:
    if raw is None:
        return None
    run = raw.get("run")
    return FailurePoint(
        commit=raw.get("commit"),
        date=_date(raw.get("date")),
        run=None if run is None else str(run),
        extra=_extra(raw, FAILURE_KEYS),
    )


def _extra(raw: dict[str, Any], known: tuple[str, ...]) -> Extra:
    return tuple((k, v) for k, v in raw.items() if k not in known)


def _date(text: str | None) -> dt.date | None:
    # The reader keeps YAML timestamps as text and validation proved they are YYYY-MM-DD.
    return None if text is None else dt.date.fromisoformat(text)


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)  # JSON Schema counts 3.0 as an integer


# ---------------------------------------------------------------------------------------------
# Writing: records -> plain values in canonical key order (None means: no key)
# ---------------------------------------------------------------------------------------------


def entry_to_plain(entry: QuarantineEntry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": entry.name,
        "service": entry.service,
        "reason": entry.reason,
        "quarantined": entry.quarantined,
    }
    if entry.pinned != (entry.evidence is None):  # written only where the default differs
        out["pinned"] = entry.pinned
    _put(out, "issue", entry.issue)
    _put(out, "owner", entry.owner)
    _put(out, "expires", entry.expires)
    out.update(entry.extra)
    if entry.evidence is not None:
        out["evidence"] = evidence_to_plain(entry.evidence)
    return out


def evidence_to_plain(evidence: Evidence) -> dict[str, Any]:
    out: dict[str, Any] = {"verdict": evidence.verdict.value}
    for key in EVIDENCE_KEYS[1:]:
        value = getattr(evidence, key)
        if key == "failure_rate_ci95" and value is not None:
            value = list(value)
        elif key in ("first_failure", "last_failure") and value is not None:
            value = failure_to_plain(value)
        _put(out, key, value)
    out.update(evidence.extra)
    return out


def failure_to_plain(point: FailurePoint) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "commit", point.commit)
    _put(out, "date", point.date)
    _put(out, "run", point.run)
    out.update(point.extra)
    return out


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value
