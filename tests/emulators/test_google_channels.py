"""Push channels: events.watch → a local receiver gets `sync`, then `exists` on changes; stop ends it.
And the emulator's state across a restart with the same data dir."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.auth.transport.requests import Request as AuthRequest
from google.oauth2.credentials import Credentials
from googleapiclient.errors import HttpError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulators.runner import start_in_thread
from tests.emulators.google_client import calendar_service, connect, control, list_all


class Receiver:
    """A webhook endpoint of ours, served on a free port, that keeps what it was sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

        async def hook(request: Request) -> Response:
            self.received.append({"headers": dict(request.headers), "body": await request.body()})
            return Response(status_code=200)

        self.app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    with start_in_thread(app=hook.app) as served:
        yield hook, f"{served.url}/hook"


def test_watch_sends_sync_then_exists_and_stop_ends_it(emulator: str, receiver: tuple[Receiver, str]) -> None:
    hook, address = receiver
    user = connect(emulator)
    channel_id = str(uuid.uuid4())
    channel = (
        user.service.events()
        .watch(
            calendarId="primary",
            body={
                "id": channel_id,
                "type": "web_hook",
                "address": address,
                "token": "secret-token",
            },
        )
        .execute()
    )
    assert channel["id"] == channel_id and channel["resourceId"] and channel["kind"] == "api#channel"
    assert int(channel["expiration"]) > time.time() * 1000
    first = hook.wait_for(1)[0]["headers"]
    assert first["x-goog-resource-state"] == "sync" and first["x-goog-message-number"] == "1"
    assert first["x-goog-channel-id"] == channel_id and first["x-goog-channel-token"] == "secret-token"
    assert first["x-goog-resource-id"] == channel["resourceId"]

    user.service.events().insert(
        calendarId="primary",
        body={"summary": "x", "start": {"date": "2026-06-01"}, "end": {"date": "2026-06-02"}},
    ).execute()
    control(emulator, "POST", f"/calendars/{user.email}/events/bulk", json={"count": 5})
    received = hook.wait_for(3)
    assert [m["headers"]["x-goog-resource-state"] for m in received] == ["sync", "exists", "exists"]
    assert [m["headers"]["x-goog-message-number"] for m in received] == ["1", "2", "3"]
    assert all(m["body"] == b"" for m in received)

    # A duplicate channel id is refused; stop needs the channel's resource id.
    with pytest.raises(HttpError) as dup:
        user.service.events().watch(
            calendarId="primary", body={"id": channel_id, "type": "web_hook", "address": address}
        ).execute()
    assert dup.value.resp.status == 400
    with pytest.raises(HttpError) as wrong:
        user.service.channels().stop(body={"id": channel_id, "resourceId": "other"}).execute()
    assert wrong.value.resp.status == 404
    user.service.channels().stop(body={"id": channel_id, "resourceId": channel["resourceId"]}).execute()
    control(emulator, "POST", f"/calendars/{user.email}/events/bulk", json={"count": 1})
    notes = control(emulator, "GET", "/notifications").json()["notifications"]
    assert [n["state"] for n in notes if n["channel_id"] == channel_id] == ["sync", "exists", "exists"]
    assert len(hook.received) == 3


def test_state_survives_a_restart(tmp_path: Path) -> None:
    with start_in_thread(providers=["google"], data_dir=tmp_path) as first:
        user = connect(first.url)
        user.service.events().insert(
            calendarId="primary",
            body={
                "id": "keepme001",
                "summary": "kept",
                "start": {"date": "2026-07-01"},
                "end": {"date": "2026-07-02"},
            },
        ).execute()
        control(first.url, "POST", f"/calendars/{user.email}/events/bulk", json={"count": 50})
        token = list_all(user.service)[1][-1]["nextSyncToken"]
    with start_in_thread(providers=["google"], data_dir=tmp_path) as second:
        # Same tokens, same events, same sync position: only later changes show up.
        service = calendar_service(second.url, user.credentials)
        items, _ = list_all(service)
        assert len(items) == 51
        assert service.events().list(calendarId="primary", syncToken=token).execute()["items"] == []
        service.events().delete(calendarId="primary", eventId="keepme001").execute()
        changed = service.events().list(calendarId="primary", syncToken=token).execute()["items"]
        assert [(e["id"], e["status"]) for e in changed] == [("keepme001", "cancelled")]
        moved = Credentials(
            token=None,
            refresh_token=user.credentials.refresh_token,
            token_uri=f"{second.url}/google/oauth2/token",
            client_id=user.credentials.client_id,
            client_secret=user.credentials.client_secret,
        )
        moved.refresh(AuthRequest())
        assert httpx.get(f"{second.url}/health").json()["providers"] == ["google"]
