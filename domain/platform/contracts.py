"""What crosses the platform's boundaries: the job workflow's input and messages, its store
calls, and the executor's run activity (platform-contract.md; RunAttempt and RunResult are
written exactly as the contract has them).

No secret and no command output travels in a payload: activities get ids and load the rest.
"""

from datetime import timedelta
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from temporalio.common import Priority, SearchAttributePair, TypedSearchAttributes

from domain import search_attributes as sa
from domain.platform.base import PlatformModel
from domain.platform.spec import JobSpec
from domain.platform.status import JobStatus

TASK_QUEUE = "platform"
JOB_WORKFLOW = "PlatformJob"
RUN_ACTIVITY = "platform.executor.run"
# Signals to a job workflow: the executor's process started; the scheduler gave it a worker.
ATTEMPT_STARTED = "attempt_started"
ASSIGNED = "assigned"
CANCEL_UPDATE = "cancel"
# Errors the run activity raises (ApplicationError types, non-retryable).
ATTEMPT_SUPERSEDED = "AttemptSuperseded"
SPEC_UNAVAILABLE = "SpecUnavailable"


def job_workflow_id(job_id: UUID) -> str:
    return f"job:{job_id}"


def executor_task_queue(worker_id: UUID) -> str:
    return f"platform-executor-{worker_id}"


class RunAttempt(BaseModel):  # activity input
    model_config = ConfigDict(frozen=True)

    job_id: UUID
    attempt: int  # 1-based, the job's attempt number
    worker_id: UUID  # the worker chosen for this attempt


class RunResult(BaseModel):  # activity output
    model_config = ConfigDict(frozen=True)

    exit_code: int | None  # None when killed by a signal
    signal: int | None  # e.g. 9 after SIGKILL
    timed_out: bool  # the run timeout killed it
    output_tail: str  # last 4 KiB of combined output (UTF-8, replacement chars)


class AttemptStarted(BaseModel):  # signal `attempt_started`, sent by the run activity
    model_config = ConfigDict(frozen=True)

    attempt: int
    worker_id: UUID
    pid: int
    # The executor has had the API record RUNNING (JobStarted) already, fenced there: the
    # workflow only takes note. False from an executor of before, and in histories recorded
    # before: the workflow records it with its store call `platform.started`, as it did then.
    recorded: bool = False


class Assigned(PlatformModel):
    """Signal `assigned`: the scheduler gave attempt `attempt` of the job to `worker_id`."""

    attempt: int
    worker_id: UUID


class JobStart(PlatformModel):
    """The job workflow's input: what scheduling and timing need, nothing secret (the spec,
    env included, stays in the store)."""

    job_id: UUID
    tenant_id: UUID
    worker_type: str
    priority: int
    run_timeout: timedelta
    queue_timeout: timedelta
    grace: timedelta
    max_attempts: int
    backoff_initial: timedelta
    backoff_coefficient: float
    backoff_maximum: timedelta
    # Deployment settings fixed at creation (workflows read no env).
    heartbeat_timeout: timedelta = timedelta(seconds=15)
    schedule_to_start_timeout: timedelta = timedelta(seconds=30)
    # Attempts already spent by earlier runs (a retry through the API numbers on from there).
    attempts_before: int = 0

    @classmethod
    def of(
        cls,
        spec: JobSpec,
        job_id: UUID,
        tenant_id: UUID,
        *,
        heartbeat_timeout: timedelta,
        schedule_to_start_timeout: timedelta,
        attempts_before: int = 0,
    ) -> "JobStart":
        return cls(
            job_id=job_id,
            tenant_id=tenant_id,
            worker_type=spec.worker_type,
            priority=spec.priority,
            run_timeout=timedelta(seconds=spec.run_timeout_seconds),
            queue_timeout=timedelta(seconds=spec.queue_timeout_seconds),
            grace=timedelta(seconds=spec.grace_seconds),
            max_attempts=spec.max_attempts,
            backoff_initial=timedelta(seconds=spec.backoff.initial_seconds),
            backoff_coefficient=spec.backoff.coefficient,
            backoff_maximum=timedelta(seconds=spec.backoff.maximum_seconds),
            heartbeat_timeout=heartbeat_timeout,
            schedule_to_start_timeout=schedule_to_start_timeout,
            attempts_before=attempts_before,
        )

    def search_attributes(self) -> TypedSearchAttributes:
        """What the job's workflow starts with, whoever starts it (the API, a schedule)."""
        return TypedSearchAttributes(
            [
                SearchAttributePair(sa.TENANT_ID, str(self.tenant_id)),
                SearchAttributePair(sa.WORKER_TYPE, self.worker_type),
                SearchAttributePair(sa.PRIORITY, self.priority),
                SearchAttributePair(sa.JOB_STATUS, JobStatus.PENDING.value),
            ]
        )

    def fairness(self) -> Priority:
        """Workflow tasks of one tenant's jobs do not crowd out another's."""
        return Priority(fairness_key=str(self.tenant_id)[:64])

    def backoff(self, failed_attempt: int) -> timedelta:
        seconds = self.backoff_initial.total_seconds() * self.backoff_coefficient ** (failed_attempt - 1)
        return min(self.backoff_maximum, timedelta(seconds=seconds))


class Enqueue(PlatformModel):
    """Store call: the job waits for a worker for `attempt` (placed at once if one is free)."""

    job_id: UUID
    attempt: int


class Waiting(PlatformModel):
    """What enqueue found: the job's assignment, or why it waits."""

    assigned: Assigned | None = None
    reason: str | None = None
    # The job ended meanwhile (cancelled while its workflow was starting, say).
    status: JobStatus = JobStatus.PENDING


class Expire(PlatformModel):
    job_id: UUID


class Started(PlatformModel):
    job_id: UUID
    attempt: int
    worker_id: UUID
    pid: int


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the command failed (exit code or signal)
    TIMED_OUT = "timed_out"  # the run timeout killed it
    WORKER_LOST = "worker_lost"  # heartbeats stopped, or it never took the task
    CANCELLED = "cancelled"
    ERROR = "error"  # the executor could not run it (no spec, superseded, a crash)


class Finish(PlatformModel):
    """Store call: attempt `attempt` ended; the job's next status (terminal, or RETRYING while
    attempts remain) is written with its audit rows, the worker's capacity freed, and the
    jobs that capacity now fits placed."""

    job_id: UUID
    attempt: int
    outcome: Outcome
    # Started but not yet recorded RUNNING (the process ended before the signal was written).
    started_pid: int | None = None
    retry: bool = False
    exit_code: int | None = None
    signal: int | None = None
    output_tail: str | None = None
    error: str | None = None


class Cancel(PlatformModel):
    """Store call: the job is cancelled (any attempt still open is closed: its process is dead
    by then, or never started)."""

    job_id: UUID
    reason: str


class Recorded(PlatformModel):
    """What a store call left the job as (a retried call finds it already so)."""

    status: JobStatus
    assigned: Assigned | None = None
