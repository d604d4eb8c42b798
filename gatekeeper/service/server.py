"""`gatekeeper serve`: check the settings, then run uvicorn with the app factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gatekeeper.api import OptionError
from gatekeeper.service import settings as service_settings

LEVELS = ("critical", "error", "warning", "info", "debug")


def log_config(level: str) -> dict[str, Any]:
    """One line per event on stderr: uvicorn's own messages and gatekeeper's request log
    (uvicorn's access log is off: the request log says more, and never logs a query string)."""
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "gatekeeper.service": {"handlers": ["stderr"], "level": upper, "propagate": False},
        },
    }


def serve(
    *,
    host: str,
    port: int,
    db: str | None,
    config: Path | None,
    registry: str | None,
    workers: int,
    max_file_mb: float | None,
    max_request_mb: float | None,
    log_level: str,
) -> None:
    """Export the flags as the environment every worker reads, check that an app can be built
    from it (a bad configuration or registry fails here, with the CLI's message), then serve."""
    if log_level not in LEVELS:
        raise OptionError(
            f"--log-level {log_level}: not a log level", hint="choose " + ", ".join(LEVELS)
        )
    if workers < 1:
        raise OptionError(f"--workers {workers}: must be 1 or more")
    if not 0 < port < 65536:
        raise OptionError(f"--port {port}: not a TCP port", hint="choose 1 to 65535")
    exported = {
        service_settings.ENV_DB: db,
        service_settings.ENV_CONFIG: str(config.resolve()) if config else None,
        service_settings.ENV_REGISTRY: registry,
        service_settings.ENV_MAX_FILE_MB: None if max_file_mb is None else repr(max_file_mb),
        service_settings.ENV_MAX_REQUEST_MB: None
        if max_request_mb is None
        else repr(max_request_mb),
    }
    for key, value in exported.items():
        if value is not None:
            os.environ[key] = value
    from gatekeeper.service.app import create_app

    create_app(service_settings.from_env())  # raises GatekeeperError on a bad setting

    import uvicorn

    uvicorn.run(
        "gatekeeper.service.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config(log_level),
        access_log=False,
        server_header=False,
    )
