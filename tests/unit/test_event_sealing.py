"""An event's row is sealed to its owner, uuid5(calendar id, event id): the fast path the sync
takes gives exactly those bytes, so what it seals opens as any other sealed event does."""

import base64
import uuid

from hypothesis import given
from hypothesis import strategies as st

from core.crypto import Cipher
from domain.scheduling.events import google_fields
from store.calendar_events import _owner_bytes, event_owner, event_row, open_event
from store.scheduling import CalendarEvent

CIPHER = Cipher(base64.urlsafe_b64encode(bytes(32)).decode())


@given(st.uuids(), st.text(min_size=1, max_size=200))
def test_the_owner_is_uuid5_of_the_calendar_and_the_event(calendar_id: uuid.UUID, event_id: str) -> None:
    assert _owner_bytes(calendar_id, event_id) == event_owner(calendar_id, event_id).bytes


def test_a_row_the_sync_makes_opens_as_the_event() -> None:
    calendar_id, tenant_id = uuid.uuid4(), uuid.uuid4()
    item = {
        "id": "ev1",
        "status": "confirmed",
        "etag": '"1"',
        "updated": "2026-01-02T00:00:00.000Z",
        "summary": "Réunion ☕",
        "start": {"dateTime": "2026-03-29T01:30:00+01:00"},
        "end": {"dateTime": "2026-03-29T03:30:00+02:00"},
    }
    row = event_row(CIPHER, tenant_id, calendar_id, "Europe/Berlin", google_fields(item))
    event = open_event(CIPHER, CalendarEvent(calendar_id=calendar_id, event_id="ev1", sealed=row["sealed"]))
    assert event.summary == "Réunion ☕" and event.event_id == "ev1"
