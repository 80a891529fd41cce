"""A calendar's events in the store (store.scheduling.CalendarEvent): the row an upsert writes
for a StoredEvent, and the events a time window needs read back.

An event's details are sealed to its owner `uuid5(calendar id, event id)`: bound to both, so a
ciphertext copied onto another event or calendar does not open. What queries need (times,
status, kind, Google's ids) stays plain.
"""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import Cipher
from domain.scheduling.events import StoredEvent
from store.scheduling import CalendarEvent
from store.sealed import open_model, seal_model


def event_owner(calendar_id: uuid.UUID, event_id: str) -> uuid.UUID:
    return uuid.uuid5(calendar_id, event_id)


def event_values(
    cipher: Cipher, tenant_id: uuid.UUID, calendar_id: uuid.UUID, calendar_zone: str, event: StoredEvent
) -> dict[str, Any]:
    """The columns of an event's row. A series master's times are its first instance's."""
    span = event.span(calendar_zone)
    return {
        "tenant_id": tenant_id,
        "calendar_id": calendar_id,
        "event_id": event.event_id,
        "status": event.status.value,
        "deleted": event.deleted,
        "all_day": event.all_day,
        "start_at": span[0] if span else None,
        "end_at": span[1] if span else None,
        "recurring": bool(event.recurrence),
        "recurring_event_id": event.recurring_event_id,
        "etag": event.etag,
        "updated": event.updated,
        "sealed": seal_model(cipher, event_owner(calendar_id, event.event_id), event),
    }


def open_event(cipher: Cipher, row: CalendarEvent) -> StoredEvent:
    return open_model(cipher, event_owner(row.calendar_id, row.event_id), row.sealed, StoredEvent)


def _needed(calendar_id: uuid.UUID, window: tuple[datetime, datetime]) -> ColumnElement[bool]:
    """The rows the occurrences in [start, end) are made of, deleted ones included: the events
    whose own times overlap the window, every series that began before its end, and all the
    exceptions of those series, wherever they moved (each removes an instance, perhaps one in
    the window)."""
    start, end = window
    series = select(CalendarEvent.event_id).where(
        CalendarEvent.calendar_id == calendar_id,
        CalendarEvent.recurring,
        CalendarEvent.start_at < end,
    )
    return and_(
        CalendarEvent.calendar_id == calendar_id,
        or_(
            and_(CalendarEvent.start_at < end, CalendarEvent.end_at > start),
            and_(CalendarEvent.recurring, CalendarEvent.start_at < end),
            CalendarEvent.recurring_event_id.in_(series),
        ),
    )


async def in_window(
    session: AsyncSession, cipher: Cipher, calendar_id: uuid.UUID, window: tuple[datetime, datetime]
) -> list[StoredEvent]:
    """The events the occurrences in the window are made of, opened."""
    rows = await session.scalars(select(CalendarEvent).where(_needed(calendar_id, window)))
    return [open_event(cipher, row) for row in rows]


async def placed(
    session: AsyncSession, calendar_id: uuid.UUID, window: tuple[datetime, datetime]
) -> Sequence[Row[Any]]:
    """The same events' plain columns only (no details: opening them all is what costs)."""
    columns = (
        CalendarEvent.event_id,
        CalendarEvent.start_at,
        CalendarEvent.end_at,
        CalendarEvent.deleted,
        CalendarEvent.recurring,
        CalendarEvent.recurring_event_id,
    )
    return (await session.execute(select(*columns).where(_needed(calendar_id, window)))).all()


async def opened(
    session: AsyncSession, cipher: Cipher, calendar_id: uuid.UUID, event_ids: Collection[str]
) -> list[StoredEvent]:
    """These events of the calendar, opened."""
    if not event_ids:
        return []
    rows = await session.execute(
        select(CalendarEvent.event_id, CalendarEvent.sealed).where(
            CalendarEvent.calendar_id == calendar_id, CalendarEvent.event_id.in_(event_ids)
        )
    )
    return [open_model(cipher, event_owner(calendar_id, id), sealed, StoredEvent) for id, sealed in rows]
