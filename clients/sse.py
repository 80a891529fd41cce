"""A Server-Sent Events client over httpx, with EventSource's semantics: events parsed as the
HTML standard says (https://html.spec.whatwg.org/multipage/server-sent-events.html, "Event
stream interpretation"), and a dropped connection resumed with `Last-Event-ID`, so nothing is
lost and nothing is sent twice.

A stream the server ends cleanly (the chunked body's last chunk arrived) is over; one cut
mid-body (a proxy, a restart, a read timeout longer than the server's keep-alives) is resumed.
Reconnecting is the protocol's own behaviour, not a retry of a failed call: a connection that
cannot be made again is httpx's to retry (the client's transport `retries`), and a stream that
drops again and again without delivering anything new gives up.
"""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx

# Drops in a row, each without a new event, before the stream gives up.
MAX_FRUITLESS_RECONNECTS = 3


@dataclass(frozen=True)
class Message:
    id: str | None  # the last event id the stream had set when this one was dispatched
    event: str  # "message" unless the stream named it
    data: str


async def parse(lines: AsyncIterator[str]) -> AsyncIterator[Message]:
    """Events from a stream's lines (without their line breaks, as `aiter_lines` gives them)."""
    last_id: str | None = None
    event, data = "", list[str]()
    async for line in lines:
        if not line:
            # A blank line dispatches; an event without data is dropped (the standard's rule).
            if data:
                yield Message(id=last_id, event=event or "message", data="\n".join(data))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue  # a comment, e.g. a keep-alive
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
        elif field == "id" and "\0" not in value:
            last_id = value
        # `retry` and unknown fields: ignored (reconnection is immediate, see the module doc).


class StreamDropped(Exception):
    """The stream kept dropping without delivering anything new."""


async def follow(
    client: httpx.AsyncClient,
    url: str,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    last_event_id: str | None = None,
    check: Callable[[httpx.Response], None] | None = None,
) -> AsyncIterator[Message]:
    """Every event of the stream at `url` after `last_event_id`, until the server ends it.
    `check` sees each response before its body is read (e.g. to raise on an error status; the
    body has been read by then)."""
    fruitless = 0
    while True:
        sent = {**(headers or {}), "Accept": "text/event-stream"}
        if last_event_id is not None:
            sent["Last-Event-ID"] = last_event_id
        delivered = False
        async with client.stream("GET", url, params=params, headers=sent) as response:
            if check is not None:
                if response.is_error:
                    await response.aread()
                check(response)
            try:
                async for message in parse(response.aiter_lines()):
                    if message.id is not None:
                        last_event_id = message.id
                    delivered = True
                    yield message
                return
            except httpx.TransportError as exc:
                fruitless = 0 if delivered else fruitless + 1
                if fruitless > MAX_FRUITLESS_RECONNECTS:
                    raise StreamDropped(
                        f"the stream dropped {fruitless} times in a row without a new event ({exc!r})"
                    ) from exc
