"""What the platform routers share: settings turned into durations, and telling the jobs a
scheduler pass placed."""

from datetime import timedelta

from fastapi import Request

from api.temporal_calls import reaching_temporal
from clients.platform_jobs import tell_assigned
from store.db import Database
from store.platform_queue import place_waiting


def offline_after(request: Request) -> timedelta:
    return timedelta(seconds=request.app.state.settings.platform_worker_offline_after_seconds)


async def schedule(request: Request) -> None:
    """A scheduler pass after capacity appeared (a worker registered or came back): committed,
    then the placed jobs are told (one not told finds its assignment when its queue timeout ends)."""
    database: Database = request.app.state.database
    async with database.engine.begin() as connection:
        placed = await place_waiting(connection, offline_after(request))
    if placed:
        with reaching_temporal("The jobs placed will find their worker when their queue timeout ends."):
            await tell_assigned(request.app.state.temporal, placed)
