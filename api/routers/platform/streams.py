"""Live platform streams as Server-Sent Events (api/sse.py over the LISTEN hub): a job's output
(`GET /api/platform/jobs/{id}/logs?follow=true`) and the tenant's job events
(`GET /api/platform/events`). Each read is one short query; a stream holds no connection while
it waits, and resumes after `Last-Event-ID`."""

import json
import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Row, select, tuple_

from api.deps import Caller
from api.problems import ERROR_RESPONSES
from api.sse import MEDIA_TYPE, Page, SseEvent, event_stream
from domain.platform.status import JobStatus, is_terminal
from store.db import Database
from store.platform import AuditLog, LogChunk, PlatformJob

# Rows a read sends at most; a fuller page is read again at once.
BATCH = 500
SSE_RESPONSE = {200: {"content": {MEDIA_TYPE: {}}, "description": "A stream of Server-Sent Events"}}

router = APIRouter(prefix="/api/platform", tags=["platform: streams"], responses=ERROR_RESPONSES)


def _database(request: Request) -> Database:
    return request.app.state.database


# Last-Event-ID as this API writes it; anything else (or a number the columns cannot hold)
# starts the stream from the beginning.
_LOG_ID = re.compile(r"([0-9]{1,9})\.([0-9]{1,9})")
_EVENT_ID = re.compile(r"[0-9]{1,18}")


def _log_cursor(cursor: str | None) -> tuple[int, int]:
    """`attempt.seq` of the last chunk sent."""
    match = _LOG_ID.fullmatch(cursor or "")
    return (int(match[1]), int(match[2])) if match else (0, -1)


def follow_logs(request: Request, job_id: uuid.UUID) -> StreamingResponse:
    """Every output chunk of the job in order (attempt, then sequence), each event's id its
    `attempt.seq`; the stream ends once the job has ended and its last chunk is sent."""
    database = _database(request)

    async def read_after(cursor: str | None) -> Page:
        after = _log_cursor(cursor)
        async with database.statements() as db:
            rows = (
                await db.execute(
                    select(LogChunk.attempt, LogChunk.seq, LogChunk.stream, LogChunk.data)
                    .where(LogChunk.job_id == job_id, tuple_(LogChunk.attempt, LogChunk.seq) > after)
                    .order_by(LogChunk.attempt, LogChunk.seq)
                    .limit(BATCH)
                )
            ).all()
            status = (await db.execute(select(PlatformJob.status).where(PlatformJob.id == job_id))).scalar()
        events = [SseEvent(id=f"{r.attempt}.{r.seq}", event=r.stream, data=r.data) for r in rows]
        more = len(rows) == BATCH
        # The job's status is written after its attempt's last chunk arrived: ended means done.
        ended = status is None or is_terminal(JobStatus(status))
        return Page(events=events, more=more, end=ended and not more)

    return event_stream(
        request,
        request.app.state.notify,
        "platform_logs",
        read_after,
        wants=lambda p: p.startswith(f"{job_id}:"),
    )


@router.get("/events", response_class=StreamingResponse, responses=SSE_RESPONSE)
async def job_events(request: Request, who: Caller) -> StreamingResponse:
    """The tenant's job lifecycle events (the audit log) as they happen, from the start or after
    `Last-Event-ID`; each event's id is the audit row's id, its type the event."""
    database, tenant_id = _database(request), who.tenant_id

    async def read_after(cursor: str | None) -> Page:
        after = int(cursor) if cursor and _EVENT_ID.fullmatch(cursor) else 0
        async with database.statements() as db:
            query = (
                select(*_EVENT_COLUMNS)
                .where(AuditLog.tenant_id == tenant_id, AuditLog.id > after)
                .order_by(AuditLog.id)
                .limit(BATCH)
            )
            rows = (await db.execute(query)).all()
        return Page(events=[_event(row) for row in rows], more=len(rows) == BATCH)

    return event_stream(
        request,
        request.app.state.notify,
        "platform_events",
        read_after,
        wants=lambda p: p.startswith(f"{tenant_id}:"),
    )


_EVENT_COLUMNS = (
    AuditLog.id,
    AuditLog.job_id,
    AuditLog.seq,
    AuditLog.event,
    AuditLog.status,
    AuditLog.attempt,
    AuditLog.worker_id,
    AuditLog.at,
    AuditLog.correlation_id,
)


def _event(row: Row[Any]) -> SseEvent:
    data = {
        "job_id": str(row.job_id),
        "seq": row.seq,
        "event": row.event,
        "status": row.status,
        "attempt": row.attempt,
        "worker_id": str(row.worker_id) if row.worker_id else None,
        "at": row.at.isoformat(),
        "correlation_id": row.correlation_id,
    }
    return SseEvent(id=str(row.id), event=row.event, data=json.dumps(data))
