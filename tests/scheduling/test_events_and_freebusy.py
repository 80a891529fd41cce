"""Reading a calendar's events and a user's free/busy over HTTP, from events stored as the sync
stores them: ranges and their limits, cursor paging, cancelled events hidden unless asked for,
recurring series expanded with their exceptions (never duplicated), all-day events and DST
exact, and tenant isolation."""

from typing import Any

import httpx

from core.settings import Settings
from tests.platform.api_world import member
from tests.scheduling import stored
from tests.scheduling.stored import BERLIN, all_day, timed

NEW_YORK = "America/New_York"


def events_path(user_id: str, calendar_id: str) -> str:
    return f"/api/scheduling/users/{user_id}/calendars/{calendar_id}/events"


async def every_page(
    api: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every item, following next_cursor; and how many pages it took."""
    items: list[dict[str, Any]] = []
    pages, cursor = 0, None
    while True:
        answer = await api.get(
            path, params={**params, "cursor": cursor} if cursor else params, headers=headers
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages


DAY = {"start": "2025-05-05T00:00:00+02:00", "end": "2025-05-06T00:00:00+02:00"}


async def test_events_in_a_range_paged_with_cancelled_ones_hidden_unless_asked(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    alice = await member(api, admin_headers, "alice")
    user_id = await stored.user(api, alice)
    calendar_id = await stored.calendar(settings, user_id)
    hours = [
        timed(f"h{h:02d}", f"2025-05-05T{h:02d}:00:00+02:00", f"2025-05-05T{h:02d}:30:00+02:00")
        for h in (9, 10, 11, 12, 13, 14, 15)
    ]
    # Two at the same time: the id orders them, and paging between them loses neither.
    twin = timed("a-twin", "2025-05-05T11:00:00+02:00", "2025-05-05T11:30:00+02:00")
    gone = {**timed("gone", "2025-05-05T16:00:00+02:00", "2025-05-05T17:00:00+02:00"), "status": "cancelled"}
    # Overlapping the range's start (from the evening before) and the day after (outside).
    overnight = timed("overnight", "2025-05-04T23:00:00+02:00", "2025-05-05T01:00:00+02:00")
    later = timed("later", "2025-05-06T09:00:00+02:00", "2025-05-06T10:00:00+02:00")
    await stored.events(settings, calendar_id, *hours, twin, gone, overnight, later)

    path = events_path(user_id, calendar_id)
    items, pages = await every_page(api, path, alice, **DAY, limit=3)
    assert [e["id"] for e in items] == [
        "overnight",
        "h09",
        "h10",
        "a-twin",
        "h11",
        "h12",
        "h13",
        "h14",
        "h15",
    ]
    assert pages == 3
    first = items[1]
    assert first["start"] == {"date": None, "date_time": "2025-05-05T09:00:00+02:00", "time_zone": BERLIN}
    assert (first["start_at"], first["end_at"]) == ("2025-05-05T07:00:00Z", "2025-05-05T07:30:00Z")
    assert first["summary"] == "h09" and not first["deleted"]

    with_deleted, _ = await every_page(api, path, alice, **DAY, include_deleted="true", limit=4)
    assert [e["id"] for e in with_deleted][-1] == "gone"
    assert with_deleted[-1]["deleted"] and with_deleted[-1]["status"] == "cancelled"
    assert len(with_deleted) == len({e["id"] for e in with_deleted}) == 10


async def test_a_reversed_too_long_or_malformed_range_is_refused_with_its_reason(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    alice = await member(api, admin_headers, "alice")
    user_id = await stored.user(api, alice)
    path = events_path(user_id, await stored.calendar(settings, user_id))
    for params, title in (
        ({"start": DAY["end"], "end": DAY["start"]}, "Invalid time range"),
        ({**DAY, "end": DAY["start"]}, "Invalid time range"),
        ({"start": "2025-01-01T00:00:00Z", "end": "2026-01-02T00:00:01Z"}, "Time range too long"),
        ({**DAY, "start": "2025-05-05T00:00:00"}, "Invalid request"),  # no offset
        ({"end": DAY["end"]}, "Invalid request"),
        ({**DAY, "cursor": "-99999999999999999.00"}, "Invalid cursor"),
        ({**DAY, "cursor": "not-a-cursor"}, "Invalid request"),
    ):
        refused = await api.get(path, params=params, headers=alice)
        assert refused.status_code == 422, (params, refused.text)
        assert refused.json()["title"] == title, (params, refused.text)
    # 366 days are served (a leap year's whole).
    year = {"start": "2028-01-01T00:00:00Z", "end": "2029-01-01T00:00:00Z"}
    assert (await api.get(path, params=year, headers=alice)).status_code == 200


async def test_another_tenants_user_or_calendar_is_not_found(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    alice = await member(api, admin_headers, "alice")
    user_id = await stored.user(api, alice)
    calendar_id = await stored.calendar(settings, user_id)
    await stored.events(
        settings, calendar_id, timed("x", "2025-05-05T09:00:00+02:00", "2025-05-05T10:00:00+02:00")
    )
    path = events_path(user_id, calendar_id)
    assert (await api.get(path, params=DAY, headers=alice)).json()["items"][0]["id"] == "x"
    bob = await member(api, admin_headers, "bob")
    bobs_user = await stored.user(api, bob)
    for who, where in (
        (bob, path),  # alice's user and calendar with bob's key
        (bob, events_path(bobs_user, calendar_id)),  # bob's user, alice's calendar
        (alice, events_path(bobs_user, calendar_id)),  # alice's calendar under bob's user
        (alice, events_path(user_id, user_id)),  # no such calendar
    ):
        refused = await api.get(where, params=DAY, headers=who)
        assert refused.status_code == 404, (where, refused.text)
        assert "x" not in refused.text
    assert (
        await api.get(f"/api/scheduling/users/{user_id}/freebusy", params=DAY, headers=bob)
    ).status_code == 404


SERIES = {
    "id": "weekly",
    "status": "confirmed",
    "summary": "Weekly",
    # Mondays 09:00-10:00 in Berlin, four times from 2025-03-24: across the spring DST change.
    "start": {"dateTime": "2025-03-24T09:00:00+01:00", "timeZone": BERLIN},
    "end": {"dateTime": "2025-03-24T10:00:00+01:00", "timeZone": BERLIN},
    "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
}
MOVED = {
    # The 31st's meeting, moved to the afternoon (an edited instance).
    **timed("weekly_20250331T070000Z", "2025-03-31T15:00:00+02:00", "2025-03-31T16:00:00+02:00"),
    "summary": "Weekly (moved)",
    "recurringEventId": "weekly",
    "originalStartTime": {"dateTime": "2025-03-31T09:00:00+02:00", "timeZone": BERLIN},
}
CANCELLED = {
    # The 14th's meeting, cancelled (an incremental sync sends it without its times).
    "id": "weekly_20250414T070000Z",
    "status": "cancelled",
    "recurringEventId": "weekly",
    "originalStartTime": {"dateTime": "2025-04-14T09:00:00+02:00", "timeZone": BERLIN},
}
SPRING = {"start": "2025-03-01T00:00:00+01:00", "end": "2025-05-01T00:00:00+02:00"}


async def test_a_series_with_an_edited_and_a_cancelled_instance_is_never_duplicated(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    alice = await member(api, admin_headers, "alice")
    user_id = await stored.user(api, alice)
    calendar_id = await stored.calendar(settings, user_id)
    await stored.events(settings, calendar_id, SERIES, MOVED, CANCELLED)
    path = events_path(user_id, calendar_id)

    # As stored: the master (with its rule) and the edited instance; the cancelled one is hidden.
    stored_view, _ = await every_page(api, path, alice, **SPRING)
    assert [(e["id"], e["recurrence"]) for e in stored_view] == [
        ("weekly", ["RRULE:FREQ=WEEKLY;COUNT=4"]),
        ("weekly_20250331T070000Z", []),
    ]

    # Expanded: each instance once, the edit in its place, the cancelled one gone, 09:00 in
    # Berlin before and after the clocks changed. Paged one at a time: the same, nothing twice.
    expanded, pages = await every_page(api, path, alice, **SPRING, expand="true", limit=1)
    assert pages == 3
    assert [(e["id"], e["summary"], e["start"]["date_time"], e["start_at"]) for e in expanded] == [
        ("weekly_20250324T080000Z", "Weekly", "2025-03-24T09:00:00+01:00", "2025-03-24T08:00:00Z"),
        ("weekly_20250331T070000Z", "Weekly (moved)", "2025-03-31T15:00:00+02:00", "2025-03-31T13:00:00Z"),
        ("weekly_20250407T070000Z", "Weekly", "2025-04-07T09:00:00+02:00", "2025-04-07T07:00:00Z"),
    ]
    assert {e["recurring_event_id"] for e in expanded} == {"weekly"}
    assert expanded[2]["original_start"] == expanded[2]["start"]
    assert expanded[2]["end"]["date_time"] == "2025-04-07T10:00:00+02:00"
    # A window holding only the 14th: its instance was cancelled.
    april_14 = {"start": "2025-04-14T00:00:00+02:00", "end": "2025-04-15T00:00:00+02:00"}
    assert (await api.get(path, params={**april_14, "expand": "true"}, headers=alice)).json()["items"] == []


async def test_all_day_events_span_local_midnights_and_timed_ones_cross_dst_exactly(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    alice = await member(api, admin_headers, "alice")
    user_id = await stored.user(api, alice)
    calendar_id = await stored.calendar(settings, user_id)
    await stored.events(
        settings,
        calendar_id,
        all_day("spring-day", "2025-03-30", "2025-03-31"),  # 23 hours in Berlin
        # The autumn night the clocks go back: 00:30 CEST to 03:30 CET is four hours.
        timed("long-night", "2025-10-26T00:30:00+02:00", "2025-10-26T03:30:00+01:00"),
        # A daily all-day series across the autumn change: 24, 25 (the 26th), 24 hours.
        all_day("holiday", "2025-10-25", "2025-10-26", recurrence=["RRULE:FREQ=DAILY;COUNT=3"]),
    )
    path = events_path(user_id, calendar_id)
    spring = {"start": "2025-03-30T00:00:00+01:00", "end": "2025-03-31T00:00:00+02:00"}
    [day] = (await api.get(path, params=spring, headers=alice)).json()["items"]
    assert day["all_day"] and day["start"]["date"] == "2025-03-30" and day["end"]["date"] == "2025-03-31"
    assert (day["start_at"], day["end_at"]) == ("2025-03-29T23:00:00Z", "2025-03-30T22:00:00Z")

    autumn = {"start": "2025-10-25T00:00:00+02:00", "end": "2025-10-28T00:00:00+01:00", "expand": "true"}
    found = (await api.get(path, params=autumn, headers=alice)).json()["items"]
    assert [(e["id"], e["start"]["date"], e["start_at"], e["end_at"]) for e in found if e["all_day"]] == [
        ("holiday_20251025", "2025-10-25", "2025-10-24T22:00:00Z", "2025-10-25T22:00:00Z"),
        ("holiday_20251026", "2025-10-26", "2025-10-25T22:00:00Z", "2025-10-26T23:00:00Z"),
        ("holiday_20251027", "2025-10-27", "2025-10-26T23:00:00Z", "2025-10-27T23:00:00Z"),
    ]
    [night] = [e for e in found if e["id"] == "long-night"]
    assert (night["start_at"], night["end_at"]) == ("2025-10-25T22:30:00Z", "2025-10-26T02:30:00Z")
    assert night["end"]["date_time"] == "2025-10-26T03:30:00+01:00"


async def test_free_busy_merges_the_synced_calendars_in_their_own_zones(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    alice = await member(api, admin_headers, "alice")
    user_id = await stored.user(api, alice)
    berlin = await stored.calendar(settings, user_id, BERLIN, summary="Berlin")
    new_york = await stored.calendar(settings, user_id, NEW_YORK, summary="New York")
    unsynced = await stored.calendar(settings, user_id, BERLIN, summary="Not chosen", selected=False)
    await stored.events(
        settings,
        berlin,
        # The day of the spring change, from Berlin's midnight to the next: 23 hours.
        all_day("spring-day", "2025-03-30", "2025-03-31"),
        # Overlaps New York's evening meeting below, and touches the next one: one interval.
        timed("late", "2025-03-31T02:30:00+02:00", "2025-03-31T06:00:00+02:00"),
        timed("touching", "2025-03-31T06:00:00+02:00", "2025-03-31T07:00:00+02:00"),
        timed(
            "available", "2025-03-31T10:00:00+02:00", "2025-03-31T11:00:00+02:00", transparency="transparent"
        ),
        {
            **timed("called-off", "2025-03-31T12:00:00+02:00", "2025-03-31T13:00:00+02:00"),
            "status": "cancelled",
        },
    )
    await stored.events(
        settings,
        new_york,
        # 20:00-23:00 EDT on the 30th (New York changed on the 9th): 00:00-03:00 UTC on the 31st.
        timed("evening", "2025-03-30T20:00:00-04:00", "2025-03-30T23:00:00-04:00", NEW_YORK),
        # An all-day event in New York's zone: its midnight, 04:00 UTC.
        all_day("ny-day", "2025-04-01", "2025-04-02"),
    )
    await stored.events(
        settings, unsynced, timed("ignored", "2025-03-31T14:00:00+02:00", "2025-03-31T15:00:00+02:00")
    )

    path = f"/api/scheduling/users/{user_id}/freebusy"
    window = {"start": "2025-03-30T00:00:00Z", "end": "2025-04-03T00:00:00Z"}
    answer = await api.get(path, params=window, headers=alice)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert sorted(body["calendars"]) == sorted([berlin, new_york]) and body["time_zone"] == "UTC"
    assert body["busy"] == [
        # Clipped to the window's start: the Berlin day began at 23:00 UTC on the 29th.
        {"start": "2025-03-30T00:00:00Z", "end": "2025-03-30T22:00:00Z"},
        {"start": "2025-03-31T00:00:00Z", "end": "2025-03-31T05:00:00Z"},
        {"start": "2025-04-01T04:00:00Z", "end": "2025-04-02T04:00:00Z"},
    ]
    in_berlin = await api.get(path, params={**window, "time_zone": BERLIN}, headers=alice)
    assert in_berlin.json()["busy"][1] == {
        "start": "2025-03-31T02:00:00+02:00",
        "end": "2025-03-31T07:00:00+02:00",
    }
    assert in_berlin.json()["start"] == "2025-03-30T01:00:00+01:00"

    for params, title in (
        ({"start": window["end"], "end": window["start"]}, "Invalid time range"),
        ({"start": "2025-01-01T00:00:00Z", "end": "2025-04-01T00:00:01Z"}, "Time range too long"),
        ({**window, "time_zone": "Mars/Olympus"}, "Invalid request"),
    ):
        refused = await api.get(path, params=params, headers=alice)
        assert refused.status_code == 422 and refused.json()["title"] == title, (params, refused.text)
