"""kill -9 of a backfill at several points: the history holds none of its runs or all of them
(the sample history is one batch, one transaction), never a part, and the same backfill run
again completes it. Backfills of several batches: test_backfill_batches.py."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gatekeeper.store import open_store

from ..cli import clean_env, gatekeeper
from ..conftest import SAMPLES

MANIFEST = SAMPLES / "manifest.jsonl"


def _runs_in_manifest() -> int:
    import json

    keys = set()
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            obj = json.loads(line)
            keys.add((obj["service"], obj["run_id"], obj.get("attempt") or 1))
    return len(keys)


@pytest.mark.e2e
@pytest.mark.parametrize("after", [0.4, 1.0, 1.8, 3.0])
def test_a_backfill_killed_midway_leaves_nothing_or_everything(
    db_url: str, tmp_path: Path, after: float
) -> None:
    expected = _runs_in_manifest()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gatekeeper.cli", "ingest", "--manifest", str(MANIFEST),
         "--db", db_url],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with open_store(db_url) as store:
        stored = len(store.runs())
    assert stored in (0, expected), f"killed after {after} s: {stored} of {expected} runs"
    again = gatekeeper("ingest", "--manifest", str(MANIFEST), "--db", db_url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    with open_store(db_url) as store:
        assert len(store.runs()) == expected
