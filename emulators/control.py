"""Generic control API under ``/_control``: faults, recorded calls, reset."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from emulators.faults import FaultSpecError
from emulators.hub import Hub


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
        Route("/calls", calls, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
    ]
