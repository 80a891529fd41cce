"""Executor workers as people see them: list, get, drain (admin). Registration and heartbeats
are the executors' own endpoints (api.routers.platform.executors)."""

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import func, or_, select, update

from api import paging
from api.deps import Admin, Caller, Session
from api.keys import Principal
from api.problems import ERROR_RESPONSES, ProblemError
from api.routers.platform.common import offline_after
from domain.platform.status import WorkerStatus, worker_status
from store.platform import PlatformAttempt, PlatformWorker

router = APIRouter(prefix="/api/platform/workers", tags=["platform: workers"], responses=ERROR_RESPONSES)


class WorkerOut(BaseModel):
    id: uuid.UUID
    status: WorkerStatus
    worker_type: str
    capabilities: list[str]
    slots: int
    running: int
    cpu_millis: int
    memory_mb: int
    hostname: str
    shared: bool
    registered_at: datetime
    heartbeat_at: datetime
    drain_requested: bool
    created_at: datetime


def _running():  # type: ignore[no-untyped-def]
    return (
        select(func.count())
        .where(PlatformAttempt.worker_id == PlatformWorker.id, PlatformAttempt.ended_at.is_(None))
        .scalar_subquery()
        .label("running")
    )


def worker_out(row: PlatformWorker, running: int, request: Request) -> WorkerOut:
    status = worker_status(
        now=datetime.now(UTC),
        heartbeat_at=row.heartbeat_at,
        offline_after=offline_after(request),
        lost=row.lost,
        gone=row.deregistered_at is not None,
        draining=row.draining or row.drain_requested,
        running=running,
        slots=row.slots,
    )
    return WorkerOut(
        id=row.id,
        status=status,
        worker_type=row.worker_type,
        capabilities=row.capabilities,
        slots=row.slots,
        running=running,
        cpu_millis=row.cpu_millis,
        memory_mb=row.memory_mb,
        hostname=row.hostname,
        shared=row.shared,
        registered_at=row.registered_at,
        heartbeat_at=row.heartbeat_at,
        drain_requested=row.drain_requested,
        created_at=row.registered_at,
    )


def _visible(who: Principal):  # type: ignore[no-untyped-def]
    # The shared pool, and the tenant's own workers.
    return or_(PlatformWorker.shared, PlatformWorker.tenant_id == who.tenant_id)


@router.get("", response_model=paging.Page[WorkerOut])
async def list_workers(
    who: Caller, session: Session, request: Request, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[WorkerOut]:
    query = select(PlatformWorker, _running()).where(_visible(who), PlatformWorker.deregistered_at.is_(None))
    if cursor:
        at, id = paging.decode(cursor)
        query = query.where(
            or_(
                PlatformWorker.registered_at > at,
                (PlatformWorker.registered_at == at) & (PlatformWorker.id > id),
            )
        )
    rows = (
        await session.execute(
            query.order_by(PlatformWorker.registered_at, PlatformWorker.id).limit(limit + 1)
        )
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return paging.Page(
        items=[worker_out(w, n, request) for w, n in rows],
        next_cursor=paging.encode(rows[-1][0].registered_at, rows[-1][0].id) if more else None,
    )


async def _worker(session: Session, who: Principal, worker_id: uuid.UUID) -> tuple[PlatformWorker, int]:
    row = (
        await session.execute(
            select(PlatformWorker, _running()).where(PlatformWorker.id == worker_id, _visible(who))
        )
    ).one_or_none()
    if row is None:
        raise ProblemError(404, "Worker not found", f"No worker {worker_id}.")
    return row[0], row[1]


# `:uuid`: /workers/register (an executor's POST, api/routers/platform/executors.py) is no worker id.
@router.get("/{worker_id:uuid}", response_model=WorkerOut)
async def get_worker(worker_id: uuid.UUID, who: Caller, session: Session, request: Request) -> WorkerOut:
    return worker_out(*await _worker(session, who, worker_id), request)


@router.post("/{worker_id}/drain", response_model=WorkerOut)
async def drain_worker(worker_id: uuid.UUID, who: Admin, session: Session, request: Request) -> WorkerOut:
    """The worker takes no new job; it hears so in its next heartbeat, finishes what it runs,
    and leaves."""
    await _worker(session, who, worker_id)
    await session.execute(
        update(PlatformWorker).where(PlatformWorker.id == worker_id).values(drain_requested=True)
    )
    row, running = await _worker(session, who, worker_id)
    await session.refresh(row)
    return worker_out(row, running, request)
