"""The routing operations views (/api/routing/ops/*) against the real stack: a job booked into
the ServiceTitan emulator by the in-process routing worker, then each view checked."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.routing.status import RoutingStatus
from tests.conftest import api_client, free_port
from tests.integration import routing_world as world

OPS = "/api/routing/ops"
VIEWS = ("status-counts", "rate-limits", "task-queues", "provider-health")
IDLE_PROFILE = {**world.PROFILE, "trades": ["roofing"]}  # never a candidate for the plumbing jobs


def by_company(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["company_id"]: row for row in rows}


async def get(api: httpx.AsyncClient, view: str, headers: world.Headers, **params: Any) -> Any:
    response = await api.get(f"{OPS}/{view}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.usefixtures("routing_worker")
async def test_ops_views_after_a_booked_job(
    api: httpx.AsyncClient,
    admin_headers: world.Headers,
    emulator: str,
    settings: Settings,
    temporal: WorkflowEnvironment,
):
    referrer = await world.company(api, admin_headers, "Referrer", {"kind": "fan_out", "fan_out_count": 1})
    receiver = await world.receiver(
        api, admin_headers, emulator, "Receiver", referrer=referrer, rate_limit_per_second=4
    )
    idle = await world.receiver(api, admin_headers, emulator, "Idle", referrer=referrer, profile=IDLE_PROFILE)
    created = await api.post("/api/routing/jobs", json=world.job_body(41), headers=referrer.headers)
    assert created.status_code == 202, created.text
    [summary] = await world.routings_of(api, referrer.headers, created.json()["id"])
    assert summary["receiver_id"] == receiver.id
    await world.routing_in(api, receiver.headers, summary["id"], {"synced"})

    # -- status counts: every status listed, the one routing counted once, the filter applied.
    expected = {status.value: 0 for status in RoutingStatus} | {"synced": 1}
    assert await get(api, "status-counts", admin_headers) == {"total": 1, "by_status": expected}
    mine = await get(api, "status-counts", admin_headers, receiver_id=receiver.id)
    assert mine == {"total": 1, "by_status": expected}
    none = await get(api, "status-counts", admin_headers, receiver_id=idle.id)
    assert none == {"total": 0, "by_status": {status.value: 0 for status in RoutingStatus}}
    bad = await api.get(f"{OPS}/status-counts", headers=admin_headers, params={"receiver_id": "nope"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"

    # -- rate limits: every API call to the tenant went through the limiter before being sent,
    # so the limiter's total is at least what the emulator has received by now.
    sent = await world.calls(emulator, path=rf"/tenant/{receiver.st_tenant}/")
    assert len(sent) >= 2  # at least the customer and the booking
    limits = by_company(await get(api, "rate-limits", admin_headers))
    assert set(limits) == {receiver.id, idle.id}
    busy = limits[receiver.id]
    assert busy["provider"] == "servicetitan" and busy["st_tenant_id"] == receiver.st_tenant
    assert busy["configured_per_second"] == 4.0
    assert busy["total_requests"] >= len(sent) > 0
    assert 1 <= busy["observed_peak_per_second"] <= busy["configured_per_second"]
    assert 0 <= busy["observed_current_second"] <= busy["observed_peak_per_second"]
    assert 0 <= busy["backlog_seconds"] <= 30
    # A connection never called has no limiter row: the left join answers zeros, not nothing.
    assert limits[idle.id] == {
        "company_id": idle.id,
        "provider": "servicetitan",
        "st_tenant_id": idle.st_tenant,
        "configured_per_second": settings.routing_rate_limit_per_second,
        "observed_peak_per_second": 0,
        "observed_current_second": 0,
        "total_requests": 0,
        "backlog_seconds": 0.0,
    }

    # -- task queues: the in-process worker polls both kinds of task on the routing queue.
    queues = await get(api, "task-queues", admin_headers)
    assert queues["task_queue"] == "routing"
    for kind in ("workflow", "activity"):
        queue = queues[kind]
        assert queue["backlog_count"] >= 0 and queue["backlog_age_seconds"] >= 0
        ours = [p for p in queue["pollers"] if p["identity"] == temporal.client.identity]
        assert ours, f"no {kind} poller from the test worker in {queue['pollers']}"
        seen = max(datetime.fromisoformat(p["last_access_time"]) for p in ours)
        assert datetime.now(UTC) - seen < timedelta(minutes=2)

    # -- provider health: both connections get a token...
    health = await api.get(f"{OPS}/provider-health", headers=admin_headers)
    assert health.status_code == 200, health.text
    rows = by_company(health.json())
    assert set(rows) == {receiver.id, idle.id}
    assert rows[receiver.id] == {
        "company_id": receiver.id,
        "st_tenant_id": receiver.st_tenant,
        "ok": True,
        "latency_ms": rows[receiver.id]["latency_ms"],
    }
    assert 0 < rows[receiver.id]["latency_ms"] < 5000
    assert rows[idle.id]["ok"] is True
    assert receiver.secret not in health.text and idle.secret not in health.text

    # ...until the receiver's secret is wrong: then not ok, with the provider's reason.
    connection = (await api.get("/api/routing/connection", headers=receiver.headers)).json()
    wrong = {k: connection[k] for k in ("provider", "tenant_id", "client_id", "booking_provider_id")}
    put = await api.put(
        "/api/routing/connection", json={**wrong, "client_secret": "wrong-secret"}, headers=receiver.headers
    )
    assert put.status_code == 200, put.text
    health = await api.get(f"{OPS}/provider-health", headers=admin_headers)
    rows = by_company(health.json())
    assert rows[receiver.id]["ok"] is False
    assert "invalid_client" in rows[receiver.id]["reason"]
    assert rows[idle.id]["ok"] is True and "reason" not in rows[idle.id]
    assert "wrong-secret" not in health.text and idle.secret not in health.text

    # -- admin only: a company key is refused, no key is unauthenticated.
    for view in VIEWS:
        refused = await api.get(f"{OPS}/{view}", headers=receiver.headers)
        assert refused.status_code == 403, (view, refused.text)
        assert refused.json()["detail"] == "This endpoint requires an admin key."
        anonymous = await api.get(f"{OPS}/{view}")
        assert anonymous.status_code == 401, (view, anonymous.text)


async def test_provider_health_bounds_each_probe_and_runs_them_together(
    api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str
):
    referrer = await world.company(api, admin_headers, "Referrer")
    first = await world.receiver(api, admin_headers, emulator, "First", referrer=referrer)
    second = await world.receiver(api, admin_headers, emulator, "Second", referrer=referrer)
    # The next token request hangs for 8 s; the other one is answered at once.
    hang = await world.fault(emulator, method="POST", path=r"/connect/token$", delay=8, count=1)
    try:
        started = time.monotonic()
        health = await api.get(f"{OPS}/provider-health", headers=admin_headers)
        elapsed = time.monotonic() - started
    finally:
        async with httpx.AsyncClient() as http:
            await http.delete(f"{emulator}/_control/faults/{hang['id']}")
    assert health.status_code == 200, health.text
    rows = by_company(health.json())
    assert set(rows) == {first.id, second.id}
    slow = [row for row in rows.values() if not row["ok"]]
    fast = [row for row in rows.values() if row["ok"]]
    assert len(slow) == 1 and len(fast) == 1, rows
    assert "within 5 s" in slow[0]["reason"]
    assert 4900 <= slow[0]["latency_ms"] < 7000
    assert fast[0]["latency_ms"] < 4000
    assert elapsed < 7.0  # concurrent, and not waiting for the hung request


async def test_task_queues_names_temporal_when_it_is_unreachable(
    settings: Settings, clean_db: None, admin_headers: world.Headers
):
    nowhere = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async for api in api_client(nowhere):
        response = await api.get(f"{OPS}/task-queues", headers=admin_headers)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["status"] == 503 and "Temporal" in body["title"]
        # The database views do not need Temporal.
        assert (await api.get(f"{OPS}/status-counts", headers=admin_headers)).status_code == 200
