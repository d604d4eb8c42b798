"""The sample history as a team would hold it on Saturday 21 November 2026, for the report.

Week 1 (runs before Saturday 14 November) is ingested and classified into a registry, as a
nightly job would on Friday 13; week 2 follows, and classify runs again on Friday 20. Between
the two, the registry picks up what people and earlier tools do to it:

- an earlier classifier had quarantined ``api::test_get_missing_user_returns_404`` (machine
  entry, not pinned); the sample makes it fail on every run from run-21, so the second classify
  releases it as broken -- a released quarantine in the report's week;
- after the second classify, people gave two quarantines an owner and an issue, and one of them
  an ``expires`` day that has passed by the 21st.

Everything goes through the real code: manifest ingest, ``classify_into_registry``, the
registry's own load/save.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gatekeeper import registry
from gatekeeper.api import Gatekeeper, classify_into_registry
from gatekeeper.config import Settings
from gatekeeper.model import Evidence, QuarantineEntry, Verdict, WeeklyReport

from ..conftest import SAMPLES

SINCE = datetime(2026, 11, 14, tzinfo=UTC)  # Saturday: the sample's second week
UNTIL = datetime(2026, 11, 21, tzinfo=UTC)
TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)  # a Saturday-morning scheduled job
BROKEN_ID = "api::test_get_missing_user_returns_404"
OWNED = {
    # (service, test id): (owner, issue, expires)
    ("user-service", "api::test_concurrent_session_refresh"): ("ana", "#1234", date(2026, 11, 18)),
    ("search-service", "tests.test_cache::test_query_cache_invalidation_on_update"): (
        "li",
        "#1301",
        None,
    ),
}


@dataclass(frozen=True)
class History:
    gk: Gatekeeper
    db_url: str
    registry: Path
    folder: Path


def manifest_lines() -> list[dict[str, object]]:
    text = (SAMPLES / "manifest.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _write_manifest(path: Path, lines: list[dict[str, object]]) -> Path:
    # Absolute report paths: a manifest's relative paths are relative to its own folder.
    path.write_text(
        "".join(json.dumps({**line, "path": str(SAMPLES / str(line["path"]))}) + "\n"
                for line in lines),
        encoding="utf-8",
    )  # fmt: skip
    return path


def build_history(folder: Path, db_url: str | None = None) -> History:
    lines = manifest_lines()
    week1 = [x for x in lines if str(x["timestamp"]) < "2026-11-14"]
    week2 = [x for x in lines if str(x["timestamp"]) >= "2026-11-14"]
    assert week1 and week2 and len(week1) + len(week2) == len(lines)
    db_url = db_url or f"sqlite:///{folder / 'history.db'}"
    gk = Gatekeeper(Settings(db_url=db_url), env={}, cwd=folder)
    path = folder / "flaky-tests.yml"
    gk.ingest_manifest(_write_manifest(folder / "week1.jsonl", week1))
    classify_into_registry(gk, path, True, today=date(2026, 11, 13))
    reg = registry.load(path)
    earlier = QuarantineEntry(
        name=BROKEN_ID,
        service="user-service",
        reason="quarantined by an earlier classifier run",
        quarantined=True,
        pinned=False,
        evidence=Evidence(verdict=Verdict.FLAKY, detected=date(2026, 11, 12)),
    )
    registry.save(path, replace(reg, entries=(*reg.entries, earlier)))
    gk.ingest_manifest(_write_manifest(folder / "week2.jsonl", week2))
    classify_into_registry(gk, path, False, today=date(2026, 11, 20))
    reg = registry.load(path)
    edited = []
    for e in reg.entries:
        if e.key in OWNED:
            owner, issue, expires = OWNED[e.key]
            e = replace(e, owner=owner, issue=issue, expires=expires)
        edited.append(e)
    registry.save(path, replace(reg, entries=tuple(edited)))
    return History(gk=gk, db_url=db_url, registry=path, folder=folder)


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    h = build_history(tmp_path_factory.mktemp("report-history"))
    yield h
    h.gk.close()


def make_report(h: History, **overrides: object) -> WeeklyReport:
    """The API's report on the history (the glue that gatekeeper/api.py receives)."""
    args: dict[str, object] = {
        "since": SINCE,
        "until": UNTIL,
        "service": None,
        "registry_path": h.registry,
        "registry_missing_ok": False,
        "today": TODAY,
        "now": NOW,
    }
    args.update(overrides)
    return h.gk.report(**args)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def week(history: History) -> WeeklyReport:
    return make_report(history)
