"""Google Calendar events as stored, and their occurrences: recurring series, exceptions,
all-day events and time zones across DST changes (Europe/Berlin: 2025-03-30 and 2025-10-26)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.scheduling.events import EventStatus, from_google
from domain.scheduling.freebusy import busy
from domain.scheduling.recurrence import Occurrence, occurrences

BERLIN = "Europe/Berlin"
YEAR_2025 = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


def weekly_at_nine(**extra: object) -> dict[str, object]:
    """Mondays 09:00-10:00 in Berlin, four times from 2025-03-24: across the spring DST change."""
    return {
        "id": "weekly",
        "status": "confirmed",
        "start": {"dateTime": "2025-03-24T09:00:00+01:00", "timeZone": BERLIN},
        "end": {"dateTime": "2025-03-24T10:00:00+01:00", "timeZone": BERLIN},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
        **extra,
    }


def starts(found: list[Occurrence]) -> list[datetime]:
    return [o.start for o in found]


def test_a_cancellation_without_times_is_a_deleted_event():
    event = from_google({"id": "x", "status": "cancelled"})
    assert event.deleted and event.span(BERLIN) is None and event.status is EventStatus.CANCELLED


def test_a_series_keeps_its_wall_clock_time_across_dst():
    found = occurrences([from_google(weekly_at_nine())], YEAR_2025, BERLIN)
    # 09:00 CET is 08:00 UTC; from March 30th, 09:00 CEST is 07:00 UTC.
    assert starts(found) == [
        utc(2025, 3, 24, 8),
        utc(2025, 3, 31, 7),
        utc(2025, 4, 7, 7),
        utc(2025, 4, 14, 7),
    ]
    assert {o.end - o.start for o in found} == {timedelta(hours=1)}


def test_exdate_edited_and_cancelled_instances_never_duplicate_the_series():
    master = from_google(
        weekly_at_nine(recurrence=["RRULE:FREQ=WEEKLY;COUNT=4", f"EXDATE;TZID={BERLIN}:20250407T090000"])
    )
    moved = from_google(
        {
            "id": "weekly_20250331T070000Z",
            "status": "confirmed",
            "recurringEventId": "weekly",
            "originalStartTime": {"dateTime": "2025-03-31T09:00:00+02:00", "timeZone": BERLIN},
            "start": {"dateTime": "2025-03-31T15:00:00+02:00", "timeZone": BERLIN},
            "end": {"dateTime": "2025-03-31T16:00:00+02:00", "timeZone": BERLIN},
        }
    )
    cancelled = from_google(
        {
            "id": "weekly_20250414T070000Z",
            "status": "cancelled",
            "recurringEventId": "weekly",
            "originalStartTime": {"dateTime": "2025-04-14T09:00:00+02:00", "timeZone": BERLIN},
        }
    )
    found = occurrences([master, moved, cancelled], YEAR_2025, BERLIN)
    assert [(o.event_id, o.start) for o in found] == [
        ("weekly", utc(2025, 3, 24, 8)),
        ("weekly_20250331T070000Z", utc(2025, 3, 31, 13)),  # moved to the afternoon, once
    ]


def test_an_all_day_event_spans_local_midnights_so_a_dst_day_has_23_hours():
    day = from_google(
        {"id": "d", "status": "confirmed", "start": {"date": "2025-03-30"}, "end": {"date": "2025-03-31"}}
    )
    assert day.all_day and day.span(BERLIN) == (utc(2025, 3, 29, 23), utc(2025, 3, 30, 22))
    autumn = from_google(
        {
            "id": "a",
            "status": "confirmed",
            "start": {"date": "2025-10-26"},
            "end": {"date": "2025-10-27"},
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=2"],
        }
    )
    found = occurrences([autumn], YEAR_2025, BERLIN)
    assert [o.end - o.start for o in found] == [timedelta(hours=25), timedelta(hours=24)]


def test_only_what_overlaps_the_window_is_returned():
    series = from_google(weekly_at_nine(recurrence=["RRULE:FREQ=WEEKLY"]))  # no end
    window = (utc(2025, 4, 7, 7, 30), utc(2025, 4, 21, 7))
    assert starts(occurrences([series], window, BERLIN)) == [utc(2025, 4, 7, 7), utc(2025, 4, 14, 7)]


def test_busy_merges_and_clips_and_ignores_transparent_time():
    def occ(start: int, end: int, transparent: bool = False) -> Occurrence:
        return Occurrence("e", utc(2025, 1, 1, start), utc(2025, 1, 1, end), False, transparent)

    window = (utc(2025, 1, 1, 8), utc(2025, 1, 1, 18))
    found = busy([occ(7, 9), occ(9, 10), occ(12, 14, transparent=True), occ(15, 20), occ(16, 17)], window)
    assert found == [(utc(2025, 1, 1, 8), utc(2025, 1, 1, 10)), (utc(2025, 1, 1, 15), utc(2025, 1, 1, 18))]


intervals = st.lists(st.tuples(st.integers(0, 100), st.integers(1, 30), st.booleans()), max_size=30)


@given(intervals, st.integers(0, 60), st.integers(1, 80))
def test_busy_is_exactly_the_union_of_opaque_time_in_the_window(spans, window_start, window_length):
    base = utc(2025, 1, 1)
    minute = timedelta(minutes=1)
    occurring = [Occurrence("e", base + s * minute, base + (s + n) * minute, False, t) for s, n, t in spans]
    window = (base + window_start * minute, base + (window_start + window_length) * minute)
    found = busy(occurring, window)
    assert all(a < b for a, b in found) and all(found[i][1] < found[i + 1][0] for i in range(len(found) - 1))
    for m in range(0, 140):
        at = base + m * minute + minute / 2
        expected = window[0] <= at < window[1] and any(
            o.start <= at < o.end and not o.transparent for o in occurring
        )
        assert expected == any(a <= at < b for a, b in found), at


def test_an_instance_moved_into_the_window_from_outside_it_is_found_once():
    # The Monday 2025-04-07 meeting moved a week back, to Tuesday 2025-04-01: a window of that
    # Tuesday holds it, a window of the original Monday does not.
    master = from_google(weekly_at_nine())
    moved = from_google(
        {
            "id": "weekly_20250407T070000Z",
            "status": "confirmed",
            "recurringEventId": "weekly",
            "originalStartTime": {"dateTime": "2025-04-07T09:00:00+02:00", "timeZone": BERLIN},
            "start": {"dateTime": "2025-04-01T14:00:00+02:00", "timeZone": BERLIN},
            "end": {"dateTime": "2025-04-01T15:00:00+02:00", "timeZone": BERLIN},
        }
    )
    tuesday = (utc(2025, 4, 1), utc(2025, 4, 2))
    assert [(o.event_id, o.start) for o in occurrences([master, moved], tuesday, BERLIN)] == [
        ("weekly_20250407T070000Z", utc(2025, 4, 1, 12))
    ]
    monday = (utc(2025, 4, 7), utc(2025, 4, 8))
    assert occurrences([master, moved], monday, BERLIN) == []
    assert [o.event_id for o in occurrences([master, moved], YEAR_2025, BERLIN)] == [
        "weekly",
        "weekly",
        "weekly_20250407T070000Z",
        "weekly",
    ]


def test_a_long_running_series_still_has_its_instances_decades_later():
    # A daily stand-up since 1990: more than 10,000 instances before the window.
    standup = from_google(
        {
            "id": "standup",
            "status": "confirmed",
            "start": {"dateTime": "1990-01-01T09:00:00+01:00", "timeZone": BERLIN},
            "end": {"dateTime": "1990-01-01T09:15:00+01:00", "timeZone": BERLIN},
            "recurrence": ["RRULE:FREQ=DAILY"],
        }
    )
    week = (utc(2026, 1, 5), utc(2026, 1, 12))
    assert starts(occurrences([standup], week, BERLIN)) == [utc(2026, 1, d, 8) for d in range(5, 12)]
