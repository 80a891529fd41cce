"""Operations views of the routing pipeline, for platform administrators (admin key only).

Read-only: how many routings are in each status, how hard each ServiceTitan tenant is being
called, the backlog of the `routing` task queue in Temporal, and whether each stored provider
connection can still get a token. Nothing here ever shows a secret.
"""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select, text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, DescribeTaskQueueResponse

from api.deps import Admin, Session, Temporal
from api.problems import ERROR_RESPONSES
from api.routers.routing.connections import probe
from api.temporal_calls import reaching_temporal
from domain.routing.contracts import TASK_QUEUE
from domain.routing.status import RoutingStatus
from store import routing as tables

router = APIRouter(prefix="/api/routing/ops", tags=["routing: operations"], responses=ERROR_RESPONSES)

TEMPORAL_TIMEOUT = timedelta(seconds=5)
PROBE_TIMEOUT_SECONDS = 5.0
# At most this many token requests in flight at once, whatever the number of connections.
PROBE_CONCURRENCY = 16


class StatusCounts(BaseModel):
    total: int
    by_status: dict[str, int] = Field(description="Every routing status, 0 when there is none")


class RateLimitOut(BaseModel):
    company_id: uuid.UUID
    provider: str
    st_tenant_id: str
    configured_per_second: float = Field(description="The connection's rate_limit_per_second")
    observed_peak_per_second: int = Field(description="The most requests granted in any one second")
    observed_current_second: int = Field(
        description="Requests granted in the latest reserved one-second window, if it is not past"
    )
    total_requests: int
    backlog_seconds: float = Field(description="How far ahead slots are already reserved (0: none)")


class Poller(BaseModel):
    identity: str
    last_access_time: datetime | None
    rate_per_second: float


class QueueTypeOut(BaseModel):
    backlog_count: int = Field(description="Approximate number of tasks waiting for a worker")
    backlog_age_seconds: float = Field(description="Approximate age of the oldest waiting task")
    tasks_add_rate: float
    tasks_dispatch_rate: float
    pollers: list[Poller]


class TaskQueuesOut(BaseModel):
    task_queue: str
    workflow: QueueTypeOut
    activity: QueueTypeOut


class ProviderHealth(BaseModel):
    company_id: uuid.UUID
    st_tenant_id: str
    ok: bool
    reason: str | None = Field(default=None, description="Why not, when not ok")
    latency_ms: float


@router.get("/status-counts", response_model=StatusCounts)
async def status_counts(
    _: Admin,
    session: Session,
    receiver_id: Annotated[uuid.UUID | None, Query(description="Only routings sent to this company")] = None,
) -> StatusCounts:
    query = select(tables.Routing.status, func.count()).group_by(tables.Routing.status)
    if receiver_id is not None:
        query = query.where(tables.Routing.receiver_id == receiver_id)
    by_status = {status.value: 0 for status in RoutingStatus}
    for status, count in (await session.execute(query)).all():
        by_status[status] = count
    return StatusCounts(total=sum(by_status.values()), by_status=by_status)


# The limiter's key is `servicetitan:{tenant}` (activities/routing_provider.py). window_second is
# the second of the latest reserved slot: once it is past, nothing was granted this second.
_RATE_LIMITS = text(
    """
    SELECT c.company_id, c.provider, c.st_tenant_id,
           c.rate_limit_per_second AS configured_per_second,
           coalesce(r.peak_per_second, 0) AS observed_peak_per_second,
           CASE WHEN r.window_second >= floor(extract(epoch FROM now())) THEN r.window_count ELSE 0 END
               AS observed_current_second,
           coalesce(r.total, 0) AS total_requests,
           greatest(0, coalesce(extract(epoch FROM r.tat - now()), 0))::float8 AS backlog_seconds
    FROM provider_connections AS c
    LEFT JOIN rate_limits AS r
           ON c.provider = 'servicetitan' AND r.key = 'servicetitan:' || c.st_tenant_id
    ORDER BY c.company_id
    """
)


@router.get("/rate-limits", response_model=list[RateLimitOut])
async def rate_limits(_: Admin, session: Session) -> list[RateLimitOut]:
    rows = (await session.execute(_RATE_LIMITS)).mappings().all()
    return [RateLimitOut.model_validate(dict(row)) for row in rows]


def _queue_type(response: DescribeTaskQueueResponse) -> QueueTypeOut:
    stats = response.stats
    return QueueTypeOut(
        backlog_count=stats.approximate_backlog_count,
        backlog_age_seconds=stats.approximate_backlog_age.ToTimedelta().total_seconds(),
        tasks_add_rate=stats.tasks_add_rate,
        tasks_dispatch_rate=stats.tasks_dispatch_rate,
        pollers=[
            Poller(
                identity=p.identity,
                last_access_time=(
                    p.last_access_time.ToDatetime(tzinfo=UTC) if p.HasField("last_access_time") else None
                ),
                rate_per_second=p.rate_per_second,
            )
            for p in response.pollers
        ],
    )


@router.get(
    "/task-queues",
    response_model=TaskQueuesOut,
    responses={503: {"description": "Temporal cannot be reached"}},
)
async def task_queues(_: Admin, client: Temporal) -> TaskQueuesOut:
    """The `routing` task queue's backlog and pollers, for workflow and for activity tasks."""

    async def describe(kind: TaskQueueType.ValueType) -> DescribeTaskQueueResponse:
        request = DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=TASK_QUEUE),
            task_queue_type=kind,
            report_stats=True,
        )
        return await client.workflow_service.describe_task_queue(request, timeout=TEMPORAL_TIMEOUT)

    with reaching_temporal("Temporal did not describe the task queue; try again."):
        workflow, activity = await asyncio.gather(
            describe(TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW), describe(TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
        )
    return TaskQueuesOut(
        task_queue=TASK_QUEUE, workflow=_queue_type(workflow), activity=_queue_type(activity)
    )


@router.get("/provider-health", response_model=list[ProviderHealth], response_model_exclude_none=True)
async def provider_health(_: Admin, session: Session, request: Request) -> list[ProviderHealth]:
    """Asks ServiceTitan for a token with each stored connection, all at once, each within 5 s."""
    rows = list(
        (
            await session.execute(
                select(tables.ProviderConnection).order_by(tables.ProviderConnection.company_id)
            )
        ).scalars()
    )
    gate = asyncio.Semaphore(PROBE_CONCURRENCY)

    async def check(row: tables.ProviderConnection) -> ProviderHealth:
        async with gate:
            started = time.perf_counter()
            try:
                result = await asyncio.wait_for(probe(request, row), PROBE_TIMEOUT_SECONDS)
                ok, reason = result.ok, result.reason
            except TimeoutError:
                ok, reason = False, f"ServiceTitan gave no token within {PROBE_TIMEOUT_SECONDS:g} s"
            latency_ms = round((time.perf_counter() - started) * 1000, 1)
        return ProviderHealth(
            company_id=row.company_id,
            st_tenant_id=row.st_tenant_id,
            ok=ok,
            reason=reason,
            latency_ms=latency_ms,
        )

    return list(await asyncio.gather(*(check(row) for row in rows)))
