"""The `tempoline executor` process, end to end: it registers with (a stand-in of) the API, runs
attempts from its own task queue on the Temporal dev server, drains on SIGTERM or when the API
asks, and takes its jobs' processes with it when it is killed."""

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import psutil
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from domain.platform.contracts import RunAttempt, executor_task_queue
from emulators.runner import RunningEmulator, start_in_thread
from tests.executor.doubles import spec
from tests.executor.platform_api import PlatformApi
from tests.executor.procs import all_gone, members, until
from tests.executor.workflows import OneAttempt, OneAttemptWorkflow

TEMPOLINE = str(Path(sys.executable).parent / "tempoline")


@pytest.fixture
def platform() -> Iterator[tuple[PlatformApi, RunningEmulator]]:
    api = PlatformApi()
    with start_in_thread(app=api.app()) as server:
        yield api, server


@asynccontextmanager
async def executor_process(
    settings: Settings, api: PlatformApi, url: str, tmp_path: Path, slots: int = 1
) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {
        **os.environ,
        "TEMPOLINE_API_URL": url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "TEMPOLINE_ENCRYPTION_KEY": settings.encryption_key or "",
        "TEMPOLINE_BOOTSTRAP_TOKEN": api.token(),
    }
    process = await asyncio.create_subprocess_exec(
        TEMPOLINE, "executor", "--worker-type", "shell", "--capability", "linux", "--slots", str(slots),
        env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _registered(api: PlatformApi) -> str:
    worker = await until(lambda: next(iter(api.workers.values()), None), 30, "registration")
    await until(lambda: worker.heartbeats, 10, "a heartbeat")
    return executor_task_queue(worker.id)


async def _start(client: Client, api: PlatformApi, queue: str, workflow_queue: str, script: str):
    job = RunAttempt(job_id=uuid.uuid4(), attempt=1, worker_id=next(iter(api.workers)))
    api.attempts.specs[(job.job_id, 1)] = spec(script=script)
    handle = await client.start_workflow(
        OneAttemptWorkflow.run,
        OneAttempt(run=job, task_queue=queue),
        id=f"job:{job.job_id}",
        task_queue=workflow_queue,
    )
    return job, handle


async def _started(handle) -> int:
    for _ in range(300):
        if pids := await handle.query("started_pids"):
            return pids[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the attempt never started")


@pytest.fixture
async def jobs(temporal: WorkflowEnvironment) -> AsyncIterator[str]:
    queue = f"test-{uuid.uuid4()}"
    async with Worker(temporal.client, task_queue=queue, workflows=[OneAttemptWorkflow]):
        yield queue


@pytest.mark.parametrize("how", ["sigterm", "api"])
async def test_drain_finishes_the_running_job_takes_no_new_one_and_deregisters(
    settings: Settings, temporal: WorkflowEnvironment, platform, jobs: str, tmp_path: Path, how: str
):
    api, server = platform
    async with executor_process(settings, api, server.url, tmp_path) as process:
        queue = await _registered(api)
        running_job, running = await _start(
            temporal.client, api, queue, jobs, "echo start; sleep 1.5; echo end"
        )
        await _started(running)
        waiting_job, waiting = await _start(temporal.client, api, queue, jobs, "echo never")  # one slot
        if how == "sigterm":
            process.send_signal(signal.SIGTERM)
        else:
            next(iter(api.workers.values())).drain = True
        result = await running.result()
        assert await asyncio.wait_for(process.wait(), 30) == 0
        assert process.stderr is not None
        lines = [json.loads(line) for line in (await process.stderr.read()).decode().splitlines()]
    assert result.exit_code == 0
    assert api.attempts.output(running_job.job_id, 1) == "start\nend\n"
    # Never taken (one slot): it waits for another worker.
    assert (waiting_job.job_id, 1) not in api.attempts.started
    assert api.attempts.output(waiting_job.job_id, 1) == ""
    await waiting.terminate("test finished")
    worker = next(iter(api.workers.values()))
    assert worker.deregistered
    assert {"running": 1, "draining": True} in worker.heartbeats
    draining = next(line for line in lines if line["event"] == "draining")
    assert draining["worker_id"] == str(worker.id) and draining["service"] == "executor"


async def test_sigkill_of_the_executor_kills_its_jobs_processes(
    settings: Settings, temporal: WorkflowEnvironment, platform, jobs: str, tmp_path: Path
):
    api, server = platform
    async with executor_process(settings, api, server.url, tmp_path) as process:
        queue = await _registered(api)
        _, handle = await _start(temporal.client, api, queue, jobs, "sleep 600 & sleep 600")
        running = await members(await _started(handle), 2)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        await all_gone(running)
        await handle.terminate("test finished")


async def test_100_mb_of_output_through_the_executor_process_in_bounded_memory(
    settings: Settings, temporal: WorkflowEnvironment, platform, jobs: str, tmp_path: Path
):
    """The benchmark's log case, measured on the executor process itself (real HTTP, real JSON)."""
    api, server = platform
    api.attempts.keep_data = False
    total = 100_000_000
    async with executor_process(settings, api, server.url, tmp_path) as process:
        queue = await _registered(api)
        executor = psutil.Process(process.pid)
        baseline = executor.memory_info().rss
        peak = baseline
        started = time.monotonic()
        script = f"yes 0123456789abcdef0123456789abcdef0123456789abcdef | head -c {total}"
        _, handle = await _start(temporal.client, api, queue, jobs, script)
        result_task = asyncio.create_task(handle.result())
        while not result_task.done():
            peak = max(peak, executor.memory_info().rss)
            await asyncio.sleep(0.02)
        took = time.monotonic() - started
        assert (await result_task).exit_code == 0
    assert api.attempts.bytes_by_stream["stdout"] == total
    growth = peak - baseline
    print(
        f"executor process, 100 MB of output: {took:.1f}s, {len(api.attempts.batches)} batches, "
        f"RSS {baseline / 2**20:.0f} MiB at rest, growth {growth / 2**20:.1f} MiB"
    )
    assert growth < 64 * 2**20


async def test_a_job_rides_out_an_api_restart(
    settings: Settings, temporal: WorkflowEnvironment, platform, jobs: str, tmp_path: Path
):
    """Connections the API refuses while it restarts are retried (nothing was sent); the job's
    output waits meanwhile, and nothing of it is lost."""
    api, server = platform
    async with executor_process(settings, api, server.url, tmp_path) as process:
        queue = await _registered(api)
        job, handle = await _start(
            temporal.client,
            api,
            queue,
            jobs,
            "i=0; while [ $i -lt 40 ]; do echo $i; sleep 0.05; i=$((i+1)); done",
        )
        await _started(handle)
        await until(lambda: api.attempts.batches, what="a first batch")
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(1.5)
        restarted = await asyncio.to_thread(start_in_thread, port=server.port, app=api.app())
        try:
            result = await handle.result()
        finally:
            await asyncio.to_thread(restarted.stop)
        assert process.returncode is None
    assert result.exit_code == 0
    assert api.attempts.output(job.job_id, 1) == "".join(f"{i}\n" for i in range(40))
