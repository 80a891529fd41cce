"""Routing scenarios on the dev server with activity doubles. The workflow tests run
them and assert outcomes; `python -m tests.replay.record` runs them to record the histories
that tests/replay/test_replay.py replays against the current workflow code."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowUpdateStage
from temporalio.exceptions import CancelledError
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
from workflows.routing import (
    CANCEL_ANSWERS_PROMPTLY,
    CANCEL_BEFORE_CONTINUE_AS_NEW,
    CANCEL_IS_NOT_A_FAILURE,
    CANCEL_PATIENCE,
    DEFERRALS_SPEND_NO_ATTEMPT,
    FEWER_CALLS,
    RECORD_TEMPORAL_CANCEL,
    RoutingWorkflow,
)
from workflows.service_job import SAVED_WITH_CANDIDATES, ServiceJobWorkflow

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
Run = Callable[[Client], Awaitable[list[str]]]


@dataclass(frozen=True)
class Scenario:
    run: Run
    # Runs on the time-skipping server: it waits out an offer's deadline (a minute at least).
    time_skipping: bool = False


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


async def _fan_out_to_one(client: Client, job_id: uuid.UUID, **settings: object) -> CreatedRouting:
    """A fan-out job to one receiver, with SETTINGS changed by `settings`; its one routing."""
    start = job_start(FanOutMode(fan_out_count=1), job_id)
    if settings:
        start = start.model_copy(update={"settings": SETTINGS.model_copy(update=settings)})
    [routing] = await client.execute_workflow(
        ServiceJobWorkflow.run, start, id=job_workflow_id(job_id), task_queue=TASK_QUEUE
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
        await _reached(script, RoutingStatus.NEEDS_ATTENTION)
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


async def _reached(script: Script, status: RoutingStatus) -> None:
    await script.until(lambda changes: any(c.progress.status is status for c in changes))


async def cancel_while_following(client: Client) -> list[str]:
    """Booked, then canceled through the API's update while the booking is being followed."""
    script = Script(receivers=[uuid.UUID(int=6)], follow=[RoutingStatus.SYNCED])
    job_id = uuid.UUID(int=400)
    async with _worker(client, script):
        routing = _routing(client, await _fan_out_to_one(client, job_id))
        await _reached(script, RoutingStatus.SYNCED)
        await routing.execute_update(Updates.CANCEL.value, result_type=RoutingStatus)
        progress = await routing.result()
    assert progress.status is RoutingStatus.CANCELED
    return [routing.id]


async def cancel_while_booking(client: Client) -> list[str]:
    """A cancel arrives while the booking call is in flight: answered within CANCEL_PATIENCE
    with the status as it stands, applied once the booking is in."""
    script = Script(receivers=[uuid.UUID(int=12)], hold=frozenset({"book"}), follow=[RoutingStatus.SYNCED])
    job_id = uuid.UUID(int=1000)
    async with _worker(client, script):
        routing = _routing(client, await _fan_out_to_one(client, job_id))
        async with asyncio.timeout(30):
            await script.holding.wait()
        update = await routing.start_update(
            Updates.CANCEL.value, wait_for_stage=WorkflowUpdateStage.ACCEPTED, result_type=RoutingStatus
        )
        # Before CANCEL_ANSWERS_PROMPTLY the answer waited for the end, so for the booking too.
        answer = asyncio.create_task(update.result())
        await asyncio.wait({answer}, timeout=CANCEL_PATIENCE.total_seconds() * 2)
        assert not answer.done() or answer.result() is RoutingStatus.SYNCING
        script.release.set()
        progress = await routing.result()
        await answer
    assert progress.status is RoutingStatus.CANCELED and progress.booking_id == 21
    return [routing.id]


async def deferred_by_the_rate_limiter(client: Client) -> list[str]:
    """Our rate limiter defers the booking three times, with two attempts allowed; then canceled."""
    script = Script(receivers=[uuid.UUID(int=13)], deferrals=3, follow=[RoutingStatus.SYNCED])
    async with _worker(client, script):
        routing = _routing(client, await _fan_out_to_one(client, uuid.UUID(int=1100), max_attempts=2))
        await script.until(
            lambda changes: any(
                c.progress.status in (RoutingStatus.SYNCED, RoutingStatus.NEEDS_ATTENTION) for c in changes
            )
        )
        await routing.execute_update(Updates.CANCEL.value, result_type=RoutingStatus)
        progress = await routing.result()
    assert progress.status is RoutingStatus.CANCELED
    return [routing.id]


async def cancel_during_last_poll(client: Client) -> list[str]:
    """A cancel answered while a follow-up run's last poll is in flight (one poll per run)."""
    script = Script(receivers=[uuid.UUID(int=7)], follow=[RoutingStatus.SYNCED], hold=frozenset({"follow"}))
    async with _worker(client, script):
        routing = _routing(client, await _fan_out_to_one(client, uuid.UUID(int=500), polls_per_run=1))
        async with asyncio.timeout(30):
            await script.holding.wait()
        await routing.start_update(Updates.CANCEL.value, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
        script.release.set()
        progress = await routing.result()
    assert progress.status is RoutingStatus.CANCELED
    return [routing.id]


async def needs_attention_then_cancel(client: Client) -> list[str]:
    """A booking that failed for good is canceled instead of retried."""
    script = Script(receivers=[uuid.UUID(int=8)], booking_failures=1)
    job_id = uuid.UUID(int=600)
    async with _worker(client, script):
        routing = _routing(client, await _fan_out_to_one(client, job_id))
        await _reached(script, RoutingStatus.NEEDS_ATTENTION)
        await routing.execute_update(Updates.CANCEL.value, result_type=RoutingStatus)
        progress = await routing.result()
    assert progress.status is RoutingStatus.CANCELED and progress.booking_id is None
    return [routing.id]


async def completed_without_provider(client: Client) -> list[str]:
    """A receiver without a provider connection reports the job done through the API."""
    script = Script(receivers=[uuid.UUID(int=9)], provider=None)
    job_id = uuid.UUID(int=700)
    async with _worker(client, script):
        routing = _routing(client, await _fan_out_to_one(client, job_id))
        await _reached(script, RoutingStatus.ACCEPTED)
        await routing.execute_update(
            Updates.COMPLETE.value, {"invoice_total": "120.00"}, result_type=RoutingStatus
        )
        progress = await routing.result()
    assert progress.status is RoutingStatus.COMPLETED and progress.invoice_total == 120
    return [routing.id]


async def offer_expired(client: Client) -> list[str]:
    """Nobody answers a sequential offer: it expires and the job ends unrouted."""
    script = Script(receivers=[uuid.UUID(int=10)])
    job_id = uuid.UUID(int=800)
    async with _worker(client, script):
        routings = await client.execute_workflow(
            ServiceJobWorkflow.run,
            job_start(SequentialMode(accept_timeout=timedelta(minutes=1)), job_id),
            id=job_workflow_id(job_id),
            task_queue=TASK_QUEUE,
        )
        progress = await _routing(client, routings[0]).result()
    assert progress.status is RoutingStatus.EXPIRED
    return [job_workflow_id(job_id), routing_workflow_id(routings[0].routing_id)]


async def canceled_in_temporal(client: Client) -> list[str]:
    """An operator cancels a routing waiting in needs_attention from the Web UI (or the CLI)."""
    script = Script(receivers=[uuid.UUID(int=11)], booking_failures=1)
    job_id = uuid.UUID(int=900)
    async with _worker(client, script):
        routing = _routing(client, await _fan_out_to_one(client, job_id))
        await _reached(script, RoutingStatus.NEEDS_ATTENTION)
        await routing.cancel()
        with pytest.raises(WorkflowFailureError) as ended:
            await routing.result()
    assert isinstance(ended.value.cause, CancelledError)
    return [routing.id]


async def canceled_in_temporal_while_booking(client: Client) -> list[str]:
    """An operator cancels a routing from the Web UI while its booking call is in flight."""
    script = Script(receivers=[uuid.UUID(int=14)], hold=frozenset({"book"}))
    job_id = uuid.UUID(int=1400)
    async with _worker(client, script):
        routing = _routing(client, await _fan_out_to_one(client, job_id))
        async with asyncio.timeout(30):
            await script.holding.wait()
        await routing.cancel()
        # The code before workflow-cancel-is-not-a-failure took the cancel for a failed call
        # and waited in needs_attention for good: stopped here by terminating it.
        ended = {RoutingStatus.CANCELED, RoutingStatus.NEEDS_ATTENTION}
        await script.until(lambda changes: any(c.progress.status in ended for c in changes))
        script.release.set()
        if script.changes[-1].progress.status is RoutingStatus.NEEDS_ATTENTION:
            await routing.terminate("the routing never ends")
        else:
            with pytest.raises(WorkflowFailureError):
                await routing.result()
    return [routing.id]


SCENARIOS: dict[str, Scenario] = {
    "booked_followed_completed": Scenario(booked_followed_completed),
    "needs_attention_then_retry": Scenario(needs_attention_then_retry),
    "sequential_decline_then_accept": Scenario(sequential_decline_then_accept),
    "cancel_while_following": Scenario(cancel_while_following),
    "cancel_while_booking": Scenario(cancel_while_booking),
    "cancel_during_last_poll": Scenario(cancel_during_last_poll),
    "deferred_by_the_rate_limiter": Scenario(deferred_by_the_rate_limiter),
    "needs_attention_then_cancel": Scenario(needs_attention_then_cancel),
    "completed_without_provider": Scenario(completed_without_provider),
    "offer_expired": Scenario(offer_expired, time_skipping=True),
    "canceled_in_temporal": Scenario(canceled_in_temporal),
    "canceled_in_temporal_while_booking": Scenario(canceled_in_temporal_while_booking),
}
# Each workflow.patched guard, with the scenarios whose histories it changes: recorded with the
# guard's patch off (as the code before it ran them), they prove the guard is needed.
PATCHED: dict[str, list[str]] = {
    CANCEL_ANSWERS_PROMPTLY: ["cancel_while_booking"],
    CANCEL_BEFORE_CONTINUE_AS_NEW: ["cancel_during_last_poll"],
    RECORD_TEMPORAL_CANCEL: ["canceled_in_temporal"],
    DEFERRALS_SPEND_NO_ATTEMPT: ["deferred_by_the_rate_limiter"],
    FEWER_CALLS: ["booked_followed_completed", "completed_without_provider", "needs_attention_then_retry"],
    SAVED_WITH_CANDIDATES: ["booked_followed_completed"],
    CANCEL_IS_NOT_A_FAILURE: ["canceled_in_temporal_while_booking"],
}
