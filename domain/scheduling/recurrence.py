"""The occurrences of stored events in a time window: single events as they are, recurring
series expanded from their master's RRULE/EXDATE/RDATE lines (RFC 5545, python-dateutil), with
their exceptions applied: an exception removes the instance at its `original_start` and, when
it is an edit, occurs at its own time, wherever it moved (into the window from outside it, or
out of it). Each occurrence appears once.

A series repeats wall-clock time in its own zone: a weekly 09:00 Europe/Berlin meeting is at
07:00 UTC in summer (CEST) and 08:00 UTC in winter (CET), 09:00 for the people in Berlin. An
all-day series repeats dates, each day from the calendar's local midnight to the next.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr

from domain.scheduling.events import StoredEvent

# A series gives at most this many occurrences per window; queries take bounded windows. Counted
# in the window, not from the series' start: a daily series from 1990 has 10,000 instances
# before 2018 and still occurs now.
MAX_OCCURRENCES = 10_000


@dataclass(frozen=True)
class Occurrence:
    event_id: str  # the single event's, the exception's, or the master's for a plain instance
    start: datetime  # UTC
    end: datetime  # UTC
    all_day: bool
    transparent: bool


Add = Callable[[StoredEvent, tuple[datetime, datetime]], None]


def occurrences(
    events: Iterable[StoredEvent], window: tuple[datetime, datetime], calendar_zone: str
) -> list[Occurrence]:
    """Every occurrence overlapping [window start, window end), ordered by start."""
    start, end = window
    events = list(events)
    series = {e.event_id for e in events if e.recurrence and not e.deleted}
    replaced: dict[str, set[datetime]] = {}
    found: list[Occurrence] = []

    def add(event: StoredEvent, span: tuple[datetime, datetime]) -> None:
        if not event.deleted and span[0] < end and span[1] > start:
            found.append(Occurrence(event.event_id, span[0], span[1], event.all_day, event.transparent))

    for event in events:
        if event.recurring_event_id in series and event.original_start is not None:
            original = _series_time(
                event.original_start.local(calendar_zone), event.original_start.day is not None
            )
            replaced.setdefault(event.recurring_event_id, set()).add(original)
        # A single event, or an exception at its own time (a cancelled one adds nothing).
        if not event.recurrence and (span := event.span(calendar_zone)) is not None:
            add(event, span)
    for event in events:
        if event.event_id in series:
            _expand(event, replaced.get(event.event_id, set()), window, calendar_zone, add)
    return sorted(found, key=lambda o: (o.start, o.end, o.event_id))


def _series_time(local: datetime, all_day: bool) -> datetime:
    """How an instance is named within its series: naive local midnight for all-day series (as
    RFC 5545 repeats dates), else the instant in UTC."""
    return local.replace(tzinfo=None) if all_day else local.astimezone(UTC)


def _expand(
    master: StoredEvent,
    replaced: set[datetime],
    window: tuple[datetime, datetime],
    calendar_zone: str,
    add: Add,
) -> None:
    assert master.start is not None
    length = master.duration or timedelta(0)
    first = master.start.local(calendar_zone)
    if master.all_day:
        first = first.replace(tzinfo=None)
    rules = rrulestr("\n".join(master.recurrence), dtstart=first, forceset=True, ignoretz=master.all_day)
    assert isinstance(rules, rruleset)
    start, end = window
    zone = ZoneInfo(calendar_zone)
    count = 0
    for instance in rules:
        if master.all_day:
            # Local days: a day on which the clocks change lasts 23 or 25 hours.
            begins = instance.replace(tzinfo=zone).astimezone(UTC)
            ends = (instance + length).replace(tzinfo=zone).astimezone(UTC)
        else:
            begins = instance.astimezone(UTC)
            ends = begins + length  # elapsed time, whatever the clocks do meanwhile
        if begins >= end or count >= MAX_OCCURRENCES:
            return
        if ends <= start or _series_time(instance, master.all_day) in replaced:
            continue
        count += 1
        add(master, (begins, ends))
