"""Heartbeats for activities that call a provider: while the worker lives, Temporal hears from
the activity every few seconds, so the heartbeat timeout catches a dead worker quickly without
also cutting off a slow but healthy provider call. An activity that takes several steps notes
what it has done (`progress`); every heartbeat after carries it, and the next attempt, if there
is one, reads it back (`activity.info().heartbeat_details`) and resumes there."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextvars import ContextVar

from temporalio import activity

EVERY_SECONDS = 2.0
_progress: ContextVar[tuple[object, ...]] = ContextVar("heartbeat_progress", default=())


def progress(*details: object) -> None:
    """Records `details` with Temporal now (an attempt's first heartbeat is sent at once) and
    with every heartbeat of this attempt after it."""
    _progress.set(details)
    activity.heartbeat(*details)


@contextlib.asynccontextmanager
async def heartbeating(every: float = EVERY_SECONDS) -> AsyncIterator[None]:
    """`every` also bounds how late the activity hears of a cancel: that news comes only in
    the answer to a heartbeat (which the worker may throttle further)."""

    async def beat() -> None:
        # Most calls end within the first interval and never need to heartbeat at all.
        while True:
            await asyncio.sleep(every)
            activity.heartbeat(*_progress.get())

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
