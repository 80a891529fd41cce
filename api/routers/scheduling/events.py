"""A synced calendar's events, read from the store (the sync keeps it equal to Google's).

`GET /api/scheduling/users/{user_id}/calendars/{calendar_id}/events?start&end`: the events in
the range in (start, id) order, paged by cursor; `expand` turns series into their instances,
`include_deleted` adds cancelled events (domain/scheduling/listing.py says what each shows).
"""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api import paging
from api.deps import Caller, Session
from api.problems import ERROR_RESPONSES, ProblemError
from api.routers.scheduling.calendars import owned_calendar
from api.routers.scheduling.windows import End, Start, window
from core.crypto import Cipher
from domain.scheduling.events import EventStatus, EventTime, StoredEvent
from domain.scheduling.listing import Listed, listing, single
from store import calendar_events

router = APIRouter(prefix="/api/scheduling", tags=["scheduling: events"], responses=ERROR_RESPONSES)

# A listing reads and expands every event in its range for each page: a range is bounded.
LONGEST_RANGE = timedelta(days=366)


class EventTimeOut(BaseModel):
    """Google's EventDateTime: `date` for an all-day event, else `date_time` with its offset."""

    model_config = ConfigDict(populate_by_name=True)

    # Named `date` in JSON, as Google names it (`date` here would hide the type).
    day: date | None = Field(default=None, alias="date")
    date_time: datetime | None = None
    time_zone: str | None = None


class EventOut(BaseModel):
    id: str
    status: EventStatus
    deleted: bool
    all_day: bool
    transparent: bool
    summary: str | None
    description: str | None
    location: str | None
    start: EventTimeOut | None
    end: EventTimeOut | None
    # The exact span in UTC; an all-day event's runs from the calendar's local midnight to the
    # next (23 or 25 hours on the day the clocks change).
    start_at: datetime
    end_at: datetime
    recurrence: list[str]
    recurring_event_id: str | None
    original_start: EventTimeOut | None
    etag: str | None
    updated: datetime | None


# The cursor is the last item's start in microseconds since the epoch and its id's UTF-8 in hex:
# every string the pattern accepts is a position.
CURSOR_PATTERN = r"^-?[0-9]{1,17}\.(?:[0-9a-f]{2})+$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EventCursor = Annotated[
    str | None,
    Query(pattern=CURSOR_PATTERN, max_length=4200, description="next_cursor of the previous page"),
]


def _encode(position: tuple[datetime, bytes]) -> str:
    at, id = position
    return f"{(at - _EPOCH) // timedelta(microseconds=1)}.{id.hex()}"


def _decode(cursor: str) -> tuple[datetime, bytes]:
    micros, _, id = cursor.partition(".")
    try:
        return _EPOCH + timedelta(microseconds=int(micros)), bytes.fromhex(id)
    except OverflowError:
        raise ProblemError(422, "Invalid cursor", "The cursor is not one this API gave.") from None


def _time(value: EventTime | None) -> EventTimeOut | None:
    if value is None:
        return None
    return EventTimeOut(day=value.day, date_time=value.at, time_zone=value.time_zone)


def event_out(item: Listed, event: StoredEvent) -> EventOut:
    return EventOut(
        id=event.event_id,
        status=event.status,
        deleted=event.deleted,
        all_day=event.all_day,
        transparent=event.transparent,
        summary=event.summary,
        description=event.description,
        location=event.location,
        start=_time(event.start),
        end=_time(event.end),
        start_at=item.start,
        end_at=item.end,
        recurrence=event.recurrence,
        recurring_event_id=event.recurring_event_id,
        original_start=_time(event.original_start),
        etag=event.etag,
        updated=event.updated,
    )


@router.get("/users/{user_id}/calendars/{calendar_id}/events", response_model=paging.Page[EventOut])
async def list_events(
    user_id: uuid.UUID,
    calendar_id: uuid.UUID,
    who: Caller,
    session: Session,
    request: Request,
    start: Start,
    end: End,
    expand: Annotated[bool, Query(description="Recurring series as their instances in the range")] = False,
    include_deleted: Annotated[bool, Query(description="Cancelled events too")] = False,
    limit: paging.Limit = 50,
    cursor: EventCursor = None,
) -> paging.Page[EventOut]:
    """The calendar's events overlapping [start, end), at most 366 days, ordered by start then id."""
    calendar = await owned_calendar(session, who.tenant_id, user_id, calendar_id)
    span = window(start, end, LONGEST_RANGE)
    cipher: Cipher = request.app.state.cipher
    rows = await calendar_events.placed(session, calendar.id, span)
    # Series and their exceptions are opened to be expanded; the other events are placed by
    # their plain columns and opened only when they are on this page.
    series = {row.event_id for row in rows if row.recurring}
    in_series = {row.event_id for row in rows if row.recurring or row.recurring_event_id in series}
    expanded = await calendar_events.opened(session, cipher, calendar.id, in_series)
    found = listing(expanded, span, calendar.time_zone, expand=expand, include_deleted=include_deleted)
    for row in rows:
        if row.event_id not in in_series:
            placed = single(row.event_id, (row.start_at, row.end_at), row.deleted, span, include_deleted)
            found += [placed] if placed else []
    found.sort(key=lambda item: item.position)
    if cursor is not None:
        after = _decode(cursor)
        found = [item for item in found if item.position > after]
    more = len(found) > limit
    found = found[:limit]
    unopened = {item.id for item in found if item.event is None}
    details = {e.event_id: e for e in await calendar_events.opened(session, cipher, calendar.id, unopened)}
    # Rows are never deleted but with their calendar; one removed since the first read is left out.
    return paging.Page(
        items=[event_out(item, event) for item in found if (event := item.event or details.get(item.id))],
        next_cursor=_encode(found[-1].position) if more else None,
    )
