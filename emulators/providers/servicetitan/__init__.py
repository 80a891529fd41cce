"""ServiceTitan API v2 emulator: OAuth client-credentials auth server plus CRM, JPM and accounting.

Served under ``/servicetitan``: ``/servicetitan/auth/connect/token`` (SERVICETITAN_AUTH_URL =
``.../servicetitan/auth``) and ``/servicetitan/api/...`` (SERVICETITAN_API_URL = ``.../servicetitan/api``).
See docs/emulators.md for which behaviours follow the real API and which are assumptions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emulators.providers.base import Provider
from emulators.providers.servicetitan.api import ServiceTitanApi
from emulators.providers.servicetitan.control import control_routes
from emulators.providers.servicetitan.errors import problem_body
from emulators.providers.servicetitan.state import ServiceTitanState


class ServiceTitanProvider(Provider):
    name = "servicetitan"

    def __init__(self, app_key: str | None = None) -> None:
        self.state = ServiceTitanState(app_key)
        self.app = ServiceTitanApi(self.state).router()
        self.control_routes = control_routes(self.state)

    def reset(self) -> None:
        self.state.reset()

    def error_body(self, status: int, message: str) -> Any:
        return problem_body(status, message)


def create_provider(data_dir: Path | None = None) -> ServiceTitanProvider:
    # Its state lives in memory only: a restart forgets tenants (data_dir is not used).
    return ServiceTitanProvider()
