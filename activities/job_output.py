"""A job's stdout and stderr, shipped as sequenced chunks in batches, in bounded memory.

Two readers (one per stream) append what they read to the pending batch; one shipper sends it
when it holds `batch_bytes` or when its oldest output is `linger_seconds` old, whichever comes
first, so a chatty job makes one request per `batch_bytes` and a quiet one a request per line
burst, never per line. While a batch is being sent the readers fill the next one; once that one
is full they stop reading, the pipe fills and the job blocks on its next write. Memory is
therefore about two batches plus the pipes' read buffers, whatever the job prints.
"""

import asyncio
import codecs
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from activities.process_group import PIPE_LIMIT
from clients.tempoline_api import LogChunk

Stream = Literal["stdout", "stderr"]
Ship = Callable[[Sequence[LogChunk]], Awaitable[None]]

BATCH_BYTES = 256 * 1024
LINGER_SECONDS = 0.2
TAIL_BYTES = 4096


def _storable(text: str) -> str:
    """U+0000 cannot be stored in PostgreSQL text (and the API refuses it in JSON): it is shown
    as the replacement character, like bytes that are not UTF-8."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


@dataclass
class _Piece:
    stream: Stream
    at: datetime
    parts: list[str] = field(default_factory=list)


class JobOutput:
    def __init__(
        self, ship: Ship, *, batch_bytes: int = BATCH_BYTES, linger_seconds: float = LINGER_SECONDS
    ) -> None:
        self._ship = ship
        self._batch_bytes = batch_bytes
        self._linger = linger_seconds
        self._pending: list[_Piece] = []
        self._pending_bytes = 0
        self._oldest = 0.0  # loop time of the pending batch's first output
        self._next_seq = 0
        self._closed = False
        self._has_output = asyncio.Event()  # something pending, or the end
        self._full = asyncio.Event()  # ship now: a full batch, or the end
        self._room = asyncio.Event()  # readers may append
        self._room.set()
        self._tail = bytearray()
        self.bytes_read = 0
        self.batches_sent = 0

    @property
    def tail(self) -> str:
        """The last TAIL_BYTES of combined output, decoded (a character cut in two at the start
        is dropped rather than shown as a replacement character)."""
        data = bytes(self._tail)
        start = 0
        while start < min(len(data), 3) and data[start] & 0xC0 == 0x80:
            start += 1
        text = data[start:].decode("utf-8", errors="replace")
        return _storable(text)

    async def pump(self, stdout: asyncio.StreamReader, stderr: asyncio.StreamReader) -> None:
        """Reads both streams to their end and ships everything read; raises what shipping
        raised (the readers stop then, so the job blocks on its output until it is killed)."""
        loop = asyncio.get_running_loop()
        readers = [
            asyncio.create_task(self._read("stdout", stdout)),
            asyncio.create_task(self._read("stderr", stderr)),
        ]
        shipper = asyncio.create_task(self._ship_batches(loop))
        try:
            pending = {*readers, shipper}
            while not all(reader.done() for reader in readers):
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # a reader's failure, or the shipper's (it ends early only so)
            self._closed = True
            self._full.set()
            self._has_output.set()
            await shipper
        finally:
            for task in (*readers, shipper):
                task.cancel()
            for task in (*readers, shipper):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _read(self, stream: Stream, reader: asyncio.StreamReader) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while True:
            await self._room.wait()
            data = await reader.read(PIPE_LIMIT)
            self.bytes_read += len(data)
            self._tail += data[-TAIL_BYTES:]
            del self._tail[:-TAIL_BYTES]
            text = decoder.decode(data, final=not data)
            if text:
                self._append(stream, _storable(text), len(data))
            if not data:
                return

    def _append(self, stream: Stream, text: str, size: int) -> None:
        if not self._pending:
            self._oldest = asyncio.get_running_loop().time()
            self._has_output.set()
        if self._pending and self._pending[-1].stream == stream:
            self._pending[-1].parts.append(text)
        else:
            self._pending.append(_Piece(stream, datetime.now(UTC), [text]))
        self._pending_bytes += size
        if self._pending_bytes >= self._batch_bytes:
            self._full.set()
            self._room.clear()

    def _take(self) -> list[LogChunk]:
        chunks = []
        for piece in self._pending:
            chunks.append(
                LogChunk(seq=self._next_seq, stream=piece.stream, data="".join(piece.parts), at=piece.at)
            )
            self._next_seq += 1
        self._pending, self._pending_bytes = [], 0
        self._full.clear()
        if not self._closed:
            self._has_output.clear()
        self._room.set()
        return chunks

    async def _ship_batches(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            await self._has_output.wait()
            if not self._pending:
                return  # the end, all shipped
            wait = self._oldest + self._linger - loop.time()
            if wait > 0 and not self._full.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._full.wait()
            batch = self._take()
            await self._ship(batch)
            self.batches_sent += 1
