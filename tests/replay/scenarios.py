"""Routing scenarios on the dev server with activity doubles. The workflow tests run
them and assert outcomes; `python -m tests.replay.record` runs them to record the histories
that tests/replay/test_replay.py replays against the current workflow code."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from domain.routing import FanOutMode, RoutingStatus, SequentialMode, ServiceJobCreate
from domain.routing.contracts import (
    TASK_QUEUE,
    CreatedRouting,
    Progress,
    RoutingSettings,
    ServiceJobStart,
    StatusChange,
    Updates,
    job_workflow_id,
    routing_workflow_id,
)
from tests.replay.doubles import Script
from workflows.routing import RoutingWorkflow
from workflows.service_job import ServiceJobWorkflow

JOB = ServiceJobCreate.model_validate(
    {
        "summary": "Leaking kitchen sink",
        "trade": "plumbing",
        "address": {"street": "1 Main St", "city": "San Francisco", "state": "CA", "zip": "94107"},
        "homeowner": {"name": "Pat Doe", "phone": "+14155550100"},
    }
)
# Two polls per run: following a booking continues-as-new within the scenario.
SETTINGS = RoutingSettings(follow_interval=timedelta(seconds=0.5), polls_per_run=2)
Scenario = Callable[[Client], Awaitable[list[str]]]


def job_start(mode: FanOutMode | SequentialMode, job_id: uuid.UUID) -> ServiceJobStart:
    return ServiceJobStart(
        job_id=job_id,
        referrer_id=uuid.UUID(int=1),
        idempotency_key=str(job_id),
        request_hash="-",
        job=JOB,
        mode=mode,
        settings=SETTINGS,
    )


def _worker(client: Client, script: Script) -> Worker:
    return Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[ServiceJobWorkflow, RoutingWorkflow],
        activities=script.activities(),
    )


async def _fan_out_to_one(client: Client, job_id: uuid.UUID) -> CreatedRouting:
    [routing] = await client.execute_workflow(
        ServiceJobWorkflow.run,
        job_start(FanOutMode(fan_out_count=1), job_id),
        id=job_workflow_id(job_id),
        task_queue=TASK_QUEUE,
    )
    return routing


def _routing(client: Client, routing: CreatedRouting) -> WorkflowHandle[RoutingWorkflow, Progress]:
    return client.get_workflow_handle_for(RoutingWorkflow.run, routing_workflow_id(routing.routing_id))


async def booked_followed_completed(client: Client) -> list[str]:
    """Fan-out to one receiver: booked, scheduled, completed with a ledger entry (over 3 runs)."""
    script = Script(
        receivers=[uuid.UUID(int=2)],
        follow=[
            RoutingStatus.SYNCED,
            RoutingStatus.SCHEDULED,
            RoutingStatus.SCHEDULED,
            RoutingStatus.COMPLETED,
        ],
    )
    job_id = uuid.UUID(int=100)
    async with _worker(client, script):
        routing = await _fan_out_to_one(client, job_id)
        progress = await _routing(client, routing).result()
    assert progress.status is RoutingStatus.COMPLETED and progress.invoice_total == script.invoice_total
    assert [c.progress.status for c in script.changes] == [
        RoutingStatus.OFFERED,
        RoutingStatus.ACCEPTED,
        RoutingStatus.SYNCING,
        RoutingStatus.SYNCED,
        RoutingStatus.SCHEDULED,
        RoutingStatus.COMPLETED,
    ]
    return [job_workflow_id(job_id), routing_workflow_id(routing.routing_id)]


async def needs_attention_then_retry(client: Client) -> list[str]:
    """A non-retryable booking failure waits for a manual retry, which resumes at the booking."""
    script = Script(receivers=[uuid.UUID(int=3)], booking_failures=1, follow=[RoutingStatus.CANCELED])
    job_id = uuid.UUID(int=200)
    async with _worker(client, script):
        routing = await _fan_out_to_one(client, job_id)
        handle = _routing(client, routing)
        await script.until(
            lambda changes: any(c.progress.status is RoutingStatus.NEEDS_ATTENTION for c in changes)
        )
        stuck = await handle.query(RoutingWorkflow.progress)
        assert stuck.failed_step == "booking" and stuck.customer_id == 11
        assert (
            await handle.execute_update(Updates.RETRY.value, result_type=RoutingStatus)
            is not RoutingStatus.NEEDS_ATTENTION
        )
        progress = await handle.result()
    assert progress.status is RoutingStatus.CANCELED and progress.booking_id == 21
    return [job_workflow_id(job_id), routing_workflow_id(routing.routing_id)]


async def sequential_decline_then_accept(client: Client) -> list[str]:
    """The first receiver declines, the second accepts and is booked, then cancels."""
    script = Script(receivers=[uuid.UUID(int=4), uuid.UUID(int=5)], follow=[RoutingStatus.CANCELED])
    job_id = uuid.UUID(int=300)
    async with _worker(client, script):
        job = await client.start_workflow(
            ServiceJobWorkflow.run,
            job_start(SequentialMode(accept_timeout=timedelta(hours=4)), job_id),
            id=job_workflow_id(job_id),
            task_queue=TASK_QUEUE,
        )
        ids = []
        for answer in (Updates.DECLINE, Updates.ACCEPT):
            routing = await _next_offer(script, len(ids))
            ids.append(routing_workflow_id(routing))
            await client.get_workflow_handle(ids[-1]).execute_update(answer.value, result_type=RoutingStatus)
        routings = await job.result()
        final = await client.get_workflow_handle(ids[-1], result_type=Progress).result()
    assert len(routings) == 2 and final.status is RoutingStatus.CANCELED
    return [job_workflow_id(job_id), *ids]


async def _next_offer(script: Script, already: int) -> uuid.UUID:
    def offered(changes: list[StatusChange]) -> list[uuid.UUID]:
        return [c.routing_id for c in changes if c.progress.status is RoutingStatus.OFFERED]

    await script.until(lambda changes: len(offered(changes)) > already)
    return offered(script.changes)[already]


SCENARIOS: dict[str, Scenario] = {
    "booked_followed_completed": booked_followed_completed,
    "needs_attention_then_retry": needs_attention_then_retry,
    "sequential_decline_then_accept": sequential_decline_then_accept,
}
