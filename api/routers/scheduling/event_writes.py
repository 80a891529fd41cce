"""Events created, changed and deleted through the API on a synced calendar (two-way sync).

Each write is an update of the calendar's workflow (with start: it reaches the workflow even if
that was lost), which writes at Google first and then stores Google's answer; the response
leaves once both are done. The next sync finds the same event by its id and changes nothing.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Path
from pydantic import BaseModel
from sqlalchemy import select
from temporalio.client import Client, WithStartWorkflowOperation

from api.deps import Caller, Session, Temporal, idempotency_header
from api.problems import ERROR_RESPONSES, ProblemError, responses
from api.routers.scheduling.syncs import start_options, sync_state, synced_calendar
from api.temporal_calls import answered, reaching_temporal, update_responses
from domain.scheduling.sync import CALENDAR_SYNC_WORKFLOW, Updates
from domain.scheduling.writes import EventCreate, EventFields, EventWrite, Written, chosen_id
from store.scheduling import Calendar, CalendarEvent

router = APIRouter(prefix="/api/scheduling", tags=["scheduling: events"], responses=ERROR_RESPONSES)

EventPathId = Annotated[str, Path(pattern=r"^[a-v0-9]{5,1024}$", description="Google's event id")]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=255,
        description="The etag the change is based on (default: the one last synced); 409 if the "
        "event has changed at Google since",
    ),
]
WRITE_RESPONSES = {
    **update_responses("calendar"),
    **responses(
        {409: "Changed at Google since the etag, or the calendar is not synced; `detail` says which"}
    ),
}


class EventWritten(BaseModel):
    id: str
    etag: str | None
    deleted: bool


async def _stored_etag(session: Session, row: Calendar, event_id: str) -> str | None:
    """The etag of the event as last synced; 404 for an event the calendar does not have."""
    found = (
        await session.execute(
            select(CalendarEvent.etag, CalendarEvent.deleted).where(
                CalendarEvent.calendar_id == row.id, CalendarEvent.event_id == event_id
            )
        )
    ).first()
    if found is None or found.deleted:
        raise ProblemError(404, "Event not found", f"No event {event_id} in this calendar.")
    return found.etag


async def _write(session: Session, client: Client, row: Calendar, write: EventWrite) -> EventWritten:
    await session.commit()  # nothing written here: the connection goes back before the wait
    start = WithStartWorkflowOperation(CALENDAR_SYNC_WORKFLOW, sync_state(row), **start_options(row))
    with reaching_temporal("Nothing was written; retry the request."):
        written = await answered(
            client.execute_update_with_start_workflow(
                Updates.WRITE, write, start_workflow_operation=start, result_type=Written
            ),
            f"{write.action} this event",
        )
    if written.refused == 412:
        raise ProblemError(
            409, "Changed at Google", "The event changed at Google since that etag; read it again and retry."
        )
    if written.refused is not None:
        raise ProblemError(404, "Event not found", f"Google has no event {write.event_id} in this calendar.")
    return EventWritten(id=written.event_id, etag=written.etag, deleted=written.deleted)


@router.post(
    "/users/{user_id}/calendars/{calendar_id}/events",
    status_code=201,
    response_model=EventWritten,
    responses=WRITE_RESPONSES,
)
async def create_event(
    user_id: uuid.UUID,
    calendar_id: uuid.UUID,
    body: EventCreate,
    who: Caller,
    session: Session,
    client: Temporal,
    idempotency_key: idempotency_header("event") = None,
) -> EventWritten:
    """Creates the event at Google, then stores it. The same Idempotency-Key again names the
    same event: it is created once."""
    row = await synced_calendar(session, who.tenant_id, user_id, calendar_id)
    write = EventWrite(action="insert", event_id=chosen_id(row.id, idempotency_key), fields=body)
    return await _write(session, client, row, write)


@router.patch(
    "/users/{user_id}/calendars/{calendar_id}/events/{event_id}",
    response_model=EventWritten,
    responses=WRITE_RESPONSES,
)
async def change_event(
    user_id: uuid.UUID,
    calendar_id: uuid.UUID,
    event_id: EventPathId,
    body: EventFields,
    who: Caller,
    session: Session,
    client: Temporal,
    if_match: IfMatch = None,
) -> EventWritten:
    """Changes what the body names; Google refuses the change if the event changed since the
    etag it is based on, and so does this endpoint (409)."""
    row = await synced_calendar(session, who.tenant_id, user_id, calendar_id)
    stored_etag = await _stored_etag(session, row, event_id)
    if not body.model_fields_set:
        raise ProblemError(422, "Nothing to change", "Name at least one field to change.")
    write = EventWrite(action="patch", event_id=event_id, fields=body, etag=if_match or stored_etag)
    return await _write(session, client, row, write)


@router.delete(
    "/users/{user_id}/calendars/{calendar_id}/events/{event_id}",
    response_model=EventWritten,
    responses=WRITE_RESPONSES,
)
async def delete_event(
    user_id: uuid.UUID,
    calendar_id: uuid.UUID,
    event_id: EventPathId,
    who: Caller,
    session: Session,
    client: Temporal,
    if_match: IfMatch = None,
) -> EventWritten:
    """Deletes the event at Google; it stays stored as a deleted event."""
    row = await synced_calendar(session, who.tenant_id, user_id, calendar_id)
    stored_etag = await _stored_etag(session, row, event_id)
    write = EventWrite(action="delete", event_id=event_id, etag=if_match or stored_etag)
    return await _write(session, client, row, write)
