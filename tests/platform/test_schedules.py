"""Cron schedules over HTTP against the real dev server: each run is a job like one POSTed (row,
audit trail with its own correlation id, `job:{id}` workflow), run by the executor double on a
worker registered through the API; pause, resume, trigger, backfill, delete; tenants apart."""

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from core.temporal import cipher_from
from domain.platform.schedules import temporal_schedule_id
from store.sealed import open_text
from tests.platform.api_world import member, register, serve_executor
from tests.platform.harness import PATIENCE, Behaviour, Executors

SECRET = "s3cret-in-a-schedule"


# Temporal Schedules outlive a test's tables: those a test left are deleted after it.
pytestmark = pytest.mark.usefixtures("schedules_deleted")


async def jobs_of(api: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    return (await api.get("/api/platform/jobs?limit=200", headers=headers)).json()["items"]


async def until(check: Callable[[], Any]) -> Any:
    """Polls `check` (an async callable) until it returns something truthy."""
    async with asyncio.timeout(PATIENCE):
        while not (found := await check()):  # noqa: ASYNC110 (polls the API)
            await asyncio.sleep(0.2)
    return found


async def a_worker(api: httpx.AsyncClient, admin: dict[str, str], serving: Executors, temporal: Any) -> None:
    registered = await register(api, admin, slots=4)
    await serve_executor(serving, temporal, registered["worker_id"])


def body(**fields: Any) -> dict[str, Any]:
    return {
        "name": "tick",
        "command": ["echo", "tick"],
        "env": {"PLAIN": "1", "TOKEN": {"value": SECRET, "secret": True}},
        **fields,
    }


async def test_an_interval_schedule_runs_complete_jobs_and_pauses_triggers_deletes(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    serving: Executors,
    temporal: WorkflowEnvironment,
    settings: Settings,
) -> None:
    alice = await member(api, admin_headers, "alice")
    await a_worker(api, admin_headers, serving, temporal)
    headers = {**alice, "Idempotency-Key": "every-2s", "X-Correlation-ID": "create-schedule"}
    created = await api.post("/api/platform/schedules", json=body(interval_seconds=2), headers=headers)
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert SECRET not in created.text
    assert schedule["spec"]["env"]["TOKEN"] == {"secret": True}
    assert schedule["interval_seconds"] == 2 and schedule["paused"] is False and schedule["next_runs"]
    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        at_rest = conn.execute("SELECT spec::text, sealed_secrets FROM platform_schedules").fetchone()
    assert at_rest is not None and SECRET not in at_rest[0] and SECRET.encode() not in at_rest[1]
    replayed = await api.post("/api/platform/schedules", json=body(interval_seconds=2), headers=headers)
    assert replayed.status_code == 200 and replayed.json()["id"] == schedule["id"]

    # Nothing secret in what Temporal keeps (the Web UI shows the action's input decoded): ids.
    tenant_id = alice_tenant(settings)
    handle = temporal.client.get_schedule_handle(temporal_schedule_id(tenant_id, uuid.UUID(schedule["id"])))
    action = (await handle.describe()).schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    (decoded,) = await temporal.client.data_converter.decode(action.args)  # type: ignore[arg-type]
    assert decoded == {"schedule_id": schedule["id"], "tenant_id": str(tenant_id)}

    async def two_succeeded() -> list[dict[str, Any]]:
        done = [j for j in await jobs_of(api, alice) if j["status"] == "SUCCEEDED"]
        return done if len(done) >= 2 else []

    done = await until(two_succeeded)
    correlation_ids = set()
    cipher = cipher_from(settings)
    for job in done:
        full = (await api.get(f"/api/platform/jobs/{job['id']}", headers=alice)).json()
        assert [e["event"] for e in full["timeline"]] == [
            "JobCreated",
            "JobScheduled",
            "JobStarted",
            "JobCompleted",
        ]
        assert [e["seq"] for e in full["timeline"]] == [1, 2, 3, 4]
        (correlation,) = {e["correlation_id"] for e in full["timeline"]}
        assert correlation.startswith(f"schedule:{schedule['id']}-")
        correlation_ids.add(correlation)
        assert full["spec"]["env"] == {"PLAIN": "1", "TOKEN": {"secret": True}}
        assert full["spec"]["command"] == ["echo", "tick"]
        # Its own workflow, `job:{id}`, ran it.
        described = await temporal.client.get_workflow_handle(f"job:{job['id']}").describe()
        assert described.workflow_type == "PlatformJob"
        # The secret went with it, sealed to the job's own id, as for a POSTed job.
        with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
            (sealed,) = conn.execute(
                "SELECT sealed_secrets FROM platform_jobs WHERE id = %s", (job["id"],)
            ).fetchone()  # type: ignore[misc]
        assert json.loads(open_text(cipher, uuid.UUID(job["id"]), sealed)) == {"TOKEN": SECRET}
    assert len(correlation_ids) == len(done)

    described = (await api.get(f"/api/platform/schedules/{schedule['id']}", headers=alice)).json()
    assert described["runs"] >= 2 and described["correlation_id"] == "create-schedule"
    assert {j["id"] for j in done} <= {r["job_id"] for r in described["recent_runs"]}

    # Paused: no new runs.
    paused = await api.post(
        f"/api/platform/schedules/{schedule['id']}/pause", json={"note": "quiet"}, headers=alice
    )
    assert paused.status_code == 200 and paused.json()["paused"] is True and paused.json()["note"] == "quiet"
    await until(lambda: _all_ended(api, alice))
    before = len(await jobs_of(api, alice))
    await asyncio.sleep(5)  # more than two intervals
    assert len(await jobs_of(api, alice)) == before

    # Trigger now: one run at once, paused or not.
    triggered = await api.post(f"/api/platform/schedules/{schedule['id']}/trigger", headers=alice)
    assert triggered.status_code == 202, triggered.text

    async def one_more() -> bool:
        jobs = await jobs_of(api, alice)
        return len(jobs) == before + 1 and all(j["status"] == "SUCCEEDED" for j in jobs)

    await until(one_more)
    resumed = await api.post(f"/api/platform/schedules/{schedule['id']}/resume", headers=alice)
    assert resumed.status_code == 200 and resumed.json()["paused"] is False

    # Another tenant sees none of it.
    bob = await member(api, admin_headers, "bob")
    for method, path in [
        ("GET", ""),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("POST", "/trigger"),
        ("DELETE", ""),
    ]:
        response = await api.request(method, f"/api/platform/schedules/{schedule['id']}{path}", headers=bob)
        assert response.status_code == 404, (method, path, response.text)
    assert (await api.get("/api/platform/schedules", headers=bob)).json()["items"] == []
    listed = (await api.get("/api/platform/schedules", headers=alice)).json()["items"]
    assert [s["id"] for s in listed] == [schedule["id"]]

    # Deleted: gone from the API and from Temporal.
    assert (await api.delete(f"/api/platform/schedules/{schedule['id']}", headers=alice)).status_code == 204
    assert (await api.get(f"/api/platform/schedules/{schedule['id']}", headers=alice)).status_code == 404
    with pytest.raises(RPCError) as gone:
        await handle.describe()
    assert gone.value.status is RPCStatusCode.NOT_FOUND


def alice_tenant(settings: Settings) -> uuid.UUID:
    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        (tenant,) = conn.execute("SELECT id FROM tenants WHERE name = 'alice'").fetchone()  # type: ignore[misc]
    return tenant


async def _all_ended(api: httpx.AsyncClient, headers: dict[str, str]) -> bool:
    return all(j["status"] == "SUCCEEDED" for j in await jobs_of(api, headers))


async def test_a_run_lasts_as_long_as_its_job_so_overlap_skip_holds(
    api: httpx.AsyncClient, admin_headers: dict[str, str], serving: Executors, temporal: WorkflowEnvironment
) -> None:
    alice = await member(api, admin_headers, "alice")
    await a_worker(api, admin_headers, serving, temporal)
    serving.behaviour = lambda _: Behaviour(hang=True)
    created = await api.post("/api/platform/schedules", json=body(interval_seconds=1), headers=alice)
    schedule = created.json()
    await serving.until(lambda: len(serving.runs) == 1)

    async def skipped_two() -> bool:
        got = (await api.get(f"/api/platform/schedules/{schedule['id']}", headers=alice)).json()
        return got["skipped_overlap"] >= 2

    await until(skipped_two)
    (job,) = await jobs_of(api, alice)
    assert job["status"] == "RUNNING" and len(serving.runs) == 1
    running = (await api.get(f"/api/platform/schedules/{schedule['id']}", headers=alice)).json()[
        "running_jobs"
    ]
    assert running == [job["id"]]
    assert (await api.delete(f"/api/platform/schedules/{schedule['id']}", headers=alice)).status_code == 204
    # The job it started goes on, and is the API's to cancel.
    assert (await api.post(f"/api/platform/jobs/{job['id']}/cancel", headers=alice)).status_code == 200

    async def cancelled() -> bool:
        return (await api.get(f"/api/platform/jobs/{job['id']}", headers=alice)).json()[
            "status"
        ] == "CANCELLED"

    await until(cancelled)


@pytest.mark.parametrize("overlap", ["cancel_other", "terminate_other"])
async def test_a_run_that_replaces_a_running_one_cancels_its_job(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    serving: Executors,
    temporal: WorkflowEnvironment,
    overlap: str,
) -> None:
    alice = await member(api, admin_headers, "alice")
    await a_worker(api, admin_headers, serving, temporal)
    serving.behaviour = lambda _: Behaviour(hang=True)
    created = await api.post(
        "/api/platform/schedules", json=body(interval_seconds=3, overlap=overlap), headers=alice
    )
    schedule = created.json()

    async def replaced() -> list[dict[str, Any]]:
        jobs = await jobs_of(api, alice)
        return jobs if len(jobs) >= 2 and jobs[0]["status"] == "CANCELLED" else []

    first, second, *_ = await until(replaced)
    assert second["status"] in ("PENDING", "SCHEDULED", "RUNNING")
    # The first job's process was stopped (the double saw its cancel): with cancel_other before
    # the next run started (Temporal waits for the cancelled run to close, and the run for its
    # job); terminate_other ends the run at once and its job is cancelled meanwhile.
    ran = {r.job_id: r for r in serving.runs}
    first_run = ran[uuid.UUID(first["id"])]
    assert first_run.cancelled and first_run.ended is not None
    if overlap == "cancel_other":
        await serving.until(lambda: uuid.UUID(second["id"]) in {r.job_id for r in serving.runs})
        second_run = next(r for r in serving.runs if r.job_id == uuid.UUID(second["id"]))
        assert first_run.ended <= second_run.started
    timeline = (await api.get(f"/api/platform/jobs/{first['id']}", headers=alice)).json()["timeline"]
    assert [e["event"] for e in timeline][-1] == "JobCancelled"
    assert timeline[-1]["detail"] == "cancelled in Temporal"
    assert (await api.delete(f"/api/platform/schedules/{schedule['id']}", headers=alice)).status_code == 204
    for job in await jobs_of(api, alice):
        if job["status"] not in ("CANCELLED", "SUCCEEDED"):
            await api.post(f"/api/platform/jobs/{job['id']}/cancel", headers=alice)


async def test_backfill_runs_a_job_for_every_time_in_the_range(
    api: httpx.AsyncClient, admin_headers: dict[str, str], serving: Executors, temporal: WorkflowEnvironment
) -> None:
    alice = await member(api, admin_headers, "alice")
    await a_worker(api, admin_headers, serving, temporal)
    created = await api.post(
        "/api/platform/schedules",
        # Paused (backfills run all the same): a run of its own, on the hour, would be a fourth job.
        json=body(cron="0 * * * *", timezone="Europe/Berlin", paused=True),
        headers=alice,
    )
    assert created.status_code == 201, created.text
    schedule = created.json()
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    # Three whole hours in the range: three runs.
    span = {
        "start_at": (hour - timedelta(hours=3, minutes=30)).isoformat(),
        "end_at": (hour - timedelta(minutes=30)).isoformat(),
    }
    backfilled = await api.post(
        f"/api/platform/schedules/{schedule['id']}/backfill",
        json={**span, "overlap": "allow_all"},
        headers=alice,
    )
    assert backfilled.status_code == 202, backfilled.text

    async def three_succeeded() -> bool:
        jobs = await jobs_of(api, alice)
        return len(jobs) == 3 and all(j["status"] == "SUCCEEDED" for j in jobs)

    await until(three_succeeded)
    backwards = await api.post(
        f"/api/platform/schedules/{schedule['id']}/backfill",
        json={"start_at": span["end_at"], "end_at": span["start_at"]},
        headers=alice,
    )
    assert backwards.status_code == 422


async def test_every_cron_form_taken_is_one_temporal_runs(
    api: httpx.AsyncClient, admin_headers: dict[str, str], temporal: WorkflowEnvironment
) -> None:
    alice = await member(api, admin_headers, "alice")
    for cron in ["@daily", "@HOURLY", "*/15 0-6/2 1,15 JAN-MAR sun", "0 9 * * MON-FRI", "59 23 31 12 6"]:
        created = await api.post(
            "/api/platform/schedules",
            json=body(cron=cron, timezone="America/New_York", paused=True),
            headers=alice,
        )
        assert created.status_code == 201, created.text
        assert created.json()["paused"] is True and len(created.json()["next_runs"]) > 0, cron


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * *"}, "cron"),
        ({"cron": "* * * * * *"}, "cron"),
        ({"cron": "0 9 * * MON-FRI", "timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"cron": "0 9 * * *", "timezone": "../../etc/passwd"}, "timezone"),
        ({"cron": "0 9 * * *", "interval_seconds": 60}, "interval_seconds"),
        ({}, "interval_seconds"),
        ({"interval_seconds": 0}, "interval_seconds"),
        ({"interval_seconds": 10 * 366 * 24 * 3600}, "interval_seconds"),
        ({"interval_seconds": 60, "overlap": "sometimes"}, "overlap"),
        ({"interval_seconds": 60, "catchup_window_seconds": 1}, "catchup_window_seconds"),
        ({"interval_seconds": 60, "command": []}, "command"),
    ],
)
async def test_bad_schedule_input_is_422_with_its_field(
    api: httpx.AsyncClient, admin_headers: dict[str, str], fields: dict[str, Any], field: str
) -> None:
    alice = await member(api, admin_headers, "alice")
    response = await api.post(
        "/api/platform/schedules", json={"name": "x", "command": ["true"], **fields}, headers=alice
    )
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert (await api.get("/api/platform/schedules", headers=alice)).json()["items"] == []
