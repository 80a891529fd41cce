"""What the scheduling tests share: a user connected through the emulator's consent page, a
scheduling worker, and the emulator's view of a calendar to compare the store with."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
from temporalio.client import Client

from activities.dependencies import Dependencies
from core.settings import Settings
from registry import task_queues
from tests.conftest import terminate_running
from worker import build_workers


async def connected(
    api: httpx.AsyncClient, headers: dict[str, str], settings: Settings, email: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """A user connected through the emulator's consent page: the user, and the callback's query."""
    user = (
        await api.post("/api/scheduling/users", json={"email": email, "name": "Pat"}, headers=headers)
    ).json()
    return user, await connect(api, headers, settings, user["id"], email)


async def connect(
    api: httpx.AsyncClient, headers: dict[str, str], settings: Settings, user_id: str, email: str
) -> dict[str, str]:
    """The user (again) through Google's consent: the callback's query."""
    url = (await api.post(f"/api/scheduling/users/{user_id}/google/connect", headers=headers)).json()[
        "authorization_url"
    ]
    # The person approves on Google's consent page (the emulator's), which sends the browser back.
    async with httpx.AsyncClient() as browser:
        approved = await browser.post(url, data={"decision": "approve", "user": email})
    assert approved.status_code in (302, 303), approved.text
    back = urlsplit(approved.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == settings.google_redirect_uri
    params = {k: v[0] for k, v in parse_qs(back.query).items()}
    answer = await api.get(
        "/api/scheduling/google/callback", params={"code": params["code"], "state": params["state"]}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"user_id": user_id, "google": "connected"}
    return params


@contextlib.asynccontextmanager
async def serving_scheduling(
    settings: Settings, client: Client, *, listing: bool = True
) -> AsyncIterator[None]:
    """The scheduling task queue served in-process; syncs left running are terminated after
    (where the server can list them: not the time-skipping one)."""
    async with Dependencies.open(settings) as deps, AsyncExitStack() as stack:
        for worker in build_workers(client, task_queues(deps, ["scheduling"])):
            await stack.enter_async_context(worker)
        yield
        if not listing:
            return
        await terminate_running(client, "CalendarSync")
        for schedule in [s async for s in await client.list_schedules()]:
            if schedule.id.startswith("calendar-sync-periodic:"):
                with contextlib.suppress(Exception):
                    await client.get_schedule_handle(schedule.id).delete()


class Google:
    """The emulator's control API for one user."""

    def __init__(self, emulator: str, email: str) -> None:
        self.base = f"{emulator}/_control/google"
        self.email = email
        self.http = httpx.AsyncClient(timeout=120)

    async def calendar(self, summary: str, time_zone: str = "UTC") -> str:
        made = await self.http.post(
            f"{self.base}/users/{self.email}/calendars", json={"summary": summary, "time_zone": time_zone}
        )
        made.raise_for_status()
        return str(made.json()["id"])

    async def bulk(self, calendar_id: str, count: int, **options: Any) -> None:
        (
            await self.http.post(
                f"{self.base}/calendars/{calendar_id}/events/bulk", json={"count": count, **options}
            )
        ).raise_for_status()

    async def create(self, calendar_id: str, event: dict[str, Any]) -> dict[str, Any]:
        made = await self.http.post(f"{self.base}/calendars/{calendar_id}/events", json=event)
        made.raise_for_status()
        return dict(made.json())

    async def patch(self, calendar_id: str, event_id: str, change: dict[str, Any]) -> dict[str, Any]:
        done = await self.http.patch(f"{self.base}/calendars/{calendar_id}/events/{event_id}", json=change)
        done.raise_for_status()
        return dict(done.json())

    async def delete(self, calendar_id: str, event_id: str) -> None:
        (await self.http.delete(f"{self.base}/calendars/{calendar_id}/events/{event_id}")).raise_for_status()

    async def events(self, calendar_id: str) -> list[dict[str, Any]]:
        dump = await self.http.get(f"{self.base}/calendars/{calendar_id}/events")
        dump.raise_for_status()
        return list(dump.json()["events"])

    async def inject(self, operation: str, reason: str, count: int = 1, **options: Any) -> None:
        body = {"operation": operation, "reason": reason, "count": count, **options}
        (await self.http.post(f"{self.base}/errors", json=body)).raise_for_status()

    async def calls(self, operation: str) -> int:
        stats = (await self.http.get(f"{self.base}/stats")).json()["calls"]
        return int(stats.get(operation, {}).get("total", 0))

    async def post(self, path: str, **body: Any) -> Any:
        done = await self.http.post(f"{self.base}{path}", json=body or None)
        done.raise_for_status()
        return done.json()

    async def get(self, path: str) -> Any:
        done = await self.http.get(f"{self.base}{path}")
        done.raise_for_status()
        return done.json()


def emulator_view(events: list[dict[str, Any]]) -> dict[str, tuple[str, str | None, str | None]]:
    """Each event id with its status and its start/end as Google gives them (dateTime or date)."""

    def when(value: dict[str, Any] | None) -> str | None:
        if not value:
            return None
        return value.get("dateTime") or value.get("date")

    return {e["id"]: (e.get("status", "confirmed"), when(e.get("start")), when(e.get("end"))) for e in events}


def stored_events(settings: Settings, calendar_id: str | uuid.UUID) -> dict[str, tuple[str, bool, Any, Any]]:
    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        rows = conn.execute(
            "SELECT event_id, status, deleted, start_at, end_at FROM calendar_events WHERE calendar_id = %s",
            (calendar_id,),
        ).fetchall()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}
