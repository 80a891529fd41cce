"""A calendar's events in the store (store.scheduling.CalendarEvent): the row an upsert writes
for a StoredEvent, and the events a time window needs read back.

An event's details are sealed to its owner `uuid5(calendar id, event id)`: bound to both, so a
ciphertext copied onto another event or calendar does not open. What queries need (times,
status, kind, Google's ids) stays plain.
"""

import hashlib
import re
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Column, ColumnElement, MetaData, Row, Table, and_, case, func, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateTable

from core.crypto import Cipher
from domain.scheduling.events import EventStatus, StoredEvent, stored_times
from store.scheduling import CalendarEvent
from store.sealed import open_model


def event_owner(calendar_id: uuid.UUID, event_id: str) -> uuid.UUID:
    return uuid.uuid5(calendar_id, event_id)


def _owner_bytes(calendar_id: uuid.UUID, event_id: str) -> bytes:
    """`event_owner(...).bytes`, without building the UUID (a sync seals 100,000 events): SHA-1
    of the namespace and the name, its version and variant bits set, as RFC 4122 says."""
    digest = bytearray(hashlib.sha1(calendar_id.bytes + event_id.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return bytes(digest)


def event_row(
    cipher: Cipher, tenant_id: uuid.UUID, calendar_id: uuid.UUID, calendar_zone: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """The columns of an event's row, from StoredEvent's JSON (domain.scheduling.events
    google_fields). A series master's times are its first instance's."""
    span = stored_times(fields, calendar_zone)
    updated = fields["updated"]
    return {
        "tenant_id": tenant_id,
        "calendar_id": calendar_id,
        "event_id": fields["event_id"],
        "status": fields["status"],
        "deleted": fields["status"] == EventStatus.CANCELLED,
        "all_day": fields["start"] is not None and fields["start"]["day"] is not None,
        "start_at": span[0] if span else None,
        "end_at": span[1] if span else None,
        "recurring": bool(fields["recurrence"]),
        "recurring_event_id": fields["recurring_event_id"],
        "etag": fields["etag"],
        "updated": datetime.fromisoformat(updated) if updated else None,
        "sealed": cipher.encrypt(orjson.dumps(fields), _owner_bytes(calendar_id, fields["event_id"])),
    }


def event_values(
    cipher: Cipher, tenant_id: uuid.UUID, calendar_id: uuid.UUID, calendar_zone: str, event: StoredEvent
) -> dict[str, Any]:
    """The columns of a StoredEvent's row."""
    return event_row(cipher, tenant_id, calendar_id, calendar_zone, event.model_dump(mode="json"))


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


# A page's rows are copied (COPY, the fastest way in) into a temporary table of the same columns,
# then upserted from there in one statement.
_EVENTS = CalendarEvent.__table__
_COLUMNS = [c.name for c in _EVENTS.c if c.name != "id"]
# Binary COPY (psycopg's C dumpers) needs each column's PostgreSQL type named.
_COPY_TYPES = [
    re.sub(r"\(.*\)", "", c.type.compile(dialect=postgresql.dialect()))
    .lower()
    .replace("timestamp with time zone", "timestamptz")
    for c in _EVENTS.c
    if c.name != "id"
]
_LISTED = Table(
    "listed_events",
    MetaData(),
    *(Column(c.name, c.type) for c in _EVENTS.c if c.name != "id"),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)


def _unless(condition: Any, otherwise: Any, then: Any) -> Any:
    return case((condition, then), else_=otherwise)


def _upsert() -> Any:
    """Each listed event into its row, keyed by (calendar, event id): a page stored twice changes
    nothing. A bare cancellation (an id and a status, as incremental listings send) keeps what
    was known of the event: it stays a deleted row with its times and details."""
    listed = insert(_EVENTS).from_select(_COLUMNS, select(*(_LISTED.c[name] for name in _COLUMNS)))
    ours, theirs = _EVENTS.c, listed.excluded
    bare = theirs.start_at.is_(None)
    return listed.on_conflict_do_update(
        index_elements=[ours.calendar_id, ours.event_id],
        set_={
            "status": theirs.status,
            "deleted": theirs.deleted,
            "etag": theirs.etag,
            "updated": theirs.updated,
            "generation": theirs.generation,
            "all_day": _unless(bare, theirs.all_day, ours.all_day),
            "recurring": _unless(bare, theirs.recurring, ours.recurring),
            "sealed": _unless(bare, theirs.sealed, ours.sealed),
            **{
                name: func.coalesce(theirs[name], ours[name])
                for name in ("start_at", "end_at", "recurring_event_id")
            },
        },
    )


# The upsert and, from the snapshot before it (a data-modifying CTE does not see its own
# writes), how many of the listed events were alive: the page's difference to the count.
_WERE_ALIVE = (
    select(func.count())
    .select_from(
        _LISTED.join(
            _EVENTS,
            and_(_EVENTS.c.calendar_id == _LISTED.c.calendar_id, _EVENTS.c.event_id == _LISTED.c.event_id),
        )
    )
    .where(_EVENTS.c.deleted.is_(False))
)
_UPSERT = select(_WERE_ALIVE.scalar_subquery()).add_cte(_upsert().returning(_EVENTS.c.id).cte("stored"))
_CREATE_LISTED = str(CreateTable(_LISTED, if_not_exists=True).compile(dialect=postgresql.dialect()))


async def upsert(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Stores rows made by `event_values` (plus their `generation`), in the caller's transaction;
    answers how many more of their calendar's events are alive after (a negative number when
    more were deleted than added)."""
    if not rows:
        return 0
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    await raw.execute(_CREATE_LISTED)
    # Google keeps these events: a page lost with a database crash (its commit not yet on disk)
    # goes with its cursor, and is listed again. The commit need not wait for the disk.
    await raw.execute("SET LOCAL synchronous_commit TO OFF")
    async with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY listed_events ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(_COPY_TYPES)
        for row in rows:
            await copy.write_row([row[name] for name in _COLUMNS])
    were_alive = int(await session.scalar(_UPSERT) or 0)
    return sum(not row["deleted"] for row in rows) - were_alive
