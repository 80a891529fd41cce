"""A referred service job: pick the partner companies it goes to, and start their routings.

ServiceJobWorkflow (`service-job:{job_id}`) starts one RoutingWorkflow (`routing:{routing_id}`,
workflows/routing.py) per receiver: all at once for fan-out, one after the other for a
sequential offer, where the next partner is offered the job only once the previous one
declined it or let its deadline pass.
"""

import asyncio
import contextlib
from datetime import timedelta
from typing import Any
from uuid import UUID

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import FailureError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.routing_store import RoutingStore
    from domain import search_attributes as sa
    from domain.routing import FanOutMode, RoutingStatus, select_receivers
    from domain.routing.contracts import (
        JOB_WORKFLOW,
        OFFER_RESOLVED,
        ROUTING_WORKFLOW,
        CreatedRouting,
        NewRoutings,
        OfferOutcome,
        RoutingStart,
        ServiceJobStart,
        routing_workflow_id,
    )
    from workflows.store_calls import store

# Versioning (workflow.patched; see workflows/routing.py): the job is saved and its candidates
# read in one local activity instead of two.
SAVED_WITH_CANDIDATES = "job-saved-with-candidates"


@workflow.defn(name=JOB_WORKFLOW)
class ServiceJobWorkflow:
    def __init__(self) -> None:
        self._offers: dict[str, bool] = {}

    @workflow.signal(name=OFFER_RESOLVED)
    def offer_resolved(self, outcome: OfferOutcome) -> None:
        self._offers[str(outcome.routing_id)] = outcome.accepted

    @workflow.run
    async def run(self, start: ServiceJobStart) -> list[CreatedRouting]:
        if workflow.patched(SAVED_WITH_CANDIDATES):
            candidates = await store(RoutingStore.save_job_with_candidates, start)
        else:
            await store(RoutingStore.save_job, start)
            candidates = await store(RoutingStore.load_candidates, start.referrer_id)
        selection = select_receivers(
            start.job,
            start.referrer_id,
            candidates,
            workflow.now(),
            start.mode,
            fairness_key=str(start.job_id),
        )
        if isinstance(start.mode, FanOutMode) or not selection.chosen:
            routings = await self._create(start, selection.chosen, 0, selection.no_candidate_reason)
            for routing in routings:
                await self._start_routing(start, routing, accept_timeout=None)
            return routings
        # Sequential: the next receiver is offered the job (and its routing exists, so the
        # receiver sees it) only once the previous one declined or let its deadline pass.
        offered: list[CreatedRouting] = []
        for position, receiver in enumerate(selection.chosen):
            [routing] = await self._create(start, [receiver], position, None)
            offered.append(routing)
            child = await self._start_routing(start, routing, accept_timeout=start.mode.accept_timeout)
            key = str(routing.routing_id)
            await self._offer_ended(child, key)
            if self._offers[key]:
                return offered
        reason = f"all {len(offered)} partners offered the job declined it or let the offer expire"
        await self._create(start, [], len(offered), reason)
        return offered

    async def _offer_ended(self, child: ChildWorkflowHandle[Any, Any], key: str) -> None:
        """Waits until the routing reports how its offer ended (at its deadline at the latest),
        or closes without reporting: terminated, say, when it did not accept either."""
        # Left running once the offer ended: cancelling a task that awaits a child cancels the
        # child, and the routing lives on for weeks.
        asyncio.create_task(self._until_closed(child, key))  # noqa: RUF006
        await workflow.wait_condition(lambda: key in self._offers)

    async def _until_closed(self, child: ChildWorkflowHandle[Any, Any], key: str) -> None:
        with contextlib.suppress(FailureError):  # terminated, canceled, failed or timed out
            await child
        self._offers.setdefault(key, False)

    async def _create(
        self, start: ServiceJobStart, receivers: list[UUID], position: int, no_candidate_reason: str | None
    ) -> list[CreatedRouting]:
        return await store(
            RoutingStore.create_routings,
            NewRoutings(
                job_id=start.job_id,
                referrer_id=start.referrer_id,
                chosen=receivers,
                first_position=position,
                no_candidate_reason=no_candidate_reason,
            ),
        )

    async def _start_routing(
        self, start: ServiceJobStart, routing: CreatedRouting, accept_timeout: timedelta | None
    ) -> ChildWorkflowHandle[Any, Any]:
        return await workflow.start_child_workflow(
            ROUTING_WORKFLOW,
            RoutingStart(
                routing_id=routing.routing_id,
                job_id=start.job_id,
                referrer_id=start.referrer_id,
                receiver_id=routing.receiver_id,
                accept_timeout=accept_timeout,
                # A fan-out routing starts booking at once, with the provider read as it was created.
                provider=routing.provider if accept_timeout is None else None,
                settings=start.settings,
            ),
            id=routing_workflow_id(routing.routing_id),
            # A routing lives for weeks after its job workflow is done.
            parent_close_policy=ParentClosePolicy.ABANDON,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.TENANT_ID, str(start.referrer_id)),
                    SearchAttributePair(sa.RECEIVING_COMPANY, str(routing.receiver_id)),
                    SearchAttributePair(sa.ROUTING_STATUS, RoutingStatus.PENDING.value),
                ]
            ),
        )
