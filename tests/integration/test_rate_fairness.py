"""Rate-limited tenants share the workers fairly: one receiver's burst does not delay another's
bookings, and waiting for a rate-limit slot never sends a routing to needs_attention."""

import asyncio
import statistics
import time
from collections import Counter

import httpx
import psycopg

from core.settings import Settings
from tests.integration import routing_world as world
from tests.integration.test_routing_resilience import StartWorker, _statuses, patient_api, start_worker

__all__ = ["patient_api", "start_worker"]  # fixtures shared with the resilience tests

FAN_OUT_ONE = {"kind": "fan_out", "fan_out_count": 1}


async def _booking_latency(
    api: httpx.AsyncClient, referrer: world.Company, receiver: world.Receiver, n: int
) -> float:
    started = time.monotonic()
    created = await api.post("/api/routing/jobs", json=world.job_body(n), headers=referrer.headers)
    assert created.status_code == 202, created.text
    [routing] = await world.routings_of(api, referrer.headers, created.json()["id"])
    await world.routing_in(api, receiver.headers, routing["id"], {"synced"}, wait=60)
    return time.monotonic() - started


async def test_a_burst_of_one_receiver_does_not_delay_anothers_bookings(
    patient_api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str, start_worker: StartWorker
):
    api = patient_api
    bursting_referrer = await world.company(api, admin_headers, "Bursting referrer", FAN_OUT_ONE)
    bursting = await world.receiver(
        api, admin_headers, emulator, "Bursting", referrer=bursting_referrer, rate_limit_per_second=5
    )
    quiet_referrer = await world.company(api, admin_headers, "Quiet referrer", FAN_OUT_ONE)
    quiet = await world.receiver(
        api, admin_headers, emulator, "Quiet", referrer=quiet_referrer, rate_limit_per_second=5
    )
    start_worker()
    await _booking_latency(api, quiet_referrer, quiet, 0)  # warm-up: worker caches, first token
    # Medians of five: one booking's latency on two busy cores is noisy.
    alone = statistics.median([await _booking_latency(api, quiet_referrer, quiet, n) for n in range(1, 6)])

    burst = await asyncio.gather(
        *(
            api.post("/api/routing/jobs", json=world.job_body(100 + n), headers=bursting_referrer.headers)
            for n in range(200)
        )
    )
    assert {r.status_code for r in burst} == {202}
    await asyncio.sleep(3.0)  # the burst's provider calls now queue behind its rate
    busy = statistics.median([await _booking_latency(api, quiet_referrer, quiet, n) for n in range(6, 11)])
    synced_in_burst = (await world.emulator_state(emulator, bursting.st_tenant))["bookings"]
    print(f"quiet receiver: {alone:.2f}s alone, {busy:.2f}s behind a 200-job burst")
    assert len(synced_in_burst) < 150  # the burst was still queued while the quiet one booked
    assert busy <= 2 * alone, (alone, busy)


async def test_600_routings_against_a_rate_limited_provider_all_sync(
    patient_api: httpx.AsyncClient,
    admin_headers: world.Headers,
    emulator: str,
    settings: Settings,
    start_worker: StartWorker,
):
    api = patient_api
    jobs = 600
    referrer = await world.company(api, admin_headers, "Referrer", FAN_OUT_ONE)
    for i in range(2):
        await world.receiver(
            api, admin_headers, emulator, f"Receiver {i}", referrer=referrer, rate_limit_per_second=60
        )
    start_worker()
    started = time.monotonic()
    for first in range(0, jobs, 100):
        created = await asyncio.gather(
            *(
                api.post("/api/routing/jobs", json=world.job_body(n), headers=referrer.headers)
                for n in range(first, first + 100)
            )
        )
        assert {r.status_code for r in created} == {202}

    async def settled() -> Counter[str] | None:
        statuses = _statuses(settings)
        return statuses if statuses["synced"] + statuses["needs_attention"] >= jobs else None

    statuses = await world.eventually(settled, 300, f"{jobs} routings settled")
    print(f"{jobs} routings settled in {time.monotonic() - started:.1f}s: {dict(statuses)}")
    assert statuses == Counter({"synced": jobs}), statuses
    with psycopg.connect(settings.database_url) as conn:
        query = "SELECT count(*) FROM routing_events WHERE error LIKE '%at its rate%'"
        [deferred] = conn.execute(query).fetchone() or [0]
    assert deferred, "the rate limit never deferred a call: the test proved nothing"
