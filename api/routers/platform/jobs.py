"""Platform jobs: create (Idempotency-Key), list, get, cancel, retry, logs. Tenant-scoped: a job
of another tenant is a 404."""

import contextlib
import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from temporalio.client import Client
from temporalio.common import (
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from api import paging
from api.deps import Caller, Session, Temporal, idempotency_header, replayed, replayed_response, same_request
from api.problems import ERROR_RESPONSES, TEMPORAL_UNAVAILABLE, ProblemError, responses
from api.routers.platform import streams
from api.temporal_calls import execute_update, reaching_temporal, update_responses
from core.logging import correlation_id
from core.settings import Settings
from domain.platform.contracts import CANCEL_UPDATE, JOB_WORKFLOW, TASK_QUEUE, JobStart, job_workflow_id
from domain.platform.spec import JobSpec, Strategy
from domain.platform.status import RETRYABLE, AuditEvent, JobStatus, is_terminal
from store import platform_jobs
from store.db import Database
from store.platform import AuditLog, LogChunk, PlatformAttempt, PlatformJob

router = APIRouter(prefix="/api/platform/jobs", tags=["platform: jobs"], responses=ERROR_RESPONSES)

IdempotencyKey = idempotency_header("job")


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    worker_id: uuid.UUID
    assigned_at: datetime
    started_at: datetime | None
    pid: int | None = Field(None, description="The job's process (its process group's leader) on the worker")
    ended_at: datetime | None
    outcome: str | None
    exit_code: int | None
    signal: int | None
    error: str | None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    seq: int
    at: datetime
    event: str
    status: str
    attempt: int | None
    worker_id: uuid.UUID | None
    correlation_id: str
    detail: str | None


class JobSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    status: JobStatus
    wait_reason: str | None
    labels: dict[str, str]
    worker_type: str
    priority: int
    attempt: int
    worker_id: uuid.UUID | None
    exit_code: int | None
    created_at: datetime
    finished_at: datetime | None


class JobOut(JobSummary):
    correlation_id: str
    strategy: Strategy = Field(description="In effect: the job's own, else its tenant's default at creation")
    signal: int | None
    output_tail: str | None
    error: str | None
    # The spec as submitted, each secret env value replaced by {"secret": true}.
    spec: dict[str, Any]
    attempts: list[AttemptOut] = Field(default_factory=list)
    timeline: list[EventOut] = Field(default_factory=list)


def job_start(
    spec: JobSpec, job_id: uuid.UUID, tenant_id: uuid.UUID, settings: Settings, attempts_before: int = 0
) -> JobStart:
    return JobStart.of(
        spec,
        job_id,
        tenant_id,
        heartbeat_timeout=timedelta(seconds=settings.platform_executor_heartbeat_timeout_seconds),
        schedule_to_start_timeout=timedelta(seconds=settings.platform_worker_offline_after_seconds),
        attempts_before=attempts_before,
    )


async def _start(client: Client, start: JobStart, *, again: bool = False) -> None:
    with (
        reaching_temporal("The job was not started; retry the request (with the same Idempotency-Key)."),
        contextlib.suppress(WorkflowAlreadyStartedError),
    ):
        await client.start_workflow(
            JOB_WORKFLOW,
            start,
            id=job_workflow_id(start.job_id),
            task_queue=TASK_QUEUE,
            # A retry through the API starts a new run under the same id; the store's status
            # guards (a job is started again only from FAILED or TIMED_OUT).
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE
            if again
            else WorkflowIDReusePolicy.REJECT_DUPLICATE,
            priority=start.fairness(),
            search_attributes=start.search_attributes(),
        )


async def _job(session: Session, tenant_id: uuid.UUID, job_id: uuid.UUID) -> PlatformJob:
    row = await session.get(PlatformJob, job_id)
    if row is None or row.tenant_id != tenant_id:
        raise ProblemError(404, "Job not found", f"No job {job_id}.")
    return row


async def _job_out(session: Session, row: PlatformJob) -> JobOut:
    attempts = (
        await session.execute(
            select(PlatformAttempt).where(PlatformAttempt.job_id == row.id).order_by(PlatformAttempt.attempt)
        )
    ).scalars()
    events = (
        await session.execute(select(AuditLog).where(AuditLog.job_id == row.id).order_by(AuditLog.seq))
    ).scalars()
    return JobOut.model_validate(
        {
            **JobSummary.model_validate(row).model_dump(),
            "correlation_id": row.correlation_id,
            "strategy": row.strategy,
            "signal": row.signal,
            "output_tail": row.output_tail,
            "error": row.error,
            "spec": row.spec,
            "attempts": [AttemptOut.model_validate(a) for a in attempts],
            "timeline": [EventOut.model_validate(e) for e in events],
        }
    )


def _created_out(body: JobSpec, values: dict[str, Any], created: platform_jobs.Created) -> JobOut:
    """The new job as its row was written (no read back: the workflow may already have moved
    it on, which the next GET shows)."""
    return JobOut(
        id=values["id"],
        name=body.name,
        status=JobStatus.PENDING,
        wait_reason=None,
        labels=body.labels,
        worker_type=body.worker_type,
        priority=body.priority,
        attempt=0,
        worker_id=None,
        exit_code=None,
        created_at=created.created_at,
        finished_at=None,
        correlation_id=values["correlation_id"],
        strategy=Strategy(created.strategy),
        signal=None,
        output_tail=None,
        error=None,
        spec=body.public(),
        timeline=[
            EventOut(
                id=created.event_id,
                seq=1,
                at=created.event_at,
                event=AuditEvent.CREATED.value,
                status=JobStatus.PENDING.value,
                attempt=None,
                worker_id=None,
                correlation_id=values["correlation_id"],
                detail=None,
            )
        ],
    )


@router.post(
    "",
    status_code=201,
    response_model=JobOut,
    responses={
        **replayed_response(JobOut, "job"),
        **TEMPORAL_UNAVAILABLE,
    },
)
async def create_job(
    body: JobSpec,
    who: Caller,
    session: Session,
    client: Temporal,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobOut:
    settings: Settings = request.app.state.settings
    key = idempotency_key or str(uuid.uuid4())
    job_id = uuid.uuid5(who.tenant_id, f"idempotency-key:{key}")
    values = platform_jobs.new_job(
        request.app.state.cipher,
        body,
        job_id=job_id,
        tenant_id=who.tenant_id,
        idempotency_key=key,
        request_hash=hashlib.sha256(body.model_dump_json().encode()).hexdigest(),
        correlation_id=correlation_id.get() or uuid.uuid4().hex,
    )
    database: Database = request.app.state.database
    # Committed before the workflow starts: its first store call must find the row. Should the
    # start fail, the row goes again (nothing was accepted).
    async with database.engine.begin() as connection:
        created = await platform_jobs.create(connection, values)
    start = job_start(body, job_id, who.tenant_id, settings)
    if created is not None:
        try:
            await _start(client, start)
        except ProblemError:
            async with database.engine.begin() as connection:
                await connection.execute(PlatformJob.__table__.delete().where(PlatformJob.id == job_id))
            raise
        return _created_out(body, values, created)
    existing = await _job(session, who.tenant_id, job_id)
    same_request(existing.request_hash, values["request_hash"], "job")
    if existing.status == JobStatus.PENDING and existing.attempt == 0 and not existing.queued:
        await _start(client, start)  # the first request's start may have been lost
    replayed(response)
    return await _job_out(session, existing)


@router.get("", response_model=paging.Page[JobSummary])
async def list_jobs(
    who: Caller,
    session: Session,
    status: JobStatus | None = None,
    label: Annotated[
        str | None, Query(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}=.{0,200}$", description="k=v")
    ] = None,
    worker_type: str | None = None,
    created_after: paging.CreatedBound = None,
    created_before: paging.CreatedBound = None,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[JobSummary]:
    query = select(PlatformJob).where(PlatformJob.tenant_id == who.tenant_id)
    if status is not None:
        query = query.where(PlatformJob.status == status.value)
    if label is not None:
        k, _, v = label.partition("=")
        query = query.where(PlatformJob.labels.contains({k: v}))
    if worker_type is not None:
        query = query.where(PlatformJob.worker_type == worker_type)
    if created_after is not None:
        query = query.where(PlatformJob.created_at >= created_after)
    if created_before is not None:
        query = query.where(PlatformJob.created_at < created_before)
    rows = list((await session.execute(paging.apply(query, PlatformJob, cursor, limit))).scalars())
    return paging.page(rows, limit, JobSummary.model_validate)


@router.get("/{job_id}", response_model=JobOut)
async def get_job(job_id: uuid.UUID, who: Caller, session: Session) -> JobOut:
    return await _job_out(session, await _job(session, who.tenant_id, job_id))


class StatusOut(BaseModel):
    id: uuid.UUID
    status: JobStatus


@router.post("/{job_id}/cancel", response_model=StatusOut, responses=update_responses("job"))
async def cancel_job(job_id: uuid.UUID, who: Caller, session: Session, client: Temporal) -> StatusOut:
    """Kills the job's process (SIGTERM, SIGKILL after its grace period) and ends it CANCELLED.
    The answer comes within a few seconds, with the status as it stands then."""
    row = await _job(session, who.tenant_id, job_id)
    if is_terminal(JobStatus(row.status)):
        raise ProblemError(
            409, "Cannot cancel this job", f"The job has ended ({row.status}).", retryable=False
        )
    with reaching_temporal("Nothing was cancelled; retry the request."):
        status = await execute_update(
            client.get_workflow_handle(job_workflow_id(job_id)),
            CANCEL_UPDATE,
            [],
            JobStatus,
            "cancel this job",
        )
    return StatusOut(id=job_id, status=status)


@router.post(
    "/{job_id}/retry",
    response_model=StatusOut,
    status_code=202,
    responses={**responses({409: "Only a FAILED or TIMED_OUT job is retried"}), **TEMPORAL_UNAVAILABLE},
)
async def retry_job(
    job_id: uuid.UUID, who: Caller, session: Session, client: Temporal, request: Request
) -> StatusOut:
    """A FAILED or TIMED_OUT job runs again: up to its max_attempts more attempts."""
    row = await _job(session, who.tenant_id, job_id)
    if JobStatus(row.status) not in RETRYABLE:
        raise ProblemError(
            409,
            "Cannot retry this job",
            f"Only a FAILED or TIMED_OUT job is retried; this one is {row.status}.",
        )
    database: Database = request.app.state.database
    async with database.engine.begin() as connection:
        moved = await platform_jobs.request_retry(connection, job_id)
    if not moved:
        raise ProblemError(409, "Cannot retry this job", "Its status changed meanwhile; look again.")
    start = job_start(
        JobSpec.from_public(row.spec), job_id, who.tenant_id, request.app.state.settings, row.attempt
    )
    await _start(client, start, again=True)
    return StatusOut(id=job_id, status=JobStatus.RETRYING)


class LogChunkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    seq: int
    stream: str
    data: str
    at: datetime


class LogPage(BaseModel):
    items: list[LogChunkOut]
    next_cursor: str | None = None


@router.get("/{job_id}/logs", response_model=LogPage, responses=streams.SSE_RESPONSE)
async def job_logs(
    request: Request,
    job_id: uuid.UUID,
    who: Caller,
    session: Session,
    # Nine digits at most, as in the cursor: a number the database's integer column holds.
    attempt: Annotated[
        int | None, Query(ge=1, le=999_999_999, description="Only this attempt's output")
    ] = None,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,9}\.[0-9]{1,9}$", description="next_cursor")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    follow: Annotated[
        bool, Query(description="Server-Sent Events: every chunk, live, until the job has ended")
    ] = False,
) -> LogPage | StreamingResponse:
    """Output in order: by attempt, then by chunk sequence; the cursor is (attempt, seq). With
    `follow=true`, a Server-Sent Events stream instead (resumable with `Last-Event-ID`)."""
    await _job(session, who.tenant_id, job_id)
    if follow:
        return streams.follow_logs(request, job_id)
    query = select(LogChunk).where(LogChunk.job_id == job_id)
    if attempt is not None:
        query = query.where(LogChunk.attempt == attempt)
    if cursor:
        after_attempt, after_seq = (int(p) for p in cursor.split("."))
        query = query.where(
            (LogChunk.attempt > after_attempt)
            | ((LogChunk.attempt == after_attempt) & (LogChunk.seq > after_seq))
        )
    rows = list(
        (await session.execute(query.order_by(LogChunk.attempt, LogChunk.seq).limit(limit + 1))).scalars()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return LogPage(
        items=[LogChunkOut.model_validate(r) for r in rows],
        next_cursor=f"{rows[-1].attempt}.{rows[-1].seq}" if more else None,
    )
