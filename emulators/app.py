"""The emulator server's ASGI app: ``/health``, ``/_control/...`` and one prefix per provider."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from emulators.control import control_routes
from emulators.gateway import ProviderGateway
from emulators.hub import Hub
from emulators.providers import build_providers


def create_app(providers: list[str] | None = None, data_dir: Path | None = None) -> Starlette:
    """A fresh emulator app (``providers``: subset by name). With ``data_dir``, providers that
    persist (Google) keep their state there across restarts; otherwise all state is in memory."""
    hub = Hub(providers=build_providers(providers, data_dir))
    for provider in hub.providers.values():
        provider.bind(hub)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "providers": list(hub.providers)})

    control: list[BaseRoute] = list(control_routes(hub))
    for name, provider in hub.providers.items():
        control.append(Mount(f"/{name}", routes=provider.control_routes))

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Mount("/_control", routes=control),
    ]
    for name, provider in hub.providers.items():
        routes.append(Mount(f"/{name}", app=ProviderGateway(hub, provider)))

    app = Starlette(routes=routes)
    app.state.hub = hub
    return app
