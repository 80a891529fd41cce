"""What crosses the boundary between the job workflow and the executor's run activity
(docs: /work/prompts/platform-contract.md). Ids travel, data does not: the executor fetches the
command, its env and the limits from the API, and ships the output there."""

from uuid import UUID

from pydantic import BaseModel, ConfigDict

RUN_ACTIVITY = "platform.executor.run"
ATTEMPT_STARTED = "attempt_started"
# ApplicationError types the run activity raises, both non-retryable.
ATTEMPT_SUPERSEDED = "AttemptSuperseded"
SPEC_UNAVAILABLE = "SpecUnavailable"


def executor_task_queue(worker_id: UUID) -> str:
    return f"platform-executor-{worker_id}"


class RunAttempt(BaseModel):
    """The run activity's input."""

    model_config = ConfigDict(frozen=True)

    job_id: UUID
    attempt: int  # 1-based, the job's attempt number
    worker_id: UUID  # the worker chosen for this attempt


class RunResult(BaseModel):
    """The run activity's output."""

    model_config = ConfigDict(frozen=True)

    exit_code: int | None  # None when killed by a signal
    signal: int | None  # e.g. 9 after SIGKILL
    timed_out: bool  # the run timeout killed it
    output_tail: str  # last 4 KiB of combined output (UTF-8, replacement chars)


class AttemptStarted(BaseModel):
    """Payload of the `attempt_started` signal the activity sends once the process runs."""

    model_config = ConfigDict(frozen=True)

    attempt: int
    worker_id: UUID
    pid: int
