"""What one service process needs to know, read from flags or the environment."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gatekeeper.api import MIB, OptionError, UploadLimits
from gatekeeper.config import Settings, resolve

# The environment variables a service process reads; `gatekeeper serve` sets them from its flags
# so that every uvicorn worker process gets the same settings.
ENV_DB = "GATEKEEPER_DB"
ENV_CONFIG = "GATEKEEPER_CONFIG"
ENV_REGISTRY = "GATEKEEPER_REGISTRY"
ENV_MAX_FILE_MB = "GATEKEEPER_MAX_FILE_MB"
ENV_MAX_REQUEST_MB = "GATEKEEPER_MAX_REQUEST_MB"


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """The database, the gate's configuration file and registry, and the upload limits."""

    settings: Settings
    config: Path | None = None  # None: $GATEKEEPER_CONFIG, else the nearest gatekeeper.yml
    registry: str | None = None  # None: $GATEKEEPER_REGISTRY, else the config's, else default
    limits: UploadLimits = field(default_factory=UploadLimits)
    cwd: Path = field(default_factory=Path.cwd)
    env: Mapping[str, str] = field(default_factory=dict)


def megabytes(value: float | str | None, default: int, what: str) -> int:
    """A size in MiB (a float is fine: 0.5) -> bytes; OptionError for nonsense."""
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise OptionError(f"{what} {value}: not a size in MiB", hint="e.g. 50 (or 0.5)")
    return max(1, int(number * MIB))


def from_env(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> ServiceSettings:
    """The settings a worker process was started with (`gatekeeper serve` exports them)."""
    environ = dict(os.environ if env is None else env)
    defaults = UploadLimits()
    limits = UploadLimits(
        max_file_bytes=megabytes(
            environ.get(ENV_MAX_FILE_MB), defaults.max_file_bytes, ENV_MAX_FILE_MB
        ),
        max_request_bytes=megabytes(
            environ.get(ENV_MAX_REQUEST_MB), defaults.max_request_bytes, ENV_MAX_REQUEST_MB
        ),
    )
    config = environ.get(ENV_CONFIG)
    return ServiceSettings(
        settings=resolve(environ),
        config=Path(config) if config else None,
        registry=environ.get(ENV_REGISTRY) or None,
        limits=limits,
        cwd=cwd or Path.cwd(),
        env=environ,
    )
