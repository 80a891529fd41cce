"""Writing a service job row: both the API (so a job is readable as soon as it is accepted) and
the job workflow's first activity (in case the API stopped right after starting it) do it."""

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from core.crypto import Cipher
from domain.routing.contracts import ServiceJobStart
from store.routing import ServiceJob
from store.sealed import seal_model


async def insert_job(connection: AsyncConnection, cipher: Cipher, start: ServiceJobStart) -> datetime | None:
    """Inserts the job unless it is there already; its creation time if this call inserted it."""
    job = start.job
    inserted = await connection.execute(
        insert(ServiceJob)
        .values(
            id=start.job_id,
            referrer_id=start.referrer_id,
            idempotency_key=start.idempotency_key,
            request_hash=start.request_hash,
            technician_id=job.technician_id,
            summary=job.summary,
            trade=job.trade.value,
            zip5=job.address.zip5,
            sealed=seal_model(cipher, start.job_id, job),
            status="received",
        )
        .on_conflict_do_nothing()
        .returning(ServiceJob.created_at)
    )
    return inserted.scalar_one_or_none()
