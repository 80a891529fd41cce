"""A job's lifecycle and its audit events; a worker's status."""

from datetime import datetime, timedelta
from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "PENDING"
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    RETRYING = "RETRYING"


class AuditEvent(StrEnum):
    CREATED = "JobCreated"
    SCHEDULED = "JobScheduled"
    STARTED = "JobStarted"
    RETRYING = "JobRetrying"
    COMPLETED = "JobCompleted"
    FAILED = "JobFailed"
    CANCELLED = "JobCancelled"
    TIMED_OUT = "JobTimedOut"


S = JobStatus
TERMINAL = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.TIMED_OUT})
# Terminal jobs a person may run again (a retry through the API starts fresh attempts).
RETRYABLE = frozenset({S.FAILED, S.TIMED_OUT})
_NEXT: dict[JobStatus, frozenset[JobStatus]] = {
    S.PENDING: frozenset({S.SCHEDULED, S.CANCELLED, S.TIMED_OUT}),
    # From SCHEDULED without RUNNING: the worker was lost before it started the process.
    S.SCHEDULED: frozenset({S.RUNNING, S.RETRYING, S.FAILED, S.CANCELLED, S.TIMED_OUT}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.RETRYING, S.CANCELLED, S.TIMED_OUT}),
    # Back to PENDING once the backoff has passed (the JobRetrying event covers both steps).
    S.RETRYING: frozenset({S.PENDING, S.CANCELLED}),
    S.FAILED: frozenset({S.RETRYING}),
    S.TIMED_OUT: frozenset({S.RETRYING}),
    S.SUCCEEDED: frozenset(),
    S.CANCELLED: frozenset(),
}
# The event recorded on entering each status; PENDING's is JobCreated, at creation only.
EVENT = {
    S.SCHEDULED: AuditEvent.SCHEDULED,
    S.RUNNING: AuditEvent.STARTED,
    S.RETRYING: AuditEvent.RETRYING,
    S.SUCCEEDED: AuditEvent.COMPLETED,
    S.FAILED: AuditEvent.FAILED,
    S.CANCELLED: AuditEvent.CANCELLED,
    S.TIMED_OUT: AuditEvent.TIMED_OUT,
}


class InvalidTransition(ValueError):
    pass


def can_move(current: JobStatus, to: JobStatus) -> bool:
    return to in _NEXT[current]


def transition(current: JobStatus, to: JobStatus) -> JobStatus:
    if not can_move(current, to):
        raise InvalidTransition(f"a {current.value} job cannot become {to.value}")
    return to


def is_terminal(status: JobStatus) -> bool:
    return status in TERMINAL


class WorkerStatus(StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"
    DRAINING = "draining"
    OFFLINE = "offline"


def worker_status(
    *,
    now: datetime,
    heartbeat_at: datetime,
    offline_after: timedelta,
    lost: bool,
    gone: bool,
    draining: bool,
    running: int,
    slots: int,
) -> WorkerStatus:
    """`lost`: a job's attempt on it timed out its heartbeats (until it heartbeats again);
    `gone`: it deregistered; `draining`: it said so, or an admin asked it to."""
    if gone or lost or now - heartbeat_at > offline_after:
        return WorkerStatus.OFFLINE
    if draining:
        return WorkerStatus.DRAINING
    return WorkerStatus.BUSY if running >= slots else WorkerStatus.AVAILABLE
