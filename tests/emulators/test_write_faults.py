"""Faults that apply the write and lose its answer, or apply it late, over real HTTP (a cut
connection only exists on a real socket)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

TENANT = "777"
ADDRESS = {"street": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701"}
CUSTOMER = {"name": "Jane", "address": ADDRESS, "locations": [{"name": "Home", "address": ADDRESS}]}


@pytest.fixture
async def http(emulator: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator, timeout=5.0) as client:
        assert (await client.post("/_control/reset")).status_code == 200
        tenant = {"tenant_id": TENANT, "client_id": "cid-777", "client_secret": "secret"}
        assert (await client.post("/_control/servicetitan/tenants", json=tenant)).status_code == 200
        token = await client.post(
            "/servicetitan/auth/connect/token",
            data={"grant_type": "client_credentials", "client_id": "cid-777", "client_secret": "secret"},
        )
        client.headers.update(
            {"Authorization": f"Bearer {token.json()['access_token']}", "ST-App-Key": "emulator-app-key"}
        )
        yield client


async def fault(http: httpx.AsyncClient, **spec: Any) -> httpx.Response:
    return await http.post("/_control/faults", json={"provider": "servicetitan", **spec})


async def customers(http: httpx.AsyncClient) -> int:
    stats = await http.get(f"/_control/servicetitan/tenants/{TENANT}/stats")
    return int(stats.json()["customers"])


URL = f"/servicetitan/api/crm/v2/tenant/{TENANT}/customers"


async def test_applied_then_answered_with_an_error(http: httpx.AsyncClient) -> None:
    assert (await fault(http, method="POST", path="/customers$", when="after", status=500)).status_code == 201
    answer = await http.post(URL, json=CUSTOMER)
    assert answer.status_code == 500
    assert await customers(http) == 1
    recorded = (await http.get("/_control/calls", params={"method": "POST"})).json()["calls"]
    assert recorded[-1]["status"] == 500 and recorded[-1]["fault_id"]


async def test_applied_then_connection_cut(http: httpx.AsyncClient) -> None:
    await fault(http, method="POST", path="/customers$", when="after", drop=True, count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        await http.post(URL, json=CUSTOMER)
    assert await customers(http) == 1
    recorded = (await http.get("/_control/calls", params={"method": "POST"})).json()["calls"]
    assert recorded[-1]["status"] is None


async def test_applied_then_answered_after_the_clients_timeout(http: httpx.AsyncClient) -> None:
    await fault(http, method="POST", path="/customers$", when="after", delay=1.0, count=1)
    with pytest.raises(httpx.ReadTimeout):
        await http.post(URL, json=CUSTOMER, timeout=0.3)
    assert await customers(http) == 1


async def test_answered_now_applied_late(http: httpx.AsyncClient) -> None:
    await fault(http, method="POST", path="/customers$", when="late", status=503, apply_after=0.5, count=1)
    assert (await http.post(URL, json=CUSTOMER)).status_code == 503
    assert await customers(http) == 0
    await asyncio.sleep(0.8)
    assert await customers(http) == 1


async def test_instead_drop_applies_nothing(http: httpx.AsyncClient) -> None:
    await fault(http, method="POST", path="/customers$", drop=True, count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        await http.post(URL, json=CUSTOMER)
    assert await customers(http) == 0


@pytest.mark.parametrize(
    "spec",
    [
        {"when": "sometime", "status": 500},
        {"when": "after", "status": 500, "apply_after": 1},
        {"when": "late", "apply_after": 1},
        {"drop": True, "status": 500},
    ],
)
async def test_invalid_write_fault_specs(http: httpx.AsyncClient, spec: dict[str, Any]) -> None:
    assert (await fault(http, **spec)).status_code == 400
