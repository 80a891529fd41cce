"""Webhook subscriptions of a tenant's interviews: where `interview.transcribed`,
`interview.analyzed` and `interview.failed` are POSTed (signed with the subscription's secret,
shown once, at creation), each subscription's delivery log, and redelivery of one delivery (the
same body, signed anew)."""

import secrets
import uuid
from collections import defaultdict

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api import paging
from api.deps import Caller, Session, Temporal, idempotency_header, replayed, replayed_response, same_request
from api.problems import ERROR_RESPONSES, TEMPORAL_UNAVAILABLE, ProblemError, responses
from api.routers.interviews.creation import insert_once, new_id, request_hash
from api.temporal_calls import reaching_temporal
from core.crypto import Cipher
from domain.interviews.pipeline import TASK_QUEUE
from domain.interviews.webhooks import (
    WEBHOOK_DELIVERY_WORKFLOW,
    Attempt,
    Delivery,
    DeliveryStart,
    DeliveryStatus,
    Subscription,
    SubscriptionCreated,
    SubscriptionIn,
    WebhookEvent,
    delivery_workflow_id,
)
from store import interview_webhooks as rows
from store.sealed import open_text, seal_text

router = APIRouter(
    prefix="/api/interviews/webhooks", tags=["interviews: webhooks"], responses=ERROR_RESPONSES
)
IdempotencyKey = idempotency_header("subscription")
# The secret's prefix says what it is where it is pasted (a receiver's configuration).
SECRET_PREFIX = "whsec_"


def subscription_out(row: rows.WebhookSubscription) -> Subscription:
    return Subscription(
        id=row.id,
        url=row.url,
        events=[WebhookEvent(event) for event in row.events],
        active=row.active,
        created_at=row.created_at,
    )


async def owned_subscription(
    session: Session, tenant_id: uuid.UUID, subscription_id: uuid.UUID
) -> rows.WebhookSubscription:
    row = await session.get(rows.WebhookSubscription, subscription_id)
    if row is None or row.tenant_id != tenant_id:
        raise ProblemError(
            404, "Subscription not found", f"No webhook subscription {subscription_id} in this tenant."
        )
    return row


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionCreated,
    responses=replayed_response(SubscriptionCreated, "subscription"),
)
async def create_subscription(
    body: SubscriptionIn,
    who: Caller,
    session: Session,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> SubscriptionCreated:
    """Subscribes a receiver to interview events. The answer carries the signing secret, once:
    keep it (the same request again with its Idempotency-Key answers it again)."""
    cipher: Cipher = request.app.state.cipher
    subscription_id = new_id(who.tenant_id, idempotency_key)
    digest = request_hash(body)
    values = {
        "id": subscription_id,
        "tenant_id": who.tenant_id,
        "request_hash": digest,
        "url": body.url,
        "events": [event.value for event in body.events],
        "sealed_secret": seal_text(cipher, subscription_id, SECRET_PREFIX + secrets.token_urlsafe(32)),
    }
    created = await insert_once(session, rows.WebhookSubscription, values)
    row = await owned_subscription(session, who.tenant_id, subscription_id)
    if not created:
        same_request(row.request_hash, digest, "subscription")
        replayed(response)
    secret = open_text(cipher, row.id, row.sealed_secret)
    return SubscriptionCreated(**subscription_out(row).model_dump(), secret=secret)


@router.get("", response_model=paging.Page[Subscription])
async def list_subscriptions(
    who: Caller, session: Session, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[Subscription]:
    query = select(rows.WebhookSubscription).where(rows.WebhookSubscription.tenant_id == who.tenant_id)
    found = list(
        (await session.execute(paging.apply(query, rows.WebhookSubscription, cursor, limit))).scalars()
    )
    return paging.page(found, limit, subscription_out)


@router.delete("/{subscription_id}", status_code=204)
async def delete_subscription(subscription_id: uuid.UUID, who: Caller, session: Session) -> Response:
    """Deletes the subscription with its delivery log; a delivery under way stops at its next
    attempt."""
    await session.delete(await owned_subscription(session, who.tenant_id, subscription_id))
    return Response(status_code=204)


@router.get("/{subscription_id}/deliveries", response_model=paging.Page[Delivery])
async def list_deliveries(
    subscription_id: uuid.UUID,
    who: Caller,
    session: Session,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[Delivery]:
    """The subscription's deliveries, newest first, each with its attempts."""
    await owned_subscription(session, who.tenant_id, subscription_id)
    query = select(rows.WebhookDelivery).where(rows.WebhookDelivery.subscription_id == subscription_id)
    found = list(
        (
            await session.execute(paging.apply(query, rows.WebhookDelivery, cursor, limit, newest_first=True))
        ).scalars()
    )
    attempts: dict[uuid.UUID, list[Attempt]] = defaultdict(list)
    for attempt in await session.scalars(
        select(rows.WebhookAttempt)
        .where(rows.WebhookAttempt.delivery_id.in_([row.id for row in found]))
        .order_by(rows.WebhookAttempt.delivery_id, rows.WebhookAttempt.number)
    ):
        attempts[attempt.delivery_id].append(
            Attempt(
                number=attempt.number,
                started_at=attempt.started_at,
                duration_ms=attempt.duration_ms,
                status_code=attempt.status_code,
                error=attempt.error,
            )
        )

    def delivery_out(row: rows.WebhookDelivery) -> Delivery:
        return Delivery(
            id=row.id,
            subscription_id=row.subscription_id,
            interview_id=row.interview_id,
            event=WebhookEvent(row.event),
            status=DeliveryStatus(row.status),
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            attempt_log=attempts[row.id],
        )

    return paging.page(found, limit, delivery_out)


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=None,
    responses={
        **responses({409: "The delivery is being delivered, or its subscription is inactive"}),
        **TEMPORAL_UNAVAILABLE,
    },
)
async def redeliver(delivery_id: uuid.UUID, who: Caller, session: Session, client: Temporal) -> None:
    """Sends the delivery's body again (the same bytes, signed anew), with its retries."""
    delivery = await session.scalar(
        select(rows.WebhookDelivery).where(rows.WebhookDelivery.id == delivery_id).with_for_update()
    )
    if delivery is None or delivery.tenant_id != who.tenant_id:
        raise ProblemError(404, "Delivery not found", f"No webhook delivery {delivery_id} in this tenant.")
    subscription = await session.get_one(rows.WebhookSubscription, delivery.subscription_id)
    if not subscription.active:
        raise ProblemError(
            409, "Subscription inactive", "Its receiver answered 410 Gone: nothing more is sent to it."
        )
    # Pending means a delivery workflow has it (or its start did not reach Temporal): a second is
    # refused while the first runs. Delivered or failed, its workflow has recorded all it will:
    # one still closing is replaced.
    running = delivery.status == DeliveryStatus.PENDING
    delivery.status = DeliveryStatus.PENDING.value
    await session.commit()
    with reaching_temporal("The delivery is marked pending but was not sent; send the request again."):
        try:
            await client.start_workflow(
                WEBHOOK_DELIVERY_WORKFLOW,
                DeliveryStart(delivery_id=delivery_id),
                id=delivery_workflow_id(delivery_id),
                task_queue=TASK_QUEUE,
                id_conflict_policy=(
                    WorkflowIDConflictPolicy.FAIL if running else WorkflowIDConflictPolicy.TERMINATE_EXISTING
                ),
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            raise ProblemError(
                409, "Being delivered", "The delivery is being delivered (or retried)."
            ) from None
