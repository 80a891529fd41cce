"""Interview webhooks: a tenant's subscriptions (the signing secret sealed), the deliveries each
event made (the body sealed: built once, so a retry or a redelivery sends the same bytes) and
every attempt at one (the delivery log)."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, SmallInteger, String, Text, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, tenant_ref, timestamp


class WebhookSubscription(Base):
    __tablename__ = "interview_webhook_subscriptions"
    __table_args__ = (
        Index("ix_interview_webhook_subscriptions_tenant_created", "tenant_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    created_at: Mapped[datetime] = timestamp()
    # SHA-256 of the creating request: the same Idempotency-Key with another body is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    # domain.interviews.webhooks.WebhookEvent values.
    events: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    # The signing secret, sealed to the subscription's id.
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    # Off once the receiver answered 410 Gone.
    active: Mapped[bool] = mapped_column(server_default=true())


class WebhookDelivery(Base):
    __tablename__ = "interview_webhook_deliveries"
    __table_args__ = (
        Index("ix_interview_webhook_deliveries_subscription_created", "subscription_id", "created_at", "id"),
        Index("ix_interview_webhook_deliveries_interview", "interview_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("interview_webhook_subscriptions.id", ondelete="CASCADE")
    )
    # Deleting a candidate deletes their interviews, and with them what was sent about them.
    interview_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = timestamp()
    # domain.interviews.webhooks.WebhookBody as JSON, sealed to the delivery's id.
    sealed_body: Mapped[bytes] = mapped_column(LargeBinary)
    # domain.interviews.webhooks.DeliveryStatus
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_status_code: Mapped[int | None] = mapped_column(SmallInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = timestamp(nullable=True)


class WebhookAttempt(Base):
    """One request to the receiver: its answer's status code, or why there was none."""

    __tablename__ = "interview_webhook_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("interview_webhook_deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    started_at: Mapped[datetime] = timestamp()
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    error: Mapped[str | None] = mapped_column(Text)
