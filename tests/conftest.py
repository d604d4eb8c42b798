"""Shared fixtures: where the real-world corpus and the sample reports live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REALWORLD = Path(os.environ.get("GATEKEEPER_REALWORLD", ROOT.parent / "shared" / "realworld"))
SAMPLES = ROOT / "sample_reports"


@pytest.fixture(scope="session")
def realworld() -> Path:
    """The corpus of real report files in ../shared/realworld (see its MANIFEST.tsv)."""
    assert REALWORLD.is_dir(), f"{REALWORLD} is missing: the corpus must sit beside the checkout"
    return REALWORLD


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES
