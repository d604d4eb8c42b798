"""A backfill is stored in batches, each whole: a report that cannot be read leaves the batches
before it stored and says so, and the same backfill run again goes on from there."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from gatekeeper.api import Gatekeeper
from gatekeeper.config import Settings
from gatekeeper.errors import ReportParseError
from gatekeeper.store import open_store

from ..conftest import SAMPLES
from .factories import many_results, run


def _runs(manifest: Path) -> list[tuple[str, str, int]]:
    keys: dict[tuple[str, str, int], None] = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            obj = json.loads(line)
            keys[(obj["service"], obj["run_id"], obj.get("attempt") or 1)] = None
    return list(keys)


def test_a_broken_report_late_in_a_backfill_keeps_the_batches_before_it(
    db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "samples"
    shutil.copytree(SAMPLES, folder)
    manifest = folder / "manifest.jsonl"
    broken = folder / "late" / "junit.xml"
    broken.parent.mkdir()
    broken.write_text("<testsuite><testcase name='a'", encoding="utf-8")  # truncated
    line = {"path": "late/junit.xml", "service": "late-service", "run_id": "9", "format": "junit"}
    with manifest.open("a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
    expected = _runs(manifest)
    gk = Gatekeeper(Settings(db_url=db_url), env={})
    try:
        with pytest.raises(ReportParseError) as raised:
            gk.ingest_manifest(manifest, batch=2000)
        stored = {(r.meta.service, r.meta.run_id, r.meta.attempt) for r in gk.store.runs()}
        # whole batches: some runs, every one of them before the broken report, in order
        assert 0 < len(stored) < len(expected) - 1
        assert stored == set(expected[: len(stored)])
        assert f"the {len(stored)} run(s) before it are stored" in str(raised.value)

        broken.write_text(
            '<testsuite name="late"><testcase classname="late" name="a"/></testsuite>',
            encoding="utf-8",
        )
        outcomes = gk.ingest_manifest(manifest, batch=2000)
        again = {(o.meta.service, o.meta.run_id, o.meta.attempt) for o in outcomes if o.stored}
        assert again == set(expected) - stored
        assert len(gk.store.runs()) == len(expected)
    finally:
        gk.close()


@pytest.mark.postgres
def test_a_big_load_into_postgresql_leaves_the_planner_statistics(pg_url: str) -> None:
    """Without them the planner takes a fresh history for an empty one and reads every result
    where the runs' index reads a few (docs/capacity.md)."""
    with open_store(pg_url) as store:
        store.save_runs([run("big", tests=many_results(25_000))])
    with psycopg.connect(pg_url.split("?")[0], options=_search_path(pg_url)) as conn:
        tuples = conn.execute(
            "SELECT reltuples FROM pg_class WHERE oid = 'results'::regclass"
        ).fetchone()
    assert tuples is not None and tuples[0] == 25_000


def _search_path(url: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(url).query)["options"][0]
