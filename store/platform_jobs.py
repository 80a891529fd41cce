"""A platform job's state changes. Each change writes the job row, its audit rows (per-job
gapless `seq`, the correlation id of the request that created the job) and their NOTIFY in one
statement; changes that follow each other (started, then ended) go in that same statement.

Every change is guarded by the status (and attempt) it expects, so a store call retried after
its commit changes nothing the second time and reports the job as it now is.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Row, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.crypto import Cipher
from domain.platform.contracts import Assigned, Finish, Outcome, Recorded, Waiting
from domain.platform.spec import JobSpec
from domain.platform.status import EVENT, AuditEvent, JobStatus, is_terminal
from store.platform_queue import Placed, place_waiting
from store.sealed import seal_text

S = JobStatus


@dataclass(frozen=True)
class Event:
    status: JobStatus
    attempt: int | None = None
    worker_id: UUID | None = None
    detail: str | None = None
    event: AuditEvent | None = None  # default: the event of entering `status`


def _move(sets: str, guard: str) -> TextClause:
    """The job row changes (`sets`, where `guard` holds) and one audit row per event is added,
    numbered on from the job's last seq, each announced on platform_events, and the job's new
    status on platform_logs."""
    return text(
        f"""
        WITH j AS (
            UPDATE platform_jobs SET status = :status, updated_at = now(),
                last_seq = last_seq + cardinality(CAST(:events AS text[])) {sets}
            WHERE id = :job_id AND {guard}
            RETURNING id, tenant_id, last_seq, correlation_id
        ), a AS (
            INSERT INTO audit_log
                (tenant_id, job_id, seq, event, status, attempt, worker_id, correlation_id, detail)
            SELECT j.tenant_id, j.id, j.last_seq - cardinality(CAST(:events AS text[])) + e.n,
                   e.event, e.status, e.attempt, e.worker_id, j.correlation_id, e.detail
            FROM j, unnest(CAST(:events AS text[]), CAST(:statuses AS text[]), CAST(:attempts AS int[]),
                           CAST(:workers AS uuid[]), CAST(:details AS text[]))
                    WITH ORDINALITY AS e(event, status, attempt, worker_id, detail, n)
            RETURNING id, tenant_id, job_id
        )
        -- The job's log followers learn of its end here (its output is all stored by then).
        SELECT pg_notify('platform_events', tenant_id::text || ':' || id::text),
               pg_notify('platform_logs', job_id::text || ':' || :status)
        FROM a
        """
    )


def _events(events: list[Event]) -> dict[str, Any]:
    return {
        "status": events[-1].status.value,
        "events": [(e.event or EVENT[e.status]).value for e in events],
        "statuses": [e.status.value for e in events],
        "attempts": [e.attempt for e in events],
        "workers": [e.worker_id for e in events],
        "details": [e.detail for e in events],
    }


async def _apply(
    connection: AsyncConnection, statement: TextClause, job_id: UUID, events: list[Event], **params: Any
) -> bool:
    result = await connection.execute(statement, {"job_id": job_id, **_events(events), **params})
    return len(result.all()) > 0


_CREATE = text(
    """
    WITH j AS (
        INSERT INTO platform_jobs (id, tenant_id, idempotency_key, request_hash, correlation_id, name, spec,
            sealed_secrets, labels, worker_type, capabilities, priority, cpu_millis, memory_mb, strategy,
            concurrency_key, concurrency_limit, status, last_seq)
        VALUES (:id, :tenant_id, :idempotency_key, :request_hash, :correlation_id, :name, :spec,
            :sealed_secrets, :labels, :worker_type, :capabilities, :priority, :cpu_millis, :memory_mb,
            -- No strategy of its own: the tenant's default, else least-loaded.
            coalesce(CAST(:strategy AS varchar),
                     (SELECT default_strategy FROM platform_tenants WHERE tenant_id = :tenant_id),
                     'least-loaded'),
            :concurrency_key, :concurrency_limit, 'PENDING', 1)
        ON CONFLICT DO NOTHING
        RETURNING id, tenant_id, correlation_id, created_at, strategy
    ), a AS (
        INSERT INTO audit_log (tenant_id, job_id, seq, event, status, correlation_id)
        SELECT tenant_id, id, 1, 'JobCreated', 'PENDING', correlation_id FROM j
        RETURNING id, tenant_id, at
    )
    SELECT j.created_at, j.strategy, a.id AS event_id, a.at AS event_at,
           pg_notify('platform_events', a.tenant_id::text || ':' || a.id::text)
    FROM j, a
    """
)


@dataclass(frozen=True)
class Created:
    """What creating a job decided that its request did not say."""

    created_at: datetime
    strategy: str  # the job's own, else its tenant's default then
    event_id: int  # its JobCreated row
    event_at: datetime


def new_job(
    cipher: Cipher,
    spec: JobSpec,
    *,
    job_id: UUID,
    tenant_id: UUID,
    idempotency_key: str,
    request_hash: str,
    correlation_id: str,
) -> dict[str, Any]:
    """The row of a new job (for `create`): the spec without its secrets, which are sealed to
    the job's id."""
    secrets = spec.secrets()
    return {
        "id": job_id,
        "tenant_id": tenant_id,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "correlation_id": correlation_id,
        "name": spec.name,
        "spec": json.dumps(spec.public()),
        "sealed_secrets": seal_text(cipher, job_id, json.dumps(secrets)) if secrets else None,
        "labels": json.dumps(spec.labels),
        "worker_type": spec.worker_type,
        "capabilities": spec.capabilities,
        "priority": spec.priority,
        "cpu_millis": spec.cpu_millis,
        "memory_mb": spec.memory_mb,
        "strategy": spec.strategy.value if spec.strategy else None,
        "concurrency_key": spec.concurrency.key if spec.concurrency else None,
        "concurrency_limit": spec.concurrency.limit if spec.concurrency else None,
    }


async def create(connection: AsyncConnection, values: dict[str, Any]) -> Created | None:
    """Inserts the job PENDING with its JobCreated row; None if a job with this id (or
    idempotency key) was there already."""
    row = (await connection.execute(_CREATE, values)).one_or_none()
    return Created(row.created_at, row.strategy, row.event_id, row.event_at) if row else None


_CURRENT = text("SELECT status, attempt, worker_id, wait_reason FROM platform_jobs WHERE id = :job_id")


async def _current(connection: AsyncConnection, job_id: UUID) -> Recorded:
    return _recorded((await connection.execute(_CURRENT, {"job_id": job_id})).one())


def _recorded(row: Row[Any]) -> Recorded:
    status = JobStatus(row.status)
    assigned = (
        Assigned(attempt=row.attempt, worker_id=row.worker_id)
        if status in (S.SCHEDULED, S.RUNNING) and row.worker_id is not None
        else None
    )
    return Recorded(status=status, assigned=assigned)


_QUEUE = text(
    """
    UPDATE platform_jobs SET status = 'PENDING', queued = true, updated_at = now()
    WHERE id = :job_id AND status IN ('PENDING', 'RETRYING') AND attempt < :attempt
    RETURNING id
    """
)


async def enqueue(
    connection: AsyncConnection, job_id: UUID, attempt: int, offline_after: timedelta
) -> tuple[Waiting, list[Placed]]:
    """The job waits for a worker for `attempt` (from RETRYING: PENDING again, no event: its
    JobRetrying said so) and a pass runs; the job's own assignment, or why it waits."""
    await connection.execute(_QUEUE, {"job_id": job_id, "attempt": attempt})
    placed = await place_waiting(connection, offline_after)
    mine = next((p for p in placed if p.job_id == job_id), None)
    others = [p for p in placed if p.job_id != job_id]
    if mine is not None:
        return Waiting(
            assigned=Assigned(attempt=mine.attempt, worker_id=mine.worker_id), status=S.SCHEDULED
        ), others
    row = (await connection.execute(_CURRENT, {"job_id": job_id})).one()
    now = _recorded(row)
    return Waiting(assigned=now.assigned, reason=row.wait_reason, status=now.status), others


_STARTED = _move(
    "",
    "status = 'SCHEDULED' AND attempt = :attempt",
)
_ATTEMPT_STARTED = text(
    """
    UPDATE platform_attempts SET started_at = coalesce(started_at, now()), pid = :pid
    WHERE job_id = :job_id AND attempt = :attempt AND ended_at IS NULL
    """
)


async def started(
    connection: AsyncConnection, job_id: UUID, attempt: int, worker_id: UUID, pid: int
) -> Recorded:
    """RUNNING, fenced: only the job's current attempt, still scheduled, moves it."""
    event = Event(S.RUNNING, attempt, worker_id, f"pid {pid}")
    if await _apply(connection, _STARTED, job_id, [event], attempt=attempt):
        await connection.execute(_ATTEMPT_STARTED, {"job_id": job_id, "attempt": attempt, "pid": pid})
    return await _current(connection, job_id)


_ENDED = _move(
    """, queued = false, exit_code = :exit_code, signal = :signal, output_tail = :output_tail,
    error = :error, finished_at = CASE WHEN CAST(:terminal AS boolean) THEN now() ELSE finished_at END""",
    "status IN ('SCHEDULED', 'RUNNING') AND attempt = :attempt",
)
_ATTEMPT_ENDED = text(
    """
    WITH a AS (
        UPDATE platform_attempts SET ended_at = now(), outcome = :outcome, exit_code = :exit_code,
            signal = :signal, error = :error,
            started_at = CASE WHEN CAST(:pid AS int) IS NOT NULL
                THEN coalesce(started_at, now()) ELSE started_at END,
            pid = coalesce(CAST(:pid AS int), pid)
        WHERE job_id = :job_id AND attempt = :attempt AND ended_at IS NULL
        RETURNING worker_id
    )
    UPDATE platform_workers SET lost = true FROM a
    WHERE platform_workers.id = a.worker_id AND CAST(:lost AS boolean)
    """
)


def _next_status(finish: Finish) -> JobStatus:
    if finish.outcome is Outcome.SUCCEEDED:
        return S.SUCCEEDED
    if finish.outcome is Outcome.CANCELLED:
        return S.CANCELLED
    if finish.outcome is Outcome.TIMED_OUT:
        return S.TIMED_OUT
    return S.RETRYING if finish.retry else S.FAILED


def _detail(finish: Finish) -> str:
    if finish.exit_code is not None:
        what = f"exit code {finish.exit_code}"
    elif finish.signal is not None:
        what = f"killed by signal {finish.signal}"
    else:
        what = finish.error or finish.outcome.value
    return f"attempt {finish.attempt}: {what}"


async def finish(
    connection: AsyncConnection, end: Finish, offline_after: timedelta
) -> tuple[Recorded, list[Placed]]:
    """The attempt ended: the job's next status with its audit rows (RUNNING first if the
    process started and that was not yet written), the attempt closed, its worker marked lost
    if it stopped heartbeating, and a pass over the capacity freed."""
    now = await _current(connection, end.job_id)
    worker = now.assigned.worker_id if now.assigned else None
    events = []
    if now.status is S.SCHEDULED and end.started_pid is not None:
        events.append(Event(S.RUNNING, end.attempt, worker, f"pid {end.started_pid}"))
    status = _next_status(end)
    events.append(Event(status, end.attempt, worker, _detail(end)))
    params = {
        "attempt": end.attempt,
        "exit_code": end.exit_code,
        "signal": end.signal,
        "error": end.error,
    }
    moved = await _apply(
        connection,
        _ENDED,
        end.job_id,
        events,
        output_tail=end.output_tail,
        terminal=is_terminal(status),
        **params,
    )
    if not moved:
        return now, []
    await connection.execute(
        _ATTEMPT_ENDED,
        {
            "job_id": end.job_id,
            "outcome": end.outcome.value,
            "pid": end.started_pid,
            "lost": end.outcome is Outcome.WORKER_LOST,
            **params,
        },
    )
    placed = await place_waiting(connection, offline_after)
    return Recorded(status=status), placed


_EXPIRED = _move(", queued = false, error = :error, finished_at = now()", "status = 'PENDING'")


async def expire(connection: AsyncConnection, job_id: UUID) -> Recorded:
    """TIMED_OUT for waiting too long, only if the job still waits: an assignment made
    meanwhile wins."""
    reason = (
        await connection.execute(text("SELECT wait_reason FROM platform_jobs WHERE id = :id"), {"id": job_id})
    ).scalar_one()
    detail = f"no worker within the queue timeout ({reason or 'waiting for a worker'})"
    await _apply(connection, _EXPIRED, job_id, [Event(S.TIMED_OUT, detail=detail)], error=detail)
    return await _current(connection, job_id)


_CANCELLED = _move(
    ", queued = false, error = :error, finished_at = now()",
    "status IN ('PENDING', 'RETRYING', 'SCHEDULED', 'RUNNING')",
)
_ATTEMPT_CANCELLED = text(
    """
    UPDATE platform_attempts SET ended_at = now(), outcome = 'cancelled'
    WHERE job_id = :job_id AND ended_at IS NULL
    RETURNING attempt
    """
)


async def cancel(
    connection: AsyncConnection, job_id: UUID, reason: str, offline_after: timedelta
) -> tuple[Recorded, list[Placed]]:
    """CANCELLED from any status not yet terminal; an attempt still open (its process is dead by
    now, or never started) is closed and its capacity given to the next job."""
    now = await _current(connection, job_id)
    attempt = now.assigned.attempt if now.assigned else None
    worker = now.assigned.worker_id if now.assigned else None
    event = Event(S.CANCELLED, attempt, worker, reason)
    if not await _apply(connection, _CANCELLED, job_id, [event], error=reason):
        return now, []
    closed = (await connection.execute(_ATTEMPT_CANCELLED, {"job_id": job_id})).all()
    placed = await place_waiting(connection, offline_after) if closed else []
    return Recorded(status=S.CANCELLED), placed


_RETRY = _move(", error = NULL, finished_at = NULL", "status IN ('FAILED', 'TIMED_OUT')")


async def request_retry(connection: AsyncConnection, job_id: UUID) -> bool:
    """A failed (or timed out) job is run again: RETRYING, until its new workflow run queues it."""
    return await _apply(connection, _RETRY, job_id, [Event(S.RETRYING, detail="retried by request")])
