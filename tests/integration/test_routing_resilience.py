"""Routing under failure and load, with workers as real processes (`python worker.py`):
provider faults, workers killed with SIGKILL mid-run, and two workers sharing one rate limit."""

import asyncio
import re
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.dependencies import Dependencies
from cli import postgres
from core.settings import Settings
from registry import task_queues
from tests.conftest import api_client, free_port, start_migrated_postgres, terminate_routings
from tests.integration import routing_world as world
from tests.worker_process import StartWorker, worker_processes
from worker import build_workers


@pytest.fixture
def start_worker(settings: Settings, temporal: WorkflowEnvironment, tmp_path: Path) -> Iterator[StartWorker]:
    with worker_processes(settings, tmp_path, "routing") as start:
        yield start


@pytest.fixture
async def patient_api(
    settings: Settings, temporal: WorkflowEnvironment, clean_db: None
) -> AsyncIterator[httpx.AsyncClient]:
    """Jobs created here retry provider faults many times and follow their booking rarely, so the
    run measures booking under faults, not follow-up traffic."""
    patient = settings.model_copy(
        update={"routing_max_attempts": 30, "routing_follow_interval_seconds": 3600}
    )
    async for client in api_client(patient):
        yield client
    await terminate_routings(temporal.client)


def _statuses(settings: Settings) -> Counter[str]:
    with psycopg.connect(settings.database_url) as conn:
        return Counter(dict(conn.execute("SELECT status, count(*) FROM routings GROUP BY status").fetchall()))


async def _wait_until_synced(settings: Settings, count: int, wait: float) -> Counter[str]:
    async def check() -> Counter[str] | None:
        statuses = _statuses(settings)
        return statuses if statuses["synced"] >= count else None

    return await world.eventually(check, wait, f"{count} synced routings")


async def test_200_jobs_with_faults_and_two_sigkills_book_each_routing_exactly_once(
    patient_api: httpx.AsyncClient,
    admin_headers: world.Headers,
    emulator: str,
    settings: Settings,
    start_worker: StartWorker,
):
    api = patient_api
    jobs = 200
    referrer = await world.company(api, admin_headers, "Referrer", {"kind": "fan_out", "fan_out_count": 1})
    receivers = [
        await world.receiver(
            api, admin_headers, emulator, f"Receiver {i}", referrer=referrer, rate_limit_per_second=60
        )
        for i in range(2)
    ]
    # About one API call in five fails: throttled with Retry-After, or a server error.
    await world.fault(
        emulator, path=r"^/api/", status=429, retry_after=1, probability=0.1, seed=1, count=100_000
    )
    await world.fault(emulator, path=r"^/api/", status=503, probability=0.11, seed=2, count=100_000)

    worker = start_worker()
    created = await asyncio.gather(
        *(
            api.post(
                "/api/routing/jobs",
                json=world.job_body(n),
                headers={**referrer.headers, "Idempotency-Key": f"j{n}"},
            )
            for n in range(jobs)
        )
    )
    assert {r.status_code for r in created} == {202}

    for survivors in (30, 100):
        await _wait_until_synced(settings, survivors, wait=120)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker = start_worker()

    started = time.monotonic()
    statuses = await _wait_until_synced(settings, jobs, wait=240)
    assert statuses == Counter({"synced": jobs}), statuses
    print(f"last {jobs - 100} routings synced in {time.monotonic() - started:.1f}s after the second kill")

    faults = await world.calls(emulator, status=429) + await world.calls(emulator, status=503)
    assert len(faults) > 50  # the faults really fired
    with psycopg.connect(settings.database_url) as conn:
        routing_ids = {str(r[0]) for r in conn.execute("SELECT id FROM routings")}
    bookings, customers = [], []
    for receiver in receivers:
        state = await world.emulator_state(emulator, receiver.st_tenant)
        bookings += [b["externalId"] for b in state["bookings"]]
        customers += [c["name"] for c in state["customers"]]
    assert sorted(bookings) == sorted(routing_ids)  # exactly one booking per routing
    assert len(customers) == len(set(customers)) == jobs  # one customer per homeowner


async def test_two_worker_processes_stay_under_the_tenant_rate(
    patient_api: httpx.AsyncClient,
    admin_headers: world.Headers,
    emulator: str,
    settings: Settings,
    start_worker: StartWorker,
):
    api = patient_api
    referrer = await world.company(api, admin_headers, "Referrer", {"kind": "fan_out", "fan_out_count": 1})
    receiver = await world.receiver(
        api, admin_headers, emulator, "Receiver", referrer=referrer, rate_limit_per_second=10
    )
    metrics_port = free_port()
    start_worker(metrics_port), start_worker()
    jobs = 24
    await asyncio.gather(
        *(
            api.post("/api/routing/jobs", json=world.job_body(n), headers=referrer.headers)
            for n in range(jobs)
        )
    )
    await _wait_until_synced(settings, jobs, wait=120)
    stats = await world.emulator_stats(emulator, receiver.st_tenant)
    # ~4 calls per routing: spread over both workers, yet never more than 10 in any one second.
    assert stats["requests"] >= 4 * jobs
    assert stats["max_per_second"] <= 10, stats
    assert stats["rate_limited"] == 0
    # Our metrics sit next to the SDK's on the worker's Prometheus endpoint.
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    assert "tempoline_routing_transitions_total{" in metrics and 'status="synced"' in metrics
    assert "temporal_activity_execution_latency" in metrics
    # Prometheus conventions: seconds with sub-second buckets, counters ending in _total.
    assert re.search(r'tempoline_rate_limit_wait_seconds_bucket\{[^}]*le="0.005"', metrics), metrics
    assert "tempoline_provider_calls_total{" in metrics and 'status_class="2xx"' in metrics


async def test_a_database_restart_loses_no_job(
    settings: Settings, temporal: WorkflowEnvironment, emulator: str, tmp_path: Path
):
    # Neither the API nor the worker pings pooled connections before use: after a restart the
    # API answers one retryable 503, and the worker's store calls fail once and are retried.
    port, process = start_migrated_postgres(tmp_path)
    own = settings.model_copy(update={"database_url": postgres.url(port, "tempoline")})
    admin = {"Authorization": f"Bearer {settings.admin_api_key}"}
    fan_out = {"kind": "fan_out", "fan_out_count": 1}
    try:
        async with Dependencies.open(own) as deps, AsyncExitStack() as running:
            for worker in build_workers(temporal.client, task_queues(deps, ["routing"])):
                await running.enter_async_context(worker)
            async for api in api_client(own):
                referrer = await world.company(api, admin, "Referrer", fan_out)
                receiver = await world.receiver(api, admin, emulator, "Receiver", referrer=referrer)
                first = await _synced_job(api, referrer, receiver, 1)
                postgres.stop(process)
                process = postgres.start(tmp_path / "data", port, tmp_path / "postgres.log")
                postgres.wait_ready(port, process)
                second = await _synced_job(api, referrer, receiver, 2)
                bookings = (await world.emulator_state(emulator, receiver.st_tenant))["bookings"]
                assert sorted(b["externalId"] for b in bookings) == sorted([first, second])
            await terminate_routings(temporal.client)
    finally:
        postgres.stop(process)


async def _synced_job(
    api: httpx.AsyncClient, referrer: world.Company, receiver: world.Receiver, n: int
) -> str:
    """Creates job n as a client does (a 503 is retried with the same key); its synced routing."""
    headers = {**referrer.headers, "Idempotency-Key": f"job-{n}"}
    created = await api.post("/api/routing/jobs", json=world.job_body(n), headers=headers)
    if created.status_code == 503:
        created = await api.post("/api/routing/jobs", json=world.job_body(n), headers=headers)
    assert created.status_code == 202, created.text
    [routing] = await world.routings_of(api, referrer.headers, created.json()["id"])
    await world.routing_in(api, receiver.headers, routing["id"], {"synced"})
    return routing["id"]
