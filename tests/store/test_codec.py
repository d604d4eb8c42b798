"""Column encodings: line ranges, times, text cleaning, and the fast run counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatekeeper.store import codec

# -- line ranges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "text"),
    [
        ((), ""),
        ((5,), "5"),
        ((0,), "0"),
        ((1, 2, 3, 4, 7, 9, 10, 11, 12), "1-4,7,9-12"),
        ((1, 3, 5), "1,3,5"),
        ((1, 2), "1-2"),
        ((100000, 100001, 100002), "100000-100002"),
    ],
    ids=["empty", "one", "zero", "ranges-and-singles", "gaps", "pair", "big"],
)
def test_encode_lines_examples(lines: tuple[int, ...], text: str) -> None:
    assert codec.encode_lines(lines) == text
    assert codec.decode_lines(text) == lines


def test_encode_lines_sorts_and_deduplicates() -> None:
    assert codec.encode_lines([9, 3, 4, 3, 1]) == "1,3-4,9"


def test_encode_lines_refuses_negative_numbers() -> None:
    with pytest.raises(ValueError, match="negative"):
        codec.encode_lines([-1, 2])


@pytest.mark.parametrize(
    "text", ["a", "1,,2", "-1", "3-1", "1-", "1-2-3", " 1", "1;2"], ids=lambda t: repr(t)
)
def test_decode_lines_refuses_what_encode_cannot_write(text: str) -> None:
    with pytest.raises(ValueError):
        codec.decode_lines(text)


def test_decode_lines_of_none_is_empty() -> None:
    assert codec.decode_lines(None) == ()


@given(st.sets(st.integers(min_value=0, max_value=2_000_000)))
def test_lines_roundtrip(lines: set[int]) -> None:
    ordered = tuple(sorted(lines))
    text = codec.encode_lines(ordered)
    assert codec.decode_lines(text) == ordered
    # Never longer than the plain comma-separated list.
    assert len(text) <= len(",".join(map(str, ordered)))


@given(st.lists(st.integers(min_value=0, max_value=500)))
def test_lines_roundtrip_of_any_list_is_its_sorted_set(lines: list[int]) -> None:
    assert codec.decode_lines(codec.encode_lines(lines)) == tuple(sorted(set(lines)))


# -- times ----------------------------------------------------------------------------------------


def test_aware_times_are_stored_as_naive_utc() -> None:
    cest = timezone(timedelta(hours=2))
    stored = codec.to_db_time(datetime(2024, 5, 1, 14, 30, tzinfo=cest))
    assert stored == datetime(2024, 5, 1, 12, 30)
    assert stored is not None and stored.tzinfo is None
    assert codec.from_db_time(stored) == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def test_naive_times_are_taken_as_utc() -> None:
    naive = datetime(2024, 5, 1, 12, 30)
    assert codec.to_db_time(naive) == naive
    assert codec.from_db_time(naive) == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def test_sqlite_time_text_sorts_like_the_times() -> None:
    early = codec.sqlite_time(datetime(999, 1, 1))
    late = codec.sqlite_time(datetime(2024, 5, 1, 12, 30, 0, 5))
    assert early == "0999-01-01 00:00:00.000000"
    assert late == "2024-05-01 12:30:00.000005"
    assert early is not None and late is not None and early < late


# -- text -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain", "plain"),
        ("ünïcödé ✓ 🦀", "ünïcödé ✓ 🦀"),
        ("nul\x00byte", "nul\ufffdbyte"),
        ("lone \udcff surrogate", "lone \ufffd surrogate"),
        (None, None),
    ],
    ids=["ascii", "unicode", "nul", "surrogate", "none"],
)
def test_clean_text(raw: str | None, clean: str | None) -> None:
    assert codec.clean_text(raw) == clean


def test_finite() -> None:
    assert codec.finite(1.5) == 1.5
    assert codec.finite(float("nan")) is None
    assert codec.finite(float("inf")) is None
    assert codec.finite(None) is None
