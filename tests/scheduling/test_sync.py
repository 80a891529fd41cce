"""A chosen calendar's sync, end to end: the API, the calendar's workflow on a real Temporal dev
server, the official Google client against the emulator, and PostgreSQL. What is stored is
compared with what the emulator holds, event by event."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.scheduling.events import from_google
from domain.scheduling.sync import schedule_id
from tests.integration.routing_world import eventually
from tests.platform.api_world import member
from tests.scheduling.google_world import Google, connect, connected, stored_events


class Synced:
    """A connected user with one calendar at the emulator, chosen for sync through the API."""

    def __init__(
        self, api: httpx.AsyncClient, headers: dict[str, str], user: dict[str, Any], google: Google
    ) -> None:
        self.api, self.headers, self.user, self.google = api, headers, user, google
        self.calendar: dict[str, Any] = {}
        self.google_id = ""

    @property
    def path(self) -> str:
        return f"/api/scheduling/users/{self.user['id']}/calendars/{self.calendar['id']}"

    async def choose(self, google_id: str) -> None:
        self.google_id = google_id
        listed = await self.api.get(
            f"/api/scheduling/users/{self.user['id']}/calendars", headers=self.headers
        )
        assert listed.status_code == 200, listed.text
        [self.calendar] = [c for c in listed.json() if c["google_calendar_id"] == google_id]
        chosen = await self.api.patch(self.path, json={"selected": True}, headers=self.headers)
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["selected"] is True

    async def sync(self, full: bool = False) -> dict[str, Any]:
        answer = await self.api.post(f"{self.path}/sync", params={"full": full}, headers=self.headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def state(self) -> dict[str, Any]:
        return dict((await self.api.get(self.path, headers=self.headers)).json())


async def synced_user(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings, emulator: str
) -> Synced:
    alice = await member(api, admin_headers, "alice")
    email = f"pat-{uuid.uuid4().hex[:8]}@example.com"
    user, _ = await connected(api, alice, settings, email)
    return Synced(api, alice, user, Google(emulator, email))


def assert_stored_equals_emulator(
    settings: Settings, calendar_id: str, events: list[dict[str, Any]], zone: str
) -> None:
    """Every event the emulator has is stored with its status and its exact times, and nothing
    else is stored alive."""
    stored = stored_events(settings, calendar_id)
    assert set(stored) >= {e["id"] for e in events}
    alive = {e["id"] for e in events if e.get("status") != "cancelled"}
    assert {event_id for event_id, row in stored.items() if not row[1]} == alive
    for event in events:
        status, deleted, start_at, end_at = stored[event["id"]]
        assert status == event.get("status", "confirmed"), event
        assert deleted == (status == "cancelled")
        if not deleted:
            span = from_google(event).span(zone)
            assert (start_at, end_at) == span, event


async def test_a_chosen_calendar_is_synced_in_full_then_its_changes_arrive_incrementally(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings, emulator: str, scheduling: None
) -> None:
    pat = await synced_user(api, admin_headers, settings, emulator)
    zone = "Europe/Berlin"
    google_id = await pat.google.calendar("Work", zone)
    await pat.google.bulk(google_id, 10_000, start="2026-01-05T08:00:00+00:00", spacing_minutes=90)
    # Around the spring DST change (29 March 2026 in Berlin): a weekly series at 09:00 local, an
    # all-day event on the short day, and an event that spans the change.
    series = await pat.google.create(
        google_id,
        {
            "summary": "Standup",
            "start": {"dateTime": "2026-03-20T09:00:00", "timeZone": zone},
            "end": {"dateTime": "2026-03-20T09:15:00", "timeZone": zone},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
        },
    )
    short_day = await pat.google.create(
        google_id, {"summary": "Short day", "start": {"date": "2026-03-29"}, "end": {"date": "2026-03-30"}}
    )
    overnight = await pat.google.create(
        google_id,
        {
            "summary": "Overnight",
            "start": {"dateTime": "2026-03-29T01:30:00+01:00", "timeZone": zone},
            "end": {"dateTime": "2026-03-29T03:30:00+02:00", "timeZone": zone},
        },
    )
    await pat.choose(google_id)
    result = await pat.sync()
    assert result["status"] == "ok", result
    events = await pat.google.events(google_id)
    assert len(events) == 10_003
    assert_stored_equals_emulator(settings, pat.calendar["id"], events, zone)
    state = await pat.state()
    assert (state["sync_status"], state["events_count"], state["last_error"]) == ("ok", 10_003, None)
    stored = stored_events(settings, pat.calendar["id"])
    # Exact across the change: the short day is 23 hours, the overnight event one hour long.
    assert stored[short_day["id"]][2:] == (
        datetime(2026, 3, 28, 23, tzinfo=UTC),
        datetime(2026, 3, 29, 22, tzinfo=UTC),
    )
    assert stored[overnight["id"]][2:] == (
        datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
    )

    # Changed at Google by another client: one created, one moved, one deleted, one instance of
    # the series moved and another cancelled.
    created = await pat.google.create(
        google_id,
        {
            "summary": "New",
            "start": {"dateTime": "2026-04-01T10:00:00Z"},
            "end": {"dateTime": "2026-04-01T11:00:00Z"},
        },
    )
    moved_id, gone_id = events[0]["id"], events[1]["id"]
    await pat.google.patch(
        google_id,
        moved_id,
        {"start": {"dateTime": "2026-01-05T12:00:00Z"}, "end": {"dateTime": "2026-01-05T13:00:00Z"}},
    )
    await pat.google.delete(google_id, gone_id)
    # The second standup is the first after the change: 09:00 Berlin is 07:00 UTC from then on.
    edited = f"{series['id']}_20260327T080000Z"
    cancelled = f"{series['id']}_20260403T070000Z"
    await pat.google.patch(
        google_id,
        edited,
        {
            "summary": "Standup (moved)",
            "start": {"dateTime": "2026-03-27T10:00:00+01:00"},
            "end": {"dateTime": "2026-03-27T10:15:00+01:00"},
        },
    )
    await pat.google.delete(google_id, cancelled)
    result = await pat.sync()
    assert result["status"] == "ok" and result["outcome"]["mode"] == "incremental", result
    assert result["outcome"]["processed"] == 5, result
    events = await pat.google.events(google_id)
    assert_stored_equals_emulator(settings, pat.calendar["id"], events, zone)
    stored = stored_events(settings, pat.calendar["id"])
    assert stored[created["id"]][1] is False and stored[gone_id][1] is True
    # The series is one master and its two exceptions, never its instances.
    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        kinds = conn.execute(
            "SELECT event_id, recurring, recurring_event_id, deleted FROM calendar_events"
            " WHERE calendar_id = %s AND (event_id LIKE %s)",
            (pat.calendar["id"], f"{series['id']}%"),
        ).fetchall()
    assert sorted(kinds) == sorted(
        [
            (series["id"], True, None, False),
            (edited, False, series["id"], False),
            (cancelled, False, series["id"], True),
        ]
    )
    # One created, one deleted, and the edited instance stored as an exception of its series.
    assert (await pat.state())["events_count"] == 10_004 == sum(e["status"] != "cancelled" for e in events)


async def test_an_expired_sync_token_ends_in_an_exact_full_resync(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings, emulator: str, scheduling: None
) -> None:
    pat = await synced_user(api, admin_headers, settings, emulator)
    google_id = await pat.google.calendar("Team")
    await pat.google.bulk(google_id, 300)
    await pat.choose(google_id)
    assert (await pat.sync())["status"] == "ok"
    before = await pat.google.events(google_id)
    # Google forgets the token (410 fullSyncRequired on its next use) while the calendar changes.
    await pat.google.post(f"/calendars/{google_id}/expire-sync-tokens")
    await pat.google.delete(google_id, before[0]["id"])
    await pat.google.patch(google_id, before[1]["id"], {"summary": "Renamed"})
    lists = await pat.google.calls("events.list")
    result = await pat.sync()
    assert result["status"] == "ok" and result["outcome"]["resynced"] is True, result
    assert result["outcome"]["mode"] == "full" and result["outcome"]["processed"] == 300, result
    # One refused incremental call, then the full listing (one page).
    assert await pat.google.calls("events.list") - lists == 2
    assert_stored_equals_emulator(settings, pat.calendar["id"], await pat.google.events(google_id), "UTC")
    # The same by a 410 with the other reason, injected.
    await pat.google.inject("events.list", "updatedMinTooLongAgo")
    result = await pat.sync()
    assert result["outcome"]["resynced"] is True, result


async def test_a_burst_of_rate_limit_refusals_is_ridden_out(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings, emulator: str, scheduling: None
) -> None:
    pat = await synced_user(api, admin_headers, settings, emulator)
    google_id = await pat.google.calendar("Busy")
    await pat.google.bulk(google_id, 50)
    await pat.google.inject("events.list", "rateLimitExceeded", count=2)
    await pat.google.inject("events.list", "userRateLimitExceeded", count=1, status=429, retry_after=1)
    await pat.choose(google_id)
    result = await pat.sync()
    assert result["status"] == "ok", result
    assert await pat.google.calls("events.list") >= 4
    assert (await pat.state())["events_count"] == 50


async def test_a_revoked_authorization_pauses_the_calendar_until_the_user_connects_again(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings, emulator: str, scheduling: None
) -> None:
    pat = await synced_user(api, admin_headers, settings, emulator)
    google_id = await pat.google.calendar("Home")
    await pat.google.bulk(google_id, 20)
    await pat.choose(google_id)
    assert (await pat.sync())["status"] == "ok"
    await pat.google.post(f"/users/{pat.google.email}/revoke")
    await pat.google.post(f"/users/{pat.google.email}/expire-access-tokens")
    created = await pat.google.create(
        google_id, {"summary": "While away", "start": {"date": "2026-05-01"}, "end": {"date": "2026-05-02"}}
    )
    tokens = await pat.google.calls("oauth.token")
    result = await pat.sync()
    assert result["status"] == "reauthorization_required", result
    # No retry storm: one refused refresh.
    assert await pat.google.calls("oauth.token") - tokens == 1
    state = await pat.state()
    assert state["sync_status"] == "reauthorization_required" and state["last_error"]
    user = (await pat.api.get(f"/api/scheduling/users/{pat.user['id']}", headers=pat.headers)).json()
    assert user["google"] == "reauthorization_required"
    refused = await pat.api.post(f"{pat.path}/sync", headers=pat.headers)
    assert refused.status_code == 409 and "connect again" in refused.json()["detail"]
    assert await pat.google.calls("oauth.token") - tokens == 1
    # Connected again: the calendar resumes where it stopped (its sync token), by itself.
    await connect(pat.api, pat.headers, settings, pat.user["id"], pat.google.email)
    result = await pat.sync()
    assert result["status"] == "ok" and result["outcome"]["mode"] == "incremental", result
    assert created["id"] in stored_events(settings, pat.calendar["id"])
    assert (await pat.state())["sync_status"] == "ok"


async def test_calendars_and_their_syncs_are_tenant_scoped(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings, emulator: str, scheduling: None
) -> None:
    pat = await synced_user(api, admin_headers, settings, emulator)
    await pat.choose(await pat.google.calendar("Private"))
    bob = await member(api, admin_headers, "bob")
    assert (await api.get(pat.path, headers=bob)).status_code == 404
    assert (await api.patch(pat.path, json={"selected": False}, headers=bob)).status_code == 404
    assert (await api.post(f"{pat.path}/sync", headers=bob)).status_code == 404
    unknown = f"/api/scheduling/users/{pat.user['id']}/calendars/{uuid.uuid4()}"
    assert (await api.get(unknown, headers=pat.headers)).status_code == 404
    bad = await api.patch(pat.path, json={"selected": "maybe"}, headers=pat.headers)
    assert bad.status_code == 422
    # Stopped: its sync refuses, its state says so, and choosing it again starts it again.
    stopped = await api.patch(pat.path, json={"selected": False}, headers=pat.headers)
    assert stopped.status_code == 200 and stopped.json()["selected"] is False
    assert (await pat.state())["sync_status"] == "stopped"
    assert (await api.post(f"{pat.path}/sync", headers=pat.headers)).status_code == 409
    await pat.choose(pat.google_id)
    assert (await pat.sync())["status"] == "ok"


async def test_the_calendars_schedule_syncs_it_and_goes_with_it(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    settings: Settings,
    emulator: str,
    temporal: WorkflowEnvironment,
    scheduling: None,
) -> None:
    pat = await synced_user(api, admin_headers, settings, emulator)
    google_id = await pat.google.calendar("Periodic")
    await pat.choose(google_id)
    assert (await pat.sync())["status"] == "ok"
    schedule = temporal.client.get_schedule_handle(schedule_id(uuid.UUID(pat.calendar["id"])))
    described = await schedule.describe()
    assert described.schedule.spec.intervals[0].every == timedelta(
        seconds=settings.scheduling_periodic_sync_seconds
    )
    created = await pat.google.create(
        google_id, {"summary": "Quiet change", "start": {"date": "2026-08-01"}, "end": {"date": "2026-08-02"}}
    )
    # No notification came (no webhook here): the Schedule's run asks for the sync.
    await schedule.trigger()

    async def arrived() -> bool:
        return created["id"] in stored_events(settings, pat.calendar["id"])

    await eventually(arrived, 20, "the periodic sync")
    assert (await api.patch(pat.path, json={"selected": False}, headers=pat.headers)).status_code == 200
    with pytest.raises(RPCError):
        await schedule.describe()


async def test_an_expired_access_token_is_refreshed_once(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings, emulator: str, scheduling: None
) -> None:
    pat = await synced_user(api, admin_headers, settings, emulator)
    google_id = await pat.google.calendar("Expiring")
    await pat.choose(google_id)
    assert (await pat.sync())["status"] == "ok"
    await pat.google.post(f"/users/{pat.google.email}/expire-access-tokens")
    tokens = await pat.google.calls("oauth.token")
    assert (await pat.sync())["status"] == "ok"
    assert await pat.google.calls("oauth.token") - tokens == 1
    # The new access token is kept: the next sync needs none.
    assert (await pat.sync())["status"] == "ok"
    assert await pat.google.calls("oauth.token") - tokens == 1
