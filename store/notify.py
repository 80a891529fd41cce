"""PostgreSQL LISTEN/NOTIFY, one listening connection per process, fanned out to subscribers.

A notification here is a wake-up, not the data: whoever is woken reads the rows after its own
cursor from the table (api/sse.py), so a notification lost while the connection was down loses
nothing. For the same reason a subscriber holds one flag, not a queue: any number of
notifications between two reads wake it once, and a slow reader costs no memory.

The listening connection is the only one a stream holds; reads take a pooled connection for the
length of one query. It reconnects on its own, and wakes every subscriber after a reconnect
(whatever was notified meanwhile was missed).
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator

import psycopg
from psycopg import sql

from core.logging import get_logger

log = get_logger(__name__)

APPLICATION_NAME = "tempoline-notify"
# A dead peer (a network that silently drops the connection) is noticed in about 25 s.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
RECONNECT_FIRST_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 5.0


def conninfo(database_url: str) -> str:
    """DATABASE_URL as libpq takes it (SQLAlchemy's `+psycopg` driver suffix dropped)."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql://" + database_url.removeprefix(prefix)
    return database_url


class Subscription:
    """One subscriber: `woken` is set by every notification on its channel that `wants`."""

    def __init__(self, channel: str, wants: Callable[[str], bool] | None) -> None:
        self.channel = channel
        self.woken = asyncio.Event()
        self._wants = wants

    def notify(self, payload: str | None) -> None:
        if payload is None or self._wants is None or self._wants(payload):
            self.woken.set()


class NotifyHub:
    def __init__(self, database_url: str, channels: Iterable[str]) -> None:
        self._conninfo = conninfo(database_url)
        self._subscribers: dict[str, set[Subscription]] = {channel: set() for channel in channels}
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.reconnects = 0

    @property
    def subscribers(self) -> int:
        return sum(len(subs) for subs in self._subscribers.values())

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="notify-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["NotifyHub"]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    @contextlib.contextmanager
    def subscribe(self, channel: str, wants: Callable[[str], bool] | None = None) -> Iterator[Subscription]:
        """Subscribes for the duration of the block. `wants(payload)` filters wake-ups (e.g. the
        tenant's own events); a subscription starts woken, so its first read happens at once."""
        if channel not in self._subscribers:
            raise ValueError(f"this hub does not listen on {channel!r}")
        subscription = Subscription(channel, wants)
        subscription.woken.set()
        self._subscribers[channel].add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[channel].discard(subscription)

    def _wake_all(self) -> None:
        for subs in self._subscribers.values():
            for subscription in subs:
                subscription.notify(None)

    async def _listen(self) -> None:
        delay = RECONNECT_FIRST_SECONDS
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, application_name=APPLICATION_NAME, **KEEPALIVES
                ) as conn:
                    for channel in self._subscribers:
                        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self.connected.set()
                    delay = RECONNECT_FIRST_SECONDS
                    self._wake_all()  # anything notified while we were away
                    async for notification in conn.notifies():
                        for subscription in tuple(self._subscribers.get(notification.channel, ())):
                            subscription.notify(notification.payload)
            except psycopg.OperationalError as exc:
                self.connected.clear()
                self.reconnects += 1
                log.warning("LISTEN connection lost; reconnecting", error=str(exc), delay_seconds=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
