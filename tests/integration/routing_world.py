"""Builds a routing world through the public API and the emulator's control API, the way a
user would: companies, a profile, a partnership, a ServiceTitan connection; and waits on it."""

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from bench._stack import job_body as job_body  # the one valid-job maker, shared with bench

T = TypeVar("T")
Headers = dict[str, str]
_tenants = itertools.count(1000)

PROFILE: dict[str, Any] = {
    "trades": ["plumbing"],
    "service_area": {"kind": "zip_codes", "zip_codes": ["94107"]},
    "business_hours": {"timezone": "America/Los_Angeles", "weekly": {}},
    "daily_capacity": 10_000,
}


@dataclass
class Company:
    id: str
    headers: Headers


@dataclass
class Receiver(Company):
    st_tenant: str
    client_id: str
    secret: str


async def company(
    api: httpx.AsyncClient, admin: Headers, name: str, mode: dict[str, Any] | None = None
) -> Company:
    body: dict[str, Any] = {"name": name}
    if mode is not None:
        body["mode"] = mode
    created = await api.post("/api/routing/companies", json=body, headers=admin)
    assert created.status_code == 201, created.text
    data = created.json()
    return Company(id=data["id"], headers={"Authorization": f"Bearer {data['api_key']['key']}"})


async def receiver(
    api: httpx.AsyncClient,
    admin: Headers,
    emulator: str,
    name: str,
    *,
    referrer: Company,
    rate_limit_per_second: float | None = None,
    emulator_rate_limit: int = 1000,
    fee: dict[str, Any] | None = None,
    profile: dict[str, Any] | None = None,
) -> Receiver:
    """A receiving company with a profile, a partnership from `referrer` and a ServiceTitan tenant."""
    base = await company(api, admin, name)
    st_tenant = str(next(_tenants))
    client_id, secret = f"cid-{st_tenant}", f"secret-{st_tenant}"
    async with httpx.AsyncClient() as http:
        provisioned = await http.post(
            f"{emulator}/_control/servicetitan/tenants",
            json={
                "tenant_id": st_tenant,
                "client_id": client_id,
                "client_secret": secret,
                "rate_limit_per_second": emulator_rate_limit,
            },
        )
        assert provisioned.status_code == 200, provisioned.text
    put = await api.put("/api/routing/profile", json=profile or PROFILE, headers=base.headers)
    assert put.status_code == 200, put.text
    connection: dict[str, Any] = {
        "provider": "servicetitan",
        "tenant_id": st_tenant,
        "client_id": client_id,
        "client_secret": secret,
        "booking_provider_id": "77",
    }
    if rate_limit_per_second is not None:
        connection["rate_limit_per_second"] = rate_limit_per_second
    put = await api.put("/api/routing/connection", json=connection, headers=base.headers)
    assert put.status_code == 200, put.text
    partnership = await api.post(
        "/api/routing/partnerships",
        json={"receiver_id": base.id, "fee_terms": fee or {"kind": "percent", "amount": 10}},
        headers=referrer.headers,
    )
    assert partnership.status_code == 201, partnership.text
    return Receiver(id=base.id, headers=base.headers, st_tenant=st_tenant, client_id=client_id, secret=secret)


async def eventually(check: Callable[[], Awaitable[T | None]], wait: float = 30.0, what: str = "") -> T:
    """Polls `check` until it returns something truthy (tests observe; the product never polls)."""
    deadline = time.monotonic() + wait
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {wait}s waiting for {what or check}; last: {last!r}")


async def routing_in(
    api: httpx.AsyncClient, headers: Headers, routing_id: str, statuses: set[str], wait: float = 30.0
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        body = (await api.get(f"/api/routing/routings/{routing_id}", headers=headers)).json()
        return body if body.get("status") in statuses else None

    return await eventually(check, wait, f"routing {routing_id} in {statuses}")


async def routings_of(
    api: httpx.AsyncClient, headers: Headers, job_id: str, count: int = 1
) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        job = (await api.get(f"/api/routing/jobs/{job_id}", headers=headers)).json()
        return job["routings"] if len(job.get("routings", [])) >= count else None

    return await eventually(check, 30.0, f"{count} routings of job {job_id}")


async def emulator_state(emulator: str, st_tenant: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{emulator}/_control/servicetitan/tenants/{st_tenant}/state")).json()


async def emulator_stats(emulator: str, st_tenant: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{emulator}/_control/servicetitan/tenants/{st_tenant}/stats")).json()


async def advance(
    emulator: str, st_tenant: str, booking_id: int, status: str, total: float | None = None
) -> None:
    async with httpx.AsyncClient() as http:
        body: dict[str, Any] = {"status": status}
        if total is not None:
            body["invoice_total"] = total
        r = await http.post(
            f"{emulator}/_control/servicetitan/tenants/{st_tenant}/bookings/{booking_id}/advance", json=body
        )
        assert r.status_code == 200, r.text


async def fault(emulator: str, **spec: Any) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{emulator}/_control/faults", json={"provider": "servicetitan", **spec})
        assert r.status_code == 201, r.text
        return r.json()


async def calls(emulator: str, **query: Any) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{emulator}/_control/calls", params={"provider": "servicetitan", **query})
        return r.json()["calls"]
