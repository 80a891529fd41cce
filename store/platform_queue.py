"""The scheduler's pass: place as many waiting jobs as the workers' free capacity allows, in
the order domain.platform.scheduling decides, in one transaction serialized on one advisory lock.

Callers: a job entering the queue, an attempt ending (capacity freed), a worker registering or
coming back. Each placement writes the job SCHEDULED, its attempt row and its JobScheduled
audit row (with the NOTIFY) in one statement; the caller tells the placed jobs' workflows.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.platform.scheduling import Running, WaitingJob, WorkerCapacity, assign, wait_reason
from domain.platform.spec import Strategy

# pg_advisory_xact_lock key of the pass ("plat" in ASCII): one pass at a time, so two never
# hand out the same free slot.
PASS_LOCK = 0x706C6174
# How many waiting jobs per (tenant, worker type) a pass looks at beyond the free slots: jobs
# whose concurrency key is full are passed over, and this many may be.
LOOKAHEAD = 100

# Everything a pass decides on, read in one statement once the lock is held (a statement of
# its own before: a snapshot taken before the lock was granted could miss the placements of
# the pass that held it). Positional JSON arrays, one per kind: one round trip, not four.
_STATE = text(
    """
    WITH w AS (
        SELECT w.id, w.worker_type, w.capabilities, w.slots, w.cpu_millis, w.memory_mb, w.shared,
               w.tenant_id, w.last_assigned,
               count(a.job_id) AS running,
               coalesce(sum(a.cpu_millis), 0) AS cpu_used,
               coalesce(sum(a.memory_mb), 0) AS memory_used
        FROM platform_workers w
        LEFT JOIN platform_attempts a ON a.worker_id = w.id AND a.ended_at IS NULL
        WHERE w.deregistered_at IS NULL AND NOT w.lost AND NOT w.draining AND NOT w.drain_requested
          AND w.heartbeat_at > now() - make_interval(secs => :offline_after)
        GROUP BY w.id
    ), r AS (
        SELECT tenant_id, concurrency_key, count(*) AS n
        FROM platform_attempts WHERE ended_at IS NULL GROUP BY tenant_id, concurrency_key
    ), c AS (
        SELECT * FROM (
            SELECT id, tenant_id, priority, created_at, worker_type, capabilities, cpu_millis,
                   memory_mb, strategy, concurrency_key, concurrency_limit, wait_reason,
                   row_number() OVER (
                       PARTITION BY tenant_id, worker_type ORDER BY priority DESC, created_at, id
                   ) AS rank
            FROM platform_jobs
            WHERE status = 'PENDING' AND queued
        ) AS waiting
        -- The free slots, and this many more.
        WHERE rank <= (SELECT coalesce(sum(greatest(slots - running, 0)), 0) FROM w) + :lookahead
    )
    SELECT
        (SELECT json_agg(json_build_array(id, worker_type, capabilities, slots, cpu_millis, memory_mb,
            shared, tenant_id, last_assigned, running, cpu_used, memory_used)) FROM w) AS workers,
        (SELECT json_agg(json_build_array(tenant_id, concurrency_key, n)) FROM r) AS running,
        (SELECT json_agg(json_build_array(tenant_id, last_turn)) FROM platform_tenants
            WHERE last_turn IS NOT NULL) AS served,
        (SELECT json_agg(json_build_array(id, tenant_id, priority, created_at, worker_type,
            capabilities, cpu_millis, memory_mb, strategy, concurrency_key, concurrency_limit,
            wait_reason)) FROM c) AS waiting
    """
)
_PLACE = text(
    """
    WITH p AS (
        SELECT * FROM unnest(CAST(:job_ids AS uuid[]), CAST(:worker_ids AS uuid[]), CAST(:turns AS bigint[]))
            AS p(job_id, worker_id, turn)
    ), j AS (
        UPDATE platform_jobs SET status = 'SCHEDULED', attempt = attempt + 1, worker_id = p.worker_id,
            wait_reason = NULL, queued = false, last_seq = last_seq + 1, updated_at = now()
        FROM p WHERE platform_jobs.id = p.job_id AND platform_jobs.status = 'PENDING'
        RETURNING platform_jobs.id, platform_jobs.tenant_id, platform_jobs.attempt, p.worker_id,
            platform_jobs.last_seq, platform_jobs.correlation_id, platform_jobs.cpu_millis,
            platform_jobs.memory_mb, platform_jobs.concurrency_key
    ), attempts AS (
        INSERT INTO platform_attempts
            (job_id, attempt, tenant_id, worker_id, cpu_millis, memory_mb, concurrency_key)
        SELECT id, attempt, tenant_id, worker_id, cpu_millis, memory_mb, concurrency_key FROM j
    ), turns AS (
        UPDATE platform_workers SET last_assigned = t.turn
        FROM (SELECT worker_id, max(turn) AS turn FROM p GROUP BY worker_id) AS t
        WHERE platform_workers.id = t.worker_id
    ), served AS (
        INSERT INTO platform_tenants (tenant_id, last_turn)
        SELECT j.tenant_id, max(p.turn) FROM j JOIN p ON p.job_id = j.id GROUP BY j.tenant_id
        ON CONFLICT (tenant_id) DO UPDATE SET last_turn = EXCLUDED.last_turn
    ), a AS (
        INSERT INTO audit_log (tenant_id, job_id, seq, event, status, attempt, worker_id, correlation_id)
        SELECT tenant_id, id, last_seq, 'JobScheduled', 'SCHEDULED', attempt, worker_id, correlation_id FROM j
        RETURNING id, tenant_id, job_id, attempt, worker_id
    )
    SELECT job_id, attempt, worker_id, pg_notify('platform_events', tenant_id::text || ':' || id::text) FROM a
    """
)
_REASONS = text(
    """
    UPDATE platform_jobs SET wait_reason = r.reason
    FROM unnest(CAST(:ids AS uuid[]), CAST(:reasons AS text[])) AS r(id, reason)
    WHERE platform_jobs.id = r.id AND platform_jobs.status = 'PENDING'
    """
)


@dataclass(frozen=True)
class Placed:
    job_id: UUID
    attempt: int
    worker_id: UUID


def _worker(values: list[Any]) -> WorkerCapacity:
    id_, type_, capabilities, slots, cpu, memory, shared, tenant, last, running, cpu_used, mem_used = values
    return WorkerCapacity(
        id=UUID(id_),
        worker_type=type_,
        capabilities=frozenset(capabilities),
        slots=slots,
        cpu_millis=cpu,
        memory_mb=memory,
        running=running,
        cpu_used=cpu_used,
        memory_used=mem_used,
        shared=shared,
        tenant_id=None if tenant is None else UUID(tenant),
        last_assigned=last,
    )


def _waiting(values: list[Any]) -> tuple[WaitingJob, str | None]:
    """A waiting job, and the reason it was last given."""
    id_, tenant, priority, created, type_, capabilities, cpu, memory, strategy, key, limit, reason = values
    job = WaitingJob(
        id=UUID(id_),
        tenant_id=UUID(tenant),
        priority=priority,
        submitted_at=datetime.fromisoformat(created),
        worker_type=type_,
        capabilities=frozenset(capabilities),
        cpu_millis=cpu,
        memory_mb=memory,
        strategy=Strategy(strategy),
        concurrency_key=key,
        concurrency_limit=limit,
    )
    return job, reason


async def place_waiting(connection: AsyncConnection, offline_after: timedelta) -> list[Placed]:
    """One pass, inside the caller's transaction. Every waiting job is considered each time
    (not only the one that came in): a pass that was missed costs a delay, never an order."""
    await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PASS_LOCK})
    state = (
        await connection.execute(
            _STATE, {"offline_after": offline_after.total_seconds(), "lookahead": LOOKAHEAD}
        )
    ).one()
    workers = [_worker(w) for w in state.workers or ()]
    free_slots = sum(max(0, w.slots - w.running) for w in workers)
    running = Running()
    for tenant, key, n in state.running or ():
        tenant_id = UUID(tenant)
        running.by_tenant[tenant_id] = running.by_tenant.get(tenant_id, 0) + n
        if key is not None:
            running.by_key[(tenant_id, key)] = n
    running.served = {UUID(tenant): turn for tenant, turn in state.served or ()}
    candidates = [_waiting(values) for values in state.waiting or ()]
    waiting = [job for job, _ in candidates]
    # Turns only grow: a pass numbers on from the latest any worker or tenant was given.
    first_turn = max([*(w.last_assigned or 0 for w in workers), *running.served.values(), 0])
    placements = assign(waiting, workers, running, first_turn) if free_slots else []
    placed: list[Placed] = []
    if placements:
        turns = list(range(first_turn + 1, first_turn + 1 + len(placements)))
        result = await connection.execute(
            _PLACE,
            {
                "job_ids": [p.job_id for p in placements],
                "worker_ids": [p.worker_id for p in placements],
                "turns": turns,
            },
        )
        placed = [Placed(job_id=r.job_id, attempt=r.attempt, worker_id=r.worker_id) for r in result]
    await _explain(connection, candidates, workers, placements, running)
    return placed


async def _explain(
    connection: AsyncConnection,
    candidates: Sequence[tuple[WaitingJob, str | None]],
    workers: list[WorkerCapacity],
    placements: list[Any],
    running: Running,
) -> None:
    """Each job left waiting says why, written only where the reason changed."""
    done = {p.job_id for p in placements}
    after = {w.id: w for w in workers}
    by_id = {job.id: job for job, _ in candidates}
    keys = dict(running.by_key)
    for p in placements:
        job = by_id[p.job_id]
        after[p.worker_id] = after[p.worker_id].took(job, 0)
        if job.concurrency_key is not None:
            k = (job.tenant_id, job.concurrency_key)
            keys[k] = keys.get(k, 0) + 1
    ids, reasons = [], []
    for job, before in candidates:
        if job.id in done:
            continue
        key_running = keys.get((job.tenant_id, job.concurrency_key), 0) if job.concurrency_key else 0
        reason = wait_reason(job, list(after.values()), key_running)
        if reason != before:
            ids.append(job.id)
            reasons.append(reason)
    if ids:
        await connection.execute(_REASONS, {"ids": ids, "reasons": reasons})
