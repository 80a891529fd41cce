import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.executor import ExecutorRun
from cli.executor import executor_worker
from clients.tempoline_api import AttemptSpec
from domain.platform.contracts import RunAttempt, RunResult
from tests.executor.doubles import MemoryAttempts
from tests.executor.workflows import OneAttempt, OneAttemptWorkflow


@dataclass
class Executor:
    """One executor's worker and the in-memory API it talks to, plus a job workflow's queue."""

    client: Client
    api: MemoryAttempts
    run: ExecutorRun
    task_queue: str
    workflow_queue: str

    def attempt(self, spec: AttemptSpec, attempt: int = 1) -> RunAttempt:
        job = RunAttempt(job_id=uuid.uuid4(), attempt=attempt, worker_id=uuid.uuid4())
        self.api.specs[(job.job_id, job.attempt)] = spec
        return job

    async def start(self, job: RunAttempt, **options: float) -> WorkflowHandle[OneAttemptWorkflow, RunResult]:
        return await self.client.start_workflow(
            OneAttemptWorkflow.run,
            OneAttempt(run=job, task_queue=self.task_queue, **options),
            id=f"job:{job.job_id}",
            task_queue=self.workflow_queue,
        )


@pytest.fixture
async def executor(temporal: WorkflowEnvironment) -> AsyncIterator[Executor]:
    api = MemoryAttempts()
    run = ExecutorRun(api, linger_seconds=0.05)
    queue = f"platform-executor-{uuid.uuid4()}"
    workflow_queue = f"test-{uuid.uuid4()}"
    worker = executor_worker(temporal.client, run, queue, slots=4, drain_timeout=timedelta(seconds=5))
    jobs = Worker(temporal.client, task_queue=workflow_queue, workflows=[OneAttemptWorkflow])
    async with worker, jobs:
        yield Executor(temporal.client, api, run, queue, workflow_queue)
