"""Cron schedules of platform jobs: Temporal Schedules that start one job per run.

The spec lives in `platform_schedules` (committed first, secrets sealed); the Temporal Schedule
`platform:{tenant_id}:{schedule_id}` holds only when and how (its action's input is ids). Its
live state (paused, recent and next runs) is Temporal's, read by describe. Tenant-scoped: a
schedule of another tenant is a 404.
"""

import asyncio
import contextlib
import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleState,
)
from temporalio.client import ScheduleSpec as TemporalScheduleSpec
from temporalio.common import Priority, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from api import paging
from api.deps import Caller, Session, Temporal, idempotency_header, replayed, replayed_response, same_request
from api.problems import ERROR_RESPONSES, TEMPORAL_UNAVAILABLE, ProblemError
from api.temporal_calls import reaching_temporal
from core.logging import correlation_id
from domain import search_attributes as sa
from domain.platform.contracts import TASK_QUEUE
from domain.platform.schedules import (
    MAX_BACKFILL_SECONDS,
    SCHEDULED_JOB_WORKFLOW,
    Overlap,
    ScheduledRun,
    ScheduleSpec,
    run_workflow_id,
    scheduled_job_id,
    temporal_schedule_id,
)
from store.db import Database
from store.platform import PlatformSchedule
from store.sealed import seal_text

router = APIRouter(prefix="/api/platform/schedules", tags=["platform: schedules"], responses=ERROR_RESPONSES)

IdempotencyKey = idempotency_header("schedule")

OVERLAP = {
    Overlap.SKIP: ScheduleOverlapPolicy.SKIP,
    Overlap.BUFFER_ONE: ScheduleOverlapPolicy.BUFFER_ONE,
    Overlap.BUFFER_ALL: ScheduleOverlapPolicy.BUFFER_ALL,
    Overlap.CANCEL_OTHER: ScheduleOverlapPolicy.CANCEL_OTHER,
    Overlap.TERMINATE_OTHER: ScheduleOverlapPolicy.TERMINATE_OTHER,
    Overlap.ALLOW_ALL: ScheduleOverlapPolicy.ALLOW_ALL,
}


class ScheduleRunOut(BaseModel):
    """A run the schedule started, and its job (GET /api/platform/jobs/{job_id})."""

    scheduled_at: datetime
    started_at: datetime
    job_id: uuid.UUID


class ScheduleSummary(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    cron: str | None
    interval_seconds: int | None
    timezone: str
    overlap: Overlap
    paused: bool
    note: str
    next_runs: list[datetime] = Field(description="The next few times it will start a job")


class ScheduleOut(ScheduleSummary):
    correlation_id: str
    catchup_window_seconds: int
    # The spec as submitted, each secret env value replaced by {"secret": true}.
    spec: dict[str, Any]
    runs: int = Field(description="Jobs it has started")
    missed_catchup_window: int
    skipped_overlap: int
    recent_runs: list[ScheduleRunOut]
    running_jobs: list[uuid.UUID]


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=500)


class Trigger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap: Overlap | None = Field(None, description="Default: the schedule's overlap policy")


class Backfill(BaseModel):
    """Runs for every time the schedule would have started a job between start_at and end_at."""

    model_config = ConfigDict(extra="forbid")

    start_at: AwareDatetime
    end_at: AwareDatetime
    overlap: Overlap | None = Field(None, description="Default: the schedule's overlap policy")

    @model_validator(mode="after")
    def _range(self) -> "Backfill":
        if self.end_at <= self.start_at:
            raise ValueError("end_at must be after start_at")
        if (self.end_at - self.start_at).total_seconds() > MAX_BACKFILL_SECONDS:
            raise ValueError(f"a backfill covers at most {MAX_BACKFILL_SECONDS // 86400} days")
        return self


def _schedule(spec: ScheduleSpec, schedule_id: uuid.UUID, tenant_id: uuid.UUID) -> Schedule:
    when = (
        TemporalScheduleSpec(cron_expressions=[spec.cron], time_zone_name=spec.timezone)
        if spec.cron is not None
        else TemporalScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=spec.interval_seconds or 0))]
        )
    )
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SCHEDULED_JOB_WORKFLOW,
            ScheduledRun(schedule_id=schedule_id, tenant_id=tenant_id),
            id=run_workflow_id(schedule_id),
            task_queue=TASK_QUEUE,
            typed_search_attributes=TypedSearchAttributes(
                [SearchAttributePair(sa.TENANT_ID, str(tenant_id))]
            ),
            priority=Priority(fairness_key=str(tenant_id)[:64]),
        ),
        spec=when,
        policy=SchedulePolicy(
            overlap=OVERLAP[spec.overlap], catchup_window=timedelta(seconds=spec.catchup_window_seconds)
        ),
        state=ScheduleState(paused=spec.paused, note=spec.note),
    )


async def _create_in_temporal(client: Client, spec: ScheduleSpec, row: PlatformSchedule) -> None:
    with (
        reaching_temporal("The schedule was not created; retry the request (with the same Idempotency-Key)."),
        contextlib.suppress(ScheduleAlreadyRunningError),
    ):
        try:
            await client.create_schedule(
                temporal_schedule_id(row.tenant_id, row.id),
                _schedule(spec, row.id, row.tenant_id),
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(sa.TENANT_ID, str(row.tenant_id))]
                ),
            )
        except RPCError as exc:
            if exc.status is not RPCStatusCode.INVALID_ARGUMENT:
                raise
            # What this API checks is a subset of what Temporal takes; should Temporal still refuse
            # one, the caller hears why, as for any other field.
            raise ProblemError(422, "Invalid schedule", exc.message) from exc


async def _row(session: Session, tenant_id: uuid.UUID, schedule_id: uuid.UUID) -> PlatformSchedule:
    row = await session.get(PlatformSchedule, schedule_id)
    if row is None or row.tenant_id != tenant_id:
        raise ProblemError(404, "Schedule not found", f"No schedule {schedule_id}.")
    return row


def _handle(client: Client, row: PlatformSchedule) -> ScheduleHandle:
    return client.get_schedule_handle(temporal_schedule_id(row.tenant_id, row.id))


async def _describe(client: Client, row: PlatformSchedule) -> ScheduleDescription:
    with reaching_temporal("The schedule's state could not be read; retry the request."):
        try:
            return await _handle(client, row).describe()
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
    # The row outlived its schedule (a delete whose second half failed): gone for the caller.
    raise ProblemError(404, "Schedule not found", f"No schedule {row.id}.")


def _summary(row: PlatformSchedule, described: ScheduleDescription) -> dict[str, Any]:
    spec = ScheduleSpec.from_public(row.spec)
    state = described.schedule.state
    return {
        "id": row.id,
        "name": row.name,
        "created_at": row.created_at,
        "cron": spec.cron,
        "interval_seconds": spec.interval_seconds,
        "timezone": spec.timezone,
        "overlap": spec.overlap,
        "paused": state.paused,
        "note": state.note or "",
        "next_runs": described.info.next_action_times,
    }


def _out(row: PlatformSchedule, described: ScheduleDescription) -> ScheduleOut:
    info = described.info
    spec = ScheduleSpec.from_public(row.spec)
    return ScheduleOut(
        **_summary(row, described),
        correlation_id=row.correlation_id,
        catchup_window_seconds=spec.catchup_window_seconds,
        spec=row.spec,
        runs=info.num_actions,
        missed_catchup_window=info.num_actions_missed_catchup_window,
        skipped_overlap=info.num_actions_skipped_overlap,
        recent_runs=[
            ScheduleRunOut(
                scheduled_at=a.scheduled_at,
                started_at=a.started_at,
                job_id=scheduled_job_id(row.id, a.action.workflow_id),  # type: ignore[attr-defined]
            )
            for a in info.recent_actions
        ],
        running_jobs=[scheduled_job_id(row.id, r.workflow_id) for r in info.running_actions],  # type: ignore[attr-defined]
    )


@router.post(
    "",
    status_code=201,
    response_model=ScheduleOut,
    responses={
        **replayed_response(ScheduleOut, "schedule"),
        **TEMPORAL_UNAVAILABLE,
    },
)
async def create_schedule(
    body: ScheduleSpec,
    who: Caller,
    session: Session,
    client: Temporal,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ScheduleOut:
    """Starts a job (as POST /api/platform/jobs would) at every time of `cron` in `timezone`,
    or every `interval_seconds`."""
    key = idempotency_key or str(uuid.uuid4())
    schedule_id = uuid.uuid5(who.tenant_id, f"schedule-idempotency-key:{key}")
    secrets = body.secrets()
    request_hash = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    database: Database = request.app.state.database
    # Committed before the Temporal Schedule exists: its first run must find the spec.
    async with database.engine.begin() as connection:
        created = await connection.scalar(
            insert(PlatformSchedule)
            .values(
                id=schedule_id,
                tenant_id=who.tenant_id,
                idempotency_key=key,
                request_hash=request_hash,
                correlation_id=correlation_id.get() or uuid.uuid4().hex,
                name=body.name,
                spec=body.public(),
                sealed_secrets=seal_text(request.app.state.cipher, schedule_id, json.dumps(secrets))
                if secrets
                else None,
            )
            .on_conflict_do_nothing()
            .returning(PlatformSchedule.id)
        )
    row = await _row(session, who.tenant_id, schedule_id)
    if created is None:
        same_request(row.request_hash, request_hash, "schedule")
    try:
        # Again on a replay: the first request's create may have been lost.
        await _create_in_temporal(client, body, row)
    except ProblemError:
        if created is not None:  # nothing was accepted: the row goes again
            async with database.engine.begin() as connection:
                await connection.execute(delete(PlatformSchedule).where(PlatformSchedule.id == schedule_id))
        raise
    if created is None:
        replayed(response)
    return _out(row, await _describe(client, row))


@router.get("", response_model=paging.Page[ScheduleSummary], responses=TEMPORAL_UNAVAILABLE)
async def list_schedules(
    who: Caller, session: Session, client: Temporal, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[ScheduleSummary]:
    query = select(PlatformSchedule).where(PlatformSchedule.tenant_id == who.tenant_id)
    rows = list((await session.execute(paging.apply(query, PlatformSchedule, cursor, limit))).scalars())
    page = paging.page(rows, limit, lambda r: r)
    described = await asyncio.gather(*(_describe(client, r) for r in page.items))
    return paging.Page(
        items=[ScheduleSummary(**_summary(r, d)) for r, d in zip(page.items, described, strict=True)],
        next_cursor=page.next_cursor,
    )


@router.get("/{schedule_id}", response_model=ScheduleOut, responses=TEMPORAL_UNAVAILABLE)
async def get_schedule(
    schedule_id: uuid.UUID, who: Caller, session: Session, client: Temporal
) -> ScheduleOut:
    row = await _row(session, who.tenant_id, schedule_id)
    return _out(row, await _describe(client, row))


async def _act(client: Client, row: PlatformSchedule, consequence: str, action: Any) -> ScheduleOut:
    with reaching_temporal(consequence):
        try:
            await action(_handle(client, row))
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
            raise ProblemError(404, "Schedule not found", f"No schedule {row.id}.") from exc
    return _out(row, await _describe(client, row))


@router.post("/{schedule_id}/pause", response_model=ScheduleOut, responses=TEMPORAL_UNAVAILABLE)
async def pause_schedule(
    schedule_id: uuid.UUID, who: Caller, session: Session, client: Temporal, body: Note | None = None
) -> ScheduleOut:
    """No new runs until resumed (runs already started go on)."""
    row = await _row(session, who.tenant_id, schedule_id)
    note = (body.note if body else "") or "paused through the API"
    return await _act(client, row, "Nothing was paused; retry the request.", lambda h: h.pause(note=note))


@router.post("/{schedule_id}/resume", response_model=ScheduleOut, responses=TEMPORAL_UNAVAILABLE)
async def resume_schedule(
    schedule_id: uuid.UUID, who: Caller, session: Session, client: Temporal, body: Note | None = None
) -> ScheduleOut:
    row = await _row(session, who.tenant_id, schedule_id)
    note = (body.note if body else "") or "resumed through the API"
    return await _act(client, row, "Nothing was resumed; retry the request.", lambda h: h.unpause(note=note))


@router.post(
    "/{schedule_id}/trigger", response_model=ScheduleOut, status_code=202, responses=TEMPORAL_UNAVAILABLE
)
async def trigger_schedule(
    schedule_id: uuid.UUID, who: Caller, session: Session, client: Temporal, body: Trigger | None = None
) -> ScheduleOut:
    """One run now (paused or not), subject to the overlap policy."""
    row = await _row(session, who.tenant_id, schedule_id)
    overlap = OVERLAP[body.overlap] if body and body.overlap else None
    return await _act(
        client, row, "Nothing was started; retry the request.", lambda h: h.trigger(overlap=overlap)
    )


@router.post(
    "/{schedule_id}/backfill", response_model=ScheduleOut, status_code=202, responses=TEMPORAL_UNAVAILABLE
)
async def backfill_schedule(
    schedule_id: uuid.UUID, who: Caller, session: Session, client: Temporal, body: Backfill
) -> ScheduleOut:
    """A run for every time in the range the schedule would have started one."""
    row = await _row(session, who.tenant_id, schedule_id)
    backfill = ScheduleBackfill(
        start_at=body.start_at, end_at=body.end_at, overlap=OVERLAP[body.overlap] if body.overlap else None
    )
    return await _act(
        client, row, "Nothing was backfilled; retry the request.", lambda h: h.backfill(backfill)
    )


@router.delete("/{schedule_id}", status_code=204, responses=TEMPORAL_UNAVAILABLE)
async def delete_schedule(
    schedule_id: uuid.UUID, who: Caller, session: Session, client: Temporal
) -> Response:
    """No more runs; jobs already started go on."""
    row = await _row(session, who.tenant_id, schedule_id)
    # Temporal first: should that fail, the schedule still runs and is still listed.
    with reaching_temporal("Nothing was deleted; retry the request."):
        try:
            await _handle(client, row).delete()
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
    await session.execute(delete(PlatformSchedule).where(PlatformSchedule.id == schedule_id))
    return Response(status_code=204)
