"""Typed ORM models. Every business table carries tenant_id; ids are UUIDs; times are timestamptz."""

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def tenant_ref() -> ForeignKey:
    """The owning tenant: its rows go with it."""
    return ForeignKey("tenants.id", ondelete="CASCADE")


def timestamp(*, nullable: bool = False) -> Mapped[Any]:
    """A timestamptz; set by the database at insert unless nullable."""
    return mapped_column(
        DateTime(timezone=True), server_default=None if nullable else func.now(), nullable=nullable
    )


class Timestamped:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Role(enum.StrEnum):
    admin = "admin"
    member = "member"
    # A platform executor's key: it may call only the executor endpoints, only for its worker.
    executor = "executor"


class Tenant(Timestamped, Base):
    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Timestamped, Base):
    __tablename__ = "api_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(String(16))
    # SHA-256 of the key: keys are 256-bit random, so a fast hash is safe and keeps lookup O(1).
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The worker an executor key belongs to (role executor only).
    worker_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("platform_workers.id", ondelete="CASCADE"), index=True
    )
