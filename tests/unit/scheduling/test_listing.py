"""The events listing's items: a series master only where it has an instance, instances named as
Google names them, cancelled events once and only when asked for."""

from datetime import UTC, datetime

from domain.scheduling.events import from_google
from domain.scheduling.listing import listing

BERLIN = "Europe/Berlin"
MASTER = from_google(
    {
        "id": "weekly",
        "status": "confirmed",
        "start": {"dateTime": "2025-03-24T09:00:00+01:00", "timeZone": BERLIN},
        "end": {"dateTime": "2025-03-24T10:00:00+01:00", "timeZone": BERLIN},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
    }
)
CANCELLED = from_google(
    {
        "id": "weekly_20250407T070000Z",
        "status": "cancelled",
        "recurringEventId": "weekly",
        "originalStartTime": {"dateTime": "2025-04-07T09:00:00+02:00", "timeZone": BERLIN},
        "start": {"dateTime": "2025-04-07T09:00:00+02:00", "timeZone": BERLIN},
        "end": {"dateTime": "2025-04-07T10:00:00+02:00", "timeZone": BERLIN},
    }
)
APRIL = (datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC))
MAY = (datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC))


def ids(window: tuple[datetime, datetime], expand: bool, include_deleted: bool = False) -> list[str]:
    found = listing([MASTER, CANCELLED], window, BERLIN, expand=expand, include_deleted=include_deleted)
    return [item.event.event_id for item in found]


def test_a_master_is_listed_only_where_its_series_has_an_instance():
    assert ids(APRIL, expand=False) == ["weekly"]
    assert ids(MAY, expand=False) == []
    assert ids(MAY, expand=True) == []


def test_expanded_instances_are_named_as_google_names_them_and_a_cancelled_one_shown_once_if_asked():
    assert ids(APRIL, expand=True) == ["weekly_20250414T070000Z"]
    assert ids(APRIL, expand=True, include_deleted=True) == [
        "weekly_20250407T070000Z",
        "weekly_20250414T070000Z",
    ]
    [deleted] = [
        i
        for i in listing([MASTER, CANCELLED], APRIL, BERLIN, expand=True, include_deleted=True)
        if i.event.deleted
    ]
    assert deleted.start == datetime(2025, 4, 7, 7, tzinfo=UTC)
