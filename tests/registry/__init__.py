"""Tests of gatekeeper.registry; the hypothesis strategies they share live here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from gatekeeper.model import Evidence, FailurePoint, QuarantineEntry, Registry, Verdict

# Any text a person or a test runner might put in a field: every character but lone surrogates
# (which no UTF-8 file can hold).
_chars = st.characters(exclude_categories=["Cs"])
text = st.text(_chars, max_size=30)
words = st.text(_chars, min_size=1, max_size=30)
dates = st.dates(min_value=dt.date(1970, 1, 1), max_value=dt.date(2999, 12, 31))
unit = st.floats(min_value=0, max_value=1)
counts = st.integers(min_value=0, max_value=10**9)
extra_keys = st.from_regex(r"x_[a-z_]{1,8}", fullmatch=True)

# What a YAML reader hands back for an unknown key: no dates (they stay text), no NaN.
plain_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(extra_keys, inner, max_size=3),
    max_leaves=6,
)
extras = st.dictionaries(extra_keys, plain_values, max_size=2).map(lambda d: tuple(d.items()))


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


failure_points = st.builds(
    FailurePoint,
    commit=_maybe(words),
    date=_maybe(dates),
    run=_maybe(words),
    extra=extras,
)


@st.composite
def evidence(draw: st.DrawFn) -> Evidence:
    interval = draw(_maybe(st.tuples(unit, unit).map(lambda pair: tuple(sorted(pair)))))
    return Evidence(
        verdict=draw(st.sampled_from(Verdict)),
        confidence=draw(_maybe(unit)),
        summary=draw(_maybe(text)),
        detected=draw(_maybe(dates)),
        updated=draw(_maybe(dates)),
        released=draw(_maybe(dates)),
        runs=draw(_maybe(counts)),
        failures=draw(_maybe(counts)),
        failure_rate=draw(_maybe(unit)),
        failure_rate_ci95=interval,
        flips=draw(_maybe(counts)),
        same_commit_flips=draw(_maybe(counts)),
        burst_failures=draw(_maybe(counts)),
        first_failure=draw(_maybe(failure_points)),
        last_failure=draw(_maybe(failure_points)),
        extra=draw(extras),
    )


entries = st.builds(
    QuarantineEntry,
    name=words,
    service=words,
    reason=words,
    quarantined=st.booleans(),
    pinned=st.booleans(),
    issue=_maybe(text),
    owner=_maybe(text),
    expires=_maybe(dates),
    evidence=_maybe(evidence()),
    extra=extras,
)

registries = st.builds(
    Registry,
    entries=st.lists(entries, max_size=5, unique_by=lambda e: e.key).map(tuple),
    extra=st.dictionaries(extra_keys, plain_values, max_size=2).map(lambda d: tuple(d.items())),
)


# A registry as a team keeps it by hand (DESIGN.md's shape, grown over a few months): a header,
# group comments, a comment on an entry, end-of-line comments, both quote styles, a key
# gatekeeper does not know, a quoted and an unquoted date, a ticket number without quotes.
TEAM_FILE = """\
# Quarantined tests. Ask in #ci-health before adding one.
flaky_tests:
  # --- messaging ---

  # Redis cache invalidation races with the delivery worker.
  - name: "messaging_service::tests::test_concurrent_message_delivery"
    service: messaging-service
    reason: "Race condition in Redis cache invalidation"
    quarantined: true
    issue: "#1234"   # the postmortem is linked there
    owner: '@team-messaging'
    expires: 2026-03-31

  - name: messaging_service::tests::retries_after_timeout
    service: messaging-service
    reason: times out on the shared runners
    quarantined: false  # fixed in #1301, keeping an eye on it
    issue: 1301

  # --- search ---
  - name: "tests.test_query.TestRanking::test_boost[title]"
    service: search
    reason: order of equal scores is not stable
    expires: "2026-01-15"
    team: relevance
"""
