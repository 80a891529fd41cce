"""Updates the API sends to routing workflows: a refusal is a final 409 with the workflow's
reason; a workflow that does not answer (its worker is down) is a 504 within the deadline."""

import time
from contextlib import AsyncExitStack

import httpx
from temporalio.testing import WorkflowEnvironment

from activities.dependencies import Dependencies
from api.temporal_calls import UPDATE_DEADLINE
from core.settings import Settings
from registry import task_queues
from tests.conftest import terminate_routings
from tests.integration import routing_world as world
from worker import build_workers


async def test_a_refused_update_is_a_final_409_and_a_silent_workflow_a_504(
    api: httpx.AsyncClient,
    admin_headers: world.Headers,
    emulator: str,
    settings: Settings,
    temporal: WorkflowEnvironment,
):
    referrer = await world.company(api, admin_headers, "Referrer")
    receiver = await world.receiver(api, admin_headers, emulator, "Receiver", referrer=referrer)
    try:
        async with Dependencies.open(settings) as deps, AsyncExitStack() as workers:
            for worker in build_workers(temporal.client, task_queues(deps, ["routing"])):
                await workers.enter_async_context(worker)
            created = await api.post("/api/routing/jobs", json=world.job_body(1), headers=referrer.headers)
            [summary] = await world.routings_of(api, referrer.headers, created.json()["id"])
            await world.routing_in(api, receiver.headers, summary["id"], {"synced"})
            path = f"/api/routing/routings/{summary['id']}"

            refused = await api.post(f"{path}/retry", headers=receiver.headers)
            assert refused.status_code == 409, refused.text
            assert refused.json()["retryable"] is False
            assert refused.json()["title"] == "Cannot retry this routing"
            assert "synced" in refused.json()["detail"]

        # The routing worker is gone: nothing will run the workflow's update handler.
        started = time.monotonic()
        silent = await api.post(f"{path}/cancel", headers=receiver.headers)
        waited = time.monotonic() - started
        assert silent.status_code == 504, silent.text
        assert silent.json()["retryable"] is True and "check the current status" in silent.json()["detail"]
        assert waited < UPDATE_DEADLINE.total_seconds() + 3
    finally:
        await terminate_routings(temporal.client)
