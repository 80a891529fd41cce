"""The executor's one activity, `platform.executor.run`: run an attempt of a job to its end.

It fetches the attempt's spec from the API (command or script, env with secrets, limits: none of
it travels in a Temporal payload), runs it in a process group under a reaper
(activities/process_group.py), has the API record the job RUNNING once the process runs (and
tells the job workflow if it still runs TELL_RUNNING_AFTER_SECONDS later), ships its output in
batches (activities/job_output.py), and heartbeats until it ends. Whatever ends the activity
early (Temporal's cancel, the run timeout, the attempt being fenced, the API failing) ends the
process group first: no process of an attempt outlives its activity.
"""

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.heartbeat import heartbeating
from activities.job_output import BATCH_BYTES, LINGER_SECONDS, JobOutput
from activities.process_group import Exit, ProcessGroup
from clients.tempoline_api import (
    ApiError,
    AttemptApi,
    AttemptFenced,
    AttemptSpec,
    NotFound,
    Unauthorized,
)
from domain.platform.contracts import (
    ATTEMPT_STARTED,
    ATTEMPT_SUPERSEDED,
    RUN_ACTIVITY,
    SPEC_UNAVAILABLE,
    AttemptStarted,
    RunAttempt,
    RunResult,
)

T = TypeVar("T")

# What a job inherits from the executor's environment; everything else of it (the executor's
# own key, TEMPOLINE_* settings) stays out of the job's reach. The job's env wins.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
# After the process group is gone: how long the last of its output may take to reach the API
# before a cancelled activity gives up on it.
LAST_OUTPUT_SECONDS = 5.0
# A running job heartbeats this often: a cancel reaches it within about a second (with the
# executor worker's 1 s heartbeat throttle, cli/executor.py).
HEARTBEAT_SECONDS = 0.5
# The job workflow hears that the process runs (its status query, the JobStatus search
# attribute) once it has run this long (ExecutorRun.tell_running_after). A job that ends
# sooner goes from SCHEDULED to its end there, one signal and one workflow task the fewer; the
# API (the store) has it RUNNING from its start either way.
TELL_RUNNING_AFTER_SECONDS = 0.25


def job_environment(env: Mapping[str, str]) -> dict[str, str]:
    base = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
    base.setdefault("PATH", DEFAULT_PATH)
    return {**base, **env}


def job_argv(spec: AttemptSpec) -> list[str]:
    if spec.command:
        return list(spec.command)
    if spec.script is not None:
        return ["/bin/sh", "-c", spec.script]
    raise ApplicationError(
        "the attempt's spec has neither a command nor a script", type=SPEC_UNAVAILABLE, non_retryable=True
    )


def _application_error(exc: ApiError) -> ApplicationError:
    if isinstance(exc, AttemptFenced):
        return ApplicationError(
            f"this attempt lost its claim: {exc}", type=ATTEMPT_SUPERSEDED, non_retryable=True
        )
    if isinstance(exc, NotFound):
        return ApplicationError(str(exc), type=SPEC_UNAVAILABLE, non_retryable=True)
    if isinstance(exc, Unauthorized):
        return ApplicationError(str(exc), type="ExecutorUnauthorized", non_retryable=True)
    return ApplicationError(str(exc), type="TempolineApiUnavailable")


async def _all(*tasks: "asyncio.Task[object]") -> None:
    """Waits for every task, raising the first failure at once; cancelling the wait leaves the
    tasks running (the output must still drain while the group is being stopped)."""
    pending = set(tasks)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()


async def _uninterrupted(awaitable: "asyncio.Future[T]") -> T:
    """Awaits to the end even if cancelled again meanwhile (a second cancel must not leave a
    process group half stopped); the cancel is raised after."""
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(awaitable)
        except asyncio.CancelledError:
            if awaitable.done():
                raise
            cancelled = True
            continue
        if cancelled:
            raise asyncio.CancelledError
        return result


class ExecutorRun:
    """The run activity, with the API it talks to injected."""

    def __init__(
        self,
        api: AttemptApi,
        *,
        batch_bytes: int = BATCH_BYTES,
        linger_seconds: float = LINGER_SECONDS,
        tell_running_after: float = TELL_RUNNING_AFTER_SECONDS,
    ) -> None:
        self._api = api
        self._batch_bytes = batch_bytes
        self._linger = linger_seconds
        self.tell_running_after = tell_running_after
        self.running = 0  # attempts whose process runs now (the executor's heartbeat reports it)

    @activity.defn(name=RUN_ACTIVITY)
    async def run(self, request: RunAttempt) -> RunResult:
        try:
            spec = await self._api.attempt_spec(request.job_id, request.attempt)
        except ApiError as exc:
            raise _application_error(exc) from exc
        argv = job_argv(spec)
        with tempfile.TemporaryDirectory(
            prefix=f"tempoline-job-{request.job_id}-{request.attempt}-", ignore_cleanup_errors=True
        ) as scratch:
            # A scratch directory as cwd: the executor's own (and a .env there) is none of the job's business.
            group = await ProcessGroup.start(argv, job_environment(spec.env), Path(scratch))
            self.running += 1
            try:
                return await self._supervise(request, spec, group)
            finally:
                self.running -= 1

    async def _supervise(self, request: RunAttempt, spec: AttemptSpec, group: ProcessGroup) -> RunResult:
        output = JobOutput(
            lambda chunks: self._api.ship_logs(request.job_id, request.attempt, chunks),
            batch_bytes=self._batch_bytes,
            linger_seconds=self._linger,
        )
        pump = asyncio.create_task(output.pump(group.stdout, group.stderr))
        exited = asyncio.create_task(group.wait())
        told: asyncio.Task[None] | None = None
        timed_out = False
        # Heartbeats go on while the group is being stopped: a grace period longer than the
        # heartbeat timeout must not let the workflow move on while the job still runs.
        async with heartbeating(HEARTBEAT_SECONDS):
            try:
                await self._api.attempt_started(request.job_id, request.attempt, group.pid)
                told = asyncio.create_task(self._tell_running(request, group.pid, exited))
                try:
                    async with asyncio.timeout(spec.run_timeout_seconds) as deadline:
                        await _all(pump, exited, told)
                except TimeoutError:
                    if not deadline.expired():
                        raise
                    timed_out = True
                    activity.logger.info("run timeout: stopping the job", extra={"pid": group.pid})
                    await _uninterrupted(asyncio.ensure_future(group.stop(spec.grace_seconds)))
                    await _all(pump, exited)
            except asyncio.CancelledError:
                details = activity.cancellation_details()
                activity.logger.info(
                    "cancelled: stopping the job", extra={"pid": group.pid, "why": str(details)}
                )
                await _uninterrupted(asyncio.ensure_future(group.stop(spec.grace_seconds)))
                with contextlib.suppress(Exception, TimeoutError):
                    async with asyncio.timeout(LAST_OUTPUT_SECONDS):
                        await asyncio.shield(pump)
                raise
            except ApiError as exc:
                # Fenced: another attempt holds the job, this one must stop at once (SIGKILL, no
                # grace); any other failure to store output ends the attempt the same way.
                group.kill()
                await _uninterrupted(exited)
                raise _application_error(exc) from exc
            except BaseException:
                group.kill()
                await _uninterrupted(exited)
                raise
            finally:
                for task in (pump, told):
                    if task is None:
                        continue
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
                await _uninterrupted(asyncio.ensure_future(group.close()))
        end = exited.result()
        return RunResult(
            exit_code=end.exit_code, signal=end.signal, timed_out=timed_out, output_tail=output.tail
        )

    async def _tell_running(self, request: RunAttempt, pid: int, exited: "asyncio.Task[Exit]") -> None:
        """Tells the job workflow (the one that scheduled this activity) that the process the
        API recorded RUNNING still runs; it takes note without a store call of its own."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(exited), self.tell_running_after)
            return
        info = activity.info()
        started = AttemptStarted(attempt=request.attempt, worker_id=request.worker_id, pid=pid, recorded=True)
        try:
            await activity.client().get_workflow_handle(info.workflow_id).signal(ATTEMPT_STARTED, started)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:  # the job's workflow has ended
                raise AttemptFenced(f"signal {ATTEMPT_STARTED}", 404, "the job's workflow has ended") from exc
            raise
