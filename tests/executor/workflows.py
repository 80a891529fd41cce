"""A tiny job workflow for the run activity's tests: runs one attempt on an executor queue and
records the `attempt_started` signals it receives."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from domain.platform.contracts import ATTEMPT_STARTED, RUN_ACTIVITY, AttemptStarted, RunAttempt, RunResult


class OneAttempt(BaseModel):
    run: RunAttempt
    task_queue: str
    start_to_close_seconds: float = 120.0
    heartbeat_timeout_seconds: float = 15.0


@workflow.defn(name="ExecutorTestJob")
class OneAttemptWorkflow:
    def __init__(self) -> None:
        self.started: list[AttemptStarted] = []

    @workflow.run
    async def run(self, request: OneAttempt) -> RunResult:
        return await workflow.execute_activity(
            RUN_ACTIVITY,
            request.run,
            result_type=RunResult,
            task_queue=request.task_queue,
            schedule_to_start_timeout=timedelta(seconds=30),
            start_to_close_timeout=timedelta(seconds=request.start_to_close_seconds),
            heartbeat_timeout=timedelta(seconds=request.heartbeat_timeout_seconds),
            retry_policy=RetryPolicy(maximum_attempts=1),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )

    @workflow.signal(name=ATTEMPT_STARTED)
    def attempt_started(self, started: AttemptStarted) -> None:
        self.started.append(started)

    @workflow.query
    def started_pids(self) -> list[int]:
        return [s.pid for s in self.started]
