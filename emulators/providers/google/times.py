"""Event times: RFC 3339 parsing, all-day dates, and recurrence expansion (RRULE/EXDATE/RDATE).

Timed events are expanded in their own ``timeZone`` so an instance keeps its wall-clock time
across a DST change (as Google does); all-day events are dates in the calendar's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule

from emulators.providers.google.errors import GoogleError

# Instances listed for a recurrence without an end when no timeMax bounds it (assumption).
MAX_INSTANCES = 730


def now_rfc3339() -> str:
    return rfc3339(datetime.now(UTC))


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(value: str, location: str) -> datetime:
    """An RFC 3339 timestamp with an offset (timeMin, timeMax, updatedMin, freeBusy bounds)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        raise GoogleError("invalid", f"Invalid value for {location}: {value}", location=location) from None
    if moment.tzinfo is None:
        raise GoogleError("invalid", f"Invalid value for {location}: {value}", location=location)
    return moment


def zone(name: str | None, location: str = "timeZone") -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    # A name that is a folder of the zone database ("America") raises IsADirectoryError when
    # the zones come from the tzdata package, ZoneInfoNotFoundError when they come from the OS.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise GoogleError("invalid", f"Invalid time zone definition: {name}", location=location) from None


@dataclass(frozen=True)
class When:
    """One side of an event (start or end): a local datetime in its zone, or a date."""

    moment: datetime | None  # aware, in `tz` when one was given
    day: date | None
    tz: ZoneInfo | None

    @property
    def all_day(self) -> bool:
        return self.day is not None

    def utc(self, calendar_tz: ZoneInfo) -> datetime:
        if self.moment is not None:
            return self.moment.astimezone(UTC)
        assert self.day is not None
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=calendar_tz).astimezone(UTC)


def parse_when(value: Any, side: str) -> When:
    if not isinstance(value, dict):
        raise GoogleError("required", f"Missing {side} time.", location=side)
    tz = zone(value.get("timeZone"), f"{side}.timeZone")
    if value.get("date"):
        try:
            return When(None, date.fromisoformat(value["date"]), tz)
        except (TypeError, ValueError):
            raise GoogleError("invalid", f"Invalid {side} date.", location=f"{side}.date") from None
    raw = value.get("dateTime")
    if not raw:
        raise GoogleError("required", f"Missing {side} time.", location=side)
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise GoogleError("invalid", f"Invalid {side} time.", location=f"{side}.dateTime") from None
    if moment.tzinfo is None:
        if tz is None:
            raise GoogleError(
                "required", f"Missing time zone definition for {side} time.", location=f"{side}.timeZone"
            )
        moment = moment.replace(tzinfo=tz)
    elif tz is not None:
        moment = moment.astimezone(tz)
    return When(moment, None, tz)


def instance_suffix(start: datetime | date) -> str:
    if isinstance(start, datetime):
        return start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return start.strftime("%Y%m%d")


def occurrences(
    recurrence: list[str],
    start: When,
    calendar_tz: ZoneInfo,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    limit: int = MAX_INSTANCES,
) -> list[datetime | date]:
    """Start of each occurrence (aware datetimes in the event's zone, or dates), in order."""
    lines = [line for line in recurrence if line.split(":", 1)[0].split(";", 1)[0] in _RULE_NAMES]
    if start.all_day:
        assert start.day is not None
        dtstart = datetime(start.day.year, start.day.month, start.day.day)
    else:
        assert start.moment is not None
        dtstart = start.moment if start.tz is not None else start.moment.astimezone(calendar_tz)
    try:
        rules = rrule.rrulestr("\n".join(lines), dtstart=dtstart, forceset=True, unfold=True)
    except (ValueError, TypeError) as exc:
        raise GoogleError("invalid", f"Invalid recurrence rule: {exc}", location="recurrence") from None
    out: list[datetime | date] = []
    for occurrence in rules:
        aware = occurrence.replace(tzinfo=calendar_tz) if start.all_day else occurrence
        if window_end is not None and aware >= window_end:
            break
        if window_start is None or aware >= window_start - timedelta(days=1):
            out.append(occurrence.date() if start.all_day else occurrence)
        if len(out) >= limit:
            break
    return out


_RULE_NAMES = {"RRULE", "EXRULE", "RDATE", "EXDATE"}
