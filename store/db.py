"""Engine and sessions. One async engine per process; psycopg 3 for both async and migrations."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def sqlalchemy_url(database_url: str) -> str:
    """Accept the usual `postgresql://` spellings and pin the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url.removeprefix(prefix)
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def create_engine(database_url: str, *, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_timeout=10,
    )


class Database:
    """`pre_ping` checks each pooled connection before use (a round trip): for callers that
    cannot simply try again. Without it, a connection the server dropped fails one statement,
    after which SQLAlchemy replaces the whole pool."""

    def __init__(self, database_url: str, *, pool_size: int = 10, pre_ping: bool = True) -> None:
        self.engine = create_engine(database_url, pool_size=pool_size, pre_ping=pre_ping)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def statements(self) -> AsyncIterator[AsyncConnection]:
        """A connection on which each statement is its own transaction: one round trip each,
        with no BEGIN and COMMIT around it. For hot paths whose work is one statement (two
        writes that belong together become one statement with a CTE)."""
        async with self._autocommit.connect() as connection:
            yield connection

    async def close(self) -> None:
        await self.engine.dispose()
