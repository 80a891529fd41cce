"""Routing tables. Each company is a tenant (companies.id = tenants.id); every row names the
companies that may see it, and the API filters on them.

Contracts that have a pydantic model in domain.routing (profile, mode, address) are stored as
JSONB in that model's serialised form. Homeowner contact details and provider secrets are PII
and secrets: they are stored only as AES-GCM ciphertext (core.crypto).
"""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, Timestamped

Json = dict[str, Any]


def _company() -> ForeignKey:
    return ForeignKey("companies.id", ondelete="CASCADE")


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    name: Mapped[str] = mapped_column(String(120))
    # How this company's jobs are offered: domain.routing.RoutingMode.
    mode: Mapped[Json] = mapped_column(JSONB)


class Technician(Timestamped, Base):
    __tablename__ = "technicians"

    company_id: Mapped[uuid.UUID] = mapped_column(_company(), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))


class Partnership(Timestamped, Base):
    __tablename__ = "partnerships"
    __table_args__ = (UniqueConstraint("referrer_id", "receiver_id", name="uq_partnerships_pair"),)

    referrer_id: Mapped[uuid.UUID] = mapped_column(_company())
    receiver_id: Mapped[uuid.UUID] = mapped_column(_company(), index=True)
    active: Mapped[bool]
    preferred_by_referrer: Mapped[bool]
    fee_kind: Mapped[str] = mapped_column(String(16))
    fee_amount: Mapped[Decimal] = mapped_column(Numeric(16, 4))


class RoutingProfile(Base):
    __tablename__ = "routing_profiles"

    company_id: Mapped[uuid.UUID] = mapped_column(_company(), primary_key=True)
    profile: Mapped[Json] = mapped_column(JSONB)  # domain.routing.RoutingProfile
    updated_at: Mapped[datetime] = _now()


class ProviderConnection(Base):
    """A receiving company's ServiceTitan credentials; the secret is write-only ciphertext."""

    __tablename__ = "provider_connections"

    company_id: Mapped[uuid.UUID] = mapped_column(_company(), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    st_tenant_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(200))
    client_secret: Mapped[bytes] = mapped_column(LargeBinary)
    booking_provider_id: Mapped[str] = mapped_column(String(64))
    rate_limit_per_second: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = _now()


class ServiceJob(Timestamped, Base):
    __tablename__ = "service_jobs"
    __table_args__ = (UniqueConstraint("referrer_id", "idempotency_key", name="uq_service_jobs_idempotency"),)

    referrer_id: Mapped[uuid.UUID] = mapped_column(_company(), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    # sha256 of the request body: a reused key with a different body is refused, not ignored.
    request_hash: Mapped[str] = mapped_column(String(64))
    technician_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("technicians.id", ondelete="SET NULL"))
    summary: Mapped[str] = mapped_column(String(200))
    trade: Mapped[str] = mapped_column(String(32))
    zip5: Mapped[str] = mapped_column(String(5))
    # The whole ServiceJobCreate (homeowner, address, notes...), encrypted: it is PII.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # received → routed | no_candidate (+ why).
    status: Mapped[str] = mapped_column(String(16), default="received")
    no_candidate_reason: Mapped[str | None] = mapped_column(Text)


class Routing(Timestamped, Base):
    __tablename__ = "routings"
    __table_args__ = (
        UniqueConstraint("job_id", "receiver_id", name="uq_routings_job_receiver"),
        Index("ix_routings_receiver_status", "receiver_id", "status", "created_at", "id"),
        Index("ix_routings_referrer_status", "referrer_id", "status", "created_at", "id"),
        Index("ix_routings_receiver_created", "receiver_id", "created_at"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("service_jobs.id", ondelete="CASCADE"))
    referrer_id: Mapped[uuid.UUID] = mapped_column(_company())
    receiver_id: Mapped[uuid.UUID] = mapped_column(_company())
    # Offer order for sequential routing (0 = first); fan-out routings share 0.
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str | None] = mapped_column(String(32))
    # The step a needs_attention routing failed at, and the provider's reason.
    failed_step: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    st_customer_id: Mapped[int | None] = mapped_column(BigInteger)
    st_location_id: Mapped[int | None] = mapped_column(BigInteger)
    st_booking_id: Mapped[int | None] = mapped_column(BigInteger)
    st_job_id: Mapped[int | None] = mapped_column(BigInteger)
    provider_status: Mapped[str | None] = mapped_column(String(32))
    invoice_total: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    updated_at: Mapped[datetime] = _now()


class RoutingEvent(Base):
    """One line of a routing's timeline: a status change or one attempt at a sync step."""

    __tablename__ = "routing_events"
    __table_args__ = (UniqueConstraint("routing_id", "key", name="uq_routing_events_key"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    routing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("routings.id", ondelete="CASCADE"))
    # Deterministic per event (workflow sequence number, or activity id + attempt), so that a
    # retried write records the event once.
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    step: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    status: Mapped[str | None] = mapped_column(String(32))
    attempt: Mapped[int | None] = mapped_column(Integer)
    provider_status: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)


class LedgerEntry(Timestamped, Base):
    __tablename__ = "ledger_entries"

    routing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("routings.id", ondelete="CASCADE"), unique=True)
    referrer_id: Mapped[uuid.UUID] = mapped_column(_company(), index=True)
    receiver_id: Mapped[uuid.UUID] = mapped_column(_company(), index=True)
    invoice_total: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    fee_kind: Mapped[str] = mapped_column(String(16))
    fee_amount: Mapped[Decimal] = mapped_column(Numeric(16, 4))
    fee: Mapped[Decimal] = mapped_column(Numeric(16, 2))


class RateLimit(Base):
    """GCRA state per provider account: the theoretical arrival time of the next request."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tat: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # What was actually granted, for the operations view: requests in the current one-second
    # window (by reserved slot), the busiest window seen, and the total.
    window_second: Mapped[int] = mapped_column(BigInteger, server_default="0")
    window_count: Mapped[int] = mapped_column(Integer, server_default="0")
    peak_per_second: Mapped[int] = mapped_column(Integer, server_default="0")
    total: Mapped[int] = mapped_column(BigInteger, server_default="0")


class ProviderWrite(Base):
    """A create sent to a provider whose outcome may still be unknown: while the provider can
    still apply it (its own server timeout after `sent_at`), the create is not sent again."""

    __tablename__ = "provider_writes"

    # What was created, by our own key: e.g. servicetitan:{tenant}:booking:{routing id}.
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    # The receiving company whose provider account the write went to (the row's tenant).
    company_id: Mapped[uuid.UUID] = mapped_column(_company(), index=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The create's answer was lost (a timeout, a cut connection, a 5xx): it may still land.
    in_doubt: Mapped[bool] = mapped_column(Boolean, server_default="false")
