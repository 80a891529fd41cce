"""Sequential offers against Temporal's time-skipping server: an hour-long accept deadline
passes in moments, and the offer moves on to the next receiver."""

import uuid
from datetime import timedelta

import httpx
from temporalio.testing import WorkflowEnvironment

from activities.dependencies import Dependencies
from core.settings import Settings
from domain.routing import RoutingStatus, SequentialMode, ServiceJobCreate
from domain.routing.contracts import (
    JOB_WORKFLOW,
    TASK_QUEUE,
    CreatedRouting,
    Progress,
    RoutingSettings,
    ServiceJobStart,
    routing_workflow_id,
)
from registry import task_queues
from tests.integration import routing_world as world
from worker import build_workers


async def test_sequential_offer_moves_on_after_the_accept_deadline(
    api: httpx.AsyncClient,
    admin_headers: world.Headers,
    emulator: str,
    settings: Settings,
    time_skipping: WorkflowEnvironment,
):
    referrer = await world.company(api, admin_headers, "Referrer")
    receivers = [
        await world.receiver(api, admin_headers, emulator, f"R{i}", referrer=referrer) for i in range(2)
    ]
    job_id = uuid.uuid4()
    start = ServiceJobStart(
        job_id=job_id,
        referrer_id=uuid.UUID(referrer.id),
        idempotency_key=str(job_id),
        request_hash="-",
        job=ServiceJobCreate.model_validate(world.job_body(1)),
        mode=SequentialMode(accept_timeout=timedelta(hours=1)),
        settings=RoutingSettings(),
    )
    client = time_skipping.client
    async with Dependencies.open(settings) as deps:
        [worker] = build_workers(client, task_queues(deps, ["routing"]))
        async with worker:
            routings = await client.execute_workflow(
                JOB_WORKFLOW,
                start,
                id=f"service-job:{job_id}",
                task_queue=TASK_QUEUE,
                result_type=list[CreatedRouting],
            )
            # Nobody answered: each offer expired in turn, the second made only after the first ended.
            first, second = (
                client.get_workflow_handle(routing_workflow_id(r.routing_id), result_type=Progress)
                for r in routings
            )
            first_run, second_run = await first.describe(), await second.describe()
            assert first_run.close_time is not None
            assert second_run.start_time >= first_run.start_time + timedelta(hours=1)
            outcomes = [await handle.result() for handle in (first, second)]
            assert [p.status for p in outcomes] == [RoutingStatus.EXPIRED, RoutingStatus.EXPIRED]
    assert {str(r.receiver_id) for r in routings} == {r.id for r in receivers}
    job = (await api.get(f"/api/routing/jobs/{job_id}", headers=referrer.headers)).json()
    assert job["status"] == "no_candidate" and "all 2 partners offered the job" in job["no_candidate_reason"]
    for r in routings:
        detail = (await api.get(f"/api/routing/routings/{r.routing_id}", headers=referrer.headers)).json()
        assert [e["outcome"] for e in detail["timeline"]] == ["offered", "expired"]
