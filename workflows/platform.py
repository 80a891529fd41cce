"""A platform job: one workflow per job (`job:{job_id}`, task queue `platform`).

PENDING until the scheduler places it (store.platform_queue: the job's own store call, or a
signal from another job's), SCHEDULED on a worker, RUNNING once the executor says its process
started, then SUCCEEDED, FAILED, CANCELLED or TIMED_OUT; RETRYING (a durable timer) and back to
PENDING while attempts remain, on another worker when the first one was lost. Attempts are the
job's: the run activity itself is never retried by Temporal.
"""

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutType
from temporalio.exceptions import TimeoutError as ActivityTimeout
from temporalio.workflow import ActivityCancellationType, ActivityHandle

with workflow.unsafe.imports_passed_through():
    from activities.platform_store import PlatformStore
    from domain import search_attributes as sa
    from domain.platform.contracts import (
        ASSIGNED,
        ATTEMPT_STARTED,
        CANCEL_UPDATE,
        JOB_WORKFLOW,
        RUN_ACTIVITY,
        SPEC_UNAVAILABLE,
        Assigned,
        AttemptStarted,
        Cancel,
        Enqueue,
        Expire,
        Finish,
        JobStart,
        Outcome,
        RunAttempt,
        RunResult,
        Started,
        executor_task_queue,
    )
    from domain.platform.status import JobStatus, is_terminal
    from workflows.store_calls import store

S = JobStatus
# A cancel answers within this long with the status as it stands (the process may take its
# grace period to die; the job is CANCELLED once it has).
CANCEL_PATIENCE = timedelta(seconds=5)
# Beyond run timeout + grace: the executor reports a timeout itself; this is for one that can't.
RUN_MARGIN = timedelta(seconds=30)


@workflow.defn(name=JOB_WORKFLOW)
class PlatformJobWorkflow:
    @workflow.init
    def __init__(self, start: JobStart) -> None:
        self._start = start
        self._status = S.PENDING
        # The job's last attempt number (the store's `attempt`), and the attempt in hand.
        self._attempt = start.attempts_before
        self._assigned: Assigned | None = None
        self._started: AttemptStarted | None = None
        self._running_recorded = False
        self._cancel: str | None = None
        self._run: ActivityHandle[RunResult] | None = None

    # -- messages ---------------------------------------------------------------------------------

    @workflow.signal(name=ASSIGNED)
    def assigned(self, assigned: Assigned) -> None:
        """The scheduler placed the waiting job (an assignment for an attempt already in hand,
        or from before, is a duplicate and ignored)."""
        if assigned.attempt > self._attempt and self._assigned is None:
            self._assigned = assigned

    @workflow.signal(name=ATTEMPT_STARTED)
    def attempt_started(self, started: AttemptStarted) -> None:
        """Fenced: a signal from an attempt that is not the current one is ignored. RUNNING that
        the API recorded already (the executor's report) is taken note of, no store call: the
        job's start is written as the process starts, not a workflow task later."""
        current = self._assigned
        if current is not None and (started.attempt, started.worker_id) == (
            current.attempt,
            current.worker_id,
        ):
            self._started = started
            if started.recorded:
                self._running_recorded = True
                if self._status is S.SCHEDULED:
                    self._set_status(S.RUNNING)

    @workflow.query
    def status(self) -> JobStatus:
        return self._status

    @workflow.update(name=CANCEL_UPDATE)
    async def cancel(self) -> JobStatus:
        self._cancel = "cancelled by request"
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: is_terminal(self._status), timeout=CANCEL_PATIENCE)
        return self._status

    @cancel.validator
    def _can_cancel(self) -> None:
        if is_terminal(self._status):
            raise ApplicationError(f"the job has ended ({self._status.value})", type="InvalidTransition")
        if self._cancel is not None:
            raise ApplicationError("a cancel of this job is already under way", type="Conflict")

    # -- the process ------------------------------------------------------------------------------

    @workflow.run
    async def run(self, start: JobStart) -> JobStatus:
        try:
            await self._live()
        except asyncio.CancelledError:
            # In a task of its own, shielded: the cancel is delivered to the run task again at
            # its next await (seen here: the process left running, the store call cancelled).
            cleanup = asyncio.create_task(self._record_temporal_cancel())
            while not cleanup.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(cleanup)
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    async def _live(self) -> None:
        last = self._start.attempts_before + self._start.max_attempts
        while True:
            assigned = await self._placed()
            if assigned is None:
                return
            end = await self._execute(assigned, retry_allowed=assigned.attempt < last)
            recorded = await store(PlatformStore.finish, end)
            self._set_status(recorded.status)
            self._assigned, self._started, self._running_recorded = None, None, False
            if recorded.status is not S.RETRYING:
                return
            with contextlib.suppress(TimeoutError):
                backoff = self._start.backoff(assigned.attempt)
                await workflow.wait_condition(lambda: self._cancel is not None, timeout=backoff)
            if self._cancel is not None:
                await self._cancelled(self._cancel)
                return

    async def _placed(self) -> Assigned | None:
        """Queues the job and waits for its worker: the assignment, or None when the job ended
        waiting (cancelled, or its queue timeout passed)."""
        if self._cancel is not None:
            await self._cancelled(self._cancel)
            return None
        job_id = self._start.job_id
        waiting = await store(PlatformStore.enqueue, Enqueue(job_id=job_id, attempt=self._attempt + 1))
        if is_terminal(waiting.status):
            self._set_status(waiting.status)
            return None
        if waiting.assigned is not None and waiting.assigned.attempt > self._attempt:
            self._assigned = waiting.assigned
        if self._assigned is None:
            self._set_status(S.PENDING)
            try:
                await workflow.wait_condition(
                    lambda: self._assigned is not None or self._cancel is not None,
                    timeout=self._start.queue_timeout,
                )
            except TimeoutError:
                # Recorded only if the job still waits: an assignment made meanwhile wins.
                recorded = await store(PlatformStore.expire, Expire(job_id=job_id))
                if recorded.assigned is None:
                    self._set_status(recorded.status)
                    return None
                self._assigned = recorded.assigned
        if self._cancel is not None:
            await self._cancelled(self._cancel)
            return None
        assert self._assigned is not None
        self._attempt = self._assigned.attempt
        self._set_status(S.SCHEDULED)
        return self._assigned

    async def _execute(self, assigned: Assigned, *, retry_allowed: bool) -> Finish:
        """Runs the attempt on its worker's queue; RUNNING is written when the executor says the
        process started; a cancel kills the process (and waits until it has) before it ends."""
        start = self._start
        self._run = workflow.start_activity(
            RUN_ACTIVITY,
            RunAttempt(job_id=start.job_id, attempt=assigned.attempt, worker_id=assigned.worker_id),
            result_type=RunResult,
            task_queue=executor_task_queue(assigned.worker_id),
            schedule_to_start_timeout=start.schedule_to_start_timeout,
            start_to_close_timeout=start.run_timeout + start.grace + RUN_MARGIN,
            heartbeat_timeout=start.heartbeat_timeout,
            retry_policy=RetryPolicy(maximum_attempts=1),
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        run = self._run
        while not run.done():
            await workflow.wait_condition(
                lambda: run.done() or self._cancel is not None or self._start_unrecorded()
            )
            if run.done():
                break
            if self._cancel is not None:
                run.cancel()
                with contextlib.suppress(ActivityError, asyncio.CancelledError):
                    await run
                break
            started = self._started
            assert started is not None
            recorded = await store(
                PlatformStore.started,
                Started(
                    job_id=start.job_id, attempt=started.attempt, worker_id=started.worker_id, pid=started.pid
                ),
            )
            self._running_recorded = True
            self._set_status(recorded.status)
        return self._ending(assigned, run, retry_allowed)

    def _start_unrecorded(self) -> bool:
        return self._started is not None and not self._running_recorded

    def _ending(self, assigned: Assigned, run: ActivityHandle[RunResult], retry_allowed: bool) -> Finish:
        pid = self._started.pid if self._start_unrecorded() and self._started else None
        base = Finish(
            job_id=self._start.job_id, attempt=assigned.attempt, outcome=Outcome.ERROR, started_pid=pid
        )
        error = run.exception()
        if error is None:
            result = run.result()
            if result.timed_out:
                outcome = Outcome.TIMED_OUT
            elif result.exit_code == 0:
                outcome = Outcome.SUCCEEDED
            else:
                outcome = Outcome.FAILED
            return base.model_copy(
                update={
                    "outcome": outcome,
                    "retry": outcome is Outcome.FAILED and retry_allowed,
                    "exit_code": result.exit_code,
                    "signal": result.signal,
                    "output_tail": result.output_tail,
                }
            )
        cause = error.cause if isinstance(error, ActivityError) else error
        if isinstance(error, asyncio.CancelledError) or self._cancel is not None:
            return base.model_copy(update={"outcome": Outcome.CANCELLED, "error": self._cancel})
        if isinstance(cause, ActivityTimeout):
            if cause.type is TimeoutType.START_TO_CLOSE:
                return base.model_copy(
                    update={"outcome": Outcome.TIMED_OUT, "error": "the executor did not report"}
                )
            # Heartbeats stopped, or the worker never took the task: it is lost.
            what = "heartbeats stopped" if cause.type is TimeoutType.HEARTBEAT else "the worker never took it"
            return base.model_copy(
                update={
                    "outcome": Outcome.WORKER_LOST,
                    "retry": retry_allowed,
                    "error": f"worker lost: {what}",
                }
            )
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or error)
        final = isinstance(cause, ApplicationError) and cause.type == SPEC_UNAVAILABLE
        return base.model_copy(update={"retry": retry_allowed and not final, "error": message})

    async def _cancelled(self, reason: str) -> None:
        recorded = await store(PlatformStore.cancel, Cancel(job_id=self._start.job_id, reason=reason))
        self._set_status(recorded.status)

    async def _record_temporal_cancel(self) -> None:
        """Cancelled in Temporal itself (`temporal workflow cancel`, the Web UI): the process is
        killed (and dead) first, then the job is recorded CANCELLED."""
        if is_terminal(self._status):
            return
        run = self._run
        if run is not None and not run.done():
            run.cancel()
            with contextlib.suppress(ActivityError, asyncio.CancelledError):
                await run
        await self._cancelled("cancelled in Temporal")
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _set_status(self, status: JobStatus) -> None:
        if status is not self._status:
            self._status = status
            workflow.upsert_search_attributes([sa.JOB_STATUS.value_set(status.value)])
