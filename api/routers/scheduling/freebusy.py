"""When a user is busy: `GET /api/scheduling/users/{user_id}/freebusy?start&end&time_zone`.

The occurrences of every calendar chosen for sync, each calendar's all-day events in its own
zone, merged into disjoint busy intervals clipped to the range (domain/scheduling/freebusy.py).
As Google's freeBusy: cancelled events and transparent ones ("show me as available") leave the
time free, the range spans at most 90 days (beyond it Google answers "The requested time range
is too long"), and the intervals are given in `time_zone` (default UTC).
"""

import uuid
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import Caller, Session
from api.problems import ERROR_RESPONSES
from api.routers.scheduling.users import TimeZone, owned_user
from api.routers.scheduling.windows import End, Start, window
from core.crypto import Cipher
from domain.scheduling.freebusy import busy
from domain.scheduling.recurrence import Occurrence, occurrences
from store import calendar_events
from store.scheduling import Calendar

router = APIRouter(prefix="/api/scheduling", tags=["scheduling: free/busy"], responses=ERROR_RESPONSES)

LONGEST_RANGE = timedelta(days=90)


class Interval(BaseModel):
    start: datetime
    end: datetime


class FreeBusyOut(BaseModel):
    start: datetime
    end: datetime
    time_zone: str
    calendars: list[uuid.UUID]  # the calendars chosen for sync, whose events were merged
    busy: list[Interval]


@router.get("/users/{user_id}/freebusy", response_model=FreeBusyOut)
async def free_busy(
    user_id: uuid.UUID,
    who: Caller,
    session: Session,
    request: Request,
    start: Start,
    end: End,
    time_zone: Annotated[TimeZone, Query(description="IANA zone the answer's times are given in")] = "UTC",
) -> FreeBusyOut:
    """The user's busy intervals in [start, end), at most 90 days, across their synced calendars."""
    await owned_user(session, who.tenant_id, user_id)
    span = window(start, end, LONGEST_RANGE)
    cipher: Cipher = request.app.state.cipher
    chosen = await session.scalars(
        select(Calendar)
        .where(Calendar.user_id == user_id, Calendar.tenant_id == who.tenant_id, Calendar.selected)
        .order_by(Calendar.id)
    )
    occurring: list[Occurrence] = []
    calendars = []
    for calendar in chosen:
        calendars.append(calendar.id)
        events = await calendar_events.in_window(session, cipher, calendar.id, span)
        occurring += occurrences(events, span, calendar.time_zone)
    zone = ZoneInfo(time_zone)
    return FreeBusyOut(
        start=start.astimezone(zone),
        end=end.astimezone(zone),
        time_zone=time_zone,
        calendars=calendars,
        busy=[Interval(start=a.astimezone(zone), end=b.astimezone(zone)) for a, b in busy(occurring, span)],
    )
