"""/metrics: uploads, gate verdicts, request latency and flaky tests per service, in the
Prometheus text format, counted from real requests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import SAMPLES
from .conftest import API, Server, make_token, start_app

JUNIT = (SAMPLES / "next" / "user-service" / "junit.xml").read_bytes()
REGISTRY = """\
flaky_tests:
  - name: "a::one"
    service: alpha
    reason: "races"
  - name: "a::two"
    service: alpha
    reason: "races"
  - name: "b::one"
    service: beta
    reason: "timing"
  - name: "b::two"
    service: beta
    reason: "fixed"
    quarantined: false
"""


@pytest.fixture(scope="module")
def setup(
    databases: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, str]]:
    cwd = tmp_path_factory.mktemp("metrics")
    (cwd / "flaky-tests.yml").write_text(REGISTRY)
    token = make_token(databases[1], "ci", "upload", cwd)
    server = start_app(databases[1], cwd, "--registry", "flaky-tests.yml")
    try:
        yield server, token
    finally:
        server.stop()


def _samples(server: Server, token: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with server.client(token) as c:
        r = c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_what_happened(setup: tuple[Server, str]) -> None:
    server, token = setup
    with server.client(token) as c:
        for run_id in ("1", "1", "2"):
            c.post(
                f"{API}/runs",
                files=[("files", ("junit.xml", JUNIT))],
                data={"service": "alpha", "run_id": run_id},
            )
        c.post(f"{API}/runs", files=[("files", ("x.xml", b"<x/>"))], data={"service": "alpha"})
        gate = c.post(
            f"{API}/gate",
            files=[("files", ("junit.xml", JUNIT))],
            data={"service": "beta", "run_id": "g1"},
        )
        assert gate.status_code == 200 and gate.json()["passed"] is False  # one test fails
        c.post(f"{API}/gate", files=[("files", ("x.xml", b"<x/>"))], data={"service": "beta"})
    m = _samples(server, token)
    assert m[("gatekeeper_uploads_total", (("outcome", "stored"), ("service", "alpha")))] == 2
    assert m[("gatekeeper_uploads_total", (("outcome", "duplicate"), ("service", "alpha")))] == 1
    assert m[("gatekeeper_uploads_total", (("outcome", "refused"), ("service", "alpha")))] == 1
    assert m[("gatekeeper_uploads_total", (("outcome", "stored"), ("service", "beta")))] == 1
    assert m[("gatekeeper_gate_verdicts_total", (("service", "beta"), ("verdict", "failed")))] == 1
    assert (
        m[("gatekeeper_gate_verdicts_total", (("service", "beta"), ("verdict", "undecided")))] == 1
    )
    # the registry: two quarantined in alpha, one in beta (the released one does not count)
    assert m[("gatekeeper_flaky_tests", (("service", "alpha"),))] == 2
    assert m[("gatekeeper_flaky_tests", (("service", "beta"),))] == 1
    uploads = (
        "gatekeeper_http_request_duration_seconds_count",
        (("method", "POST"), ("route", "/api/v1/runs"), ("status", "201")),
    )
    assert m[uploads] == 2
    refused = (
        "gatekeeper_http_request_duration_seconds_count",
        (("method", "POST"), ("route", "/api/v1/runs"), ("status", "422")),
    )
    assert m[refused] == 1


def test_refused_tokens_are_counted_by_reason(setup: tuple[Server, str]) -> None:
    server, token = setup
    before = _samples(server, token).get(
        ("gatekeeper_auth_failures_total", (("reason", "missing"),)), 0
    )
    with server.client() as c:
        assert c.get("/metrics").status_code == 401
    after = _samples(server, token)[("gatekeeper_auth_failures_total", (("reason", "missing"),))]
    assert after == before + 1
