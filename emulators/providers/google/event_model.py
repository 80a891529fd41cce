"""The Event resource: what a client may write, what the server adds, and what lists show.

Internal bookkeeping rides in keys starting with ``_`` (change sequence, UTC bounds), which are
stripped from every answer.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from emulators.providers.google.errors import GoogleError
from emulators.providers.google.times import When, parse_when, rfc3339

# "characters allowed in the ID are those used in base32hex encoding, i.e. lowercase letters a-v
# and digits 0-9 ... the length of the ID must be between 5 and 1024 characters" (Event.id).
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
# An instance of a recurring event: "<recurring event id>_<start in UTC basic format or date>".
INSTANCE_ID = re.compile(r"^(?P<master>[a-v0-9]{5,1024})_(?P<stamp>\d{8}(T\d{6}Z)?)$")

# Fields the server owns; a client's values for them are ignored.
SERVER_FIELDS = {"kind", "etag", "htmlLink", "created", "updated", "iCalUID", "creator", "organizer"}
WRITABLE_STATUS = {"confirmed", "tentative", "cancelled"}


def new_event_id() -> str:
    return uuid.uuid4().hex  # hex digits are all within base32hex


def check_event_id(event_id: Any) -> str:
    if not isinstance(event_id, str) or not EVENT_ID.match(event_id):
        raise GoogleError("invalid", "Invalid resource id value.", location="id")
    return event_id


def public(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k[0] != "_"}


def listed(event: dict[str, Any]) -> dict[str, Any]:
    """How a list shows an event. "Deleted events are only guaranteed to have the id field
    populated": a deleted event shows only that (and its status); a cancelled instance of a
    recurring event keeps what identifies the instance."""
    if event.get("status") != "cancelled":
        return public(event)
    out = {"kind": event["kind"], "etag": event["etag"], "id": event["id"], "status": "cancelled"}
    if "recurringEventId" in event:
        out["recurringEventId"] = event["recurringEventId"]
        out["originalStartTime"] = event["originalStartTime"]
    return out


def validate(body: dict[str, Any], calendar_tz: ZoneInfo) -> tuple[When, When]:
    """The start and end of a written event, checked as Google checks them."""
    start = parse_when(body.get("start"), "start")
    end = parse_when(body.get("end"), "end")
    if start.all_day != end.all_day:
        raise GoogleError("invalid", "Start and end times must either both be date or both be dateTime.")
    if end.utc(calendar_tz) < start.utc(calendar_tz) or (
        start.all_day and end.day is not None and start.day is not None and end.day <= start.day
    ):
        raise GoogleError("timeRangeEmpty", location="end")
    recurrence = body.get("recurrence")
    if recurrence is not None:
        if not isinstance(recurrence, list) or not all(isinstance(r, str) for r in recurrence):
            raise GoogleError("invalid", "Invalid recurrence rule.", location="recurrence")
        if not start.all_day and (start.tz is None or end.tz is None):
            # Google needs the zone to expand a timed series across DST changes.
            raise GoogleError(
                "required", "Missing time zone definition for start time.", location="start.timeZone"
            )
    status = body.get("status", "confirmed")
    if status not in WRITABLE_STATUS:
        raise GoogleError("invalid", f"Invalid value for status: {status}", location="status")
    return start, end


def bounds(start: When, end: When, calendar_tz: ZoneInfo) -> tuple[float, float]:
    return start.utc(calendar_tz).timestamp(), end.utc(calendar_tz).timestamp()


def time_field(moment: datetime | date, tz_name: str | None) -> dict[str, Any]:
    if isinstance(moment, datetime):
        field: dict[str, Any] = {"dateTime": moment.isoformat()}
        if tz_name:
            field["timeZone"] = tz_name
        return field
    return {"date": moment.isoformat()}


def etag(seq: int) -> str:
    return f'"{3_400_000_000_000_000 + seq}"'


def stamp(event: dict[str, Any], seq: int, now: datetime) -> None:
    event["_seq"] = seq
    event["etag"] = etag(seq)
    event["updated"] = rfc3339(now)
