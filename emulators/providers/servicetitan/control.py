"""ServiceTitan control endpoints, mounted under ``/_control/servicetitan``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from emulators.providers.servicetitan.state import JOB_STATUSES, ServiceTitanState


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return await request.json()
    except ValueError:
        return None


def control_routes(state: ServiceTitanState) -> list[Route]:
    async def upsert_tenant(request: Request) -> JSONResponse:
        body = await _json(request)
        if not isinstance(body, dict):
            return _error("body must be a JSON object")
        tenant_id, client_id, secret = body.get("tenant_id"), body.get("client_id"), body.get("client_secret")
        if tenant_id is None or not client_id or not isinstance(secret, str):
            return _error("tenant_id, client_id and client_secret are required")
        rate = body.get("rate_limit_per_second")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 1):
            return _error("rate_limit_per_second must be a positive integer")
        ttl = body.get("token_ttl")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0):
            return _error("token_ttl must be a positive number of seconds")
        owner = state.clients.get(str(client_id))
        if owner is not None and owner != str(tenant_id):
            return _error(f"client_id {client_id!r} already belongs to tenant {owner}", 409)
        tenant = state.upsert_tenant(str(tenant_id), str(client_id), secret, rate, ttl)
        return JSONResponse({**tenant.summary(), "app_key": state.app_key})

    async def list_tenants(request: Request) -> JSONResponse:
        return JSONResponse(
            {"tenants": [t.summary() for t in state.tenants.values()], "app_key": state.app_key}
        )

    def _tenant(request: Request) -> Any:
        return state.tenants.get(request.path_params["tenant"])

    async def revoke(request: Request) -> JSONResponse:
        tenant = _tenant(request)
        if tenant is None:
            return _error("unknown tenant", 404)
        return JSONResponse({"revoked": state.revoke_tokens(tenant)})

    async def stats(request: Request) -> JSONResponse:
        tenant = _tenant(request)
        if tenant is None:
            return _error("unknown tenant", 404)
        return JSONResponse(tenant.stats())

    async def dump(request: Request) -> JSONResponse:
        tenant = _tenant(request)
        if tenant is None:
            return _error("unknown tenant", 404)
        return JSONResponse(
            {
                "customers": list(tenant.customers.values()),
                "locations": list(tenant.locations.values()),
                "bookings": list(tenant.bookings.values()),
                "jobs": list(tenant.jobs.values()),
                "invoices": list(tenant.invoices.values()),
                "customer_external_data": {str(k): v for k, v in tenant.customer_external.items()},
            }
        )

    async def advance(request: Request) -> JSONResponse:
        tenant = _tenant(request)
        if tenant is None:
            return _error("unknown tenant", 404)
        booking = tenant.bookings.get(request.path_params["booking_id"])
        if booking is None:
            return _error("unknown booking", 404)
        body = await _json(request)
        if not isinstance(body, dict):
            return _error("body must be a JSON object")
        status = body.get("status")
        if status not in (*JOB_STATUSES, "dismissed"):
            return _error(f"status must be one of {[*JOB_STATUSES, 'dismissed']}")
        total = body.get("invoice_total")
        if total is not None and (isinstance(total, bool) or not isinstance(total, int | float)):
            return _error("invoice_total must be a number")
        if status == "dismissed" and booking.get("jobId"):
            return _error("booking already converted to a job", 409)
        return JSONResponse(state.advance_booking(tenant, booking, status, total))

    return [
        Route("/tenants", upsert_tenant, methods=["POST"]),
        Route("/tenants", list_tenants, methods=["GET"]),
        Route("/tenants/{tenant}/revoke-tokens", revoke, methods=["POST"]),
        Route("/tenants/{tenant}/stats", stats, methods=["GET"]),
        Route("/tenants/{tenant}/state", dump, methods=["GET"]),
        Route("/tenants/{tenant}/bookings/{booking_id:int}/advance", advance, methods=["POST"]),
    ]
