"""The one table that turns gatekeeper's errors into HTTP statuses, and the JSON error body.

The body carries the same message the CLI prints (``text`` is exactly what follows
``gatekeeper: error:`` on the CLI's stderr), so a CI log reads the same either way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gatekeeper import errors
from gatekeeper.api import (
    AuthenticationError,
    NotFoundError,
    OptionError,
    PermissionDeniedError,
    TokenNameTakenError,
    UploadTooLargeError,
)

log = logging.getLogger("gatekeeper.service")


class MediaTypeError(OptionError):
    """A request body that is not what the endpoint reads (an upload must be a multipart form)."""


class EndpointError(errors.GatekeeperError):
    """A path or method this service does not have."""

    def __init__(self, message: str, *, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


# Most specific first: the first class an error is an instance of gives its status.
STATUS: tuple[tuple[type[errors.GatekeeperError], int], ...] = (
    (PermissionDeniedError, 403),
    (AuthenticationError, 401),
    (UploadTooLargeError, 413),
    (MediaTypeError, 415),
    (NotFoundError, 404),
    (TokenNameTakenError, 409),
    (errors.RunConflictError, 409),
    (OptionError, 400),
    (errors.InputError, 422),  # the reports: unreadable, unsafe, empty, unknown format
    (errors.NoReportsError, 422),
    (errors.MetadataError, 422),
    (errors.UndecidedError, 422),  # most of the run's benchmarks moved together: re-run it
    (errors.StoreError, 503),  # the database is down, locked, or newer than this gatekeeper
    (errors.ConfigError, 500),  # the server's own gatekeeper.yml or registry is broken
)


def status_of(err: errors.GatekeeperError) -> int:
    if isinstance(err, EndpointError):
        return err.status
    for cls, status in STATUS:
        if isinstance(err, cls):
            return status
    return 400


def error_body(err: errors.GatekeeperError) -> dict[str, Any]:
    return {
        "error": {
            "message": err.message,
            "hint": err.hint,
            "text": str(err),
            "kind": err.kind,
            "exit_code": err.exit_code,
        }
    }


def error_response(
    err: errors.GatekeeperError,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    status = status_of(err)
    sent = dict(headers or {})
    if status == 401:
        sent["WWW-Authenticate"] = "Bearer"
    body = {**(extra or {}), **error_body(err)}
    return JSONResponse(body, status_code=status, headers=sent or None)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body"))
        parts.append(f"{where or 'request'}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is not valid"


def _allowed(request: Request) -> list[str]:
    """Every method the OpenAPI document lists for the request's path. (Starlette names only
    the first route's methods, and GET /tokens and POST /tokens are two routes.)"""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        # a parameter matches one path segment; the last one may hold slashes (test ids do)
        pattern = re.sub(r"\\\{[^}]+\\\}$", ".+", re.escape(template))
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        if re.fullmatch(pattern, request.url.path):
            methods |= {m.upper() for m in operations}
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the handlers: our errors, FastAPI's validation errors, unknown routes, bugs."""

    async def gatekeeper_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, errors.GatekeeperError)
        return error_response(exc)

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(OptionError(_validation_message(exc)))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            message = f"{request.url.path}: no such endpoint"
            hint = "the API is under /api/v1; /docs lists it"
        elif exc.status_code == 405:
            message = f"{request.method} {request.url.path}: method not allowed"
            hint = "/docs lists the methods of each endpoint"
        else:
            message, hint = f"{request.url.path}: {exc.detail}", None
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed(request))
        return error_response(
            EndpointError(message, status=exc.status_code, hint=hint), headers=headers
        )

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        err = errors.GatekeeperError(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="this is a bug: please report it with the request; the server's log has the "
            "traceback",
        )
        return JSONResponse(error_body(err), status_code=500)

    app.add_exception_handler(errors.GatekeeperError, gatekeeper_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)
