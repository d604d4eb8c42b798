"""The JSON Schema of flaky-tests.yml; registry/flaky-tests.schema.json is rendered from it.

The schema lives here, as data, so the installed package always carries it (no package-data
files to forget) and the fast reader can interpret it without importing jsonschema. A test
checks that ``registry/flaky-tests.schema.json`` is exactly ``render()``; refresh the file with
``python -c "from gatekeeper.registry import schema; print(schema.render(), end='')"
> registry/flaky-tests.schema.json``.
"""

from __future__ import annotations

import json
from typing import Any

from gatekeeper.model import Verdict

_DATE: dict[str, Any] = {
    "type": ["string", "null"],
    "format": "date",
    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "description": "A day, written YYYY-MM-DD.",
}
_RATE: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 1}
_RATE_OR_NULL: dict[str, Any] = {**_RATE, "type": ["number", "null"]}
_COUNT: dict[str, Any] = {"type": ["integer", "null"], "minimum": 0}
_TEXT: dict[str, Any] = {"type": "string", "minLength": 1}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "gatekeeper quarantine registry (flaky-tests.yml)",
    "description": (
        "Tests quarantined as flaky, reviewed in pull requests. The fields of an entry belong "
        "to people; `evidence` belongs to `gatekeeper classify`. Unknown keys are kept. "
        "Format: gatekeeper's docs/registry.md."
    ),
    "type": "object",
    "required": ["flaky_tests"],
    "properties": {
        "flaky_tests": {
            "type": ["array", "null"],
            "description": "The entries, one per (service, name).",
            "items": {"$ref": "#/$defs/entry"},
        },
    },
    "$defs": {
        "date": _DATE,
        "entry": {
            "type": "object",
            "required": ["name", "service", "reason"],
            "properties": {
                "name": {**_TEXT, "description": "The test id, as in docs/test-ids.md."},
                "service": {**_TEXT, "description": "The service whose runs the test is in."},
                "reason": {
                    **_TEXT,
                    "description": (
                        "Why the test is quarantined. Generated once when classify adds the "
                        "entry; never changed by gatekeeper after that."
                    ),
                },
                "quarantined": {
                    "type": ["boolean", "null"],
                    "description": "True (the default): the gate does not fail on this test.",
                },
                "pinned": {
                    "type": ["boolean", "null"],
                    "description": (
                        "True: a person decided `quarantined`; classify never changes it. "
                        "Default: true without `evidence`, false with it."
                    ),
                },
                "issue": {
                    "type": ["string", "integer", "null"],
                    "description": "The ticket tracking the fix.",
                },
                "owner": {"type": ["string", "null"], "description": "Who fixes it."},
                "expires": {
                    "$ref": "#/$defs/date",
                    "description": "The last day the quarantine holds.",
                },
                "evidence": {"$ref": "#/$defs/evidence"},
            },
        },
        "evidence": {
            "type": "object",
            "description": "Written by `gatekeeper classify`; edits here are overwritten.",
            "required": ["verdict"],
            "properties": {
                "verdict": {"enum": [v.value for v in Verdict]},
                "confidence": _RATE_OR_NULL,
                "summary": {"type": ["string", "null"]},
                "detected": {"$ref": "#/$defs/date"},
                "updated": {"$ref": "#/$defs/date"},
                "released": {"$ref": "#/$defs/date"},
                "runs": _COUNT,
                "failures": _COUNT,
                "failure_rate": _RATE_OR_NULL,
                "failure_rate_ci95": {
                    "type": ["array", "null"],
                    "description": "The 95% interval of the failure rate: [low, high].",
                    "items": _RATE,
                    "minItems": 2,
                    "maxItems": 2,
                },
                "flips": _COUNT,
                "same_commit_flips": _COUNT,
                "burst_failures": _COUNT,
                "first_failure": {"$ref": "#/$defs/failure"},
                "last_failure": {"$ref": "#/$defs/failure"},
            },
        },
        "failure": {
            "type": ["object", "null"],
            "properties": {
                "commit": {"type": ["string", "null"]},
                "date": {"$ref": "#/$defs/date"},
                "run": {"type": ["string", "integer", "null"]},
            },
        },
    },
}


def render() -> str:
    """The schema as the JSON file in ``registry/`` holds it."""
    return json.dumps(SCHEMA, indent=2, ensure_ascii=False) + "\n"
