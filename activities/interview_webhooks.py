"""Interview webhooks' activities: the deliveries an event makes (a store call), one signed POST
to a receiver, and a delivery's end when Temporal's attempts ran out.

Each attempt is logged in the transaction that records the delivery's status. What the answer
tells Temporal: 2xx delivered; 410 Gone the receiver is gone for good (the subscription is
deactivated, the delivery failed, nothing retried); anything else, or no answer, is retried, after
the receiver's Retry-After when it gives one (capped at the longest backoff).
"""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.dependencies import Dependencies
from clients.refusals import retry_after_seconds
from core.logging import get_logger
from domain.interviews.webhooks import (
    DeliveryFailed,
    DeliveryOutcome,
    DeliveryPolicy,
    DeliveryStart,
    DeliveryStatus,
    InterviewEvent,
    PlannedDeliveries,
    WebhookBody,
    signed_headers,
)
from store import interview_webhooks as tables
from store.sealed import open_text, seal_text

# The error type of an answer that may be retried (any but 2xx and 410).
NOT_DELIVERED = "WebhookNotDelivered"
log = get_logger(__name__)


class WebhookWork:
    def __init__(self, deps: Dependencies) -> None:
        self._db = deps.database
        self._cipher = deps.cipher
        self._settings = deps.settings
        self._http = deps.http

    @activity.defn(name="interviews.plan_webhooks")
    async def plan_webhooks(self, event: InterviewEvent) -> PlannedDeliveries:
        """A delivery per active subscription of the tenant to the event, its body built now.
        Ids come from the workflow run, the event and the subscription: run again, this makes
        none twice."""
        interview_id = event.data.interview_id
        event_id = uuid.uuid5(interview_id, f"webhook-event:{event.run_id}:{event.event}")
        body = WebhookBody(id=event_id, type=event.event, created_at=event.occurred_at, data=event.data)
        text = body.model_dump_json()
        async with self._db.transaction() as session:
            subscriptions = await session.scalars(
                select(tables.WebhookSubscription.id)
                .where(
                    tables.WebhookSubscription.tenant_id == event.tenant_id,
                    tables.WebhookSubscription.active,
                    tables.WebhookSubscription.events.contains([event.event.value]),
                )
                .order_by(tables.WebhookSubscription.created_at, tables.WebhookSubscription.id)
            )
            planned = []
            for subscription_id in subscriptions:
                delivery_id = uuid.uuid5(
                    interview_id, f"webhook:{event.run_id}:{event.event}:{subscription_id}"
                )
                await session.execute(
                    insert(tables.WebhookDelivery)
                    .values(
                        id=delivery_id,
                        tenant_id=event.tenant_id,
                        subscription_id=subscription_id,
                        interview_id=interview_id,
                        event=event.event.value,
                        sealed_body=seal_text(self._cipher, delivery_id, text),
                        status=DeliveryStatus.PENDING.value,
                    )
                    .on_conflict_do_nothing(index_elements=["id"])
                )
                planned.append(delivery_id)
        return PlannedDeliveries(deliveries=planned)

    @activity.defn(name="interviews.webhook_policy")
    async def webhook_policy(self, start: DeliveryStart) -> DeliveryPolicy:
        """How the delivery is retried: the deployment's settings when its workflow starts."""
        settings = self._settings
        return DeliveryPolicy(
            timeout_seconds=settings.interviews_webhook_timeout_seconds,
            initial_interval_seconds=settings.interviews_webhook_retry_initial_seconds,
            maximum_interval_seconds=settings.interviews_webhook_retry_maximum_seconds,
            maximum_attempts=settings.interviews_webhook_max_attempts,
        )

    @activity.defn(name="interviews.deliver_webhook")
    async def deliver_webhook(self, start: DeliveryStart) -> DeliveryOutcome:
        """One signed POST of the delivery's body; its answer logged with the delivery's status."""
        delivery_id = start.delivery_id
        async with self._db.transaction() as session:
            delivery = await session.get(tables.WebhookDelivery, delivery_id)
            subscription = (
                None
                if delivery is None
                else await session.get(tables.WebhookSubscription, delivery.subscription_id)
            )
        if delivery is None or subscription is None:  # its subscription was deleted, and it with it
            return DeliveryOutcome(delivery_id=delivery_id, status=DeliveryStatus.FAILED, detail="deleted")
        if delivery.status != DeliveryStatus.PENDING:  # this attempt's outcome was recorded already
            return DeliveryOutcome(delivery_id=delivery_id, status=DeliveryStatus(delivery.status))
        if not subscription.active:
            reason = "the subscription was deactivated (its receiver answered 410 Gone)"
            await self.record_failed(DeliveryFailed(delivery_id=delivery_id, reason=reason))
            return DeliveryOutcome(delivery_id=delivery_id, status=DeliveryStatus.FAILED, detail=reason)

        body = open_text(self._cipher, delivery_id, delivery.sealed_body).encode()
        secret = open_text(self._cipher, subscription.id, subscription.sealed_secret)
        started_at, clock = datetime.now(UTC), time.monotonic()
        headers = signed_headers(secret, delivery_id, int(started_at.timestamp()), body)
        timeout = self._settings.interviews_webhook_timeout_seconds
        code: int | None = None
        error: str | None = None
        retry_after: float | None = None
        try:
            # The whole exchange within the timeout (httpx's applies to each read and write); the
            # answer's body is never read: only its status matters.
            async with asyncio.timeout(timeout):
                async with self._http.stream(
                    "POST", subscription.url, content=body, headers=headers, timeout=timeout
                ) as response:
                    code, retry_after = response.status_code, retry_after_seconds(response.headers)
        except TimeoutError:
            error = f"no answer within {timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        duration_ms = round((time.monotonic() - clock) * 1000)

        if code is not None and 200 <= code < 300:
            status = DeliveryStatus.DELIVERED
        elif code == 410:
            status, error = DeliveryStatus.FAILED, "410 Gone: the subscription was deactivated"
        else:
            status = DeliveryStatus.PENDING
        async with self._db.transaction() as session:
            locked = await session.get(tables.WebhookDelivery, delivery_id, with_for_update=True)
            if locked is None:
                return DeliveryOutcome(
                    delivery_id=delivery_id, status=DeliveryStatus.FAILED, detail="deleted"
                )
            locked.attempts += 1
            session.add(
                tables.WebhookAttempt(
                    delivery_id=delivery_id,
                    number=locked.attempts,
                    tenant_id=locked.tenant_id,
                    started_at=started_at,
                    duration_ms=duration_ms,
                    status_code=code,
                    error=error,
                )
            )
            locked.status, locked.last_status_code, locked.last_error = status.value, code, error
            if status == DeliveryStatus.DELIVERED:
                locked.delivered_at = datetime.now(UTC)
            if code == 410:
                await session.execute(
                    update(tables.WebhookSubscription)
                    .where(tables.WebhookSubscription.id == subscription.id)
                    .values(active=False)
                )
            attempt = locked.attempts
        log.info(
            "webhook attempt",
            delivery_id=str(delivery_id),
            subscription_id=str(subscription.id),
            attempt=attempt,
            status_code=code,
            error=error,
            duration_ms=duration_ms,
        )
        if status != DeliveryStatus.PENDING:
            return DeliveryOutcome(delivery_id=delivery_id, status=status, detail=error)
        maximum = self._settings.interviews_webhook_retry_maximum_seconds
        delay = timedelta(seconds=min(retry_after, maximum)) if retry_after is not None else None
        raise ApplicationError(
            f"the receiver answered {code}" if code is not None else error or "no answer",
            type=NOT_DELIVERED,
            next_retry_delay=delay,
        )

    @activity.defn(name="interviews.record_webhook_failed")
    async def record_failed(self, failed: DeliveryFailed) -> None:
        """The delivery's end: no attempt left (or its receiver is gone)."""
        async with self._db.transaction() as session:
            await session.execute(
                update(tables.WebhookDelivery)
                .where(
                    tables.WebhookDelivery.id == failed.delivery_id,
                    tables.WebhookDelivery.status == DeliveryStatus.PENDING.value,
                )
                .values(status=DeliveryStatus.FAILED.value, last_error=failed.reason[:300])
            )
