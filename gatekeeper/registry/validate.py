"""Checking a registry document against SCHEMA, fast, and with jsonschema as the reference.

``problems`` interprets the handful of JSON Schema keywords the schema uses (``KEYWORDS``).
It exists for speed: jsonschema takes ~45 ms to import and ~80 ms to validate a 500-entry
registry, which ``quarantine list`` cannot afford. ``reference_problems`` runs jsonschema
(Draft 2020-12) on the same document; tests prove the two agree, and ``save`` runs both before
it writes. Both return ``Problem`` records, so one function turns either into a message.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gatekeeper.registry.schema import SCHEMA

Path = tuple[str | int, ...]

#: The keywords ``problems`` understands; a test fails if the schema uses any other.
KEYWORDS = frozenset(
    {
        # assertions
        "type",
        "required",
        "properties",
        "items",
        "enum",
        "minimum",
        "maximum",
        "minLength",
        "minItems",
        "maxItems",
        "pattern",
        "format",
        "$ref",
        # annotations and structure, nothing to check
        "$schema",
        "$defs",
        "title",
        "description",
    }
)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)  # the same test as jsonschema's "date"


@dataclass(frozen=True, slots=True)
class Problem:
    """One schema violation: where (``path`` into the document), which keyword, what value.

    For ``required`` the path ends with the missing key and ``value`` is None.
    """

    path: Path
    keyword: str
    value: Any
    schema: Mapping[str, Any]


def problems(document: Any, schema: Mapping[str, Any] = SCHEMA) -> list[Problem]:
    """Every violation of ``schema`` in ``document`` (a value as read from YAML)."""
    found: list[Problem] = []
    _check(document, schema, (), schema, found)
    return found


def reference_problems(document: Any, schema: Mapping[str, Any] = SCHEMA) -> list[Problem]:
    """The same, by jsonschema (imported here: the read path never pays for it)."""
    import jsonschema  # type: ignore[import-untyped]

    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.FormatChecker(["date"])
    )
    found: list[Problem] = []
    for error in validator.iter_errors(document):
        path: Path = tuple(error.absolute_path)
        if error.validator == "required":
            for key in error.validator_value:
                if key not in error.instance:
                    found.append(Problem((*path, key), "required", None, error.schema))
        else:
            found.append(Problem(path, error.validator, error.instance, error.schema))
    return found


def _check(
    value: Any, schema: Mapping[str, Any], path: Path, root: Mapping[str, Any], out: list[Problem]
) -> None:
    ref = schema.get("$ref")
    if ref is not None:
        _check(value, _resolve(root, ref), path, root, out)
    kinds = schema.get("type")
    if kinds is not None and not _is_type(value, kinds):
        out.append(Problem(path, "type", value, schema))
        return  # the other keywords only apply to values of the right type
    if "enum" in schema and not any(_equal(value, option) for option in schema["enum"]):
        out.append(Problem(path, "enum", value, schema))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(Problem(path, "minLength", value, schema))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(Problem(path, "pattern", value, schema))
        if schema.get("format") == "date" and not _is_date(value):
            out.append(Problem(path, "format", value, schema))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(Problem(path, "minimum", value, schema))
        if "maximum" in schema and value > schema["maximum"]:
            out.append(Problem(path, "maximum", value, schema))
    elif isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                out.append(Problem((*path, key), "required", None, schema))
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                _check(value[key], sub, (*path, key), root, out)
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            out.append(Problem(path, "minItems", value, schema))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            out.append(Problem(path, "maxItems", value, schema))
        items = schema.get("items")
        if items is not None:
            for index, item in enumerate(value):
                _check(item, items, (*path, index), root, out)


def _resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, not {ref}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node  # type: ignore[no-any-return]


_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    # JSON Schema: a bool is not a number, and 1.0 is an integer.
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
}


def _is_type(value: Any, kinds: str | list[str]) -> bool:
    if isinstance(kinds, str):
        return bool(_TYPES[kinds](value))
    return any(_TYPES[kind](value) for kind in kinds)


def _equal(one: Any, two: Any) -> bool:
    if isinstance(one, bool) or isinstance(two, bool):  # JSON: true is not 1
        return type(one) is type(two) and one == two
    return bool(one == two)


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True
