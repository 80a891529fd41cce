"""SSE over the LISTEN hub against real PostgreSQL, with a throwaway table and a real HTTP server."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI, Request
from sqlalchemy import text

from api.sse import Page, SseEvent, event_stream
from core.settings import Settings
from store.db import Database
from store.notify import APPLICATION_NAME, NotifyHub
from tests.executor.procs import until

CHANNEL = "sse_test"
PAGE = 100


@dataclass
class Served:
    url: str
    hub: NotifyHub
    database: Database
    reads: list[int]  # rows returned per read


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Served]:
    assert settings.database_url
    async with await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True) as conn:
        await conn.execute("DROP TABLE IF EXISTS sse_test_rows")
        await conn.execute(
            "CREATE TABLE sse_test_rows (id bigserial PRIMARY KEY, topic text NOT NULL, body text)"
        )
    database = Database(settings.database_url, pool_size=5, pre_ping=False)
    hub = NotifyHub(settings.database_url, [CHANNEL])
    reads: list[int] = []
    app = FastAPI()

    @app.get("/topics/{topic}/events")
    async def stream(topic: str, request: Request, keepalive: float = 15.0):
        async def read_after(after: str | None) -> Page:
            async with database.statements() as db:
                rows = (
                    await db.execute(
                        text(
                            "SELECT id, body FROM sse_test_rows"
                            " WHERE topic = :t AND id > :a ORDER BY id LIMIT :n"
                        ),
                        {"t": topic, "a": int(after or 0), "n": PAGE},
                    )
                ).all()
            reads.append(len(rows))
            events = [SseEvent(id=str(r.id), data=r.body, event="row") for r in rows]
            return Page(events, more=len(rows) == PAGE, end=any(r.body == "END" for r in rows))

        return event_stream(
            request,
            hub,
            CHANNEL,
            read_after,
            wants=lambda payload: payload == topic,
            keepalive_seconds=keepalive,
        )

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=1)
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    async with hub.running():
        await until(lambda: server.started and hub.connected.is_set(), what="server and hub up")
        yield Served(f"http://127.0.0.1:{sock.getsockname()[1]}", hub, database, reads)
        server.should_exit = True
        await serving
    await database.close()
    async with await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True) as conn:
        await conn.execute("DROP TABLE sse_test_rows")


async def insert(settings: Settings, topic: str, bodies: list[str]) -> None:
    """Rows and their notification in one transaction, as the store does."""
    assert settings.database_url
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO sse_test_rows (topic, body) VALUES (%s, %s)", [(topic, b) for b in bodies]
            )
            await cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, topic))
        await conn.commit()


class Events:
    """An SSE response parsed as it arrives (one line iterator for the response's life)."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()
        self.comments: list[str] = []

    async def take(self, count: int, seconds: float = 20.0) -> list[dict[str, str]]:
        events: list[dict[str, str]] = []
        current: dict[str, str] = {}
        async with asyncio.timeout(seconds):
            while len(events) < count:
                line = await anext(self._lines)
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                elif line:
                    key, _, value = line.partition(": ")
                    current[key] = f"{current[key]}\n{value}" if key in current else value
                elif current:
                    events.append(current)
                    current = {}
        return events


async def test_every_row_is_delivered_in_order_as_it_is_written(settings: Settings, served: Served):
    await insert(settings, "a", ["before-0", "before-1"])
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("GET", f"{served.url}/topics/a/events") as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        stream = Events(r)
        first = await stream.take(2)
        for n in range(30):  # batches written while the stream follows
            await insert(settings, "a", [f"row-{n}-{i}" for i in range(7)])
            await insert(settings, "b", ["other topic"])
        rest = await stream.take(210)
    events = first + rest
    assert [e["data"] for e in events] == ["before-0", "before-1"] + [
        f"row-{n}-{i}" for n in range(30) for i in range(7)
    ]
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(e["event"] == "row" for e in events)


async def test_resume_with_last_event_id_loses_and_duplicates_nothing(settings: Settings, served: Served):
    await insert(settings, "r", [f"r{i}" for i in range(250)])
    async with httpx.AsyncClient(timeout=30) as client:
        async with client.stream("GET", f"{served.url}/topics/r/events") as r:
            first = await Events(r).take(120)  # the client got these, then went away
        await insert(settings, "r", [f"late{i}" for i in range(40)])  # written while disconnected
        headers = {"Last-Event-ID": first[-1]["id"]}
        async with client.stream("GET", f"{served.url}/topics/r/events", headers=headers) as r:
            second = await Events(r).take(170)
    bodies = [e["data"] for e in first + second]
    assert bodies == [f"r{i}" for i in range(250)] + [f"late{i}" for i in range(40)]
    await until(lambda: served.hub.subscribers == 0, what="subscriptions ended with their clients")


async def test_a_stream_ends_when_its_reader_says_so(settings: Settings, served: Served):
    await insert(settings, "e", ["one", "END"])
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(f"{served.url}/topics/e/events")
    assert response.text.count("event: row") == 2 and response.text.rstrip().endswith("data: END")


async def test_idle_streams_get_keepalives(served: Served):
    url = f"{served.url}/topics/quiet/events?keepalive=0.1"
    async with httpx.AsyncClient(timeout=30) as client, client.stream("GET", url) as r:
        stream = Events(r)
        with contextlib.suppress(TimeoutError):
            await stream.take(1, seconds=0.5)
    assert stream.comments.count("keep-alive") >= 3


async def test_100_idle_streams_hold_no_pooled_connection(settings: Settings, served: Served):
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as client:
        async with contextlib.AsyncExitStack() as stack:
            streams = [
                await stack.enter_async_context(client.stream("GET", f"{served.url}/topics/t{i}/events"))
                for i in range(100)
            ]
            await until(lambda: served.hub.subscribers == 100, what="100 subscriptions")
            await until(lambda: len(served.reads) >= 100, what="every stream's first read")
            # Idle: every stream waits on the hub, none holds a connection of the pool.
            assert served.database.engine.pool.checkedout() == 0
            assert settings.database_url
            async with await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True) as conn:
                listeners = await (
                    await conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                        (APPLICATION_NAME,),
                    )
                ).fetchone()
            assert listeners == (1,)
            # Each is woken by its own topic only, and gets its row.
            for i in range(100):
                await insert(settings, f"t{i}", [f"for t{i}"])
            got = await asyncio.gather(*(Events(s).take(1) for s in streams))
            assert [g[0]["data"] for g in got] == [f"for t{i}" for i in range(100)]
        assert served.database.engine.pool.checkedout() == 0
    await until(lambda: served.hub.subscribers == 0, what="subscriptions ended with their clients")


async def test_the_hub_reconnects_and_nothing_notified_meanwhile_is_lost(settings: Settings, served: Served):
    assert settings.database_url
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("GET", f"{served.url}/topics/x/events") as r,
    ):
        await until(lambda: served.hub.subscribers == 1, what="subscribed")
        async with await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True) as conn:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                (APPLICATION_NAME,),
            )
        await until(lambda: not served.hub.connected.is_set(), what="the hub noticed")
        await insert(settings, "x", ["while the hub was away"])  # its notification reaches nobody
        got = await Events(r).take(1)
    assert got[0]["data"] == "while the hub was away"
    assert served.hub.reconnects >= 1
