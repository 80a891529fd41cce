"""`platform.executor.run` in a real Temporal dev server, driven by a tiny job workflow."""

import asyncio
import signal
import time

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

from domain.platform.contracts import ATTEMPT_SUPERSEDED, SPEC_UNAVAILABLE, RunResult
from tests.executor.conftest import Executor
from tests.executor.doubles import spec
from tests.executor.procs import alive, members, until


async def _started_pid(handle) -> int:
    for _ in range(200):
        pids = await handle.query("started_pids")
        if pids:
            return pids[0]
        await asyncio.sleep(0.05)
    raise AssertionError("attempt_started never arrived")


def _cause(failure: pytest.ExceptionInfo[WorkflowFailureError]) -> BaseException:
    assert isinstance(failure.value.cause, ActivityError)
    assert failure.value.cause.cause is not None
    return failure.value.cause.cause


async def test_output_is_shipped_in_order_and_complete(executor: Executor):
    # Interleaved streams, a multi-byte character, no trailing newline, and a failing exit.
    script = 'for i in $(seq 1 2000); do echo "out $i"; echo "err $i" >&2; done; printf "é"; exit 7'
    job = executor.attempt(spec(script=script))
    handle = await executor.start(job)
    result = await handle.result()
    assert result.exit_code == 7 and result.signal is None and not result.timed_out
    stdout = executor.api.output(job.job_id, job.attempt, "stdout")
    stderr = executor.api.output(job.job_id, job.attempt, "stderr")
    assert stdout == "".join(f"out {i}\n" for i in range(1, 2001)) + "é"
    assert stderr == "".join(f"err {i}\n" for i in range(1, 2001))
    # The tail is the last of the output in the order it was read: it ends with whichever
    # stream was read last (stdout's "é" may come before or after stderr's last line).
    assert result.output_tail.endswith(("é", "err 2000\n"))
    assert len(result.output_tail.encode()) <= 4096
    # Batched: 35 kB of output in a handful of requests, not 4000.
    assert len(executor.api.batches) < 50
    # The API recorded the start, with the process's pid.
    [(attempt, pid)] = executor.api.started.items()
    assert attempt == (job.job_id, job.attempt) and pid > 1


async def test_the_workflow_hears_of_a_start_once_the_process_has_run_a_while(executor: Executor):
    # A job that ends sooner goes from scheduled to its end there: no signal, no workflow task.
    executor.run.tell_running_after = 30
    quick = executor.attempt(spec(command=["true"]))
    handle = await executor.start(quick)
    assert (await handle.result()).exit_code == 0
    assert (quick.job_id, quick.attempt) in executor.api.started
    assert await handle.query("started_pids") == []
    # One still running then is told, after the API recorded it, with the same pid.
    executor.run.tell_running_after = 0.2
    slow = executor.attempt(spec(command=["sleep", "1"]))
    handle = await executor.start(slow)
    pid = await _started_pid(handle)
    assert executor.api.started[(slow.job_id, slow.attempt)] == pid
    assert (await handle.result()).exit_code == 0


async def test_command_argv_and_env_are_the_specs(executor: Executor, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TEMPOLINE_ENCRYPTION_KEY", "the-executors-own-secret")
    job = executor.attempt(spec(command=["printf", "%s|%s", "a b", "$NOT_EXPANDED"], env={"X": "1"}))
    result = await (await executor.start(job)).result()
    assert result.exit_code == 0
    assert executor.api.output(job.job_id, job.attempt) == "a b|$NOT_EXPANDED"

    job = executor.attempt(
        spec(
            script='echo "$SECRET_TOKEN"; echo "${TEMPOLINE_ENCRYPTION_KEY:-unset}"',
            env={"SECRET_TOKEN": "s3cr3t"},
        )
    )
    result = await (await executor.start(job)).result()
    # The job's env reaches it; the executor's own settings do not.
    assert executor.api.output(job.job_id, job.attempt) == "s3cr3t\nunset\n"


async def test_cancel_kills_the_process_group(executor: Executor):
    job = executor.attempt(spec(script="sleep 600 & sleep 600", grace=5))
    handle = await executor.start(job)
    pid = await _started_pid(handle)
    running = await members(pid, 2)
    started = time.monotonic()
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    took = time.monotonic() - started
    assert isinstance(failed.value.cause, CancelledError)
    # WAIT_CANCELLATION_COMPLETED: the workflow learns of the cancel after the group is gone.
    assert not [p for p in running if alive(p)]
    print(f"cancel to workflow closed, every pid gone: {took:.3f}s")


async def test_a_grace_period_longer_than_the_heartbeat_timeout_is_waited_out(executor: Executor):
    # The job ignores SIGTERM: its stop takes the whole grace period, twice the heartbeat
    # timeout. The activity heartbeats meanwhile, so the workflow closes once all is gone.
    job = executor.attempt(spec(script="trap '' TERM; sleep 600 & sleep 600", grace=4))
    handle = await executor.start(job, heartbeat_timeout_seconds=2)
    running = await members(await _started_pid(handle), 2)
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert isinstance(failed.value.cause, CancelledError)
    assert not [p for p in running if alive(p)]


async def test_run_timeout_kills_the_group_and_says_timed_out(executor: Executor):
    job = executor.attempt(
        spec(script="echo before; trap '' TERM; sleep 600 & sleep 600", run_timeout=1, grace=0.5)
    )
    handle = await executor.start(job)
    pid = await _started_pid(handle)
    running = await members(pid, 2)
    result: RunResult = await handle.result()
    assert result.timed_out and result.exit_code is None and result.signal == signal.SIGKILL
    assert result.output_tail == "before\n"
    assert executor.api.output(job.job_id, job.attempt) == "before\n"
    assert not [p for p in running if alive(p)]


async def test_fenced_attempt_is_killed_and_superseded(executor: Executor):
    job = executor.attempt(spec(script="sleep 600 & while true; do echo tick; sleep 0.05; done"))
    handle = await executor.start(job)
    pid = await _started_pid(handle)
    running = await members(pid, 2)
    executor.api.fenced.add((job.job_id, job.attempt))  # another attempt took over
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    cause = _cause(failed)
    assert isinstance(cause, ApplicationError) and cause.type == ATTEMPT_SUPERSEDED and cause.non_retryable
    assert not [p for p in running if alive(p)]


async def test_a_chatty_fenced_attempt_is_killed_at_once(executor: Executor):
    # Output fills the pipes while the executor stops reading them: the kill must not wait for
    # pipes nobody reads any more.
    job = executor.attempt(spec(script="sleep 600 & yes"))
    handle = await executor.start(job, start_to_close_seconds=20)
    running = await members(await _started_pid(handle), 2)
    await until(lambda: len(executor.api.batches) >= 3, what="a few batches")
    executor.api.fenced.add((job.job_id, job.attempt))
    started = time.monotonic()
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    cause = _cause(failed)
    assert isinstance(cause, ApplicationError) and cause.type == ATTEMPT_SUPERSEDED, cause
    assert time.monotonic() - started < 5
    assert not [p for p in running if alive(p)]


async def test_fenced_before_start_runs_nothing(executor: Executor):
    job = executor.attempt(spec(script="echo should not run"))
    executor.api.fenced.add((job.job_id, job.attempt))
    with pytest.raises(WorkflowFailureError) as failed:
        await (await executor.start(job)).result()
    cause = _cause(failed)
    assert isinstance(cause, ApplicationError) and cause.type == ATTEMPT_SUPERSEDED
    assert executor.api.chunks == {}


async def test_unknown_attempt_is_spec_unavailable(executor: Executor):
    job = executor.attempt(spec(script="true"))
    del executor.api.specs[(job.job_id, job.attempt)]
    with pytest.raises(WorkflowFailureError) as failed:
        await (await executor.start(job)).result()
    cause = _cause(failed)
    assert isinstance(cause, ApplicationError) and cause.type == SPEC_UNAVAILABLE and cause.non_retryable
