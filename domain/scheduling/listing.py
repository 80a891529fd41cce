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
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.scheduling.events import EventTime, StoredEvent
from domain.scheduling.recurrence import Occurrence, occurrences


@dataclass(frozen=True)
class Listed:
    event: StoredEvent  # for an instance: its master's details with the instance's id and times
    start: datetime  # UTC
    end: datetime  # UTC

    @property
    def position(self) -> tuple[datetime, bytes]:
        # Bytes: UTF-8 orders as code points do, and a cursor carries the id as hex.
        return self.start, self.event.event_id.encode()


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
                found.append(Listed(event, occurring.start, occurring.end))
    else:
        for event in events:
            span = event.span(calendar_zone)
            if event.deleted or span is None:
                continue
            if event.recurrence:
                if occurrences([event], window, calendar_zone):
                    found.append(Listed(event, *span))
            elif span[0] < end and span[1] > start:
                found.append(Listed(event, *span))
    if include_deleted:
        for event in events:
            span = event.span(calendar_zone)
            if event.deleted and span is not None and span[0] < end and span[1] > start:
                found.append(Listed(event, *span))
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
    return Listed(shown, occurring.start, occurring.end)
