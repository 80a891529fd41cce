"""Choosing calendars for sync, their sync state, `POST .../sync`, and Google's push
notifications.

Choosing a calendar commits the choice, then starts its workflow (`calendar-sync:{id}`, the
running one if there is one) and its periodic Schedule; un-choosing it commits, then stops both.
`POST .../sync` is an update-with-start: it reaches the calendar's workflow even if that was
lost, and answers with the result of a sync that started after the request.
"""

import contextlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    WithStartWorkflowOperation,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from api.deps import Caller, Session, Temporal
from api.problems import ERROR_RESPONSES, TEMPORAL_UNAVAILABLE, ProblemError, responses
from api.routers.scheduling.calendars import (
    NOT_CONNECTED,
    CalendarOut,
    calendar_out,
    owned_calendar,
    usable_tokens,
)
from api.temporal_calls import answered, execute_update, reaching_temporal, update_responses
from core.crypto import Cipher, DecryptionError
from core.settings import Settings
from domain import search_attributes as sa
from domain.scheduling.sync import (
    CALENDAR_SYNC_WORKFLOW,
    PERIODIC_SYNC_WORKFLOW,
    TASK_QUEUE,
    CalendarSyncState,
    Signals,
    SyncAsk,
    SyncResult,
    SyncStatus,
    Updates,
    schedule_id,
    workflow_id,
)
from store.scheduling import Calendar, CalendarChannel
from store.sealed import open_text

router = APIRouter(prefix="/api/scheduling", tags=["scheduling: sync"], responses=ERROR_RESPONSES)

# A sync of a large calendar takes a while; the caller waits this long for its result.
SYNC_DEADLINE = timedelta(seconds=60)


class Selection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    selected: bool


async def synced_calendar(
    session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID, calendar_id: uuid.UUID
) -> Calendar:
    """The tenant's calendar, chosen for sync (409 if it is not)."""
    row = await owned_calendar(session, tenant_id, user_id, calendar_id)
    if not row.selected:
        raise ProblemError(
            409, "Calendar not synced", "Choose the calendar for sync first (PATCH selected=true)."
        )
    return row


def start_options(row: Calendar) -> dict[str, Any]:
    """How the calendar's workflow is started, wherever it is started from."""
    return {
        "id": workflow_id(row.id),
        "task_queue": TASK_QUEUE,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "search_attributes": TypedSearchAttributes(
            [
                SearchAttributePair(sa.TENANT_ID, str(row.tenant_id)),
                SearchAttributePair(sa.SCHEDULING_USER, str(row.user_id)),
                SearchAttributePair(sa.CALENDAR_SYNC_STATUS, SyncStatus.IDLE.value),
            ]
        ),
    }


def sync_state(row: Calendar) -> CalendarSyncState:
    return CalendarSyncState(calendar_id=row.id, tenant_id=row.tenant_id, user_id=row.user_id)


async def start_sync(client: Client, settings: Settings, row: Calendar) -> None:
    await client.start_workflow(CALENDAR_SYNC_WORKFLOW, sync_state(row), **start_options(row))
    every = timedelta(seconds=settings.scheduling_periodic_sync_seconds)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            PERIODIC_SYNC_WORKFLOW, row.id, id=f"{schedule_id(row.id)}:run", task_queue=TASK_QUEUE
        ),
        # Jitter spreads many calendars' periodic syncs over the interval.
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)], jitter=every / 2),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    with contextlib.suppress(ScheduleAlreadyRunningError):
        await client.create_schedule(
            schedule_id(row.id),
            schedule,
            search_attributes=TypedSearchAttributes([SearchAttributePair(sa.TENANT_ID, str(row.tenant_id))]),
        )


async def stop_sync(client: Client, row: Calendar) -> None:
    """The calendar's workflow stops its channels and ends; its Schedule is deleted."""
    try:
        await execute_update(
            client.get_workflow_handle(workflow_id(row.id)),
            Updates.STOP,
            [],
            SyncResult,
            "stop this calendar's sync",
        )
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:  # not running: nothing to stop
            raise
    try:
        await client.get_schedule_handle(schedule_id(row.id)).delete()
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise


@router.get("/users/{user_id}/calendars/{calendar_id}", response_model=CalendarOut)
async def get_calendar(
    user_id: uuid.UUID, calendar_id: uuid.UUID, who: Caller, session: Session, request: Request
) -> CalendarOut:
    """A calendar and its sync state (last success, last error, events, status)."""
    row = await owned_calendar(session, who.tenant_id, user_id, calendar_id)
    return calendar_out(request.app.state.cipher, row)


@router.patch(
    "/users/{user_id}/calendars/{calendar_id}",
    response_model=CalendarOut,
    responses={**NOT_CONNECTED, **update_responses("calendar")},
)
async def choose_calendar(
    user_id: uuid.UUID,
    calendar_id: uuid.UUID,
    body: Selection,
    who: Caller,
    session: Session,
    client: Temporal,
    request: Request,
) -> CalendarOut:
    """Chooses the calendar for sync (its workflow starts with a full sync) or stops syncing
    it (its channels stopped, its events kept)."""
    row = await owned_calendar(session, who.tenant_id, user_id, calendar_id)
    if body.selected:
        await usable_tokens(session, request.app.state.cipher, user_id)
    row.selected = body.selected
    await session.commit()
    with reaching_temporal("The choice is saved; send the same request again to apply it."):
        if body.selected:
            await start_sync(client, request.app.state.settings, row)
        else:
            await stop_sync(client, row)
    return calendar_out(request.app.state.cipher, row)


@router.post(
    "/users/{user_id}/calendars/{calendar_id}/sync",
    response_model=SyncResult,
    responses=update_responses("calendar"),
)
async def sync_now(
    user_id: uuid.UUID,
    calendar_id: uuid.UUID,
    who: Caller,
    session: Session,
    client: Temporal,
    request: Request,
    full: Annotated[bool, Query(description="Drop the sync token and list the whole calendar")] = False,
) -> SyncResult:
    """Syncs the calendar now and answers with the result (at most 60 s; a longer sync goes on
    and its result shows on the calendar). Requests that arrive during a sync share the next."""
    row = await synced_calendar(session, who.tenant_id, user_id, calendar_id)
    await session.commit()
    start = WithStartWorkflowOperation(CALENDAR_SYNC_WORKFLOW, sync_state(row), **start_options(row))
    with reaching_temporal("No sync was started; retry the request."):
        return await answered(
            client.execute_update_with_start_workflow(
                Updates.SYNC, SyncAsk(full=full), start_workflow_operation=start, result_type=SyncResult
            ),
            "sync this calendar",
            SYNC_DEADLINE,
        )


class Acknowledged(BaseModel):
    channel_id: str
    state: str
    # False for a notification that asks for nothing: the first `sync` message, or one from a
    # channel that was stopped or has expired.
    signalled: bool


@router.post(
    "/google/notifications",
    response_model=Acknowledged,
    openapi_extra={"security": []},
    responses={
        **responses(
            {
                400: "Not a Calendar notification (a resource state Google does not send)",
                403: "The channel token does not match: a forged notification",
                404: "No such channel",
            }
        ),
        **TEMPORAL_UNAVAILABLE,
    },
)
async def notification(
    session: Session,
    client: Temporal,
    request: Request,
    channel_id: Annotated[str, Header(alias="X-Goog-Channel-ID", max_length=64)],
    state: Annotated[str, Header(alias="X-Goog-Resource-State", max_length=32)],
    token: Annotated[str | None, Header(alias="X-Goog-Channel-Token", max_length=256)] = None,
    resource_id: Annotated[str | None, Header(alias="X-Goog-Resource-ID", max_length=256)] = None,
) -> Acknowledged:
    """Where Google tells of a change to a watched calendar (authenticated by the channel's
    token). A change signals the calendar's workflow; the sync runs there, not here."""
    if state not in ("sync", "exists", "not_exists"):
        raise ProblemError(
            400, "Unknown resource state", f"X-Goog-Resource-State {state!r} is not one Google sends."
        )
    channel = await session.get(CalendarChannel, channel_id)
    if channel is None:
        raise ProblemError(404, "Unknown channel", "No channel has this id.")
    cipher: Cipher = request.app.state.cipher
    try:
        expected = open_text(cipher, channel.calendar_id, channel.sealed_token)
    except DecryptionError:
        expected = None
    if token is None or expected is None or not hmac.compare_digest(token.encode(), expected.encode()):
        raise ProblemError(403, "Wrong channel token", "The notification's channel token does not match.")
    if channel.resource_id is not None and resource_id not in (None, channel.resource_id):
        raise ProblemError(
            403, "Wrong resource", "The notification names another resource than its channel's."
        )
    now = datetime.now(UTC)
    if channel.stopped_at is not None or (channel.expires_at is not None and channel.expires_at <= now):
        return Acknowledged(channel_id=channel_id, state=state, signalled=False)
    if channel.resource_id is None and resource_id:
        # The channel's watch answer was lost: its first message tells what it watches.
        channel.resource_id = resource_id
    await session.commit()
    if state == "sync":
        return Acknowledged(channel_id=channel_id, state=state, signalled=False)
    with reaching_temporal("The notification was not passed on; Google sends it again."):
        try:
            await client.get_workflow_handle(workflow_id(channel.calendar_id)).signal(Signals.NOTIFIED)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
            return Acknowledged(channel_id=channel_id, state=state, signalled=False)
    return Acknowledged(channel_id=channel_id, state=state, signalled=True)


async def selected_calendars(session: Session, user_id: uuid.UUID) -> list[Calendar]:
    return list(
        (await session.scalars(select(Calendar).where(Calendar.user_id == user_id, Calendar.selected))).all()
    )
