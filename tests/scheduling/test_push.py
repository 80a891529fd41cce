"""Push notifications: the calendar's workflow opens a channel at Google (the emulator), which
POSTs to the API's webhook on real HTTP; the webhook signals the workflow, which syncs. Channels
are renewed before they expire and stopped on disconnect; forged and stale notifications do
nothing."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.scheduling.sync import (
    CALENDAR_SYNC_WORKFLOW,
    TASK_QUEUE,
    CalendarSyncState,
    SyncResult,
    Updates,
    workflow_id,
)
from store.db import Database
from store.scheduling import Calendar
from tests.integration.live_api import serve
from tests.integration.routing_world import eventually
from tests.scheduling.google_world import Google, serving_scheduling, stored_events
from tests.scheduling.test_sync import Synced, synced_user

HOOK_PATH = "/api/scheduling/google/notifications"


@pytest.fixture
async def pushed(
    settings: Settings, temporal: WorkflowEnvironment, clean_db: None
) -> AsyncIterator[Settings]:
    """The API on a real port (Google's notifications reach it) and a worker that gives Google
    that address."""
    async with serve(settings) as url:
        push = settings.model_copy(update={"google_calendar_webhook_url": f"{url}{HOOK_PATH}"})
        async with serving_scheduling(push, temporal.client):
            yield push


async def channels(google: Google, google_id: str) -> list[dict[str, Any]]:
    return [c for c in (await google.get("/channels"))["channels"] if c["calendarId"] == google_id]


async def notify(
    api: httpx.AsyncClient, channel: dict[str, Any], token: str | None, state: str = "exists"
) -> httpx.Response:
    headers = {
        "X-Goog-Channel-ID": channel["id"],
        "X-Goog-Resource-ID": channel["resourceId"],
        "X-Goog-Resource-State": state,
        "X-Goog-Message-Number": "99",
    }
    if token is not None:
        headers["X-Goog-Channel-Token"] = token
    return await api.post(HOOK_PATH, headers=headers)


async def test_changes_at_google_arrive_by_push_and_bursts_coalesce(
    api: httpx.AsyncClient, admin_headers: dict[str, str], emulator: str, pushed: Settings
) -> None:
    pat = await synced_user(api, admin_headers, pushed, emulator)
    google_id = await pat.google.calendar("Pushed")
    await pat.google.bulk(google_id, 10)
    await pat.choose(google_id)
    [channel] = await eventually(lambda: channels(pat.google, google_id))
    assert channel["active"] and channel["address"].endswith(HOOK_PATH)
    assert (await pat.sync())["status"] == "ok"
    # Google's first message (`sync`) was acknowledged and asked for nothing.
    delivered = (await pat.google.get("/notifications"))["notifications"]
    assert [(d["state"], d["status"]) for d in delivered if d["channel_id"] == channel["id"]] == [
        ("sync", 200)
    ]

    created = await pat.google.create(
        google_id, {"summary": "Pushed", "start": {"date": "2026-06-01"}, "end": {"date": "2026-06-02"}}
    )
    await eventually(lambda: _stored(pushed, pat, created["id"]))
    # Changed and deleted at Google: the same way.
    first = (await pat.google.events(google_id))[0]["id"]
    await pat.google.patch(
        google_id, created["id"], {"start": {"date": "2026-06-03"}, "end": {"date": "2026-06-04"}}
    )
    await pat.google.delete(google_id, first)

    async def changed() -> tuple[object, ...] | None:
        stored = stored_events(pushed, pat.calendar["id"])
        done = stored[first][1] and stored[created["id"]][2] == datetime(2026, 6, 3, tzinfo=UTC)
        return (stored[first], stored[created["id"]]) if done else None

    await eventually(changed, 15, "the change and the deletion, by push")

    # A burst of changes: each is a notification, and they share syncs.
    lists = await pat.google.calls("events.list")
    burst = [
        await pat.google.create(
            google_id,
            {"summary": f"Burst {n}", "start": {"date": "2026-07-01"}, "end": {"date": "2026-07-02"}},
        )
        for n in range(20)
    ]
    await eventually(lambda: _stored(pushed, pat, burst[-1]["id"]))
    await asyncio.sleep(1)  # notifications still under way would ask for one more sync
    syncs = await pat.google.calls("events.list") - lists
    assert 1 <= syncs <= 5, syncs
    assert (await pat.state())["events_count"] == 10 + 1 - 1 + 20  # bulk, created, deleted, burst


async def _stored(settings: Settings, pat: Synced, event_id: str) -> bool:
    return event_id in stored_events(settings, pat.calendar["id"])


async def test_forged_unknown_and_stopped_channels_are_refused_or_ignored(
    api: httpx.AsyncClient, admin_headers: dict[str, str], emulator: str, pushed: Settings
) -> None:
    pat = await synced_user(api, admin_headers, pushed, emulator)
    google_id = await pat.google.calendar("Guarded")
    await pat.choose(google_id)
    [channel] = await eventually(lambda: channels(pat.google, google_id))
    assert (await pat.sync())["status"] == "ok"
    lists = await pat.google.calls("events.list")
    forged = await notify(api, channel, "not-the-token")
    assert forged.status_code == 403
    assert (await notify(api, channel, None)).status_code == 403
    assert (await notify(api, {**channel, "id": str(uuid.uuid4())}, "x")).status_code == 404
    assert (await notify(api, channel, "x", state="bogus")).status_code == 400
    assert (await api.post(HOOK_PATH)).status_code == 422  # no headers at all
    await asyncio.sleep(1)
    assert await pat.google.calls("events.list") == lists  # none of them asked for a sync

    # Disconnected: the channel is stopped at Google, the authorization revoked, and a
    # notification that still comes on the old channel is acknowledged and ignored.
    token = _token(pushed, channel["id"])
    gone = await api.post(f"/api/scheduling/users/{pat.user['id']}/google/disconnect", headers=pat.headers)
    assert gone.status_code == 200, gone.text
    assert gone.json() == {
        "user_id": pat.user["id"],
        "google": "disconnected",
        "revoked": True,
        "calendars_stopped": 1,
    }
    [stopped] = await channels(pat.google, google_id)
    assert stopped["stopped"] is True
    late = await notify(api, channel, token)
    assert late.status_code == 200 and late.json()["signalled"] is False
    assert (await pat.state())["sync_status"] == "stopped"
    again = await api.post(f"/api/scheduling/users/{pat.user['id']}/google/disconnect", headers=pat.headers)
    assert again.status_code == 409


def _token(settings: Settings, channel_id: str) -> str:
    from core.crypto import Cipher

    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        [(calendar_id, sealed)] = conn.execute(
            "SELECT calendar_id, sealed_token FROM calendar_channels WHERE id = %s", (channel_id,)
        ).fetchall()
    return Cipher(settings.encryption_key or "").decrypt(sealed, calendar_id.bytes).decode()


async def test_a_channel_is_renewed_before_it_expires_and_stopped_when_the_sync_ends(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    settings: Settings,
    emulator: str,
    time_skipping: WorkflowEnvironment,
) -> None:
    pat = await synced_user(api, admin_headers, settings, emulator)
    google_id = await pat.google.calendar("Long lived")
    listed = await api.get(f"/api/scheduling/users/{pat.user['id']}/calendars", headers=pat.headers)
    [calendar] = [c for c in listed.json() if c["google_calendar_id"] == google_id]
    database = Database(settings.database_url or "")
    async with database.transaction() as session:
        row = await session.get_one(Calendar, uuid.UUID(calendar["id"]))
        row.selected = True
    push = settings.model_copy(update={"google_calendar_webhook_url": f"http://127.0.0.1:9{HOOK_PATH}"})
    client = time_skipping.client
    async with serving_scheduling(push, client, listing=False):
        # (The time-skipping server has no Schedules: the workflow alone.)
        await client.start_workflow(
            CALENDAR_SYNC_WORKFLOW,
            CalendarSyncState(calendar_id=row.id, tenant_id=row.tenant_id, user_id=row.user_id),
            id=workflow_id(row.id),
            task_queue=TASK_QUEUE,
        )
        [first] = await eventually(lambda: channels(pat.google, google_id))
        # A week on (Google's channels last a week): the next channel opened, then the first stopped.
        await time_skipping.sleep(timedelta(days=7))
        both = await eventually(lambda: _two(pat.google, google_id))
        assert [(c["id"], c["stopped"]) for c in both] == [(first["id"], True), (both[1]["id"], False)]
        handle = client.get_workflow_handle(workflow_id(row.id))
        ended = await handle.execute_update(Updates.STOP, result_type=SyncResult)
        assert ended.status == "stopped"
        assert all(c["stopped"] for c in await channels(pat.google, google_id))
    await database.close()


async def _two(google: Google, google_id: str) -> list[dict[str, Any]] | None:
    found = await channels(google, google_id)
    return found if len(found) == 2 and found[0]["stopped"] else None
