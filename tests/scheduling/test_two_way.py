"""Events written through the API on a synced calendar: at Google first (the emulator), then in
the store; a retried insert makes one event, a stale etag is a conflict, and the next sync
changes nothing of what was written."""

import uuid

import httpx
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.scheduling.google_world import stored_events
from tests.scheduling.test_sync import synced_user

EVENT = {
    "summary": "Dentist",
    "start": {"date_time": "2026-09-01T09:00:00+02:00", "time_zone": "Europe/Berlin"},
    "end": {"date_time": "2026-09-01T10:00:00+02:00", "time_zone": "Europe/Berlin"},
}


async def test_an_event_created_through_the_api_is_made_once_even_when_its_answer_is_lost(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    settings: Settings,
    emulator: str,
    temporal: WorkflowEnvironment,
    scheduling: None,
) -> None:
    pat = await synced_user(api, admin_headers, settings, emulator)
    google_id = await pat.google.calendar("Appointments", "Europe/Berlin")
    await pat.choose(google_id)
    assert (await pat.sync())["status"] == "ok"
    inserts = await pat.google.calls("events.insert")
    # Google applies the first insert and its answer is lost: the retry finds the event.
    fault = {
        "provider": "google",
        "method": "POST",
        "path": "/events$",
        "when": "after",
        "status": 503,
        "count": 1,
    }
    (await pat.google.http.post(f"{emulator}/_control/faults", json=fault)).raise_for_status()
    key = {"Idempotency-Key": f"dentist-{uuid.uuid4()}"}
    created = await api.post(f"{pat.path}/events", json=EVENT, headers={**pat.headers, **key})
    assert created.status_code == 201, created.text
    event = created.json()
    at_google = [e for e in await pat.google.events(google_id) if e.get("summary") == "Dentist"]
    assert [e["id"] for e in at_google] == [event["id"]] and event["etag"] == at_google[0]["etag"]
    assert await pat.google.calls("events.insert") - inserts == 2
    # The same request again: the same event, still one at Google.
    again = await api.post(f"{pat.path}/events", json=EVENT, headers={**pat.headers, **key})
    assert again.status_code == 201 and again.json()["id"] == event["id"]
    assert len([e for e in await pat.google.events(google_id) if e.get("summary") == "Dentist"]) == 1
    # Stored from Google's answer, and the next sync changes nothing of it.
    assert stored_events(settings, pat.calendar["id"])[event["id"]][0] == "confirmed"
    result = await pat.sync()
    assert result["status"] == "ok", result
    assert list(stored_events(settings, pat.calendar["id"])) == [event["id"]]
    assert (await pat.state())["events_count"] == 1

    # Changed with the etag it was based on; a second change on the same (now stale) etag is a
    # conflict, and Google's event keeps the first change.
    path = f"{pat.path}/events/{event['id']}"
    moved = await api.patch(
        path, json={"summary": "Dentist (moved)"}, headers={**pat.headers, "If-Match": event["etag"]}
    )
    assert moved.status_code == 200, moved.text
    stale = await api.patch(
        path, json={"summary": "Lost update"}, headers={**pat.headers, "If-Match": event["etag"]}
    )
    assert stale.status_code == 409 and "changed at Google" in stale.json()["detail"]
    [at_google] = [e for e in await pat.google.events(google_id) if e["id"] == event["id"]]
    assert at_google["summary"] == "Dentist (moved)"
    # Without If-Match, the change is based on the etag last synced.
    await pat.google.patch(google_id, event["id"], {"location": "Room 2"})
    assert (await api.patch(path, json={"summary": "Mine"}, headers=pat.headers)).status_code == 409
    assert (await pat.sync())["status"] == "ok"
    assert (await api.patch(path, json={"summary": "Mine"}, headers=pat.headers)).status_code == 200

    deleted = await api.delete(path, headers=pat.headers)
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    assert stored_events(settings, pat.calendar["id"])[event["id"]][1] is True
    assert (await api.delete(path, headers=pat.headers)).status_code == 404
    assert (await pat.state())["events_count"] == 0


async def test_bad_event_writes_are_refused_and_change_nothing(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    settings: Settings,
    emulator: str,
    scheduling: None,
) -> None:
    pat = await synced_user(api, admin_headers, settings, emulator)
    google_id = await pat.google.calendar("Strict")
    await pat.choose(google_id)
    inserts = await pat.google.calls("events.insert")
    reversed_event = {**EVENT, "end": {"date_time": "2026-09-01T08:00:00+02:00"}}
    mixed = {**EVENT, "end": {"date": "2026-09-02"}}
    naive = {**EVENT, "start": {"date_time": "2026-09-01T09:00:00"}}
    for bad in (reversed_event, mixed, naive, {"summary": "no times"}, {**EVENT, "colour": "red"}):
        refused = await api.post(f"{pat.path}/events", json=bad, headers=pat.headers)
        assert refused.status_code == 422, (bad, refused.text)
    assert (
        await api.patch(f"{pat.path}/events/nosuchevent1", json={"summary": "x"}, headers=pat.headers)
    ).status_code == 404
    assert (
        await api.patch(f"{pat.path}/events/NOT-AN-ID", json={"summary": "x"}, headers=pat.headers)
    ).status_code == 422
    bob = {"Authorization": pat.headers["Authorization"].replace("a", "b")}
    assert (await api.post(f"{pat.path}/events", json=EVENT, headers=bob)).status_code == 401
    assert await pat.google.calls("events.insert") == inserts
