"""Prometheus metrics (uploads, gate verdicts, request latency, flaky tests per service) and the
one-line-per-request log, both from one ASGI middleware."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatekeeper.errors import GatekeeperError

log = logging.getLogger("gatekeeper.service")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Uploads of big reports take seconds; reads take milliseconds.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _FlakyTests(Collector):
    """gatekeeper_flaky_tests{service}: read from the registry file at each scrape."""

    def __init__(self, count: Callable[[], dict[str, int]]) -> None:
        self._count = count

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "gatekeeper_flaky_tests",
            "Tests the quarantine registry holds as flaky (quarantined), per service.",
            labels=["service"],
        )
        try:
            counts = self._count()
        except GatekeeperError as err:  # a broken registry must not break the scrape
            log.warning("metrics: cannot read the registry: %s", err)
            counts = {}
        for service, n in sorted(counts.items()):
            family.add_metric([service], n)
        yield family


class Metrics:
    """One process's metrics, in a registry of its own (so tests can build many apps)."""

    def __init__(self, flaky_counts: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.uploads = Counter(
            "gatekeeper_uploads",
            "Runs uploaded (POST /runs and /gate), by service and outcome: stored, duplicate "
            "(already in the history), refused.",
            ["service", "outcome"],
            registry=self.registry,
        )
        self.verdicts = Counter(
            "gatekeeper_gate_verdicts",
            "Gate verdicts, by service and verdict: passed, failed, undecided.",
            ["service", "verdict"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "gatekeeper_auth_failures",
            "Requests refused for their token, by reason: missing, malformed, unknown, revoked, "
            "scope.",
            ["reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gatekeeper_http_request_duration_seconds",
            "Time to answer a request, by method, route (the path template) and status.",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._flaky = _FlakyTests(flaky_counts)
        self.registry.register(self._flaky)

    def render(self) -> bytes:
        """The Prometheus text format. With $PROMETHEUS_MULTIPROC_DIR set (several uvicorn
        workers), the counters of every worker are added up."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            combined = CollectorRegistry()
            multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
            combined.register(self._flaky)
            return generate_latest(combined)
        return generate_latest(self.registry)


class RequestLog:
    """ASGI middleware: one log line and one latency observation per HTTP request.

    The line names the token (its name, never the secret) that the auth dependency put in the
    request's state; the path is logged without its query string.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            state = scope.get("state") or {}
            self.metrics.latency.labels(scope["method"], template, str(status)).observe(elapsed)
            log.info(
                "%s %s %d %.1fms token=%s",
                scope["method"],
                scope["path"],
                status,
                elapsed * 1000,
                state.get("token_name") or "-",
            )
