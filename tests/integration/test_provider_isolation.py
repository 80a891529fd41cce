"""One company cannot borrow another's ServiceTitan credentials or starve its rate limit by typing
the other's tenant id and client id into its own connection."""

import asyncio
import time

import httpx
import pytest

from tests.integration import routing_world as world

pytestmark = pytest.mark.usefixtures("routing_worker")


async def _routing(api: httpx.AsyncClient, referrer: world.Company, n: int) -> str:
    created = await api.post("/api/routing/jobs", json=world.job_body(n), headers=referrer.headers)
    assert created.status_code == 202, created.text
    [routing] = await world.routings_of(api, referrer.headers, created.json()["id"])
    return routing["id"]


async def test_a_company_naming_anothers_client_id_gets_no_token_of_theirs(
    api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str
):
    one = {"kind": "fan_out", "fan_out_count": 1}
    victim_referrer = await world.company(api, admin_headers, "Victim's partner", one)
    victim = await world.receiver(api, admin_headers, emulator, "Victim", referrer=victim_referrer)
    # The victim books a job: its token is now cached in the worker process.
    await world.routing_in(api, victim.headers, await _routing(api, victim_referrer, 1), {"synced"})

    # The intruder knows the victim's tenant id and client id (neither is a secret), not the secret.
    intruder_referrer = await world.company(api, admin_headers, "Intruder's partner", one)
    intruder = await world.receiver(api, admin_headers, emulator, "Intruder", referrer=intruder_referrer)
    put = await api.put(
        "/api/routing/connection",
        json={
            "provider": "servicetitan",
            "tenant_id": victim.st_tenant,
            "client_id": victim.client_id,
            "client_secret": "anything",
            "booking_provider_id": "77",
        },
        headers=intruder.headers,
    )
    assert put.status_code == 200, put.text
    stolen = await _routing(api, intruder_referrer, 2)
    stuck = await world.routing_in(api, intruder.headers, stolen, {"needs_attention", "synced"})
    assert (stuck["status"], stuck["failed_step"]) == ("needs_attention", "customer"), stuck
    bookings = (await world.emulator_state(emulator, victim.st_tenant))["bookings"]
    assert len(bookings) == 1 and bookings[0]["externalId"] != stolen


async def test_a_company_naming_anothers_tenant_cannot_lower_its_rate(
    api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str
):
    one = {"kind": "fan_out", "fan_out_count": 1}
    victim_referrer = await world.company(api, admin_headers, "Victim's partner", one)
    victim = await world.receiver(api, admin_headers, emulator, "Victim", referrer=victim_referrer)
    # Another company with the same tenant (here with its credentials too) at the slowest rate.
    slow_referrer = await world.company(api, admin_headers, "Slow partner", one)
    slow = await world.receiver(api, admin_headers, emulator, "Slow", referrer=slow_referrer)
    put = await api.put(
        "/api/routing/connection",
        json={
            "provider": "servicetitan",
            "tenant_id": victim.st_tenant,
            "client_id": victim.client_id,
            "client_secret": victim.secret,
            "booking_provider_id": "77",
            "rate_limit_per_second": 0.1,
        },
        headers=slow.headers,
    )
    assert put.status_code == 200, put.text
    for n in range(3):
        await _routing(api, slow_referrer, 10 + n)
    await asyncio.sleep(1.0)  # the slow company's calls have taken their slots

    started = time.monotonic()
    await world.routing_in(api, victim.headers, await _routing(api, victim_referrer, 20), {"synced"})
    # Booked at the victim's own pace; at the slow company's, it would wait minutes.
    assert time.monotonic() - started < 5.0
