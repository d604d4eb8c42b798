"""The fast schema check agrees with jsonschema (Draft 2020-12), the reference, on any document."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatekeeper import registry
from gatekeeper.model import Registry
from gatekeeper.registry import validate
from gatekeeper.registry.reader import parse_document

from . import plain_values, registries


def _document(reg: Registry) -> Any:
    """The plain document a registry is read from (dates as text, as the reader keeps them)."""
    _, document, _ = parse_document(registry.dump(reg), "f.yml")
    return document


def _found(problems: list[validate.Problem]) -> set[tuple[Any, ...]]:
    return {(p.path, p.keyword) for p in problems}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registries)
def test_valid_registries_are_valid_for_both(reg: Registry) -> None:
    document = _document(reg)
    assert validate.problems(document) == []
    assert validate.reference_problems(document) == []


# Values that break some rule somewhere: wrong types, bad dates, out-of-range numbers.
nasty = st.one_of(
    plain_values,
    st.sampled_from(
        ["2026-13-01", "2026-02-30", "2026-1-1", "flakey", "flaky", "", -1, 1.5, 0.5, 3, 2.0, []]
    ),
    st.lists(st.floats(allow_nan=False), max_size=3),
)


ENTRY_FIELDS = ["name", "service", "reason", "quarantined", "pinned", "issue", "owner", "expires"]
EVIDENCE_FIELDS = [
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
    "first_failure",
]


@st.composite
def broken_documents(draw: st.DrawFn) -> Any:
    document = copy.deepcopy(_document(draw(registries)))
    if document is None:
        document = {"flaky_tests": []}
    entries = document.get("flaky_tests")
    if isinstance(entries, list):
        # Aim at the fields the schema describes: each keyword gets its chance.
        if not entries:
            entries.append({"name": "a", "service": "s", "reason": "r"})
        target = draw(st.sampled_from(entries))
        if draw(st.booleans()):
            target[draw(st.sampled_from(ENTRY_FIELDS))] = draw(nasty)
        else:
            evidence = target.setdefault("evidence", {"verdict": "flaky"})
            if isinstance(evidence, dict):
                field = draw(st.sampled_from(EVIDENCE_FIELDS))
                value = draw(nasty)
                if field == "first_failure" and draw(st.booleans()):
                    value = {"commit": "abc", "date": value}
                evidence[field] = value
    for _ in range(draw(st.integers(0, 2))):
        # Walk down to a random mapping or list, then replace, delete or add something.
        node: Any = document
        while True:
            children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
            containers = [(k, v) for k, v in children if isinstance(v, dict | list) and v]
            if not containers or draw(st.booleans()):
                break
            _, node = draw(st.sampled_from(containers))
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        action = draw(st.sampled_from(["set", "delete", "add"]))
        if action == "add" or not keys:
            if isinstance(node, dict):
                name = draw(
                    st.sampled_from(["name", "service", "reason", "evidence", "verdict", "runs"])
                )
                node[name] = draw(nasty)
            else:
                node.append(draw(nasty))
        elif action == "delete":
            del node[draw(st.sampled_from(keys))]
        else:
            node[draw(st.sampled_from(keys))] = draw(nasty)
    return document


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_documents())
def test_both_validators_find_the_same_problems(document: Any) -> None:
    assert _found(validate.problems(document)) == _found(validate.reference_problems(document))


def test_the_top_level_must_be_a_mapping_for_both() -> None:
    documents: list[Any] = [[], "flaky_tests", 3, None]
    for document in documents:
        assert _found(validate.problems(document)) == _found(validate.reference_problems(document))
        assert validate.problems(document) != []
