"""The OpenAPI document is served, and the running app keeps to it: schemathesis generates
requests from /openapi.json (authorised with an admin token) and checks every answer's status,
content type and body against the document, and that no request makes a server error.
Bounded: a few examples per operation; DELETE is left out (it would revoke tokens)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from .conftest import Server, make_token, start_server

# Requests that are schema-valid and still rightly refused, so "schema-valid data is accepted"
# does not apply: an upload's files (random bytes are "not a report format gatekeeper reads"),
# a runner's skip list without --service (a rule between two parameters, which OpenAPI
# cannot state), a registry to classify that is not YAML, and a report period that is free
# text in the document (7d, 2026-11-14, ...) and refused with 400 when it is not a period.
CONTENT_CHECKED = {
    "/api/v1/runs", "/api/v1/gate", "/api/v1/skip-list", "/api/v1/classify", "/api/v1/report",
    "/",
}  # fmt: skip


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    cwd = tmp_path_factory.mktemp("openapi")
    db = f"sqlite:///{cwd / 'history.db'}"
    token = make_token(db, "fuzz-admin", "admin", cwd)
    server = start_server(db, cwd)
    try:
        yield server, token
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api_schema(running: tuple[Server, str]) -> Any:
    return (
        schemathesis.openapi.from_url(f"{running[0].url}/openapi.json")
        .exclude(method="DELETE")
        .include(method=["GET", "POST"])
    )


schema = schemathesis.pytest.from_fixture("api_schema")


def test_the_document_describes_every_endpoint(running: tuple[Server, str]) -> None:
    doc = httpx.get(f"{running[0].url}/openapi.json").json()
    paths = set(doc["paths"])
    assert paths >= {
        "/healthz", "/readyz", "/metrics", "/api/v1/runs", "/api/v1/gate", "/api/v1/quarantine",
        "/api/v1/skip-list", "/api/v1/tests/{service}/{test_id}", "/api/v1/tokens",
        "/api/v1/tokens/{name}", "/api/v1/classify", "/api/v1/report", "/", "/login",
    }  # fmt: skip
    assert doc["components"]["securitySchemes"]["token"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["token"]["description"],
    }
    upload = doc["paths"]["/api/v1/runs"]["post"]
    assert upload["security"] == [{"token": []}]
    assert upload["requestBody"]["content"]["multipart/form-data"]["schema"]["required"] == [
        "files",
        "service",
    ]
    assert "security" not in doc["paths"]["/healthz"]["get"]


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_app_keeps_to_its_document(case: Any, running: tuple[Server, str]) -> None:
    excluded = [checks.positive_data_acceptance] if case.path in CONTENT_CHECKED else []
    case.call_and_validate(
        headers={"Authorization": f"Bearer {running[1]}"}, excluded_checks=excluded, timeout=30
    )
