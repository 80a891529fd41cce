"""A calendar's events in a time window, as the events listing shows them, in one order:
(start instant, id), the key its cursor pages on.

Not expanded (as Google's `singleEvents=false`): the stored events themselves: single events
and exceptions whose times overlap the window, and each series master with an instance in it
(shown at its first instance's times, with its `recurrence`).
Expanded (`singleEvents=true`): a series becomes its instances in the window
(domain/scheduling/recurrence.py), each named as Google names it
(`{master id}_{start in UTC as 20250331T070000Z}`, all-day `{master id}_{20250331}`); an
exception stands in its instance's place at its own time, a cancelled one removes it.
Cancelled events are left out unless asked for; then each is shown once, as stored, where its
own times overlap the window (a cancellation that came without times has no place in one).

A single event is listed the same either way, so a listing opens only the series (and their
exceptions) to expand them, places the other events by their plain columns (`single`), and
opens those on the page it shows.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.scheduling.events import EventTime, StoredEvent
from domain.scheduling.recurrence import Occurrence, occurrences


@dataclass(frozen=True)
class Listed:
    id: str
    start: datetime  # UTC
    end: datetime  # UTC
    # For an instance: its master's details with the instance's id and times. None: a stored
    # event placed by its plain columns, opened only once it is on the page shown.
    event: StoredEvent | None = None

    @property
    def position(self) -> tuple[datetime, bytes]:
        # Bytes: UTF-8 orders as code points do, and a cursor carries the id as hex.
        return self.start, self.id.encode()


def single(
    event_id: str,
    span: tuple[datetime | None, datetime | None],
    deleted: bool,
    window: tuple[datetime, datetime],
    include_deleted: bool,
) -> Listed | None:
    """A single event (or an exception whose series is not stored) where it is listed, the same
    expanded or not: where its own times overlap the window."""
    start, end = span
    if start is None or end is None or not (start < window[1] and end > window[0]):
        return None
    return Listed(event_id, start, end) if include_deleted or not deleted else None


def listing(
    events: list[StoredEvent],
    window: tuple[datetime, datetime],
    calendar_zone: str,
    *,
    expand: bool,
    include_deleted: bool,
) -> list[Listed]:
    start, end = window
    found: list[Listed] = []
    if expand:
        by_id = {e.event_id: e for e in events}
        for occurring in occurrences(events, window, calendar_zone):
            event = by_id[occurring.event_id]
            if event.recurrence:
                found.append(instance(event, occurring, calendar_zone))
            else:
                found.append(Listed(event.event_id, occurring.start, occurring.end, event))
    else:
        for event in events:
            span = event.span(calendar_zone)
            if event.deleted or span is None:
                continue
            if event.recurrence:
                if occurrences([event], window, calendar_zone):
                    found.append(Listed(event.event_id, *span, event))
            elif span[0] < end and span[1] > start:
                found.append(Listed(event.event_id, *span, event))
    if include_deleted:
        for event in events:
            span = event.span(calendar_zone)
            if event.deleted and span is not None and span[0] < end and span[1] > start:
                found.append(Listed(event.event_id, *span, event))
    return sorted(found, key=lambda item: item.position)


def instance(master: StoredEvent, occurring: Occurrence, calendar_zone: str) -> Listed:
    """One instance of a series, as Google's expanded listing shows it."""
    assert master.start is not None and master.end is not None
    if occurring.all_day:
        day = occurring.start.astimezone(ZoneInfo(calendar_zone)).date()
        length = master.end.day - master.start.day if master.end.day and master.start.day else timedelta(1)
        begins = EventTime(day=day, time_zone=master.start.time_zone)
        ends = EventTime(day=day + length, time_zone=master.end.time_zone)
        suffix = day.strftime("%Y%m%d")
    else:
        zone = ZoneInfo(master.start.time_zone or calendar_zone)
        begins = EventTime(at=occurring.start.astimezone(zone), time_zone=master.start.time_zone)
        ends = EventTime(
            at=occurring.end.astimezone(ZoneInfo(master.end.time_zone or calendar_zone)),
            time_zone=master.end.time_zone,
        )
        suffix = occurring.start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    shown = master.model_copy(
        update={
            "event_id": f"{master.event_id}_{suffix}",
            "recurrence": [],
            "recurring_event_id": master.event_id,
            "original_start": begins,
            "start": begins,
            "end": ends,
        }
    )
    return Listed(shown.event_id, occurring.start, occurring.end, shown)
