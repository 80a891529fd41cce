"""Service jobs: a referring company creates one, and tempoline routes it to partners.

A job is accepted once its workflow has started: from then on Temporal holds it, whatever
happens to this process. The row written here makes it readable at once; the workflow writes
the same row if we stopped in between.
"""

import contextlib
import hashlib
import uuid
from datetime import datetime, timedelta

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api import paging
from api.deps import Session, Temporal, idempotency_header, replayed, replayed_response, same_request
from api.problems import ERROR_RESPONSES, TEMPORAL_UNAVAILABLE, ProblemError
from api.routers.routing.access import Me
from api.routers.routing.errors import invalid
from api.temporal_calls import reaching_temporal
from core.settings import Settings
from domain import search_attributes as sa
from domain.routing import ROUTING_MODE, ServiceJobCreate
from domain.routing.contracts import (
    JOB_WORKFLOW,
    TASK_QUEUE,
    RoutingSettings,
    ServiceJobStart,
    job_id_for,
    job_workflow_id,
)
from store import routing as tables
from store.sealed import open_model
from store.service_jobs import insert_job

router = APIRouter(prefix="/api/routing/jobs", tags=["routing: jobs"], responses=ERROR_RESPONSES)

IdempotencyKey = idempotency_header("job")


class RoutingSummary(BaseModel):
    id: uuid.UUID
    receiver_id: uuid.UUID
    position: int
    status: str


class JobOut(BaseModel):
    id: uuid.UUID
    referrer_id: uuid.UUID
    status: str
    no_candidate_reason: str | None
    created_at: datetime
    job: ServiceJobCreate
    routings: list[RoutingSummary]


class JobListItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    summary: str
    trade: str
    zip5: str
    status: str
    no_candidate_reason: str | None
    created_at: datetime


def routing_settings(settings: Settings) -> RoutingSettings:
    return RoutingSettings(
        retry_initial=timedelta(seconds=settings.routing_retry_initial_seconds),
        retry_maximum=timedelta(seconds=settings.routing_retry_maximum_seconds),
        max_attempts=settings.routing_max_attempts,
        follow_interval=timedelta(seconds=settings.routing_follow_interval_seconds),
    )


async def _job_out(session: Session, request: Request, row: tables.ServiceJob) -> JobOut:
    routings = (
        await session.execute(
            select(tables.Routing).where(tables.Routing.job_id == row.id).order_by(tables.Routing.position)
        )
    ).scalars()
    return JobOut(
        id=row.id,
        referrer_id=row.referrer_id,
        status=row.status,
        no_candidate_reason=row.no_candidate_reason,
        created_at=row.created_at,
        job=open_model(request.app.state.cipher, row.id, row.sealed, ServiceJobCreate),
        routings=[
            RoutingSummary(id=r.id, receiver_id=r.receiver_id, position=r.position, status=r.status)
            for r in routings
        ],
    )


async def _start(client: Client, start: ServiceJobStart) -> None:
    # Already started: our commit was lost after an earlier start; the workflow has the job.
    with (
        reaching_temporal("The job was not accepted; retry with the same Idempotency-Key."),
        contextlib.suppress(WorkflowAlreadyStartedError),
    ):
        await client.start_workflow(
            JOB_WORKFLOW,
            start,
            id=job_workflow_id(start.job_id),
            task_queue=TASK_QUEUE,
            # A finished job workflow must not run again for a replayed request.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(sa.TENANT_ID, str(start.referrer_id))]
            ),
        )


@router.post(
    "",
    status_code=202,
    response_model=JobOut,
    responses={
        **replayed_response(JobOut, "job"),
        **TEMPORAL_UNAVAILABLE,
    },
)
async def create_job(
    body: ServiceJobCreate,
    me: Me,
    session: Session,
    client: Temporal,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobOut:
    if body.technician_id is not None:
        technician = await session.get(tables.Technician, body.technician_id)
        if technician is None or technician.company_id != me.id:
            raise invalid("technician_id", "no technician with this id in your company")
    key = idempotency_key or str(uuid.uuid4())
    start = ServiceJobStart(
        job_id=job_id_for(me.id, key),
        referrer_id=me.id,
        idempotency_key=key,
        request_hash=hashlib.sha256(body.model_dump_json().encode()).hexdigest(),
        job=body,
        mode=ROUTING_MODE.validate_python(me.mode),
        settings=routing_settings(request.app.state.settings),
    )
    # The row is written first, in this request's transaction: if Temporal refuses the start,
    # the transaction rolls back and nothing was accepted; once the start succeeds, the workflow
    # holds the job even if the commit were lost (its first activity writes the same row).
    created_at = await insert_job(await session.connection(), request.app.state.cipher, start)
    if created_at is not None:
        await _start(client, start)
        return JobOut(
            id=start.job_id,
            referrer_id=me.id,
            status="received",
            no_candidate_reason=None,
            created_at=created_at,
            job=body,
            routings=[],
        )
    existing = await session.get_one(tables.ServiceJob, start.job_id)
    same_request(existing.request_hash, start.request_hash, "job")
    # The same request again: its workflow started before the row could have been committed.
    replayed(response)
    return await _job_out(session, request, existing)


@router.get("", response_model=paging.Page[JobListItem])
async def list_jobs(
    me: Me, session: Session, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[JobListItem]:
    query = paging.apply(
        select(tables.ServiceJob).where(tables.ServiceJob.referrer_id == me.id),
        tables.ServiceJob,
        cursor,
        limit,
    )
    rows = list((await session.execute(query)).scalars())
    return paging.page(rows, limit, JobListItem.model_validate)


@router.get("/{job_id}", response_model=JobOut)
async def get_job(job_id: uuid.UUID, me: Me, session: Session, request: Request) -> JobOut:
    row = await session.get(tables.ServiceJob, job_id)
    if row is None or row.referrer_id != me.id:
        raise ProblemError(404, "Job not found", f"No job {job_id}.")
    return await _job_out(session, request, row)
