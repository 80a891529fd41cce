"""Generic control API under ``/_control``: faults, fixed latencies, recorded calls, reset."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.faults import FaultSpecError
from emulators.latency import LatencyIn

if TYPE_CHECKING:
    from emulators.hub import Hub

Model = TypeVar("Model", bound=BaseModel)


class ControlError(Exception):
    """A provider's control request is invalid: answered ``400 {"error": detail}``."""

    def __init__(self, detail: Any) -> None:
        super().__init__(str(detail))
        self.detail = detail


async def read_model(request: Request, model: type[Model]) -> Model:
    try:
        return model.model_validate_json(await request.body() or b"{}")
    except ValidationError as exc:
        raise ControlError(exc.errors(include_url=False, include_context=False)) from None


def control_endpoint(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ControlError as exc:
            return JSONResponse({"error": exc.detail}, status_code=400)

    return endpoint


class CallCounts:
    """Calls per operation and answered status, every call the gateway saw (faulted ones too)."""

    def __init__(self) -> None:
        self._counts: defaultdict[str, Counter[int | None]] = defaultdict(Counter)

    def add(self, operation: str, status: int | None) -> None:
        self._counts[operation][status] += 1

    def total(self, operation: str) -> int:
        return sum(self._counts[operation].values())

    def to_json(self) -> dict[str, Any]:
        return {
            op: {"total": sum(by.values()), "by_status": {str(k): v for k, v in by.items()}}
            for op, by in self._counts.items()
        }

    def clear(self) -> None:
        self._counts.clear()


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def _json(request: Request) -> Any:
    body = await request.body()
    if not body:
        return {}
    try:
        return await request.json()
    except ValueError as exc:
        raise FaultSpecError(f"malformed JSON: {exc}") from exc


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise FaultSpecError(f"{name} must be an integer") from exc


def control_routes(hub: Hub) -> list[Route]:
    async def add_fault(request: Request) -> JSONResponse:
        try:
            fault = hub.faults.add(await _json(request), set(hub.providers))
        except FaultSpecError as exc:
            return _bad_request(str(exc))
        return JSONResponse(fault.to_json(), status_code=201)

    async def list_faults(request: Request) -> JSONResponse:
        return JSONResponse({"faults": [f.to_json() for f in hub.faults.list()]})

    async def delete_fault(request: Request) -> JSONResponse:
        fault_id = request.path_params["fault_id"]
        if not hub.faults.delete(fault_id):
            return JSONResponse({"error": f"no fault {fault_id}"}, status_code=404)
        return JSONResponse({"deleted": fault_id})

    async def delete_faults(request: Request) -> JSONResponse:
        hub.faults.clear(request.query_params.get("provider") or None)
        return JSONResponse({"deleted": "all"})

    async def set_latency(request: Request) -> JSONResponse:
        body = await read_model(request, LatencyIn)
        if body.provider is not None and body.provider not in hub.providers:
            raise ControlError(f"unknown provider {body.provider!r}; known: {sorted(hub.providers)}")
        hub.latency.set([body.provider] if body.provider else list(hub.providers), body.seconds)
        return JSONResponse({"latency": hub.latency.to_json()})

    async def get_latency(request: Request) -> JSONResponse:
        return JSONResponse({"latency": hub.latency.to_json()})

    async def delete_latency(request: Request) -> JSONResponse:
        hub.latency.clear(request.query_params.get("provider") or None)
        return JSONResponse({"latency": hub.latency.to_json()})

    async def calls(request: Request) -> JSONResponse:
        q = request.query_params
        try:
            since = _int_param(request, "since")
            status = _int_param(request, "status")
            limit = _int_param(request, "limit")
            found = hub.calls.query(
                provider=q.get("provider") or None,
                method=q.get("method") or None,
                path=q.get("path") or None,
                status=status,
                since=since,
            )
        except (re.error, FaultSpecError) as exc:
            return _bad_request(str(exc))
        listed = found[-limit:] if limit is not None and limit >= 0 else found
        if limit == 0:
            listed = []
        return JSONResponse({"count": len(found), "calls": listed})

    async def reset(request: Request) -> JSONResponse:
        provider = request.query_params.get("provider") or None
        if provider is not None and provider not in hub.providers:
            return _bad_request(f"unknown provider {provider!r}")
        return JSONResponse({"reset": hub.reset(provider)})

    return [
        Route("/faults", add_fault, methods=["POST"]),
        Route("/faults", list_faults, methods=["GET"]),
        Route("/faults", delete_faults, methods=["DELETE"]),
        Route("/faults/{fault_id}", delete_fault, methods=["DELETE"]),
        Route("/latency", control_endpoint(set_latency), methods=["PUT"]),
        Route("/latency", get_latency, methods=["GET"]),
        Route("/latency", delete_latency, methods=["DELETE"]),
        Route("/calls", calls, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
    ]
