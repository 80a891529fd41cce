"""Calendars and events written straight into the store, as the sync will write them: the
reads are tested on what is stored, whatever fetched it."""

import uuid
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.dialects.postgresql import insert

from api.routers.scheduling.calendars import CalendarDetails
from core.crypto import Cipher
from core.settings import Settings
from domain.scheduling.events import from_google
from store.calendar_events import event_values
from store.db import Database
from store.scheduling import Calendar, CalendarEvent, SchedulingUser
from store.sealed import seal_model

BERLIN = "Europe/Berlin"


async def user(api: httpx.AsyncClient, headers: dict[str, str], email: str = "pat@example.com") -> str:
    made = await api.post("/api/scheduling/users", json={"email": email, "name": "Pat"}, headers=headers)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def calendar(
    settings: Settings,
    user_id: str,
    time_zone: str = BERLIN,
    *,
    selected: bool = True,
    summary: str = "Work",
    **sync_state: Any,
) -> str:
    cipher = Cipher(settings.encryption_key or "")
    calendar_id = uuid.uuid4()
    database = Database(settings.database_url or "", pool_size=1)
    try:
        async with database.transaction() as session:
            owner = await session.get(SchedulingUser, uuid.UUID(user_id))
            assert owner is not None
            session.add(
                Calendar(
                    id=calendar_id,
                    tenant_id=owner.tenant_id,
                    user_id=owner.id,
                    google_calendar_id=f"{summary.lower()}-{calendar_id.hex[:6]}@group.calendar.google.com",
                    sealed=seal_model(cipher, calendar_id, CalendarDetails(summary=summary)),
                    time_zone=time_zone,
                    selected=selected,
                    **sync_state,
                )
            )
    finally:
        await database.close()
    return str(calendar_id)


async def events(settings: Settings, calendar_id: str, *items: dict[str, Any]) -> None:
    """Google event resources (events.list items), stored as the sync stores them."""
    cipher = Cipher(settings.encryption_key or "")
    database = Database(settings.database_url or "", pool_size=1)
    try:
        async with database.transaction() as session:
            row = await session.get(Calendar, uuid.UUID(calendar_id))
            assert row is not None
            values = [
                event_values(cipher, row.tenant_id, row.id, row.time_zone, from_google(item))
                for item in items
            ]
            await session.execute(insert(CalendarEvent).values(values))
    finally:
        await database.close()


def timed(event_id: str, start: str, end: str, zone: str = BERLIN, **extra: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "status": "confirmed",
        "summary": event_id,
        "start": {"dateTime": start, "timeZone": zone},
        "end": {"dateTime": end, "timeZone": zone},
        **extra,
    }


def all_day(event_id: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {"id": event_id, "status": "confirmed", "start": {"date": start}, "end": {"date": end}, **extra}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)
