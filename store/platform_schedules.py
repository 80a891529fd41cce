"""Platform schedules: the spec each run's job is made from, and that job's creation.

The schedule's secret env values are sealed to the schedule's id; each run's job gets them
resealed to its own id, as if its spec had been POSTed.
"""

import hashlib
import json
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.crypto import Cipher
from domain.platform.schedules import ScheduleSpec, scheduled_job_id
from domain.platform.spec import EnvValue, JobSpec
from store import platform_jobs
from store.sealed import open_text

_SCHEDULE = text("SELECT tenant_id, spec, sealed_secrets FROM platform_schedules WHERE id = :id")
_JOB = text("SELECT 1 FROM platform_jobs WHERE id = :id")


@dataclass(frozen=True)
class ScheduledJob:
    job_id: UUID
    tenant_id: UUID
    spec: JobSpec  # without its secret values


async def job_of_run(
    connection: AsyncConnection, cipher: Cipher, schedule_id: UUID, run_workflow_id: str
) -> ScheduledJob | None:
    """Creates the job of one run (PENDING, with its JobCreated row whose correlation id is the
    run's workflow id), or finds it created by an earlier try of this call; None when the
    schedule was deleted before the run got here (or the job's id is taken)."""
    row = (await connection.execute(_SCHEDULE, {"id": schedule_id})).one_or_none()
    if row is None:
        return None
    job_id = scheduled_job_id(schedule_id, run_workflow_id)
    public = ScheduleSpec.from_public(row.spec).job()
    env: dict[str, str | EnvValue] = dict(public.env)
    if row.sealed_secrets is not None:
        secrets = json.loads(open_text(cipher, schedule_id, row.sealed_secrets))
        env |= {name: EnvValue(value=value, secret=True) for name, value in secrets.items()}
    spec = public.model_copy(update={"env": env})
    values = platform_jobs.new_job(
        cipher,
        spec,
        job_id=job_id,
        tenant_id=row.tenant_id,
        # The run's workflow id is unique per run; a caller's Idempotency-Key may look alike,
        # hence the check below that the job is this one.
        idempotency_key=run_workflow_id,
        request_hash=hashlib.sha256(spec.model_dump_json().encode()).hexdigest(),
        correlation_id=run_workflow_id,
    )
    await platform_jobs.create(connection, values)
    if (await connection.execute(_JOB, {"id": job_id})).one_or_none() is None:
        return None
    return ScheduledJob(job_id=job_id, tenant_id=row.tenant_id, spec=public)
