"""A connected user's calendars: read from their Google calendar list (each read refreshes
what is stored: summary, time zone), then chosen for sync."""

import asyncio
import uuid
from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert

from api.deps import Caller, Session
from api.problems import ERROR_RESPONSES, ProblemError, responses
from api.routers.scheduling.users import owned_user
from clients import google_calendar
from core.crypto import Cipher
from core.settings import Settings
from domain.scheduling.oauth import GoogleTokens
from store import google_tokens
from store.scheduling import Calendar
from store.sealed import open_model, seal_model

router = APIRouter(prefix="/api/scheduling", tags=["scheduling: calendars"], responses=ERROR_RESPONSES)


class CalendarDetails(BaseModel):
    """What is sealed: the calendar's name and description."""

    summary: str
    description: str | None = None


class CalendarOut(CalendarDetails):
    id: uuid.UUID
    google_calendar_id: str
    time_zone: str
    # Chosen for sync: its workflow keeps it in sync.
    selected: bool
    # idle | syncing | ok | error | reauthorization_required | stopped
    sync_status: str
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    # Events stored after the last successful sync, deleted ones not counted.
    events_count: int


REAUTHORIZE = "Google no longer accepts the user's authorization: connect again."
NOT_CONNECTED = responses({409: "The user's Google account is not connected, or must be connected again"})


async def owned_calendar(
    session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID, calendar_id: uuid.UUID
) -> Calendar:
    await owned_user(session, tenant_id, user_id)
    row = await session.get(Calendar, calendar_id)
    if row is None or row.user_id != user_id:
        raise ProblemError(
            404,
            "Calendar not found",
            f"No calendar {calendar_id} for this user; list the user's calendars first.",
        )
    return row


def calendar_out(cipher: Cipher, row: Calendar) -> CalendarOut:
    details = open_model(cipher, row.id, row.sealed, CalendarDetails)
    return CalendarOut(
        **details.model_dump(),
        id=row.id,
        google_calendar_id=row.google_calendar_id,
        time_zone=row.time_zone,
        selected=row.selected,
        sync_status=row.sync_status,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        events_count=row.events_count,
    )


async def usable_tokens(session: Session, cipher: Cipher, user_id: uuid.UUID) -> GoogleTokens:
    try:
        return await google_tokens.tokens_of(session, cipher, user_id)
    except google_tokens.Unusable as exc:
        if exc.status == "reauthorization_required":
            raise ProblemError(409, "Reauthorization required", REAUTHORIZE) from None
        raise ProblemError(409, "Not connected", "Connect the user's Google account first.") from None


@router.get("/users/{user_id}/calendars", response_model=list[CalendarOut], responses=NOT_CONNECTED)
async def list_calendars(
    user_id: uuid.UUID, who: Caller, session: Session, request: Request
) -> list[CalendarOut]:
    """The user's calendars as Google lists them now."""
    await owned_user(session, who.tenant_id, user_id)
    settings: Settings = request.app.state.settings
    cipher: Cipher = request.app.state.cipher
    tokens = await usable_tokens(session, cipher, user_id)
    creds = google_calendar.credentials(settings, tokens)
    try:
        entries = await asyncio.to_thread(google_calendar.list_calendars, settings, creds)
    except google_calendar.ReauthorizationRequired as exc:
        await google_tokens.require_reauthorization(session, user_id, str(exc))
        await session.commit()
        raise ProblemError(409, "Reauthorization required", REAUTHORIZE) from None
    await google_tokens.store_refreshed(session, cipher, user_id, google_calendar.refreshed(creds, tokens))
    if not entries:
        return []
    # In the calendar list's order, as Google shows it; stored in one statement.
    order = [uuid.uuid5(user_id, entry["id"]) for entry in entries]
    listed = insert(Calendar).values(
        [
            {
                "id": calendar_id,
                "tenant_id": who.tenant_id,
                "user_id": user_id,
                "google_calendar_id": entry["id"],
                "sealed": seal_model(
                    cipher,
                    calendar_id,
                    CalendarDetails(
                        summary=entry.get("summary", entry["id"]), description=entry.get("description")
                    ),
                ),
                "time_zone": entry.get("timeZone", "UTC"),
            }
            for calendar_id, entry in zip(order, entries, strict=True)
        ]
    )
    stored = await session.scalars(
        listed.on_conflict_do_update(
            index_elements=[Calendar.user_id, Calendar.google_calendar_id],
            set_={"sealed": listed.excluded.sealed, "time_zone": listed.excluded.time_zone},
        ).returning(Calendar)
    )
    rows = {row.id: row for row in stored}
    return [calendar_out(cipher, rows[calendar_id]) for calendar_id in order]
