"""The SSE client's parsing, as the HTML standard's "Event stream interpretation" says, fed the
lines the server's own encoder (api/sse.py) writes."""

from collections.abc import AsyncIterator

from api.sse import SseEvent, encode
from clients.sse import Message, parse


async def _lines(text: str) -> AsyncIterator[str]:
    # As httpx's aiter_lines gives them: split on CRLF, LF or CR, without the line breaks.
    for line in text.splitlines():
        yield line


async def _parse(text: str) -> list[Message]:
    return [m async for m in parse(_lines(text))]


async def test_what_the_server_encodes_comes_back_the_same():
    sent = [
        SseEvent(id="1.0", event="stdout", data="hi\n"),
        SseEvent(id="1.1", event="stderr", data="two\nlines"),
        SseEvent(id="1.2", event="stdout", data=""),
        SseEvent(id="2.0", event="stdout", data="  leading spaces: kept, colons: too "),
    ]
    text = "".join(encode(e).decode() for e in sent) + ": keep-alive\n\n"
    got = await _parse(text)
    assert got == [Message(id=e.id, event=e.event or "message", data=e.data) for e in sent]


async def test_the_standards_field_rules():
    text = (
        "data\n\n"  # a field name alone: an empty value; one empty data line dispatches ""
        "id: 7\nevent: a\ndata:no space\n\n"
        "retry: 10\nunknown: x\ndata: b\n\n"  # unknown fields ignored; the id carries over
        "event: lonely\n\n"  # no data: nothing dispatched, the event type is reset
        "data: c\n"  # a last event without its blank line is not dispatched
    )
    assert await _parse(text) == [
        Message(id=None, event="message", data=""),
        Message(id="7", event="a", data="no space"),
        Message(id="7", event="message", data="b"),
    ]
