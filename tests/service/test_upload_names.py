"""Upload file names: whatever a client sends, what is shown and stored is a tame relative name."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gatekeeper.api import upload_name


@given(st.text(max_size=400), st.integers(min_value=0, max_value=999))
def test_any_name_becomes_a_tame_relative_name(raw: str, index: int) -> None:
    name = upload_name(raw, index)
    assert 0 < len(name) <= 255
    assert not name.startswith("/")
    assert "\\" not in name
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
    parts = name.split("/")
    assert ".." not in parts[1:] and "" not in parts
    assert upload_name(name, index) == name  # already tame: kept as it is


def test_names_keep_their_folders_and_lose_their_escapes() -> None:
    assert upload_name("target/criterion/parse/new/estimates.json", 0) == (
        "target/criterion/parse/new/estimates.json"
    )
    assert upload_name("../../etc/passwd", 0) == "etc/passwd"
    assert upload_name("C:\\ci\\reports\\junit.xml", 0) == "ci/reports/junit.xml"
    assert upload_name("/abs/junit.xml", 0) == "abs/junit.xml"
    assert upload_name("", 2) == "upload-3"
    assert upload_name(None, 0) == "upload-1"
    assert upload_name("a\x00b\nc.xml", 0) == "a?b?c.xml"
    long = "d/" * 200 + "junit.xml"
    assert upload_name(long, 0).endswith("/junit.xml") and len(upload_name(long, 0)) == 255
