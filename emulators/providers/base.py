"""What a provider module hands to the framework."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute
from starlette.types import ASGIApp

if TYPE_CHECKING:
    from emulators.grpc_gateway import GrpcMethod
    from emulators.hub import Hub


class Provider:
    """One emulated external API.

    ``app`` serves the provider's wire protocol with paths relative to its prefix (``/<name>``);
    ``grpc_methods`` (full method name -> method) are served on the server's gRPC port;
    ``control_routes`` are mounted under ``/_control/<name>``; ``reset`` drops all its state.
    Faults and call recording are added by the framework (:mod:`emulators.gateway`,
    :mod:`emulators.grpc_gateway`).
    """

    name: str
    app: ASGIApp
    control_routes: list[BaseRoute]
    grpc_methods: dict[str, GrpcMethod] = {}

    def reset(self) -> None:
        raise NotImplementedError

    def bind(self, hub: Hub) -> None:
        """Called once the server's hub exists (a provider's control API may script faults)."""

    def observe(self, method: str, path: str, status: int | None) -> None:
        """Called by the gateway after every request, faulted ones included (call counts)."""

    def error_body(self, status: int, message: str) -> Any:
        """Body of an injected fault that did not script one; override to match the real API."""
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        return {"error": {"code": status, "message": message, "status": reason}}

    def grpc_error_message(self, status: int, fault_id: str) -> str:
        """Message of an injected gRPC fault that did not script one."""
        return f"emulated fault {fault_id}"
