"""The FastAPI application: routes that turn a request into one API call and its result into
the CLI's output. No policy lives here.

Adding an endpoint is one function on ``v1`` (or ``pages`` for HTML): take ``request: Request``
and a ``requires(scope)`` dependency, call the API through ``service_of(request)``, return the
emitter's output.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gatekeeper import api
from gatekeeper.api import FORMATS, AuthenticationError, Gatekeeper, OptionError, Output
from gatekeeper.emit import gate as emit_gate
from gatekeeper.emit.ingest import json_object as ingest_json
from gatekeeper.emit.quarantine import show as show_text
from gatekeeper.emit.skiplist import FORMATS as SKIP_LIST_FORMATS
from gatekeeper.errors import GatekeeperError, UndecidedError
from gatekeeper.model import TOKEN_SCOPES, ApiToken
from gatekeeper.service import errors
from gatekeeper.service.auth import COOKIE, page_token, requires
from gatekeeper.service.metrics import CONTENT_TYPE, Metrics, RequestLog
from gatekeeper.service.render import test_detail
from gatekeeper.service.settings import ServiceSettings, from_env
from gatekeeper.service.state import Service, service_of
from gatekeeper.service.uploads import read_classify, read_upload

log = logging.getLogger("gatekeeper.service")
API_PREFIX = "/api/v1"
WARNING_HEADER = "Gatekeeper-Warning"

try:
    VERSION = version("gatekeeper")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    VERSION = "0"


# -- what the OpenAPI document says the bodies look like ---------------------------------------


class ErrorDetail(BaseModel):
    message: str
    hint: str | None
    text: str  # exactly what the CLI prints after "gatekeeper: error: "
    kind: str
    exit_code: int


class ErrorBody(BaseModel):
    error: ErrorDetail


class IngestResult(BaseModel):
    """The object `gatekeeper ingest --json` prints for the run."""

    service: str
    run_id: str
    attempt: int
    commit: str | None
    branch: str | None
    timestamp: str | None
    ci_provider: str | None
    stored: bool
    tests: int
    passed: int
    failed: int
    errors: int
    skipped: int
    retried: int
    flaky: int
    coverage_files: int
    line_rate: float | None
    benchmarks: int
    warnings: list[str]


class GateResult(BaseModel):
    """The object `gatekeeper gate --format json` prints (abridged here; see docs/gate.md)."""

    passed: bool
    service: str
    run_id: str
    attempt: int
    failures: list[dict[str, Any]]
    coverage: dict[str, Any]
    benchmarks: list[dict[str, Any]]


class ClassifyResult(BaseModel):
    """`gatekeeper classify` on the caller's registry: the caller writes the file."""

    registry: str | None  # the new file text (the old one when nothing changed; None: no file)
    changed: bool  # whether the registry changed (the caller writes it, unless dry_run)
    report: str  # exactly what `gatekeeper classify` prints after the diff
    diff: str  # the unified diff of the file (empty when nothing changed)
    #: services left as they were: they would newly quarantine more than
    #: classify.max_new_quarantine_share of their tests (the CLI exits 2 on them)
    refused: list[str] = []


class TokenRecord(BaseModel):
    name: str
    scope: str
    created_at: str
    revoked_at: str | None
    last_used_at: str | None


class NewToken(TokenRecord):
    token: str  # the secret: shown in this response only


class TokenRequest(BaseModel):
    # documented here, checked by the API (so the messages are the CLI's)
    name: str = Field(json_schema_extra={"pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"})
    scope: str = Field(json_schema_extra={"enum": list(TOKEN_SCOPES)})


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": "an error"} for code in codes}


def _text(*media: str) -> dict[int | str, dict[str, Any]]:
    # JSON and YAML are read as documents by clients: any value; plain text is a string
    def schema(m: str) -> dict[str, str]:
        return {"type": "string"} if m.startswith("text/") else {}

    return {
        200: {
            "description": "what the CLI prints",
            "content": {m: {"schema": schema(m)} for m in media},
        }
    }


_AUTH = (401, 403, 503)
ReadToken = Annotated[ApiToken, requires("read")]
UploadToken = Annotated[ApiToken, requires("upload")]
AdminToken = Annotated[ApiToken, requires("admin")]
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files", "service"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string", "format": "binary"},
                            "description": "The run's report files; each file's name is shown "
                            "in messages and kept in the history, never used as a path.",
                        },
                        "service": {"type": "string", "minLength": 1},
                        "commit": {"type": "string"},
                        "branch": {"type": "string"},
                        "run_id": {"type": "string"},
                        "attempt": {"type": "integer", "minimum": 1, "maximum": api.MAX_ATTEMPT},
                        "timestamp": {"type": "string", "description": "ISO 8601"},
                        "format": {"type": "string", "enum": ["auto", *FORMATS]},
                        "ci_provider": {
                            "type": "string",
                            "description": "The CI that ran the job (github, gitlab, ...)",
                        },
                        "ci_url": {"type": "string", "description": "The CI run's page"},
                        "note": {
                            "type": "array",
                            "maxItems": 100,
                            "items": {"type": "string"},
                            "description": "Repeatable: the client's notes on files it passed "
                            "over in folders; they become the run's first warnings.",
                        },
                    },
                }
            }
        },
    }
}
_GATE_SCHEMA = UPLOAD_BODY["requestBody"]["content"]["multipart/form-data"]["schema"]
GATE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    **_GATE_SCHEMA,
                    "properties": {
                        **_GATE_SCHEMA["properties"],
                        "base_ref": {
                            "type": "string",
                            "description": "Patch coverage: the ref the changed lines were "
                            "diffed against (`gate --base`); send with changed_lines.",
                        },
                        "changed_lines": {
                            "type": "string",
                            "format": "binary",
                            "description": 'Patch coverage: {"path": [line, ...]}, the lines '
                            "the client's `git diff` added, as a JSON file.",
                        },
                        "repo_root": {
                            "type": "string",
                            "description": "The client's checkout folder: absolute report "
                            "paths inside it are made relative to it.",
                        },
                    },
                }
            }
        },
    }
}
CLASSIFY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "registry": {
                            "type": "string",
                            "format": "binary",
                            "description": "The caller's registry file; leave it out when "
                            "there is none yet.",
                        },
                        "name": {
                            "type": "string",
                            "description": "The registry file's path as the caller's "
                            "messages show it (default flaky-tests.yml); never opened here.",
                        },
                        "service": {"type": "string", "description": "Only this service"},
                        "dry_run": {"type": "boolean", "description": "As classify --dry-run"},
                        "allow_mass_quarantine": {
                            "type": "boolean",
                            "description": "As classify --allow-mass-quarantine",
                        },
                    },
                }
            }
        },
    }
}


def _choices(*values: str) -> Any:
    """A query parameter's values, for the document; the API checks them (with the CLI's
    messages), so FastAPI does not."""
    return Query(json_schema_extra={"enum": list(values)})


def known_query(request: Request) -> None:
    """Refuse a query parameter the endpoint does not take (as the CLI refuses an unknown
    option): ``?servce=x`` must not quietly list every service."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known: set[str] = set()
    todo = [dependant]
    while todo:
        d = todo.pop()
        known.update(p.alias for p in d.query_params)
        todo.extend(d.dependencies)
    for name in request.query_params:
        if name not in known:
            raise OptionError(
                f"{name or '(empty name)'}: not a query parameter of {request.url.path}",
                hint="it takes " + (", ".join(sorted(known)) if known else "none"),
            )


def _output(out: Output) -> Response:
    """A listing exactly as the CLI prints it; its warnings (stderr there) as headers."""
    response = Response(content=out.text.encode("utf-8"), media_type=out.media_type)
    for w in out.warnings:
        safe = w.replace("\r", " ").replace("\n", " ").encode("ascii", "backslashreplace")
        response.headers.append(WARNING_HEADER, safe.decode("ascii"))
    return response


def _token_json(t: ApiToken) -> dict[str, Any]:
    return {
        "name": t.name,
        "scope": t.scope,
        "created_at": t.created_at.isoformat(),
        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
    }


# -- health: no token ---------------------------------------------------------------------------

health = APIRouter(tags=["health"])


@health.get("/healthz", summary="The process is up (no token needed)")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@health.get(
    "/readyz",
    summary="The database is reachable and its schema current (no token needed)",
    responses=_errors(503),
)
def readyz(request: Request) -> dict[str, Any]:
    version_now = service_of(request).gk.ready()
    return {"status": "ready", "schema_version": version_now}


@health.get(
    "/metrics",
    summary="Prometheus metrics (read scope)",
    response_class=Response,
    responses={**_text("text/plain"), **_errors(*_AUTH)},
)
def metrics(request: Request, _token: ReadToken) -> Response:
    return Response(service_of(request).metrics.render(), media_type=CONTENT_TYPE)


# -- the API ------------------------------------------------------------------------------------

v1 = APIRouter(prefix=API_PREFIX)


@v1.post(
    "/runs",
    tags=["runs"],
    summary="Store a run's reports (upload scope); idempotent like `gatekeeper ingest`",
    status_code=201,
    response_model=None,
    responses={
        201: {"model": IngestResult, "description": "stored"},
        200: {"model": IngestResult, "description": "already in the history: nothing stored"},
        **_errors(400, *_AUTH, 409, 413, 415, 422),
    },
    openapi_extra=UPLOAD_BODY,
)
async def upload_run(request: Request, _token: UploadToken) -> JSONResponse:
    service = service_of(request)
    name = ""
    try:
        form = await read_upload(request, service.limits)
        name = form.service
        outcome = await run_in_threadpool(
            lambda: service.gk.ingest_uploads(
                form.uploads, form.flags, form.fmt, limits=service.limits, notes=form.notes
            )
        )
    except GatekeeperError:
        service.metrics.uploads.labels(name[:100], "refused").inc()
        raise
    service.metrics.uploads.labels(
        outcome.meta.service, "stored" if outcome.stored else "duplicate"
    ).inc()
    return JSONResponse(ingest_json(outcome), status_code=201 if outcome.stored else 200)


@v1.post(
    "/gate",
    tags=["runs"],
    summary="Store a run's reports and decide on it (upload scope), as `gatekeeper gate`",
    response_model=None,
    responses={
        200: {"model": GateResult, "description": "decided: passed is true or false"},
        **_errors(400, *_AUTH, 409, 413, 415, 422, 500),
    },
    openapi_extra=GATE_BODY,
)
async def gate(request: Request, _token: UploadToken) -> JSONResponse:
    service = service_of(request)
    name = ""
    try:
        form = await read_upload(request, service.limits, gate=True)
        name = form.service
        config = await run_in_threadpool(service.config)
        decision = await run_in_threadpool(
            lambda: service.gk.gate_uploads(
                form.uploads,
                form.flags,
                form.fmt,
                config=config,
                registry_path=service.registry_path,
                registry_missing_ok=service.registry_missing_ok,
                limits=service.limits,
                notes=form.notes,
                base_ref=form.base_ref,
                changed=form.changed,
                repo_root=form.repo_root,
            )
        )
    except GatekeeperError as err:
        # could not decide: the gate's own error object too, so a client reading `passed`
        # never takes it for a pass
        service.metrics.verdicts.labels(name[:100], "undecided").inc()
        # a run whose benchmarks moved together is stored, then left undecided
        kept = "stored" if isinstance(err, UndecidedError) else "refused"
        service.metrics.uploads.labels(name[:100], kept).inc()
        return errors.error_response(err, emit_gate.error_object(str(err), "gate", err.exit_code))
    service.metrics.uploads.labels(
        decision.service, "stored" if decision.stored else "duplicate"
    ).inc()
    service.metrics.verdicts.labels(
        decision.service, "passed" if decision.passed else "failed"
    ).inc()
    return JSONResponse(emit_gate.json_object(decision))


@v1.post(
    "/classify",
    tags=["quarantine"],
    summary="Classify the history into the caller's registry (upload scope), as "
    "`gatekeeper classify`; the caller writes the file",
    response_model=ClassifyResult,
    responses=_errors(400, *_AUTH, 413, 415, 422),
    openapi_extra=CLASSIFY_BODY,
)
async def classify(request: Request, _token: UploadToken) -> dict[str, Any]:
    # Upload scope: it runs the classifier over the whole history (the most expensive request
    # there is), and the job that runs it nightly has an upload token anyway. Nothing is
    # written here: the registry stays a file reviewed in the caller's repository.
    service = service_of(request)
    form = await read_classify(request, service.limits)
    update = await run_in_threadpool(
        lambda: api.classify_upload(
            service.gk,
            form.data,
            form.name,
            service=form.service,
            default_branch=service.config().default_branch,
            max_new_share=service.config().classify.max_new_quarantine_share,
            allow_mass=form.allow_mass_quarantine,
        )
    )
    changed = bool(update.changes)
    return {
        "registry": update.text if update.text is not None else update.original,
        "changed": changed,
        "report": update.report(written=changed and not form.dry_run, dry_run=form.dry_run),
        "diff": update.diff,
        "refused": [r.describe() for r in update.refused],
    }


@v1.get(
    "/quarantine",
    tags=["quarantine"],
    summary="The quarantined tests (read scope), as `gatekeeper quarantine list`",
    response_class=Response,
    responses={
        **_text("text/plain", "application/json", "application/yaml"),
        **_errors(400, *_AUTH, 500),
    },
)
def quarantine(
    request: Request,
    _token: ReadToken,
    service: str | None = None,
    format: Annotated[str, _choices(*api.LIST_FORMATS)] = "table",  # the CLI's option name
    include_released: Annotated[bool, Query(alias="all")] = False,
) -> Response:
    s = service_of(request)
    return _output(
        api.quarantine_list_output(
            s.registry_path,
            s.registry_missing_ok,
            fmt=format,
            service=service,
            include_released=include_released,
        )
    )


@v1.get(
    "/skip-list",
    tags=["quarantine"],
    summary="The quarantined tests as a test runner takes them (read scope), as "
    "`gatekeeper skip-list`",
    response_class=Response,
    responses={**_text("text/plain", "application/json"), **_errors(400, *_AUTH, 500)},
)
def skip_list(
    request: Request,
    _token: ReadToken,
    format: Annotated[str, _choices(*SKIP_LIST_FORMATS)] = "text",  # the CLI's option name
    service: str | None = None,
) -> Response:
    s = service_of(request)
    return _output(
        api.skip_list_output(s.registry_path, s.registry_missing_ok, fmt=format, service=service)
    )


@v1.get(
    "/tests/{service}/{test_id:path}",
    tags=["quarantine"],
    summary="One test's registry entry, verdict and run-by-run history (read scope), as "
    "`gatekeeper quarantine show`",
    response_class=Response,
    responses={**_text("application/json", "text/plain"), **_errors(400, *_AUTH, 404, 500)},
)
def test_history(
    request: Request,
    _token: ReadToken,
    service: str,
    test_id: str,
    runs: Annotated[int, Query(ge=1, le=10_000)] = 30,
    format: Annotated[str, _choices("json", "text")] = "json",  # the CLI's option name
) -> Response:
    if format not in ("json", "text"):
        raise OptionError(
            f"--format {format}: not a format of a test's history", hint="choose json or text"
        )
    s = service_of(request)
    d = api.quarantine_show(
        s.gk, s.registry_path, s.registry_missing_ok, name=test_id, service=service, runs=runs
    )
    if format == "text":
        return Response(show_text(d.name, d.service, d.entry, d.history), media_type="text/plain")
    return JSONResponse(test_detail(d))


@v1.get(
    "/tokens",
    tags=["tokens"],
    summary="Every API token, revoked ones too; never a secret (admin scope)",
    response_model=list[TokenRecord],
    responses=_errors(*_AUTH),
)
def list_tokens(request: Request, _token: AdminToken) -> list[dict[str, Any]]:
    return [_token_json(t) for t in service_of(request).gk.tokens()]


@v1.post(
    "/tokens",
    tags=["tokens"],
    summary="Make a token; the response is the only time its secret is shown (admin scope)",
    status_code=201,
    response_model=NewToken,
    responses=_errors(400, *_AUTH, 409),
)
def create_token(request: Request, body: TokenRequest, _token: AdminToken) -> dict[str, Any]:
    token, secret = service_of(request).gk.create_token(body.name, body.scope)
    return {**_token_json(token), "token": secret}


@v1.delete(
    "/tokens/{name}",
    tags=["tokens"],
    summary="Revoke a token at once, on every replica (admin scope)",
    response_model=TokenRecord,
    responses=_errors(*_AUTH, 404),
)
def revoke_token(request: Request, name: str, _token: AdminToken) -> dict[str, Any]:
    return _token_json(service_of(request).gk.revoke_token(name))


# -- the weekly report and the dashboard -------------------------------------------------------

_REPORT_MEDIA = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
}


def _weekly(
    request: Request, since: str, until: str | None, service: str | None, fmt: str
) -> Response:
    from gatekeeper.emit import report as emit_report

    if fmt not in emit_report.FORMATS:
        raise OptionError(
            f"--format {fmt}: not a report format", hint="choose " + ", ".join(emit_report.FORMATS)
        )
    s = service_of(request)
    try:
        start, end = api.parse_report_period(since, until)
    except GatekeeperError as err:  # the caller's period: a 400 with the CLI's message
        raise OptionError(err.message, hint=err.hint) from err
    weekly = s.gk.report(
        since=start,
        until=end,
        service=service,
        registry_path=s.registry_path,
        registry_missing_ok=s.registry_missing_ok,
        config=s.config(),
    )
    return Response(emit_report.render(weekly, fmt), media_type=_REPORT_MEDIA[fmt])


@v1.get(
    "/report",
    tags=["report"],
    summary="The weekly report (read scope), as `gatekeeper report`",
    response_class=Response,
    responses={
        **_text("application/json", "text/html", "text/markdown"),
        **_errors(400, *_AUTH, 500),
    },
)
def report(
    request: Request,
    _token: ReadToken,
    since: str = "7d",
    until: str | None = None,
    service: str | None = None,
    format: Annotated[str, _choices("json", "html", "md")] = "json",  # the CLI's option name
) -> Response:
    return _weekly(request, since, until, service, format)


pages = APIRouter(tags=["dashboard"])

_LOGIN = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gatekeeper: log in</title>
<link rel="icon" href="data:,">
<style>body{{font:16px system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}
input{{width:100%;font:inherit;padding:.5rem;margin:.5rem 0;box-sizing:border-box}}
.error{{color:#b00020}}</style></head>
<body><h1>gatekeeper</h1>{error}
<form method="post" action="/login"><label for="token">API token (read scope or more)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<input type="submit" value="Show the dashboard"></form>
<p>Make one with <code>gatekeeper token create --name NAME --scope read</code>.</p>
</body></html>
"""


@pages.get(
    "/",
    summary="The dashboard: the weekly report as HTML (read token: header or login cookie)",
    response_class=Response,
    responses={
        **_text("text/html"),
        303: {"description": "not logged in: go to /login"},
        **_errors(400, 500),
    },
)
def dashboard(
    request: Request,
    since: str = "7d",
    until: str | None = None,
    service: str | None = None,
) -> Response:
    if page_token(request, "read") is None:
        return RedirectResponse("/login", status_code=303)
    return _weekly(request, since, until, service, "html")


@pages.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """No icon, and no 404 in the browser's console for asking."""
    return Response(status_code=204)


@pages.get("/login", summary="The dashboard's login form", response_class=HTMLResponse)
def login_form() -> HTMLResponse:
    return HTMLResponse(_LOGIN.format(error=""))


@pages.post(
    "/login",
    summary="Log in to the dashboard with a read token (sets an HttpOnly cookie)",
    response_class=Response,
    responses={303: {"description": "logged in: go to /"}, 401: {"description": "refused"}},
)
async def login(request: Request) -> Response:
    form = await request.form()
    token = str(form.get("token") or "").strip()
    s = service_of(request)
    try:
        s.gk.authenticate(f"Bearer {token}", "read")
    except AuthenticationError as err:
        s.metrics.auth_failures.labels(err.reason).inc()
        log.warning("refused a dashboard login: %s token", err.reason)
        page = _LOGIN.format(error='<p class="error">That token is not valid.</p>')
        return HTMLResponse(page, status_code=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=12 * 3600,
    )
    return response


# -- the application ----------------------------------------------------------------------------


def create_app(settings: ServiceSettings) -> FastAPI:
    """The application for one process. Reads the gate's configuration and the registry once
    now, so that a broken one stops the start instead of every gate; the database may still be
    down (/readyz says so until it is up)."""
    gk = Gatekeeper(settings.settings, env={}, cwd=settings.cwd)
    config, path, missing_ok = api.config_and_registry(
        settings.cwd, settings.env, settings.config, settings.registry
    )
    api.quarantine_view(path, missing_ok)  # a missing named file, or a broken one, stops here
    metrics = Metrics(lambda: api.quarantined_per_service(path, missing_ok))
    service = Service(gk, settings, path, missing_ok, metrics)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            await run_in_threadpool(gk.ready)  # opens the database and upgrades its schema
        except GatekeeperError as err:
            log.warning("the database is not ready: %s (/readyz answers 503 until it is)", err)
        log.info(
            "gatekeeper %s serving: database %s, registry %s, config %s",
            VERSION,
            gk.store.url if gk._store is not None else settings.settings.db_url,
            path,
            config.source or "(defaults)",
        )
        yield
        gk.close()

    app = FastAPI(
        title="gatekeeper",
        version=VERSION,
        summary="Test, coverage and benchmark history, flaky-test quarantine, one verdict.",
        description="The HTTP API of `gatekeeper serve`: the CLI's commands over HTTP, with "
        "the same outputs and messages. Every endpoint but /healthz and /readyz needs a "
        "bearer token. See docs/service.md.",
        lifespan=lifespan,
        redoc_url=None,
        dependencies=[Depends(known_query)],
    )
    app.state.service = service
    errors.install(app)
    app.add_middleware(RequestLog, metrics=metrics)
    app.include_router(health)
    app.include_router(v1)
    app.include_router(pages)
    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory `gatekeeper serve` starts (in each worker process)."""
    return create_app(from_env())
