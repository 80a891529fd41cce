"""Races between what people ask of a routing (its updates, Temporal's own cancel and terminate)
and what the routing is doing, on the dev server with activity doubles. Each test holds the
worker or an activity still so that the race happens every time, not now and then."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import RetryPolicy
from temporalio.exceptions import CancelledError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import search_attributes as sa
from domain.routing import FanOutMode, RoutingStatus, SequentialMode
from domain.routing.contracts import (
    Progress,
    RoutingSettings,
    StatusChange,
    Updates,
    job_workflow_id,
    routing_id_for,
    routing_workflow_id,
)
from tests.replay.doubles import Script
from tests.replay.scenarios import job_start
from workflows import store_calls
from workflows.routing import (
    CANCEL_ANSWERS_PROMPTLY,
    CANCEL_IS_NOT_A_FAILURE,
    CANCEL_PATIENCE,
    RoutingWorkflow,
)
from workflows.service_job import ServiceJobWorkflow

# Long enough that nothing in a test waits for it unless the test says so.
FOLLOW = RoutingSettings(follow_interval=timedelta(seconds=0.2), polls_per_run=1)
PATIENCE = 20  # seconds any one wait below may take
Routing = WorkflowHandle[RoutingWorkflow, Progress]


class Routings:
    """A uuid task queue per test (as the SDK's own tests do), served while `serving()`."""

    def __init__(self, client: Client, script: Script) -> None:
        self.client, self.script = client, script
        self.queue = f"routing-test-{uuid.uuid4()}"

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        async with Worker(
            self.client,
            task_queue=self.queue,
            workflows=[ServiceJobWorkflow, RoutingWorkflow],
            activities=self.script.activities(),
        ):
            yield

    async def start_job(self, mode: FanOutMode | SequentialMode, settings: RoutingSettings = FOLLOW) -> str:
        job_id = uuid.uuid4()
        start = job_start(mode, job_id).model_copy(update={"settings": settings})
        await self.client.start_workflow(
            ServiceJobWorkflow.run, start, id=job_workflow_id(job_id), task_queue=self.queue
        )
        return job_workflow_id(job_id)

    async def nth_routing(self, status: RoutingStatus, n: int = 0) -> Routing:
        """The n-th routing to enter `status`, once it has."""

        def entered(changes: list[StatusChange]) -> list[uuid.UUID]:
            return [c.routing_id for c in changes if c.progress.status is status]

        await self.script.until(lambda changes: len(entered(changes)) > n)
        workflow_id = routing_workflow_id(entered(self.script.changes)[n])
        return self.client.get_workflow_handle_for(RoutingWorkflow.run, workflow_id)

    def statuses(self, workflow_id: str) -> list[RoutingStatus]:
        changes = self.script.changes
        return [c.progress.status for c in changes if routing_workflow_id(c.routing_id) == workflow_id]


async def _send(handle: Routing, update: Updates) -> asyncio.Task[RoutingStatus]:
    """Sends an update without waiting for a worker; the server holds it until one comes."""
    task = asyncio.create_task(handle.execute_update(update.value, result_type=RoutingStatus))
    await asyncio.sleep(0.5)  # admitted by the server, in the order sent
    return task


async def test_a_cancel_during_a_runs_last_poll_is_applied(temporal: WorkflowEnvironment):
    # One poll per run: every poll is a run's last, and continue-as-new follows it.
    script = Script(receivers=[uuid.UUID(int=2)], follow=[RoutingStatus.SYNCED], hold=frozenset({"follow"}))
    routings = Routings(temporal.client, script)
    async with routings.serving():
        await routings.start_job(FanOutMode(fan_out_count=1))
        routing = await routings.nth_routing(RoutingStatus.SYNCED)
        async with asyncio.timeout(PATIENCE):
            await script.holding.wait()
        # The poll is in flight when the cancel is answered.
        await routing.start_update(Updates.CANCEL.value, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
        script.release.set()
        async with asyncio.timeout(PATIENCE):
            progress = await routing.result()
    assert progress.status is RoutingStatus.CANCELED
    assert routings.statuses(routing.id)[-1] is RoutingStatus.CANCELED


async def _needing_attention(client: Client) -> tuple[Routings, Routing]:
    """A routing waiting in needs_attention, its worker stopped."""
    script = Script(receivers=[uuid.UUID(int=3)], booking_failures=1, follow=[RoutingStatus.SYNCED])
    routings = Routings(client, script)
    async with routings.serving():
        await routings.start_job(FanOutMode(fan_out_count=1))
        return routings, await routings.nth_routing(RoutingStatus.NEEDS_ATTENTION)


async def test_retry_and_cancel_in_one_workflow_task_both_answer(temporal: WorkflowEnvironment):
    routings, routing = await _needing_attention(temporal.client)
    # No worker: both requests wait at the server and reach the workflow in one task.
    retry = await _send(routing, Updates.RETRY)
    cancel = await _send(routing, Updates.CANCEL)
    async with routings.serving(), asyncio.timeout(PATIENCE):
        assert await retry is RoutingStatus.CANCELED
        assert await cancel is RoutingStatus.CANCELED
        assert (await routing.result()).status is RoutingStatus.CANCELED


async def test_a_retry_after_a_pending_cancel_is_refused(temporal: WorkflowEnvironment):
    routings, routing = await _needing_attention(temporal.client)
    script = routings.script
    cancel = await _send(routing, Updates.CANCEL)
    retry = await _send(routing, Updates.RETRY)
    async with routings.serving(), asyncio.timeout(PATIENCE):
        assert await cancel is RoutingStatus.CANCELED
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await retry
        assert "a cancel is pending" in str(refused.value.cause)
    assert script.booking_failures == 0 and routings.statuses(routing.id).count(RoutingStatus.SYNCING) == 1


async def test_accept_and_decline_in_one_workflow_task_one_is_refused(temporal: WorkflowEnvironment):
    script = Script(receivers=[uuid.UUID(int=4)], follow=[RoutingStatus.CANCELED])
    routings = Routings(temporal.client, script)
    async with routings.serving():
        await routings.start_job(SequentialMode(accept_timeout=timedelta(hours=1)))
        routing = await routings.nth_routing(RoutingStatus.OFFERED)
    accept = await _send(routing, Updates.ACCEPT)
    decline = await _send(routing, Updates.DECLINE)
    async with routings.serving(), asyncio.timeout(PATIENCE):
        assert await accept is RoutingStatus.ACCEPTED
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await decline
        assert "being answered (accept)" in str(refused.value.cause)
        assert (await routing.result()).status is RoutingStatus.CANCELED  # booked, then canceled there
    assert RoutingStatus.DECLINED not in routings.statuses(routing.id)


async def test_temporals_own_cancel_is_recorded(temporal: WorkflowEnvironment):
    script = Script(receivers=[uuid.UUID(int=5)], booking_failures=1)
    routings = Routings(temporal.client, script)
    async with routings.serving():
        await routings.start_job(FanOutMode(fan_out_count=1))
        routing = await routings.nth_routing(RoutingStatus.NEEDS_ATTENTION)
        await routing.cancel()  # as the Web UI's Cancel and `temporal workflow cancel` do
        with pytest.raises(WorkflowFailureError) as ended:
            async with asyncio.timeout(PATIENCE):
                await routing.result()
    assert isinstance(ended.value.cause, CancelledError)
    assert routings.statuses(routing.id)[-1] is RoutingStatus.CANCELED
    description = await routing.describe()
    assert description.typed_search_attributes.get(sa.ROUTING_STATUS) == RoutingStatus.CANCELED.value


async def _canceled_in_temporal(routings: Routings, routing: Routing) -> None:
    with pytest.raises(WorkflowFailureError) as ended:
        async with asyncio.timeout(PATIENCE):
            await routing.result()
    assert isinstance(ended.value.cause, CancelledError)
    assert routings.statuses(routing.id)[-1] is RoutingStatus.CANCELED


@pytest.mark.parametrize("patched", [True, False])
async def test_temporals_own_cancel_during_a_provider_call_is_recorded(
    temporal: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch, patched: bool
):
    """The call ends canceled: that is the routing's cancel (CANCEL_IS_NOT_A_FAILURE); a routing
    that runs without the branch (recorded before it) took it for a failed call, as it did."""
    if not patched:
        original = workflow.patched
        monkeypatch.setattr(
            workflow, "patched", lambda patch: patch != CANCEL_IS_NOT_A_FAILURE and original(patch)
        )
    receiver = uuid.UUID(int=15)
    script = Script(receivers=[receiver], hold=frozenset({"book"}))
    routings = Routings(temporal.client, script)
    async with routings.serving():
        job = await routings.start_job(FanOutMode(fan_out_count=1))
        routing_id = routing_id_for(uuid.UUID(job.removeprefix("service-job:")), receiver)
        workflow_id = routing_workflow_id(routing_id)
        routing = temporal.client.get_workflow_handle_for(RoutingWorkflow.run, workflow_id)
        async with asyncio.timeout(PATIENCE):
            await script.holding.wait()
        await routing.cancel()
        if patched:
            await _canceled_in_temporal(routings, routing)
        else:
            await script.until(lambda changes: changes[-1].progress.status is RoutingStatus.NEEDS_ATTENTION)
            await routing.terminate()
        script.release.set()


async def test_temporals_own_cancel_as_a_store_call_starts_is_recorded(temporal: WorkflowEnvironment):
    """A retry and Temporal's cancel reach the workflow in one task: the retry's store call
    starts and is canceled at once; the cancel is recorded, not worked around as a store failure."""
    routings, routing = await _needing_attention(temporal.client)
    retry = await _send(routing, Updates.RETRY)
    await routing.cancel()
    async with routings.serving():
        await _canceled_in_temporal(routings, routing)
        with contextlib.suppress(WorkflowUpdateFailedError, RPCError):
            await retry


async def test_an_offered_routing_canceled_in_temporal_moves_the_offer_on(temporal: WorkflowEnvironment):
    script = Script(receivers=[uuid.UUID(int=6), uuid.UUID(int=7)], follow=[RoutingStatus.CANCELED])
    routings = Routings(temporal.client, script)
    async with routings.serving():
        await routings.start_job(SequentialMode(accept_timeout=timedelta(hours=1)))
        first = await routings.nth_routing(RoutingStatus.OFFERED)
        await first.cancel()
        second = await routings.nth_routing(RoutingStatus.OFFERED, 1)
    assert second.id != first.id
    assert routings.statuses(first.id) == [RoutingStatus.OFFERED, RoutingStatus.CANCELED]


async def test_a_terminated_offer_does_not_stall_its_sequential_job(temporal: WorkflowEnvironment):
    script = Script(receivers=[uuid.UUID(int=8), uuid.UUID(int=9)], follow=[RoutingStatus.CANCELED])
    routings = Routings(temporal.client, script)
    async with routings.serving():
        job = temporal.client.get_workflow_handle(
            await routings.start_job(SequentialMode(accept_timeout=timedelta(hours=1)))
        )
        first = await routings.nth_routing(RoutingStatus.OFFERED)
        await first.terminate("operator")
        second = await routings.nth_routing(RoutingStatus.OFFERED, 1)
        await second.execute_update(Updates.DECLINE.value, result_type=RoutingStatus)
        async with asyncio.timeout(PATIENCE):
            offered = await job.result()
    assert len(offered) == 2


async def test_a_routing_whose_job_workflow_is_gone_still_finishes(temporal: WorkflowEnvironment):
    script = Script(receivers=[uuid.UUID(int=10)], follow=[RoutingStatus.COMPLETED])
    routings = Routings(temporal.client, script)
    async with routings.serving():
        job = temporal.client.get_workflow_handle(
            await routings.start_job(SequentialMode(accept_timeout=timedelta(hours=1)))
        )
        routing = await routings.nth_routing(RoutingStatus.OFFERED)
        await job.terminate("operator")
        await routing.execute_update(Updates.ACCEPT.value, result_type=RoutingStatus)
        async with asyncio.timeout(PATIENCE):
            progress = await routing.result()
    assert progress.status is RoutingStatus.COMPLETED


async def test_completion_without_a_provider_is_refused_twice_at_once(temporal: WorkflowEnvironment):
    script = Script(receivers=[uuid.UUID(int=11)], provider=None)
    routings = Routings(temporal.client, script)
    async with routings.serving():
        await routings.start_job(FanOutMode(fan_out_count=1))
        routing = await routings.nth_routing(RoutingStatus.ACCEPTED)
    first = asyncio.create_task(
        routing.execute_update(Updates.COMPLETE.value, {"invoice_total": "100.00"}, result_type=RoutingStatus)
    )
    await asyncio.sleep(0.5)
    second = asyncio.create_task(
        routing.execute_update(Updates.COMPLETE.value, {"invoice_total": "999.00"}, result_type=RoutingStatus)
    )
    await asyncio.sleep(0.5)
    async with routings.serving(), asyncio.timeout(PATIENCE):
        assert await first is RoutingStatus.COMPLETED
        with pytest.raises(WorkflowUpdateFailedError):
            await second
        assert (await routing.result()).invoice_total == 100


@pytest.mark.parametrize("patched", [True, False])
async def test_a_cancel_answers_within_its_patience_only_when_patched(
    temporal: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch, patched: bool
):
    """CANCEL_ANSWERS_PROMPTLY: a routing that took the branch answers a cancel while its
    booking is in flight; one that did not (recorded before it) answers once it has ended."""
    if not patched:
        original = workflow.patched
        monkeypatch.setattr(
            workflow, "patched", lambda patch: patch != CANCEL_ANSWERS_PROMPTLY and original(patch)
        )
    script = Script(receivers=[uuid.UUID(int=12)], hold=frozenset({"book"}))
    routings = Routings(temporal.client, script)
    async with routings.serving():
        await routings.start_job(FanOutMode(fan_out_count=1))
        async with asyncio.timeout(PATIENCE):
            await script.holding.wait()
        [routing] = {c.routing_id for c in script.changes}
        handle = temporal.client.get_workflow_handle(routing_workflow_id(routing))
        answer = asyncio.create_task(handle.execute_update(Updates.CANCEL.value, result_type=RoutingStatus))
        await asyncio.wait({answer}, timeout=CANCEL_PATIENCE.total_seconds() + 3)
        assert answer.done() is patched
        script.release.set()
        async with asyncio.timeout(PATIENCE):
            assert await answer is (RoutingStatus.SYNCING if patched else RoutingStatus.CANCELED)


async def test_a_long_store_outage_moves_store_calls_to_the_task_queue(
    temporal: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
):
    """A local activity that keeps failing adds a workflow task to the history every few seconds;
    past its budget the store call becomes a regular activity, retried by the server."""
    monkeypatch.setattr(store_calls, "LOCAL_RETRY", RetryPolicy(maximum_attempts=2))
    script = Script(
        receivers=[uuid.UUID(int=13)], store_down_until=time.monotonic() + 6, follow=[RoutingStatus.SYNCED]
    )
    routings = Routings(temporal.client, script)
    async with routings.serving():
        await routings.start_job(FanOutMode(fan_out_count=1))
        # Booked: the workflow tasks that wrote the offer are in the history by then.
        routing = await routings.nth_routing(RoutingStatus.SYNCED)
        history = await routing.fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert {"routing.record_changes", "routing.record"} & set(scheduled)


async def test_rate_limit_deferrals_spend_no_attempt(temporal: WorkflowEnvironment):
    script = Script(receivers=[uuid.UUID(int=14)], deferrals=4, follow=[RoutingStatus.SYNCED])
    routings = Routings(temporal.client, script)
    async with routings.serving():
        await routings.start_job(FanOutMode(fan_out_count=1), FOLLOW.model_copy(update={"max_attempts": 2}))
        routing = await routings.nth_routing(RoutingStatus.SYNCED)
    assert RoutingStatus.NEEDS_ATTENTION not in routings.statuses(routing.id)
