"""ASGI wrapper every provider app sits behind: the provider's fixed latency, then scripted
faults, then the provider; each request is recorded with the status it was answered with (null
when the answer was cut off)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import TYPE_CHECKING

from starlette.routing import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from emulators.faults import Fault
    from emulators.hub import Hub
    from emulators.providers.base import Provider

MALFORMED_BODY = b'{"data": [{"id": 1, "name": "trunc'


async def read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body, and whether the client disconnected while sending it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None


def _retry_after(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class ProviderGateway:
    def __init__(self, hub: Hub, provider: Provider) -> None:
        self.hub = hub
        self.provider = provider
        self.name = provider.name
        self.app: ASGIApp = provider.app
        # Writes a `late` fault applies after answering; kept so the tasks are not collected.
        self._late: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.time()
        path = get_route_path(scope) or "/"
        method = scope["method"]
        body, disconnected = await read_body(receive)
        status: int | None = None
        await self.hub.latency.wait(self.name)
        fault = self.hub.faults.pick(self.name, method, path)
        when = fault.when if fault is not None else None
        try:
            if fault is not None and when == "late":
                status = await self._answer_fault(fault, send)
                self._apply_later(scope, body, fault.apply_after)
                return
            if fault is not None and when == "instead":
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.status is not None or fault.malformed or fault.drop:
                    status = await self._answer_fault(fault, send)
                    return

            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed and not disconnected:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            if fault is not None and when == "after":
                answer = await self._apply(scope, body)
                if fault.status is not None or fault.malformed or fault.drop:
                    status = await self._answer_fault(fault, send)
                    return
                await asyncio.sleep(fault.delay)
                for message in answer:
                    if message["type"] == "http.response.start":
                        status = message["status"]
                    await send(message)
                return

            async def capture(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            await self.app(scope, replay, capture)
        finally:
            self.provider.observe(method, path, status)
            self.hub.calls.record(
                provider=self.name,
                method=method,
                path=path,
                query_string=scope.get("query_string", b""),
                raw_headers=scope.get("headers", ()),
                body=body,
                status=status,
                fault_id=fault.id if fault is not None else None,
                started=started,
                peer=_peer(scope),
            )

    async def _apply(self, scope: Scope, body: bytes) -> list[Message]:
        """The provider handles the request with nobody listening; its answer, held back."""
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        answer: list[Message] = []

        async def hold(message: Message) -> None:
            answer.append(message)

        await self.app(dict(scope), receive, hold)
        return answer

    def _apply_later(self, scope: Scope, body: bytes, seconds: float) -> None:
        async def later() -> None:
            await asyncio.sleep(seconds)
            await self._apply(scope, body)

        task = asyncio.get_running_loop().create_task(later())
        self._late.add(task)
        task.add_done_callback(self._late.discard)

    async def _answer_fault(self, fault: Fault, send: Send) -> int | None:
        if fault.drop:
            await self._drop(send)
            return None
        return await self._send_fault(fault, send)

    @staticmethod
    async def _drop(send: Send) -> None:
        """Headers that promise a body, then the end: the server closes the connection and the
        client sees it cut mid-answer (httpx: RemoteProtocolError), never a status it can read."""
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        # The server refuses to end a message shorter than it promised (uvicorn/h11 raise, then
        # close the connection): that refusal is the point.
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b'{"id"', "more_body": False})

    async def _send_fault(self, fault: Fault, send: Send) -> int:
        headers: list[tuple[bytes, bytes]] = []
        if fault.malformed:
            status = fault.status or 200
            payload = MALFORMED_BODY
            content_type = b"application/json"
        else:
            status = fault.status or 500
            body = fault.body
            if body is None:
                body = self.provider.error_body(status, f"emulated fault {fault.id}")
            if isinstance(body, str):
                payload = body.encode()
                content_type = b"text/plain; charset=utf-8"
            else:
                payload = json.dumps(body).encode()
                content_type = b"application/json"
        headers.append((b"content-type", content_type))
        headers.append((b"content-length", str(len(payload)).encode()))
        if fault.retry_after is not None:
            headers.append((b"retry-after", _retry_after(fault.retry_after).encode()))
        for k, v in fault.headers.items():
            headers.append((k.lower().encode("latin-1"), v.encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        return status
