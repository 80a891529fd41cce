"""The platform job workflow's store calls (local activities). Each is one transaction; those
that free capacity or queue a job run the scheduler's pass in it and tell the jobs it placed."""

from datetime import timedelta

from temporalio import activity
from temporalio.client import Client

from activities.dependencies import Dependencies
from clients.platform_jobs import tell_assigned
from core.temporal import connect
from domain.platform.contracts import Cancel, Enqueue, Expire, Finish, JobStart, Recorded, Started, Waiting
from domain.platform.schedules import FROM_SCHEDULE_ACTIVITY, FromSchedule
from store import platform_jobs, platform_schedules
from store.platform_queue import Placed


class PlatformStore:
    def __init__(self, deps: Dependencies) -> None:
        self._db = deps.database
        self._settings = deps.settings
        self._cipher = deps.cipher
        self._offline_after = timedelta(seconds=deps.settings.platform_worker_offline_after_seconds)
        # Local activities get no client from the SDK (activity.client() is for regular ones):
        # one connection per worker process, made at the first pass that places another job.
        self._client: Client | None = None

    async def _tell(self, placed: list[Placed]) -> None:
        if not placed:
            return
        if self._client is None:
            self._client = await connect(self._settings)
        await tell_assigned(self._client, placed)

    @activity.defn(name="platform.enqueue")
    async def enqueue(self, request: Enqueue) -> Waiting:
        async with self._db.engine.begin() as connection:
            waiting, others = await platform_jobs.enqueue(
                connection, request.job_id, request.attempt, self._offline_after
            )
        await self._tell(others)
        return waiting

    @activity.defn(name="platform.started")
    async def started(self, request: Started) -> Recorded:
        async with self._db.engine.begin() as connection:
            return await platform_jobs.started(
                connection, request.job_id, request.attempt, request.worker_id, request.pid
            )

    @activity.defn(name="platform.finish")
    async def finish(self, request: Finish) -> Recorded:
        async with self._db.engine.begin() as connection:
            recorded, placed = await platform_jobs.finish(connection, request, self._offline_after)
        await self._tell(placed)
        _finished(recorded)
        return recorded

    @activity.defn(name="platform.expire")
    async def expire(self, request: Expire) -> Recorded:
        async with self._db.engine.begin() as connection:
            recorded = await platform_jobs.expire(connection, request.job_id)
        _finished(recorded)
        return recorded

    @activity.defn(name="platform.cancel")
    async def cancel(self, request: Cancel) -> Recorded:
        async with self._db.engine.begin() as connection:
            recorded, placed = await platform_jobs.cancel(
                connection, request.job_id, request.reason, self._offline_after
            )
        await self._tell(placed)
        _finished(recorded)
        return recorded

    @activity.defn(name=FROM_SCHEDULE_ACTIVITY)
    async def from_schedule(self, request: FromSchedule) -> JobStart | None:
        """The job of a schedule's run, created once; None if the schedule is gone."""
        async with self._db.engine.begin() as connection:
            job = await platform_schedules.job_of_run(
                connection, self._cipher, request.schedule_id, request.run_workflow_id
            )
        if job is None:
            return None
        return JobStart.of(
            job.spec,
            job.job_id,
            job.tenant_id,
            heartbeat_timeout=timedelta(seconds=self._settings.platform_executor_heartbeat_timeout_seconds),
            schedule_to_start_timeout=self._offline_after,
        )


def _finished(recorded: Recorded) -> None:
    """Counts an attempt's end by what it left the job as (RETRYING, or a final status): the
    job failures operators alert on. A store call retried after its commit counts twice."""
    activity.metric_meter().create_counter(
        "tempoline_platform_jobs_finished_total", "Platform job attempts ended, by the job's status after"
    ).add(1, {"status": recorded.status.value})
