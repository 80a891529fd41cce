"""What each bounded context runs on which task queue, and the shared clients its activities get.

A context maps to one or more task queues: its main queue (named after the context) and narrower
ones where a resource needs its own limit.
"""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from core.crypto import Cipher
from core.settings import Settings
from core.temporal import cipher_from
from store.db import Database


@dataclass(frozen=True)
class Dependencies:
    """Clients shared by every activity of a worker process, created once."""

    settings: Settings
    database: Database
    cipher: Cipher
    http: httpx.AsyncClient

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator["Dependencies"]:
        if not settings.database_url:
            raise RuntimeError("DATABASE_URL is not set (the dev stack sets it for the embedded PostgreSQL)")
        database = Database(settings.database_url)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0), limits=limits) as http:
            try:
                yield cls(settings=settings, database=database, cipher=cipher_from(settings), http=http)
            finally:
                await database.close()


@dataclass(frozen=True)
class QueueSpec:
    name: str
    workflows: Sequence[type] = ()
    activities: Sequence[Callable[..., Any]] = ()
    max_activities_per_second: float | None = None
    max_concurrent_activities: int | None = None


# Filled in by each pipeline as it lands: context name → factory of its queues.
CONTEXTS: dict[str, Callable[[Dependencies], list[QueueSpec]]] = {}
PLANNED = ("scheduling", "interviews", "routing", "platform")


def task_queues(deps: Dependencies, selected: Sequence[str] = ()) -> list[QueueSpec]:
    """The queues for the selected contexts (or task queue names); all built contexts by default."""
    every = {name: factory(deps) for name, factory in CONTEXTS.items()}
    if not selected:
        specs = [spec for specs in every.values() for spec in specs]
    else:
        specs = []
        for wanted in selected:
            if wanted in every:
                specs += every[wanted]
                continue
            by_queue = [s for group in every.values() for s in group if s.name == wanted]
            if not by_queue:
                hint = "not built yet" if wanted in PLANNED else "unknown"
                raise SystemExit(
                    f"--queues: {wanted!r} is {hint}; available: {', '.join(sorted(every)) or 'none'}"
                )
            specs += by_queue
    return specs
