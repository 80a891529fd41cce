"""The platform's job workflows on the dev server and the real store, with a double of the
executor's run activity registered under `platform.executor.run` on each worker's own queue.

Each test gets a uuid task queue for its job workflows; worker ids are fresh uuids, so their
executor queues are the test's own too.
"""

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.dependencies import Dependencies
from activities.platform_store import PlatformStore
from clients.platform_jobs import tell_assigned
from core.settings import Settings
from domain.platform.contracts import (
    ATTEMPT_STARTED,
    RUN_ACTIVITY,
    AttemptStarted,
    JobStart,
    RunAttempt,
    RunResult,
    executor_task_queue,
    job_workflow_id,
)
from domain.platform.spec import JobSpec, Strategy
from domain.platform.status import JobStatus
from store.db import Database
from store.platform_queue import place_waiting
from workflows.platform import PlatformJobWorkflow

PATIENCE = 30  # seconds any one wait below may take


@dataclass(frozen=True)
class Behaviour:
    """What the double does for an attempt: exits with `exit_code` after `seconds`; `hang`
    runs until cancelled (heartbeating); `zombie` stops heartbeating (a killed executor) and
    tries to report success once `release` is set; `timed_out` reports the run timeout."""

    exit_code: int = 0
    seconds: float = 0.05
    hang: bool = False
    zombie: bool = False
    timed_out: bool = False


@dataclass
class Ran:
    job_id: uuid.UUID
    attempt: int
    worker_id: uuid.UUID
    started: float
    ended: float | None = None
    cancelled: bool = False
    task_token: bytes = b""


@dataclass
class Executors:
    """The run-activity double, shared by every worker of a test."""

    behaviour: Callable[[RunAttempt], Behaviour] = lambda _: Behaviour()
    runs: list[Ran] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def running(self) -> list[Ran]:
        return [r for r in self.runs if r.ended is None]

    async def until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(PATIENCE):
            while not done():
                self.changed.clear()
                await self.changed.wait()

    def activity(self) -> Callable[..., Any]:
        @activity.defn(name=RUN_ACTIVITY)
        async def run(attempt: RunAttempt) -> RunResult:
            behaviour = self.behaviour(attempt)
            ran = Ran(attempt.job_id, attempt.attempt, attempt.worker_id, time.monotonic())
            ran.task_token = activity.info().task_token
            self.runs.append(ran)
            self.changed.set()
            await (
                activity.client()
                .get_workflow_handle(job_workflow_id(attempt.job_id))
                .signal(
                    ATTEMPT_STARTED,
                    AttemptStarted(attempt=attempt.attempt, worker_id=attempt.worker_id, pid=4242),
                )
            )
            try:
                if behaviour.zombie:
                    await self.release.wait()
                    return RunResult(exit_code=0, signal=None, timed_out=False, output_tail="late")
                until = time.monotonic() + behaviour.seconds
                while behaviour.hang or time.monotonic() < until:
                    activity.heartbeat()
                    await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                ran.cancelled = True
                raise
            finally:
                ran.ended = time.monotonic()
                self.changed.set()
            if behaviour.timed_out:
                return RunResult(exit_code=None, signal=9, timed_out=True, output_tail="killed")
            return RunResult(exit_code=behaviour.exit_code, signal=None, timed_out=False, output_tail="out\n")

        return run


class Platform:
    def __init__(self, client: Client, settings: Settings, executors: Executors) -> None:
        self.client, self.settings, self.executors = client, settings, executors
        self.queue = f"platform-test-{uuid.uuid4()}"
        self.tenants: dict[str, uuid.UUID] = {}
        self._stack = AsyncExitStack()
        self._executors: dict[uuid.UUID, Worker] = {}

    def sql(self, query: str, params: dict[str, Any] | tuple[Any, ...] | None = None) -> list[Any]:
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:  # type: ignore[arg-type]
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def tenant(self, name: str = "acme") -> uuid.UUID:
        if name not in self.tenants:
            tenant_id = uuid.uuid4()
            self.sql("INSERT INTO tenants (id, name) VALUES (%s, %s)", (tenant_id, f"{name}-{tenant_id}"))
            self.tenants[name] = tenant_id
        return self.tenants[name]

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """The job workflows' queue, served in-process."""
        async with Dependencies.open(self.settings) as deps:
            store = PlatformStore(deps)
            async with Worker(
                self.client,
                task_queue=self.queue,
                workflows=[PlatformJobWorkflow],
                activities=[store.enqueue, store.started, store.finish, store.expire, store.cancel],
            ):
                yield

    async def add_worker(
        self,
        worker_type: str = "default",
        slots: int = 4,
        capabilities: tuple[str, ...] = (),
        serve: bool = True,
    ) -> uuid.UUID:
        worker_id = uuid.uuid4()
        self.sql(
            """INSERT INTO platform_workers (id, tenant_id, shared, worker_type, capabilities, slots,
               cpu_millis, memory_mb, hostname) VALUES (%s, %s, true, %s, %s, %s, 100000, 100000, 'test')""",
            (worker_id, self.tenant("operator"), worker_type, list(capabilities), slots),
        )
        if serve:
            await self.serve_executor(worker_id)
        await self.pass_()
        return worker_id

    async def pass_(self) -> None:
        """A scheduler pass, as the API runs when a worker registers or comes back."""
        database = Database(self.settings.database_url)  # type: ignore[arg-type]
        try:
            async with database.engine.begin() as connection:
                placed = await place_waiting(connection, timedelta(seconds=30))
        finally:
            await database.close()
        await tell_assigned(self.client, placed)

    async def serve_executor(self, worker_id: uuid.UUID) -> None:
        worker = Worker(
            self.client, task_queue=executor_task_queue(worker_id), activities=[self.executors.activity()]
        )
        self._executors[worker_id] = worker
        await self._stack.enter_async_context(worker)

    def lose_worker(self, worker_id: uuid.UUID) -> None:
        """As kill -9 does: no more heartbeats from it (its zombie runs stay in-process)."""
        self.sql(
            "UPDATE platform_workers SET heartbeat_at = now() - interval '1 hour' WHERE id = %s", (worker_id,)
        )

    async def close(self) -> None:
        self.executors.release.set()
        await self._stack.aclose()

    async def submit(
        self, spec: JobSpec | None = None, tenant: str = "acme", **timing: Any
    ) -> WorkflowHandle[PlatformJobWorkflow, JobStatus]:
        spec = spec or JobSpec(name="job", command=["true"])
        job_id = uuid.uuid4()
        tenant_id = self.tenant(tenant)
        body = spec.model_dump(mode="json")
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(
                """INSERT INTO platform_jobs (id, tenant_id, idempotency_key, request_hash, correlation_id,
                   name, spec, labels, worker_type, capabilities, priority, cpu_millis, memory_mb, strategy,
                   concurrency_key, concurrency_limit, status, last_seq)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'PENDING', 1)""",
                (
                    job_id,
                    tenant_id,
                    str(job_id),
                    hashlib.sha256(b"x").hexdigest(),
                    f"test-{job_id}",
                    spec.name,
                    json.dumps(body),
                    json.dumps(spec.labels),
                    spec.worker_type,
                    spec.capabilities,
                    spec.priority,
                    spec.cpu_millis,
                    spec.memory_mb,
                    (spec.strategy or Strategy.LEAST_LOADED).value,
                    spec.concurrency.key if spec.concurrency else None,
                    spec.concurrency.limit if spec.concurrency else None,
                ),
            )
            conn.execute(
                """INSERT INTO audit_log (tenant_id, job_id, seq, event, status, correlation_id)
                   VALUES (%s, %s, 1, 'JobCreated', 'PENDING', %s)""",
                (tenant_id, job_id, f"test-{job_id}"),
            )
        start = job_start(spec, job_id, tenant_id, **timing)
        return await self.client.start_workflow(
            PlatformJobWorkflow.run, start, id=job_workflow_id(job_id), task_queue=self.queue
        )

    def audit(self, job_id: uuid.UUID) -> list[tuple[int, str, int | None]]:
        return [
            (r[0], r[1], r[2])
            for r in self.sql(
                "SELECT seq, event, attempt FROM audit_log WHERE job_id = %s ORDER BY seq", (job_id,)
            )
        ]

    def job(self, job_id: uuid.UUID) -> dict[str, Any]:
        with psycopg.connect(
            self.settings.database_url, autocommit=True, row_factory=psycopg.rows.dict_row
        ) as conn:  # type: ignore[arg-type]
            row = conn.execute("SELECT * FROM platform_jobs WHERE id = %s", (job_id,)).fetchone()
        assert row is not None
        return row


def job_start(spec: JobSpec, job_id: uuid.UUID, tenant_id: uuid.UUID, **timing: Any) -> JobStart:
    fields: dict[str, Any] = {
        "job_id": job_id,
        "tenant_id": tenant_id,
        "worker_type": spec.worker_type,
        "priority": spec.priority,
        "run_timeout": timedelta(seconds=spec.run_timeout_seconds),
        "queue_timeout": timedelta(seconds=spec.queue_timeout_seconds),
        "grace": timedelta(seconds=spec.grace_seconds),
        "max_attempts": spec.max_attempts,
        "backoff_initial": timedelta(seconds=spec.backoff.initial_seconds),
        "backoff_coefficient": spec.backoff.coefficient,
        "backoff_maximum": timedelta(seconds=spec.backoff.maximum_seconds),
        "heartbeat_timeout": timedelta(seconds=2),
        "schedule_to_start_timeout": timedelta(seconds=5),
    }
    return JobStart(**{**fields, **timing})


@asynccontextmanager
async def platform(
    client: Client, settings: Settings, executors: Executors | None = None
) -> AsyncIterator[Platform]:
    world = Platform(client, settings, executors or Executors())
    try:
        yield world
    finally:
        await world.close()
