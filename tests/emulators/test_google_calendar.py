"""Calendar v3 against the Google emulator through google-api-python-client (packaged discovery)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from googleapiclient.errors import HttpError

from tests.emulators.google_client import connect, control, list_all


def reason(error: HttpError) -> str:
    return json.loads(error.content)["error"]["errors"][0]["reason"]


def timed(summary: str, start: str, end: str, tz: str = "UTC", **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "start": {"dateTime": start, "timeZone": tz},
        "end": {"dateTime": end, "timeZone": tz},
        **extra,
    }


def test_full_paging_next_sync_token_only_on_the_last_page(emulator: str) -> None:
    user = connect(emulator)
    made = control(emulator, "POST", f"/calendars/{user.email}/events/bulk", json={"count": 1000})
    assert made.json()["created"] == 1000
    items, pages = list_all(user.service, maxResults=300)
    assert [len(p["items"]) for p in pages] == [300, 300, 300, 100]
    assert all("nextSyncToken" not in p for p in pages[:-1]) and "nextPageToken" not in pages[-1]
    assert pages[-1]["nextSyncToken"]
    assert len({e["id"] for e in items}) == 1000
    # "The page size can never be larger than 2500 events": a larger ask gets at most that.
    control(emulator, "POST", f"/calendars/{user.email}/events/bulk", json={"count": 9000})
    items, pages = list_all(user.service, maxResults=5000)
    assert [len(p["items"]) for p in pages] == [2500, 2500, 2500, 2500]
    assert len({e["id"] for e in items}) == 10_000


def test_incremental_sync_shows_created_updated_and_deleted(emulator: str) -> None:
    user = connect(emulator)
    events = user.service.events()
    keep = events.insert(
        calendarId="primary", body=timed("keep", "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z")
    ).execute()
    edit = events.insert(
        calendarId="primary", body=timed("edit", "2026-03-03T09:00:00Z", "2026-03-03T10:00:00Z")
    ).execute()
    gone = events.insert(
        calendarId="primary", body=timed("gone", "2026-03-04T09:00:00Z", "2026-03-04T10:00:00Z")
    ).execute()
    items, pages = list_all(user.service)
    assert {e["id"] for e in items} == {keep["id"], edit["id"], gone["id"]}
    token = pages[-1]["nextSyncToken"]
    # Nothing changed: an empty page with a sync token.
    quiet = events.list(calendarId="primary", syncToken=token).execute()
    assert quiet["items"] == [] and quiet["nextSyncToken"]

    # Changes as another client makes them (the control API) and as this client makes them.
    control(emulator, "PATCH", f"/calendars/{user.email}/events/{edit['id']}", json={"summary": "edited"})
    events.delete(calendarId="primary", eventId=gone["id"]).execute()
    new = control(
        emulator,
        "POST",
        f"/calendars/{user.email}/events",
        json=timed("new", "2026-03-05T09:00:00Z", "2026-03-05T10:00:00Z"),
    ).json()
    changed = events.list(calendarId="primary", syncToken=token).execute()
    by_id = {e["id"]: e for e in changed["items"]}
    assert set(by_id) == {edit["id"], gone["id"], new["id"]}
    assert by_id[edit["id"]]["summary"] == "edited"
    assert by_id[gone["id"]]["status"] == "cancelled"
    assert by_id[new["id"]]["summary"] == "new"
    # A full listing hides the deleted event unless showDeleted; get still returns it.
    assert gone["id"] not in {e["id"] for e in list_all(user.service)[0]}
    assert gone["id"] in {e["id"] for e in list_all(user.service, showDeleted=True)[0]}
    assert events.get(calendarId="primary", eventId=gone["id"]).execute()["status"] == "cancelled"
    # Paged incremental sync: the sync token comes on the last page only.
    control(emulator, "POST", f"/calendars/{user.email}/events/bulk", json={"count": 30})
    items, pages = list_all(user.service, syncToken=changed["nextSyncToken"], maxResults=10)
    assert len(items) == 30 and len(pages) == 3 and "nextSyncToken" in pages[-1]
    assert all("nextSyncToken" not in p for p in pages[:-1])


def test_expired_sync_token_is_410_full_sync_required(emulator: str) -> None:
    user = connect(emulator)
    _, pages = list_all(user.service)
    token = pages[-1]["nextSyncToken"]
    control(emulator, "POST", f"/calendars/{user.email}/expire-sync-tokens")
    with pytest.raises(HttpError) as caught:
        user.service.events().list(calendarId="primary", syncToken=token).execute()
    assert caught.value.resp.status == 410 and reason(caught.value) == "fullSyncRequired"
    # A full sync gives a token that works again.
    _, pages = list_all(user.service)
    user.service.events().list(calendarId="primary", syncToken=pages[-1]["nextSyncToken"]).execute()


@pytest.mark.parametrize(
    "param",
    [
        {"timeMin": "2026-01-01T00:00:00Z"},
        {"timeMax": "2026-01-01T00:00:00Z"},
        {"updatedMin": "2026-01-01T00:00:00Z"},
        {"q": "x"},
        {"orderBy": "updated"},
        {"iCalUID": "x@google.com"},
        {"privateExtendedProperty": "a=b"},
        {"sharedExtendedProperty": "a=b"},
    ],
)
def test_sync_token_refuses_filters(emulator: str, param: dict[str, str]) -> None:
    user = connect(emulator)
    token = list_all(user.service)[1][-1]["nextSyncToken"]
    with pytest.raises(HttpError) as caught:
        user.service.events().list(calendarId="primary", syncToken=token, **param).execute()
    assert caught.value.resp.status == 400 and reason(caught.value) == "invalid"


def test_etag_precondition_duplicate_ids_and_double_delete(emulator: str) -> None:
    user = connect(emulator)
    events = user.service.events()
    event_id = uuid.uuid4().hex
    body = timed("mine", "2026-04-01T09:00:00Z", "2026-04-01T10:00:00Z", id=event_id)
    created = events.insert(calendarId="primary", body=body).execute()
    assert created["id"] == event_id and created["etag"].startswith('"')
    with pytest.raises(HttpError) as dup:
        events.insert(calendarId="primary", body=body).execute()
    assert dup.value.resp.status == 409 and reason(dup.value) == "duplicate"
    with pytest.raises(HttpError) as bad_id:
        events.insert(calendarId="primary", body={**body, "id": "Not_Base32hex"}).execute()
    assert bad_id.value.resp.status == 400

    # Another client changes the event: our etag is stale, If-Match fails with 412.
    control(emulator, "PATCH", f"/calendars/{user.email}/events/{event_id}", json={"summary": "theirs"})
    request = events.patch(calendarId="primary", eventId=event_id, body={"summary": "ours"})
    request.headers["If-Match"] = created["etag"]
    with pytest.raises(HttpError) as stale:
        request.execute()
    assert stale.value.resp.status == 412 and reason(stale.value) == "conditionNotMet"
    current = events.get(calendarId="primary", eventId=event_id).execute()
    assert current["summary"] == "theirs"
    request = events.update(calendarId="primary", eventId=event_id, body={**body, "summary": "ours"})
    request.headers["If-Match"] = current["etag"]
    assert request.execute()["summary"] == "ours"

    events.delete(calendarId="primary", eventId=event_id).execute()
    with pytest.raises(HttpError) as twice:
        events.delete(calendarId="primary", eventId=event_id).execute()
    assert twice.value.resp.status == 410 and reason(twice.value) == "deleted"
    # A deleted event keeps its id: inserting it again is still a duplicate.
    with pytest.raises(HttpError) as reinsert:
        events.insert(calendarId="primary", body=body).execute()
    assert reinsert.value.resp.status == 409
    with pytest.raises(HttpError) as missing:
        events.get(calendarId="primary", eventId="nosuchevent1").execute()
    assert missing.value.resp.status == 404 and reason(missing.value) == "notFound"


def test_bad_events_are_refused(emulator: str) -> None:
    user = connect(emulator)
    events = user.service.events()
    with pytest.raises(HttpError) as backwards:
        events.insert(
            calendarId="primary", body=timed("x", "2026-04-01T10:00:00Z", "2026-04-01T09:00:00Z")
        ).execute()
    assert backwards.value.resp.status == 400 and reason(backwards.value) == "timeRangeEmpty"
    with pytest.raises(HttpError) as no_end:
        events.insert(calendarId="primary", body={"start": {"date": "2026-04-01"}}).execute()
    assert no_end.value.resp.status == 400
    with pytest.raises(HttpError) as reversed_range:
        events.list(
            calendarId="primary", timeMin="2026-02-01T00:00:00Z", timeMax="2026-01-01T00:00:00Z"
        ).execute()
    assert reason(reversed_range.value) == "timeRangeEmpty"
    with pytest.raises(HttpError) as other:
        events.list(calendarId="someone-else@example.com").execute()
    assert other.value.resp.status == 404


def test_recurring_events_exceptions_and_dst(emulator: str) -> None:
    user = connect(emulator)
    events = user.service.events()
    # Weekly at 09:00 Berlin time across the end of DST (2026-10-25): the wall time stays 09:00.
    series = events.insert(
        calendarId="primary",
        body={
            "summary": "standup",
            "start": {"dateTime": "2026-10-15T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-10-15T09:30:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
        },
    ).execute()
    instances, _ = list_all(user.service, singleEvents=True, orderBy="startTime")
    assert [i["start"]["dateTime"] for i in instances] == [
        "2026-10-15T09:00:00+02:00",
        "2026-10-22T09:00:00+02:00",
        "2026-10-29T09:00:00+01:00",
        "2026-11-05T09:00:00+01:00",
    ]
    assert instances[2]["id"] == f"{series['id']}_20261029T080000Z"
    assert all(i["recurringEventId"] == series["id"] for i in instances)
    _, pages = list_all(user.service)
    token = pages[-1]["nextSyncToken"]

    # One instance moved, another cancelled: exceptions with recurringEventId/originalStartTime.
    moved = events.patch(
        calendarId="primary",
        eventId=instances[1]["id"],
        body={
            "start": {"dateTime": "2026-10-22T11:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-10-22T11:30:00", "timeZone": "Europe/Berlin"},
        },
    ).execute()
    assert moved["originalStartTime"]["dateTime"] == "2026-10-22T09:00:00+02:00"
    # Another client cancels one instance of the series.
    cancel = control(emulator, "DELETE", f"/calendars/{user.email}/events/{instances[2]['id']}")
    assert cancel.status_code == 204

    expanded, _ = list_all(user.service, singleEvents=True, orderBy="startTime")
    assert [i["start"]["dateTime"][11:16] for i in expanded] == ["09:00", "11:00", "09:00"]
    # Not expanded: the master and its exceptions; the cancelled instance is listed even without
    # showDeleted ("Cancelled instances of recurring events ... will still be included").
    plain, _ = list_all(user.service)
    assert {e["id"]: e["status"] for e in plain} == {
        series["id"]: "confirmed",
        instances[1]["id"]: "confirmed",
        instances[2]["id"]: "cancelled",
    }
    changed = events.list(calendarId="primary", syncToken=token).execute()["items"]
    assert {e["id"] for e in changed} == {instances[1]["id"], instances[2]["id"]}
    cancelled = next(e for e in changed if e["status"] == "cancelled")
    assert cancelled["recurringEventId"] == series["id"] and "originalStartTime" in cancelled

    # All-day event: a date, and the window filter sees it.
    events.insert(
        calendarId="primary",
        body={"summary": "holiday", "start": {"date": "2026-12-24"}, "end": {"date": "2026-12-25"}},
    ).execute()
    window, _ = list_all(user.service, timeMin="2026-12-24T10:00:00Z", timeMax="2026-12-24T11:00:00Z")
    assert [e["summary"] for e in window] == ["holiday"]


def test_free_busy(emulator: str) -> None:
    user = connect(emulator)
    events = user.service.events()
    events.insert(
        calendarId="primary", body=timed("a", "2026-05-01T09:00:00Z", "2026-05-01T10:00:00Z")
    ).execute()
    events.insert(
        calendarId="primary", body=timed("b", "2026-05-01T09:30:00Z", "2026-05-01T11:00:00Z")
    ).execute()
    events.insert(
        calendarId="primary",
        body=timed("free", "2026-05-01T12:00:00Z", "2026-05-01T13:00:00Z", transparency="transparent"),
    ).execute()
    answer = (
        user.service.freebusy()
        .query(
            body={
                "timeMin": "2026-05-01T00:00:00Z",
                "timeMax": "2026-05-02T00:00:00Z",
                "items": [{"id": user.email}, {"id": "nobody@example.com"}],
            }
        )
        .execute()
    )
    assert answer["calendars"][user.email]["busy"] == [
        {"start": "2026-05-01T09:00:00.000Z", "end": "2026-05-01T11:00:00.000Z"}
    ]
    assert answer["calendars"]["nobody@example.com"]["errors"][0]["reason"] == "notFound"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ({"reason": "rateLimitExceeded"}, 403),
        ({"reason": "userRateLimitExceeded"}, 403),
        ({"reason": "rateLimitExceeded", "status": 429}, 429),
        ({"reason": "quotaExceeded"}, 403),
        ({"reason": "dailyLimitExceeded"}, 403),
        ({"reason": "backendError"}, 500),
    ],
)
def test_injected_errors_in_google_format(emulator: str, error: dict[str, Any], status: int) -> None:
    user = connect(emulator)
    made = control(emulator, "POST", "/errors", json={"operation": "events.list", "count": 2, **error})
    assert made.status_code == 201, made.text
    for _ in range(2):
        with pytest.raises(HttpError) as caught:
            user.service.events().list(calendarId="primary").execute()
        assert caught.value.resp.status == status
        body = json.loads(caught.value.content)["error"]
        assert body["code"] == status and body["errors"][0]["reason"] == error["reason"]
    user.service.events().list(calendarId="primary").execute()
    calls = control(emulator, "GET", "/stats").json()["calls"]["events.list"]["by_status"]
    assert calls[str(status)] >= 2


def test_injected_faults_without_a_body_speak_google(emulator: str) -> None:
    user = connect(emulator)
    httpx.post(
        f"{emulator}/_control/faults",
        json={"provider": "google", "path": "/freeBusy$", "status": 410, "count": 1},
    ).raise_for_status()
    with pytest.raises(HttpError) as caught:
        user.service.freebusy().query(
            body={"timeMin": "2026-01-01T00:00:00Z", "timeMax": "2026-01-02T00:00:00Z", "items": []}
        ).execute()
    assert reason(caught.value) == "fullSyncRequired"


def test_calendar_list_and_secondary_calendars(emulator: str) -> None:
    user = connect(emulator)
    made = control(
        emulator,
        "POST",
        f"/users/{user.email}/calendars",
        json={"summary": "Team", "time_zone": "America/New_York"},
    )
    team = made.json()["id"]
    listed = user.service.calendarList().list().execute()["items"]
    assert [(c["id"], c.get("primary", False)) for c in listed] == [(user.email, True), (team, False)]
    assert listed[1]["timeZone"] == "America/New_York" and listed[1]["accessRole"] == "owner"
    user.service.events().insert(
        calendarId=team, body=timed("t", "2026-05-01T09:00:00Z", "2026-05-01T10:00:00Z")
    ).execute()
    page = user.service.events().list(calendarId=team).execute()
    assert page["timeZone"] == "America/New_York" and [e["summary"] for e in page["items"]] == ["t"]
    # Another user's calendar is not found, however it is named.
    other = connect(emulator)
    with pytest.raises(HttpError) as caught:
        other.service.events().list(calendarId=team).execute()
    assert caught.value.resp.status == 404
    with pytest.raises(HttpError):
        other.service.events().list(calendarId=user.email).execute()


def test_read_only_scope_cannot_write(emulator: str) -> None:
    user = connect(emulator, scopes=["https://www.googleapis.com/auth/calendar.readonly"])
    user.service.events().list(calendarId="primary").execute()
    with pytest.raises(HttpError) as caught:
        user.service.events().insert(
            calendarId="primary", body=timed("x", "2026-05-01T09:00:00Z", "2026-05-01T10:00:00Z")
        ).execute()
    assert caught.value.resp.status == 403 and reason(caught.value) == "insufficientPermissions"


def test_incremental_with_single_events_shows_instances(emulator: str) -> None:
    user = connect(emulator)
    events = user.service.events()
    token = list_all(user.service, singleEvents=True)[1][-1]["nextSyncToken"]
    series = events.insert(
        calendarId="primary",
        body={
            "summary": "daily",
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"],
            "start": {"dateTime": "2026-03-27T08:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-03-27T09:00:00", "timeZone": "Europe/London"},
        },
    ).execute()
    changed = events.list(calendarId="primary", syncToken=token, singleEvents=True).execute()
    # Across the UK's change to summer time (2026-03-29) the instances stay at 08:00 local.
    assert [e["start"]["dateTime"] for e in changed["items"]] == [
        "2026-03-27T08:00:00+00:00",
        "2026-03-28T08:00:00+00:00",
        "2026-03-29T08:00:00+01:00",
    ]
    events.delete(calendarId="primary", eventId=series["id"]).execute()
    gone = events.list(calendarId="primary", syncToken=changed["nextSyncToken"], singleEvents=True).execute()
    assert {e["status"] for e in gone["items"]} == {"cancelled"} and len(gone["items"]) == 3


@pytest.mark.parametrize("name", ["America", "Mars/Olympus", "../etc/passwd"])
def test_unknown_time_zones_are_bad_requests(emulator: str, name: str) -> None:
    user = connect(emulator)
    body = timed("x", "2026-05-01T09:00:00", "2026-05-01T10:00:00", tz=name)
    with pytest.raises(HttpError) as caught:
        user.service.events().insert(calendarId="primary", body=body).execute()
    assert caught.value.resp.status == 400 and reason(caught.value) == "invalid"
