"""A Google Calendar event as tempoline stores it, read from the Calendar v3 event resource.

One stored event per Google event id, whatever its kind:
- a single event;
- a recurring series' master (`recurrence` holds its RRULE/EXDATE/RDATE lines);
- an exception of a series: one instance edited or cancelled, with `recurring_event_id` (the
  master's id) and `original_start` (which instance it replaces).
Instances are never stored: they are expanded from the master when asked for
(domain/scheduling/recurrence.py), with the exceptions applied, so an edited or cancelled single
instance never duplicates the series.

Times: a timed event's start and end are instants (Google sends RFC 3339 with an offset) with
the zone they were given in; an all-day event's are dates, the end exclusive, and its span is
the calendar's local midnights, so a day on which clocks change lasts 23 or 25 hours.
A cancelled event is kept (marked deleted) rather than removed: an incremental sync may carry
only its id and status.
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class SchedulingModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventStatus(StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class EventTime(SchedulingModel):
    """Google's EventDateTime: a `day` (its `date`: all-day) or an instant `at` (its `dateTime`),
    with its IANA time zone."""

    day: date | None = None
    at: AwareDatetime | None = None
    time_zone: str | None = None

    def instant(self, calendar_zone: str) -> datetime:
        """The UTC instant: a date starts at midnight in the calendar's zone."""
        if self.at is not None:
            return self.at.astimezone(UTC)
        assert self.day is not None
        return datetime.combine(self.day, time(0), ZoneInfo(calendar_zone)).astimezone(UTC)

    def local(self, calendar_zone: str) -> datetime:
        """Wall time in the event's own zone (else the calendar's): what a recurrence repeats."""
        zone = ZoneInfo(self.time_zone or calendar_zone)
        if self.at is not None:
            return self.at.astimezone(zone)
        assert self.day is not None
        return datetime.combine(self.day, time(0), zone)


class StoredEvent(SchedulingModel):
    event_id: str
    status: EventStatus
    etag: str | None = None
    updated: AwareDatetime | None = None
    ical_uid: str | None = None
    summary: str | None = None
    description: str | None = None
    location: str | None = None
    # None only for a cancellation that came without its times.
    start: EventTime | None = None
    end: EventTime | None = None
    recurrence: list[str] = Field(default_factory=list)
    recurring_event_id: str | None = None
    original_start: EventTime | None = None
    # "transparent" events do not block time in free/busy.
    transparent: bool = False

    @property
    def deleted(self) -> bool:
        return self.status is EventStatus.CANCELLED

    @property
    def all_day(self) -> bool:
        return self.start is not None and self.start.day is not None

    def span(self, calendar_zone: str) -> tuple[datetime, datetime] | None:
        """[start, end) as UTC instants; None without times."""
        if self.start is None or self.end is None:
            return None
        return self.start.instant(calendar_zone), self.end.instant(calendar_zone)

    @property
    def duration(self) -> timedelta | None:
        """For a recurrence's instances: a timed event's length, or an all-day one's in days."""
        if self.start is None or self.end is None:
            return None
        if self.start.at is not None and self.end.at is not None:
            return self.end.at - self.start.at
        if self.start.day is not None and self.end.day is not None:
            return self.end.day - self.start.day
        return None


def _when(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Google's EventDateTime as EventTime's fields (JSON). Google sends offsets; a wall time
    without one is in the zone named beside it."""
    if not value:
        return None
    at = value.get("dateTime")
    if at is not None and not _OFFSET.search(at):
        zone = ZoneInfo(value.get("timeZone") or "UTC")
        at = datetime.fromisoformat(at).replace(tzinfo=zone).isoformat()
    return {"day": value.get("date"), "at": at, "time_zone": value.get("timeZone")}


_OFFSET = re.compile(r"(Z|[+-]\d\d:?\d\d)$")


def google_fields(item: dict[str, Any]) -> dict[str, Any]:
    """An item of `events.list` / `events.get` as StoredEvent's JSON (what is not kept is
    dropped), unvalidated: the sync stores 100,000 of these at a time without building models
    (`stored_times` checks what the row needs), and `from_google` validates them."""
    return {
        "event_id": item["id"],
        "status": item.get("status", "confirmed"),
        "etag": item.get("etag"),
        "updated": item.get("updated"),
        "ical_uid": item.get("iCalUID"),
        "summary": item.get("summary"),
        "description": item.get("description"),
        "location": item.get("location"),
        "start": _when(item.get("start")),
        "end": _when(item.get("end")),
        "recurrence": item.get("recurrence") or [],
        "recurring_event_id": item.get("recurringEventId"),
        "original_start": _when(item.get("originalStartTime")),
        "transparent": item.get("transparency") == "transparent",
    }


def from_google(item: dict[str, Any]) -> StoredEvent:
    return StoredEvent.model_validate(google_fields(item))


def stored_times(fields: dict[str, Any], calendar_zone: str) -> tuple[datetime, datetime] | None:
    """`StoredEvent.span` of google_fields' JSON, parsed as validation would parse it: a value
    that is not a date, an instant with its offset, or a known status raises ValueError."""
    EventStatus(fields["status"])
    start, end = fields["start"], fields["end"]
    if start is None or end is None:
        return None
    return _instant(start, calendar_zone), _instant(end, calendar_zone)


def _instant(when: dict[str, Any], calendar_zone: str) -> datetime:
    if when["at"] is not None:
        at = datetime.fromisoformat(when["at"])
        if at.tzinfo is None:
            raise ValueError(f"{when['at']!r} has no offset")
        return at.astimezone(UTC)
    return EventTime(day=date.fromisoformat(when["day"])).instant(calendar_zone)
