"""What the endpoints share in one process: the Gatekeeper object and where things are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

from starlette.requests import Request

from gatekeeper.api import Gatekeeper, UploadLimits
from gatekeeper.rules import GateConfig
from gatekeeper.service.metrics import Metrics
from gatekeeper.service.settings import ServiceSettings


@dataclass(slots=True)
class Service:
    gk: Gatekeeper
    settings: ServiceSettings
    registry_path: Path
    registry_missing_ok: bool
    metrics: Metrics

    @property
    def limits(self) -> UploadLimits:
        return self.settings.limits

    def config(self) -> GateConfig:
        """The gate's configuration, read at each gate (a `git pull` of it takes effect)."""
        from gatekeeper.api import load_config

        return load_config(self.settings.cwd, self.settings.env, self.settings.config)


def service_of(request: Request) -> Service:
    return cast(Service, request.app.state.service)
