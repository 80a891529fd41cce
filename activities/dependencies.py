"""Clients shared by every activity of a worker process, created once per process."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from core.crypto import Cipher
from core.settings import Settings
from core.temporal import cipher_from
from store.db import Database

# Enough for every concurrent activity of the process to hold one connection (see worker limits).
POOL_SIZE = 20


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
        # No pre-ping round trip on every checkout: a statement on a connection the server
        # dropped fails once, and Temporal retries the activity on a fresh pool.
        database = Database(settings.database_url, pool_size=POOL_SIZE, pre_ping=False)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0), limits=limits) as http:
            try:
                yield cls(settings=settings, database=database, cipher=cipher_from(settings), http=http)
            finally:
                await database.close()
