"""Scheduling tables: users (tenant-scoped), their Google connection, the OAuth flows under way,
their calendars with each one's sync state, and the calendars' events.

PII and secrets are AES-GCM ciphertext bound to the row's id (store.sealed): a user's email and
name, the OAuth tokens, a flow's PKCE verifier, and an event's details (summary, description,
location: domain.scheduling.events.StoredEvent as JSON). What queries need stays plain: times,
statuses, Google's ids.
"""

import uuid
from datetime import datetime

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
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, tenant_ref, timestamp


class SchedulingUser(Base):
    __tablename__ = "scheduling_users"
    __table_args__ = (
        # One user per email in a tenant; the digest is of the lower-cased email (it is sealed).
        UniqueConstraint("tenant_id", "email_digest", name="uq_scheduling_users_email"),
        Index("ix_scheduling_users_tenant_created", "tenant_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    created_at: Mapped[datetime] = timestamp()
    email_digest: Mapped[str] = mapped_column(String(64))
    # {"email": ..., "name": ...}
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    time_zone: Mapped[str] = mapped_column(String(64))


class GoogleConnection(Base):
    """A user's Google authorization: tokens sealed, never returned by any endpoint."""

    __tablename__ = "google_connections"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("scheduling_users.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    # connected | reauthorization_required | disconnected
    status: Mapped[str] = mapped_column(String(32))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # {"refresh_token": ..., "access_token": ..., "expiry": ...}, sealed to the user's id.
    sealed_tokens: Mapped[bytes | None] = mapped_column(LargeBinary)
    connected_at: Mapped[datetime] = timestamp()
    updated_at: Mapped[datetime] = timestamp()
    last_error: Mapped[str | None] = mapped_column(Text)


class OAuthFlow(Base):
    """An authorization under way: the signed `state` names it; used once, before it expires."""

    __tablename__ = "oauth_flows"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scheduling_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = timestamp()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = timestamp(nullable=True)
    # The PKCE code verifier, sealed to the flow's id.
    sealed_verifier: Mapped[bytes] = mapped_column(LargeBinary)


class Calendar(Base):
    """One of a user's Google calendars, and its sync state when chosen for sync."""

    __tablename__ = "calendars"
    __table_args__ = (
        UniqueConstraint("user_id", "google_calendar_id", name="uq_calendars_user_google_id"),
        Index("ix_calendars_tenant_user", "tenant_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scheduling_users.id", ondelete="CASCADE"))
    google_calendar_id: Mapped[str] = mapped_column(String(255))
    # {"summary": ..., "description": ...}
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    time_zone: Mapped[str] = mapped_column(String(64))
    selected: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # idle | syncing | ok | error | reauthorization_required | stopped
    sync_status: Mapped[str] = mapped_column(String(32), server_default="idle")
    sync_token: Mapped[str | None] = mapped_column(Text)
    # The listing under way (full, or incremental from `sync_token`): the next page to fetch,
    # committed with the page before it, so a new attempt resumes there.
    page_token: Mapped[str | None] = mapped_column(Text)
    listing_full: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # Each full listing's number: its events carry it, and what it did not list is deleted.
    generation: Mapped[int] = mapped_column(BigInteger, server_default="0")
    last_success_at: Mapped[datetime | None] = timestamp(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = timestamp(nullable=True)
    events_count: Mapped[int] = mapped_column(Integer, server_default="0")


class CalendarEvent(Base):
    """A stored event (domain.scheduling.events): single, series master, or exception."""

    __tablename__ = "calendar_events"
    __table_args__ = (
        # The business key of every upsert: a page applied twice changes nothing.
        UniqueConstraint("calendar_id", "event_id", name="uq_calendar_events_calendar_event"),
        Index("ix_calendar_events_calendar_start", "calendar_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    calendar_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16))
    deleted: Mapped[bool] = mapped_column(Boolean)
    all_day: Mapped[bool] = mapped_column(Boolean)
    start_at: Mapped[datetime | None] = timestamp(nullable=True)
    end_at: Mapped[datetime | None] = timestamp(nullable=True)
    recurring: Mapped[bool] = mapped_column(Boolean)  # a series master
    recurring_event_id: Mapped[str | None] = mapped_column(String(1024))
    etag: Mapped[str | None] = mapped_column(String(255))
    updated: Mapped[datetime | None] = timestamp(nullable=True)
    # The calendar's generation when the event was last listed.
    generation: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # StoredEvent as JSON, sealed to (calendar id, event id) by the store.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class CalendarChannel(Base):
    """A push channel (events.watch) of a calendar. The webhook finds it by id and compares its
    token (sealed to the calendar); a stopped or expired channel's notifications are ignored."""

    __tablename__ = "calendar_channels"
    __table_args__ = (Index("ix_calendar_channels_calendar", "calendar_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    calendar_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    sealed_token: Mapped[bytes] = mapped_column(LargeBinary)
    resource_id: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = timestamp(nullable=True)
    created_at: Mapped[datetime] = timestamp()
    stopped_at: Mapped[datetime | None] = timestamp(nullable=True)
