"""Platform tables: jobs (tenant-scoped), their attempts, audit log and output; executor
workers and the bootstrap tokens they register with.

A job's spec is stored as JSONB without its secret env values; those are AES-GCM ciphertext
bound to the job's id (store.sealed), opened only for the executor that holds the job's attempt.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, tenant_ref, timestamp

Json = dict[str, Any]


class PlatformWorker(Base):
    __tablename__ = "platform_workers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref(), index=True)
    # Registered with a platform admin's token: serves every tenant's jobs.
    shared: Mapped[bool] = mapped_column(Boolean)
    worker_type: Mapped[str] = mapped_column(String(63))
    capabilities: Mapped[list[str]] = mapped_column(ARRAY(String(63)))
    slots: Mapped[int] = mapped_column(Integer)
    cpu_millis: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    hostname: Mapped[str] = mapped_column(String(255))
    # Never NULL: a worker without a heartbeat time would hide that it is dead.
    registered_at: Mapped[datetime] = timestamp()
    heartbeat_at: Mapped[datetime] = timestamp()
    # What it said in its last heartbeat.
    running_reported: Mapped[int] = mapped_column(Integer, server_default="0")
    draining: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # An admin asked it to drain (it hears so in its next heartbeat's answer).
    drain_requested: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # An attempt on it stopped heartbeating: offline until it heartbeats again.
    lost: Mapped[bool] = mapped_column(Boolean, server_default="false")
    deregistered_at: Mapped[datetime | None] = timestamp(nullable=True)
    # Round-robin: the pass number that last gave it a job.
    last_assigned: Mapped[int | None] = mapped_column(BigInteger)


class PlatformTenant(Base):
    """A tenant's platform settings, and the scheduler's memory of it."""

    __tablename__ = "platform_tenants"

    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref(), primary_key=True)
    # For its jobs that name no strategy (none: least-loaded).
    default_strategy: Mapped[str | None] = mapped_column(String(16))
    # The turn (placement number) of its latest placement: between tenants running as many
    # jobs, the one served longest ago goes first.
    last_turn: Mapped[int | None] = mapped_column(BigInteger)


class BootstrapToken(Base):
    __tablename__ = "platform_bootstrap_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref(), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # SHA-256 of the token (256-bit random, like API keys).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = timestamp()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    consumed_at: Mapped[datetime | None] = timestamp(nullable=True)
    worker_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("platform_workers.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = timestamp(nullable=True)


class PlatformJob(Base):
    __tablename__ = "platform_jobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_platform_jobs_idempotency"),
        Index("ix_platform_jobs_tenant_created", "tenant_id", "created_at", "id"),
        # The scheduler's queue: waiting jobs per tenant in their order.
        Index(
            "ix_platform_jobs_waiting",
            "tenant_id",
            "worker_type",
            text("priority DESC"),
            "created_at",
            "id",
            postgresql_where=text("status = 'PENDING' AND queued"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    created_at: Mapped[datetime] = timestamp()
    updated_at: Mapped[datetime] = timestamp()
    idempotency_key: Mapped[str] = mapped_column(String(200))
    # sha256 of the request body: a reused key with a different body is refused, not ignored.
    request_hash: Mapped[str] = mapped_column(String(64))
    # Of the request that created the job; on every audit row of the job.
    correlation_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    # domain.platform.spec.JobSpec without secret env values (those are in `sealed_secrets`).
    spec: Mapped[Json] = mapped_column(JSONB)
    sealed_secrets: Mapped[bytes | None] = mapped_column(LargeBinary)
    labels: Mapped[Json] = mapped_column(JSONB)
    worker_type: Mapped[str] = mapped_column(String(63))
    capabilities: Mapped[list[str]] = mapped_column(ARRAY(String(63)))
    priority: Mapped[int] = mapped_column(Integer)
    cpu_millis: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(16))
    concurrency_key: Mapped[str | None] = mapped_column(String(200))
    concurrency_limit: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    # Its workflow has put it in the scheduler's queue (a job whose workflow never started
    # is never placed).
    queued: Mapped[bool] = mapped_column(Boolean, server_default="false")
    wait_reason: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, server_default="0")
    worker_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("platform_workers.id", ondelete="SET NULL")
    )
    exit_code: Mapped[int | None] = mapped_column(Integer)
    signal: Mapped[int | None] = mapped_column(Integer)
    output_tail: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    # The per-job audit sequence: the last seq written (gapless, one row per event).
    last_seq: Mapped[int] = mapped_column(Integer, server_default="0")
    finished_at: Mapped[datetime | None] = timestamp(nullable=True)


class PlatformAttempt(Base):
    __tablename__ = "platform_attempts"
    __table_args__ = (
        # Capacity in use: the attempts not yet ended, per worker.
        Index("ix_platform_attempts_active", "worker_id", postgresql_where=text("ended_at IS NULL")),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platform_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    worker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("platform_workers.id", ondelete="CASCADE"))
    cpu_millis: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    concurrency_key: Mapped[str | None] = mapped_column(String(200))
    assigned_at: Mapped[datetime] = timestamp()
    started_at: Mapped[datetime | None] = timestamp(nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[datetime | None] = timestamp(nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    exit_code: Mapped[int | None] = mapped_column(Integer)
    signal: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        UniqueConstraint("job_id", "seq", name="uq_audit_log_job_seq"),
        Index("ix_audit_log_tenant_id", "tenant_id", "id"),
    )

    # Global order: the SSE event id of a tenant's event stream.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("platform_jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = timestamp()
    event: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int | None] = mapped_column(Integer)
    worker_id: Mapped[uuid.UUID | None] = mapped_column()
    correlation_id: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)


class LogChunk(Base):
    __tablename__ = "platform_log_chunks"

    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platform_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    stream: Mapped[str] = mapped_column(String(6))
    data: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PlatformSchedule(Base):
    """A cron schedule of jobs: the Temporal Schedule `platform:{tenant_id}:{id}` starts its runs;
    each run creates its job from the spec here (secret env values sealed to the schedule's id,
    resealed to each job's)."""

    __tablename__ = "platform_schedules"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_platform_schedules_idempotency"),
        Index("ix_platform_schedules_tenant_created", "tenant_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    created_at: Mapped[datetime] = timestamp()
    idempotency_key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    correlation_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    # domain.platform.schedules.ScheduleSpec without secret env values.
    spec: Mapped[Json] = mapped_column(JSONB)
    sealed_secrets: Mapped[bytes | None] = mapped_column(LargeBinary)
