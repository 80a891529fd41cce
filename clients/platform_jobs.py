"""Telling job workflows that the scheduler placed them: used by the platform's store
activities (a pass after a job ended) and by the API (a pass after a worker registered)."""

import asyncio
import contextlib

from temporalio.client import Client
from temporalio.service import RPCError

from core.logging import get_logger
from domain.platform.contracts import ASSIGNED, Assigned, job_workflow_id
from store.platform_queue import Placed

log = get_logger(__name__)


async def tell_assigned(client: Client, placed: list[Placed]) -> None:
    """Signals each placed job's workflow. One that is not told (this process stopped, or
    Temporal was unreachable) finds its assignment in the store when its queue timeout ends."""

    async def tell(p: Placed) -> None:
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(job_workflow_id(p.job_id)).signal(
                ASSIGNED, Assigned(attempt=p.attempt, worker_id=p.worker_id)
            )
            return
        log.warning("could not tell a job it was placed", job_id=str(p.job_id), attempt=p.attempt)

    await asyncio.gather(*(tell(p) for p in placed))
