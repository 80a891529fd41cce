"""The platform API over HTTP for tests: tenants with their keys, executors registered through
the API, and the run-activity double serving a registered worker's queue."""

import uuid

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.platform.contracts import executor_task_queue
from tests.platform.harness import Executors


async def member(api: httpx.AsyncClient, admin: dict[str, str], name: str) -> dict[str, str]:
    tenant = (await api.post("/api/admin/tenants", json={"name": name}, headers=admin)).json()
    key = (
        await api.post("/api/admin/api-keys", json={"tenant_id": tenant["id"], "name": "k"}, headers=admin)
    ).json()
    return {"Authorization": f"Bearer {key['key']}"}


async def status_of(api: httpx.AsyncClient, job_id: str, headers: dict[str, str]) -> str:
    return (await api.get(f"/api/platform/jobs/{job_id}", headers=headers)).json()["status"]


async def register(api: httpx.AsyncClient, admin: dict[str, str], **fields: object) -> dict[str, str]:
    token = (await api.post("/api/platform/tokens", json={"ttl_seconds": 600}, headers=admin)).json()["token"]
    body = {
        "bootstrap_token": token,
        "worker_type": "default",
        "capabilities": [],
        "slots": 2,
        "cpu_millis": 4000,
        "memory_mb": 4096,
        "hostname": "h1",
        **fields,
    }
    response = await api.post("/api/platform/workers/register", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def serve_executor(executors: Executors, temporal: WorkflowEnvironment, worker_id: str) -> None:
    worker = Worker(
        temporal.client,
        task_queue=executor_task_queue(uuid.UUID(worker_id)),
        activities=[executors.activity()],
    )
    await executors.stack.enter_async_context(worker)  # type: ignore[attr-defined]
