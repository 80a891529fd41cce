"""The platform API over HTTP (the app in-process, the real store and Temporal), with a job
workflow worker on the real `platform` queue and an executor double on the worker's queue."""

import asyncio

import httpx
import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from tests.platform.api_world import member, register, serve_executor, status_of
from tests.platform.harness import PATIENCE, Behaviour, Executors


async def test_a_job_over_http_with_a_registered_executor(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    serving: Executors,
    temporal: WorkflowEnvironment,
    settings: Settings,
) -> None:
    alice = await member(api, admin_headers, "alice")
    body = {
        "name": "hello",
        "command": ["echo", "hi"],
        "env": {"PLAIN": "1", "TOKEN": {"value": "s3cret-value", "secret": True}},
        "labels": {"team": "ops"},
    }
    headers = {**alice, "Idempotency-Key": "k1", "X-Correlation-ID": "corr-123"}
    created = await api.post("/api/platform/jobs", json=body, headers=headers)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["status"] == "PENDING" and job["correlation_id"] == "corr-123"
    assert "s3cret-value" not in created.text
    again = await api.post("/api/platform/jobs", json=body, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == job["id"]
    # The first answer was made from the row as written, not read back: it says what the
    # stored job says (the replay reads it), but what the workflow has changed since.
    stored = again.json()
    assert {k: v for k, v in job.items() if k != "wait_reason"} == {
        k: v for k, v in stored.items() if k != "wait_reason"
    }
    # Waiting with its reason, until a worker registers.
    async with asyncio.timeout(PATIENCE):
        while (await api.get(f"/api/platform/jobs/{job['id']}", headers=alice)).json()["wait_reason"] is None:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    waiting = (await api.get(f"/api/platform/jobs/{job['id']}", headers=alice)).json()
    assert waiting["wait_reason"] == "waiting for a worker of type default: none registered"

    registered = await register(api, admin_headers)
    worker_key = {"Authorization": f"Bearer {registered['api_key']}"}
    serving.behaviour = lambda _: Behaviour(seconds=1.0)
    await serve_executor(serving, temporal, registered["worker_id"])
    # The double runs; meanwhile the executor's endpoints work for the attempt it holds.
    await serving.until(lambda: len(serving.runs) == 1)
    spec = await api.get(f"/api/platform/executor/attempts/{job['id']}/1", headers=worker_key)
    assert spec.status_code == 200, spec.text
    assert spec.json()["env"] == {"PLAIN": "1", "TOKEN": "s3cret-value"}
    assert spec.json()["command"] == ["echo", "hi"]
    chunks = {"chunks": [{"seq": 0, "stream": "stdout", "data": "hi\n", "at": "2026-01-01T00:00:00Z"}]}
    for _ in range(2):  # a resent batch stores nothing twice
        shipped = await api.post(
            f"/api/platform/executor/attempts/{job['id']}/1/logs", json=chunks, headers=worker_key
        )
        assert shipped.status_code == 204, shipped.text
    # The start reported (again: idempotent), beside the double's own signal: one JobStarted.
    started_path = f"/api/platform/executor/attempts/{job['id']}/1/started"
    for _ in range(2):
        started = await api.post(started_path, json={"pid": 4242}, headers=worker_key)
        assert started.status_code == 204, started.text
    assert (await api.post(started_path, json={"pid": 0}, headers=worker_key)).status_code == 422
    # A member's key cannot use executor endpoints, nor the executor's key member ones.
    assert (await api.get(f"/api/platform/executor/attempts/{job['id']}/1", headers=alice)).status_code == 401
    assert (await api.get("/api/platform/jobs", headers=worker_key)).status_code == 401

    async with asyncio.timeout(PATIENCE):
        while await status_of(api, job["id"], alice) != "SUCCEEDED":  # noqa: ASYNC110 (polls)
            await asyncio.sleep(0.1)
    done = (await api.get(f"/api/platform/jobs/{job['id']}", headers=alice)).json()
    assert [e["event"] for e in done["timeline"]] == [
        "JobCreated",
        "JobScheduled",
        "JobStarted",
        "JobCompleted",
    ]
    assert [e["seq"] for e in done["timeline"]] == [1, 2, 3, 4]
    assert {e["correlation_id"] for e in done["timeline"]} == {"corr-123"}
    assert done["spec"]["env"] == {"PLAIN": "1", "TOKEN": {"secret": True}}
    assert done["attempts"][0]["worker_id"] == registered["worker_id"]
    logs = (await api.get(f"/api/platform/jobs/{job['id']}/logs", headers=alice)).json()
    assert [c["data"] for c in logs["items"]] == ["hi\n"]
    # The attempt has ended: the executor's calls for it are fenced.
    fenced = await api.post(
        f"/api/platform/executor/attempts/{job['id']}/1/logs", json=chunks, headers=worker_key
    )
    assert fenced.status_code == 409
    assert (await api.post(started_path, json={"pid": 4242}, headers=worker_key)).status_code == 409
    # Tenant B does not see tenant A's job.
    bob = await member(api, admin_headers, "bob")
    assert (await api.get(f"/api/platform/jobs/{job['id']}", headers=bob)).status_code == 404
    assert (await api.get("/api/platform/jobs", headers=bob)).json()["items"] == []
    listed = await api.get("/api/platform/jobs?status=SUCCEEDED&label=team=ops", headers=alice)
    assert [j["id"] for j in listed.json()["items"]] == [job["id"]]
    # The secret is ciphertext at rest.
    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        stored = conn.execute("SELECT spec::text, sealed_secrets FROM platform_jobs").fetchone()
    assert stored is not None and "s3cret-value" not in stored[0] and b"s3cret-value" not in stored[1]
    # Nor in what Temporal keeps: the workflow's input holds ids and timings, decoded or not.
    history = await temporal.client.get_workflow_handle(f"job:{job['id']}").fetch_history()
    assert "s3cret-value" not in history.to_json()
    inputs = history.events[0].workflow_execution_started_event_attributes.input.payloads
    decoded = await temporal.client.data_converter.payload_codec.decode(inputs)  # type: ignore[union-attr]
    assert b"s3cret-value" not in b"".join(p.data for p in decoded) and job["id"].encode() in decoded[0].data
    # What the fuzzer found: a number taken for a date; ids no column holds reaching the database.
    assert (await api.get("/api/platform/jobs?created_before=0.5", headers=alice)).status_code == 422
    since = await api.get("/api/platform/jobs?created_after=2026-01-01T00:00:00Z", headers=alice)
    assert [j["id"] for j in since.json()["items"]] == [job["id"]]
    logs_path = f"/api/platform/jobs/{job['id']}/logs"
    assert (await api.get(f"{logs_path}?attempt=99999999999", headers=alice)).status_code == 422
    followed = await api.get(f"{logs_path}?follow=true", headers={**alice, "Last-Event-ID": "99999999999.1"})
    assert followed.status_code == 200 and "data: hi" in followed.text


async def test_bootstrap_tokens_are_single_use_and_expire(
    api: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    token = (await api.post("/api/platform/tokens", json={"ttl_seconds": 600}, headers=admin_headers)).json()
    body = {
        "bootstrap_token": token["token"],
        "worker_type": "default",
        "slots": 1,
        "cpu_millis": 1,
        "memory_mb": 1,
        "hostname": "h",
    }
    assert (await api.post("/api/platform/workers/register", json=body)).status_code == 201
    reused = await api.post("/api/platform/workers/register", json=body)
    assert reused.status_code == 410 and "already used" in reused.json()["detail"]
    unknown = await api.post("/api/platform/workers/register", json={**body, "bootstrap_token": "tlb_nope"})
    assert unknown.status_code == 401
    other = (await api.post("/api/platform/tokens", json={"ttl_seconds": 600}, headers=admin_headers)).json()
    assert (
        await api.post(f"/api/platform/tokens/{other['id']}/revoke", headers=admin_headers)
    ).status_code == 200
    revoked = await api.post(
        "/api/platform/workers/register", json={**body, "bootstrap_token": other["token"]}
    )
    assert revoked.status_code == 410 and "revoked" in revoked.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "command": []}, "command"),
        ({"name": "x", "command": ["a"], "script": "b"}, "body"),
        ({"name": "x", "command": ["a"], "priority": 12}, "priority"),
        ({"name": "x", "command": ["a"], "strategy": "nope"}, "strategy"),
        ({"name": "x", "command": ["a"], "concurrency": {"key": "k", "limit": 0}}, "concurrency.limit"),
        ({"name": "x", "command": ["a"], "run_timeout_seconds": -1}, "run_timeout_seconds"),
    ],
)
async def test_bad_job_input_is_422_with_its_field(
    api: httpx.AsyncClient, admin_headers: dict[str, str], body: dict[str, object], field: str
) -> None:
    alice = await member(api, admin_headers, "alice")
    response = await api.post("/api/platform/jobs", json=body, headers=alice)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_a_tenants_default_strategy_applies_to_its_jobs_that_name_none(
    api: httpx.AsyncClient, admin_headers: dict[str, str], serving: Executors
) -> None:
    alice, bob = await member(api, admin_headers, "alice"), await member(api, admin_headers, "bob")
    path = "/api/platform/settings"
    assert (await api.get(path, headers=alice)).json() == {"default_strategy": "least-loaded"}
    put = await api.put(path, json={"default_strategy": "bin-packing"}, headers=alice)
    assert put.status_code == 200, put.text
    assert (await api.get(path, headers=alice)).json() == {"default_strategy": "bin-packing"}
    bad = await api.put(path, json={"default_strategy": "random"}, headers=alice)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "default_strategy"

    async def strategy(headers: dict[str, str], **spec: object) -> str:
        body = {"name": "s", "command": ["true"], **spec}
        created = await api.post("/api/platform/jobs", json=body, headers=headers)
        assert created.status_code == 201, created.text
        job = await api.get(f"/api/platform/jobs/{created.json()['id']}", headers=headers)
        return job.json()["strategy"]

    assert await strategy(alice) == "bin-packing"
    assert await strategy(alice, strategy="round-robin") == "round-robin"
    assert await strategy(bob) == "least-loaded"  # another tenant's setting is its own


async def test_concurrent_creates_hold_one_database_connection_at_a_time(
    settings: Settings, temporal: WorkflowEnvironment, clean_db: None, admin_headers: dict[str, str]
) -> None:
    # Found by bench.platform: with 32 clients, creates failed with 500 "QueuePool limit
    # reached": each held its session's connection (from authenticating) while inserting on a
    # second one. Here the pool has 2 connections (API_DATABASE_POOL_SIZE=1, and as many again
    # at a peak) and 4 creates race for them.
    app = create_app(settings.model_copy(update={"api_database_pool_size": 1}))
    async with app.router.lifespan_context(app):
        assert app.state.database.engine.pool.size() == 1
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=60) as api:
            alice = await member(api, admin_headers, "alice")
            body = {"name": "j", "command": ["true"]}
            created = await asyncio.gather(
                *(api.post("/api/platform/jobs", json=body, headers=alice) for _ in range(4))
            )
        assert [c.status_code for c in created] == [201] * 4, [c.text for c in created]
