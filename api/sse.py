"""Server-Sent Events over the LISTEN hub (store/notify.py): every row, in order, resumable.

A stream is a loop of "read the rows after my cursor, send them, sleep until notified". Each
read takes a database connection for one query (the reader's own, e.g. `Database.statements()`)
and gives it back; while it sleeps a stream holds no connection at all, only its subscription
to the process's single listening connection. The cursor is the id of the last event sent,
which a client's EventSource sends back as `Last-Event-ID` when it reconnects: the stream
resumes after it, so nothing is lost and nothing is sent twice.
"""

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import StreamingResponse

from store.notify import NotifyHub

KEEPALIVE_SECONDS = 15.0
# What SSE takes for the end of a line: each piece of data between them is a `data:` line.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
MEDIA_TYPE = "text/event-stream"


@dataclass(frozen=True)
class SseEvent:
    id: str  # the cursor: the stream resumes after it
    data: str  # one line or several (each becomes a `data:` line)
    event: str | None = None


@dataclass(frozen=True)
class Page:
    """What a read returns: events after the cursor, in order; `more` when it stopped at its
    limit (read again at once); `end` when the stream is over once these are sent (e.g. the
    job has ended and its last log chunk is in `events`)."""

    events: Sequence[SseEvent]
    more: bool = False
    end: bool = False


ReadAfter = Callable[[str | None], Awaitable[Page]]


def last_event_id(request: Request) -> str | None:
    """Where a reconnecting client left off (EventSource sends the header by itself)."""
    return request.headers.get("last-event-id") or None


def encode(event: SseEvent) -> bytes:
    lines = [f"id: {event.id}"]
    if event.event:
        lines.append(f"event: {event.event}")
    lines += [f"data: {line}" for line in _LINE_BREAK.split(event.data)]
    return ("\n".join(lines) + "\n\n").encode()


async def events(
    hub: NotifyHub,
    channel: str,
    read_after: ReadAfter,
    after: str | None,
    *,
    wants: Callable[[str], bool] | None = None,
    keepalive_seconds: float = KEEPALIVE_SECONDS,
) -> AsyncIterator[bytes]:
    """The stream's bytes: every event after `after`, then each new one as it is notified."""
    with hub.subscribe(channel, wants) as subscription:
        cursor = after
        while True:
            # Cleared before the read: a notification that lands during it wakes the next wait.
            subscription.woken.clear()
            page = await read_after(cursor)
            for event in page.events:
                yield encode(event)
                cursor = event.id
            if page.end:
                return
            if page.more:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(keepalive_seconds):
                    await subscription.woken.wait()
                continue
            # Idle: a comment keeps proxies from closing the connection, and finds a client
            # that left without a word (the write fails and the stream ends).
            yield b": keep-alive\n\n"


def event_stream(
    request: Request,
    hub: NotifyHub,
    channel: str,
    read_after: ReadAfter,
    *,
    after: str | None = None,
    wants: Callable[[str], bool] | None = None,
    keepalive_seconds: float = KEEPALIVE_SECONDS,
) -> StreamingResponse:
    """The response for an SSE endpoint: resumes after `Last-Event-ID` if the client sent one,
    else after `after` (None: from the first row). Starlette ends the stream (and with it the
    subscription) when the client disconnects."""
    stream = events(
        hub,
        channel,
        read_after,
        last_event_id(request) or after,
        wants=wants,
        keepalive_seconds=keepalive_seconds,
    )
    return StreamingResponse(
        stream,
        media_type=MEDIA_TYPE,
        # No caching, and no buffering by a reverse proxy (nginx honours X-Accel-Buffering).
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
