"""Interview webhooks: each delivery is a workflow of its own (`interview-webhook:{delivery_id}`)
that POSTs the delivery with Temporal's retries and records how it ended; `announce` is what the
interview workflow calls at each event.

The interview does not wait for a receiver: it makes the event's deliveries (a store call) and
starts their workflows as children it abandons, so a slow or dead receiver delays nothing and a
delivery outlives the interview's run. When attempts run out, the delivery is recorded `failed`.
"""

import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.interview_webhooks import WebhookWork
    from domain.interviews.pipeline import TASK_QUEUE
    from domain.interviews.webhooks import (
        WEBHOOK_DELIVERY_WORKFLOW,
        DeliveryFailed,
        DeliveryOutcome,
        DeliveryStart,
        DeliveryStatus,
        EventData,
        InterviewEvent,
        WebhookEvent,
        delivery_workflow_id,
    )
    from workflows import workflow_cancel
    from workflows.failures import cause_of
    from workflows.store_calls import store

# Past the request's own timeout: the store writes before and after it.
STORE_MARGIN = timedelta(seconds=20)


@workflow.defn(name=WEBHOOK_DELIVERY_WORKFLOW)
class WebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, start: DeliveryStart) -> DeliveryOutcome:
        policy = await store(WebhookWork.webhook_policy, start)
        try:
            return await workflow.execute_activity_method(
                WebhookWork.deliver_webhook,
                start,
                start_to_close_timeout=timedelta(seconds=policy.timeout_seconds) + STORE_MARGIN,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=policy.initial_interval_seconds),
                    maximum_interval=timedelta(seconds=policy.maximum_interval_seconds),
                    maximum_attempts=policy.maximum_attempts,
                ),
            )
        except ActivityError as error:
            workflow_cancel.raise_if_canceled(error)
            reason = f"out of attempts: {cause_of(error)[1]}"
            await store(
                WebhookWork.record_failed, DeliveryFailed(delivery_id=start.delivery_id, reason=reason)
            )
            return DeliveryOutcome(delivery_id=start.delivery_id, status=DeliveryStatus.FAILED, detail=reason)


async def announce(tenant_id: uuid.UUID, event: WebhookEvent, data: EventData) -> None:
    """The event's deliveries, one per subscription to it, each handed to a workflow of its own.
    Their ids are named by this run: the same event in another run (a reanalyze) is sent anew."""
    occurred = InterviewEvent(
        tenant_id=tenant_id, run_id=workflow.info().run_id, event=event, occurred_at=workflow.now(), data=data
    )
    planned = await store(WebhookWork.plan_webhooks, occurred)
    for delivery_id in planned.deliveries:
        await workflow.start_child_workflow(
            WebhookDeliveryWorkflow.run,
            DeliveryStart(delivery_id=delivery_id),
            id=delivery_workflow_id(delivery_id),
            task_queue=TASK_QUEUE,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
        )
