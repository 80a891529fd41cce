"""A minimal HTTP/1.1 keep-alive client for load generation.

The load generator shares the two cores with the API it measures: httpx spends about 3 ms of
CPU per request, as much as a third of what the API spends answering one, and that CPU would
be taken from the API under test. This client writes the request and reads back a
`Content-Length` response, nothing more (no redirects, cookies, chunked bodies or TLS), on a
fixed set of connections, one per concurrent caller.
"""

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit


class LoadClient:
    def __init__(self, base_url: str, connections: int) -> None:
        url = urlsplit(base_url)
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 80
        self._size = connections
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def __aenter__(self) -> "LoadClient":
        for _ in range(self._size):
            self._idle.put_nowait(await asyncio.open_connection(self._host, self._port))
        return self

    async def __aexit__(self, *exc: object) -> None:
        while not self._idle.empty():
            _, writer = self._idle.get_nowait()
            writer.close()

    async def post(self, path: str, body: Any, headers: dict[str, str]) -> tuple[int, bytes]:
        """Status and body of `POST path` with `body` as JSON."""
        payload = json.dumps(body).encode()
        head = [
            f"POST {path} HTTP/1.1",
            f"Host: {self._host}:{self._port}",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        request = "\r\n".join(head).encode() + b"\r\n\r\n" + payload
        reader, writer = await self._idle.get()
        try:
            writer.write(request)
            line = await reader.readline()
            if not line:  # the server closed it while idle (keep-alive timeout): it read nothing
                writer.close()
                reader, writer = await asyncio.open_connection(self._host, self._port)
                writer.write(request)
                line = await reader.readline()
            status = int(line.split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            return status, await reader.readexactly(length)
        finally:
            self._idle.put_nowait((reader, writer))
