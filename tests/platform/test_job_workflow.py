"""The job workflow end to end on the dev server and the real store, with executor doubles."""

import asyncio
import contextlib
import uuid

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import CancelledError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain import search_attributes as sa
from domain.platform.contracts import RunAttempt
from domain.platform.spec import Backoff, JobSpec
from domain.platform.status import JobStatus
from tests.platform.harness import PATIENCE, Behaviour, Executors, platform

S = JobStatus


@pytest.fixture
def client(temporal: WorkflowEnvironment, clean_db: None) -> Client:
    return temporal.client


async def test_a_job_runs_and_every_step_is_audited(client: Client, settings: Settings) -> None:
    async with platform(client, settings) as p, p.serving():
        worker = await p.add_worker()
        handle = await p.submit()
        async with asyncio.timeout(PATIENCE):
            assert await handle.result() is S.SUCCEEDED
        job_id = uuid.UUID(handle.id.removeprefix("job:"))
        assert p.audit(job_id) == [
            (1, "JobCreated", None),
            (2, "JobScheduled", 1),
            (3, "JobStarted", 1),
            (4, "JobCompleted", 1),
        ]
        row = p.job(job_id)
        assert (row["status"], row["exit_code"], row["worker_id"], row["output_tail"]) == (
            "SUCCEEDED",
            0,
            worker,
            "out\n",
        )
        correlation = p.sql("SELECT DISTINCT correlation_id FROM audit_log WHERE job_id = %s", (job_id,))
        assert correlation == [(f"test-{job_id}",)]
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(sa.JOB_STATUS) == "SUCCEEDED"


async def test_a_failing_command_is_retried_to_max_attempts_then_failed(
    client: Client, settings: Settings
) -> None:
    executors = Executors(behaviour=lambda _: Behaviour(exit_code=3))
    spec = JobSpec(name="flaky", command=["false"], max_attempts=3, backoff=Backoff(initial_seconds=0.1))
    async with platform(client, settings, executors) as p, p.serving():
        await p.add_worker()
        handle = await p.submit(spec)
        async with asyncio.timeout(PATIENCE):
            assert await handle.result() is S.FAILED
        job_id = uuid.UUID(handle.id.removeprefix("job:"))
        events = [e for _, e, _ in p.audit(job_id)]
        assert events == ["JobCreated"] + ["JobScheduled", "JobStarted", "JobRetrying"] * 2 + [
            "JobScheduled",
            "JobStarted",
            "JobFailed",
        ]
        row = p.job(job_id)
        assert (row["attempt"], row["exit_code"]) == (3, 3)
        assert [r.attempt for r in executors.runs] == [1, 2, 3]


async def test_run_timeout_ends_timed_out_without_retry(client: Client, settings: Settings) -> None:
    executors = Executors(behaviour=lambda _: Behaviour(timed_out=True))
    async with platform(client, settings, executors) as p, p.serving():
        await p.add_worker()
        handle = await p.submit(JobSpec(name="slow", command=["sleep", "9"], max_attempts=3))
        async with asyncio.timeout(PATIENCE):
            assert await handle.result() is S.TIMED_OUT
        assert len(executors.runs) == 1


async def test_cancel_kills_the_process_before_the_job_is_cancelled(
    client: Client, settings: Settings
) -> None:
    executors = Executors(behaviour=lambda _: Behaviour(hang=True))
    async with platform(client, settings, executors) as p, p.serving():
        await p.add_worker()
        handle = await p.submit()
        await executors.until(lambda: len(executors.runs) == 1)
        async with asyncio.timeout(PATIENCE):
            await handle.execute_update("cancel", result_type=JobStatus)
            assert await handle.result() is S.CANCELLED
        [ran] = executors.runs
        assert ran.cancelled and ran.ended is not None
        job_id = uuid.UUID(handle.id.removeprefix("job:"))
        assert p.audit(job_id)[-1][1] == "JobCancelled"
        # The slot it held is free: the next job runs.
        executors.behaviour = lambda _: Behaviour()
        async with asyncio.timeout(PATIENCE):
            assert await (await p.submit()).result() is S.SUCCEEDED


async def test_temporals_own_cancel_is_recorded_after_the_process_died(
    client: Client, settings: Settings
) -> None:
    executors = Executors(behaviour=lambda _: Behaviour(hang=True))
    async with platform(client, settings, executors) as p, p.serving():
        await p.add_worker()
        handle = await p.submit()
        await executors.until(lambda: len(executors.runs) == 1)
        await handle.cancel()  # as `temporal workflow cancel -w job:<id>` does
        with pytest.raises(WorkflowFailureError) as ended:
            async with asyncio.timeout(PATIENCE):
                await handle.result()
        assert isinstance(ended.value.cause, CancelledError)
        assert executors.runs[0].cancelled
        job_id = uuid.UUID(handle.id.removeprefix("job:"))
        assert p.job(job_id)["status"] == "CANCELLED"
        assert p.audit(job_id)[-1][1] == "JobCancelled"


async def test_a_dead_workers_job_runs_again_elsewhere_and_its_late_result_is_refused(
    client: Client, settings: Settings
) -> None:
    first: list[uuid.UUID] = []

    def behaviour(attempt: RunAttempt) -> Behaviour:
        return Behaviour(zombie=True) if attempt.worker_id in first else Behaviour()

    executors = Executors(behaviour=behaviour)
    async with platform(client, settings, executors) as p, p.serving():
        first.append(await p.add_worker())
        handle = await p.submit(
            JobSpec(name="j", command=["true"], max_attempts=2, backoff=Backoff(initial_seconds=0.1))
        )
        await executors.until(lambda: len(executors.runs) == 1)
        p.lose_worker(first[0])
        second = await p.add_worker()
        async with asyncio.timeout(PATIENCE):
            assert await handle.result() is S.SUCCEEDED
        job_id = uuid.UUID(handle.id.removeprefix("job:"))
        assert [(r.attempt, r.worker_id) for r in executors.runs] == [(1, first[0]), (2, second)]
        assert p.job(job_id)["worker_id"] == second
        # The dead attempt's late result: Temporal refuses it (its attempt timed out).
        with pytest.raises(Exception, match=r"(?i)not found|invalid|timeout|complete"):
            await client.get_async_activity_handle(task_token=executors.runs[0].task_token).complete("late")
        events = [(e, a) for _, e, a in p.audit(job_id)]
        assert ("JobRetrying", 1) in events and events[-1] == ("JobCompleted", 2)


async def test_priority_order_under_one_slot(client: Client, settings: Settings) -> None:
    executors = Executors(behaviour=lambda _: Behaviour(seconds=0.3))
    async with platform(client, settings, executors) as p, p.serving():
        blocker = await p.submit(JobSpec(name="first", command=["true"]))
        handles = {
            prio: await p.submit(JobSpec(name=f"p{prio}", command=["true"], priority=prio))
            for prio in (1, 9, 5, 7)
        }
        # Every job is queued before the one worker appears.
        await asyncio.sleep(1)
        await p.add_worker(slots=1)
        async with asyncio.timeout(PATIENCE):
            for handle in [blocker, *handles.values()]:
                assert await handle.result() is S.SUCCEEDED
        order = [r.job_id for r in sorted(executors.runs, key=lambda r: r.started)]
        by_id = {uuid.UUID(h.id.removeprefix("job:")): prio for prio, h in handles.items()}
        # "first" has the default priority 5 and was submitted before the priority 5 job.
        assert [by_id.get(j, "first") for j in order] == [9, 7, "first", 5, 1]


async def test_a_lone_job_is_not_starved_by_another_tenants_backlog(
    client: Client, settings: Settings
) -> None:
    executors = Executors(behaviour=lambda _: Behaviour(seconds=0.2))
    async with platform(client, settings, executors) as p, p.serving():
        backlog = [await p.submit(tenant="big") for _ in range(200)]
        await p.add_worker(slots=2)
        await executors.until(lambda: len(executors.runs) >= 4)
        lone = await p.submit(tenant="small")
        lone_id = uuid.UUID(lone.id.removeprefix("job:"))
        async with asyncio.timeout(PATIENCE):
            await executors.until(lambda: any(r.job_id == lone_id for r in executors.runs))
        before = sum(1 for r in executors.runs if r.job_id != lone_id)
        submitted_at = len(executors.runs) - 1
        # It starts within the time of a few jobs (two slots: at most one from each).
        assert before - submitted_at <= 3
        for handle in backlog:
            with contextlib.suppress(RPCError):  # those that finished
                await handle.terminate("done with this test")


async def test_a_concurrency_key_limits_running_jobs(client: Client, settings: Settings) -> None:
    executors = Executors(behaviour=lambda _: Behaviour(seconds=0.3))
    spec = JobSpec(name="k", command=["true"], concurrency={"key": "customer-1", "limit": 2})
    async with platform(client, settings, executors) as p, p.serving():
        await p.add_worker(slots=8)
        handles = [await p.submit(spec) for _ in range(6)]
        most = 0
        while not all(r.ended for r in executors.runs) or len(executors.runs) < 6:
            most = max(most, len(executors.running()))
            await asyncio.sleep(0.02)
        async with asyncio.timeout(PATIENCE):
            for handle in handles:
                assert await handle.result() is S.SUCCEEDED
        assert most == 2


async def test_a_job_with_no_worker_waits_with_its_reason_then_times_out(
    client: Client, settings: Settings
) -> None:
    from datetime import timedelta

    async with platform(client, settings) as p, p.serving():
        await p.add_worker()  # of another type
        handle = await p.submit(
            JobSpec(name="g", command=["nvidia-smi"], worker_type="gpu"), queue_timeout=timedelta(seconds=3)
        )
        job_id = uuid.UUID(handle.id.removeprefix("job:"))
        async with asyncio.timeout(PATIENCE):
            while p.job(job_id)["wait_reason"] is None:  # noqa: ASYNC110 (polls the store)
                await asyncio.sleep(0.1)
        assert p.job(job_id)["wait_reason"] == "waiting for a worker of type gpu: none registered"
        assert p.job(job_id)["status"] == "PENDING"
        async with asyncio.timeout(PATIENCE):
            assert await handle.result() is S.TIMED_OUT
        assert p.audit(job_id)[-1][1] == "JobTimedOut"
        assert "none registered" in p.job(job_id)["error"]


async def test_audit_is_gapless_for_a_batch_with_a_worker_restart(client: Client, settings: Settings) -> None:
    executors = Executors(behaviour=lambda _: Behaviour(seconds=0.05))
    async with platform(client, settings, executors) as p:
        await p.add_worker(slots=4)
        async with p.serving():
            handles = [await p.submit() for _ in range(50)]
            await executors.until(lambda: len(executors.runs) >= 10)
        # The job workflows' worker is stopped in the middle of the batch, then started again.
        async with p.serving(), asyncio.timeout(PATIENCE * 3):
            for handle in handles:
                assert await handle.result() is S.SUCCEEDED
        rows = p.sql(
            "SELECT job_id, array_agg(seq ORDER BY seq), array_agg(event ORDER BY seq)"
            " FROM audit_log GROUP BY job_id"
        )
        assert len(rows) == 50
        for _, seqs, events in rows:
            assert seqs == list(range(1, len(seqs) + 1))
            assert events == ["JobCreated", "JobScheduled", "JobStarted", "JobCompleted"]


async def test_two_cancels_in_one_workflow_task_the_second_is_refused(
    client: Client, settings: Settings
) -> None:
    executors = Executors(behaviour=lambda _: Behaviour(hang=True))
    async with platform(client, settings, executors) as p:
        await p.add_worker()
        async with p.serving():
            handle = await p.submit()
            await executors.until(lambda: len(executors.runs) == 1)
        # No workflow worker: both updates wait at the server and reach the workflow in one task.
        first = asyncio.create_task(handle.execute_update("cancel", result_type=JobStatus))
        await asyncio.sleep(0.5)
        second = asyncio.create_task(handle.execute_update("cancel", result_type=JobStatus))
        await asyncio.sleep(0.5)
        async with p.serving(), asyncio.timeout(PATIENCE):
            await first
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await second
            assert "already under way" in str(refused.value.cause)
            assert await handle.result() is S.CANCELLED
