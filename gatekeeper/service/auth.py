"""Bearer tokens: the dependency every endpoint but the health checks declares."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gatekeeper.api import AuthenticationError
from gatekeeper.model import ApiToken
from gatekeeper.service.state import service_of

log = logging.getLogger("gatekeeper.service")

# Declares the scheme in the OpenAPI document; the header itself is checked by the API object.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token: `Authorization: Bearer gk_<scope>_...`, made with "
    "`gatekeeper token create --name NAME --scope read|upload|admin`.",
)


def requires(scope: str) -> Any:
    """A dependency that lets the request through only with a token allowing ``scope``."""

    def check(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> ApiToken:
        service = service_of(request)
        try:
            token = service.gk.authenticate(request.headers.get("authorization"), scope)
        except AuthenticationError as err:
            request.state.token_name = err.token_name
            service.metrics.auth_failures.labels(err.reason).inc()
            # the reason and the token's name, when it is known; never the token
            log.warning(
                "refused %s %s: %s token%s",
                request.method,
                request.url.path,
                err.reason,
                f" {err.token_name!r}" if err.token_name else "",
            )
            raise
        request.state.token_name = token.name
        return token

    return Depends(check)


COOKIE = "gatekeeper_token"


def page_token(request: Request, scope: str) -> ApiToken | None:
    """For pages a browser opens (the dashboard): the token of the Authorization header, else
    of the login cookie; None when neither allows ``scope`` (the page then asks to log in)."""
    service = service_of(request)
    header = request.headers.get("authorization")
    cookie = request.cookies.get(COOKIE)
    if header is None and cookie:
        header = f"Bearer {cookie}"
    try:
        token = service.gk.authenticate(header, scope)
    except AuthenticationError as err:
        request.state.token_name = err.token_name
        if header is not None:
            service.metrics.auth_failures.labels(err.reason).inc()
            log.warning("refused %s %s: %s token", request.method, request.url.path, err.reason)
        return None
    request.state.token_name = token.name
    return token
