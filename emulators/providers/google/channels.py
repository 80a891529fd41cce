"""Push channels (events.watch / channels.stop) and the notifications they POST.

A new channel gets a ``sync`` message (number 1); each later change to its calendar an
``exists`` message with the next number. Messages have no body and carry the ``X-Goog-*``
headers; each channel's messages go out in order. A stopped or expired channel sends nothing.
Deliveries are not retried (the emulator records each answer instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import asdict, dataclass
from email.utils import formatdate
from typing import Any

import httpx

from emulators.providers.google.errors import GoogleError
from emulators.providers.google.persistence import Persistence

MAX_TTL_SECONDS = 7 * 24 * 3600
DELIVERY_TIMEOUT = 5.0
MAX_ID_LENGTH = 64
KEEP_DELIVERIES = 10_000


@dataclass
class Channel:
    id: str
    resource_id: str
    resource_uri: str
    calendar_id: str
    user: str
    address: str
    token: str | None
    expiration_ms: int
    messages: int = 0
    stopped: bool = False

    def active(self) -> bool:
        return not self.stopped and self.expiration_ms > time.time() * 1000

    def resource(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "api#channel",
            "id": self.id,
            "resourceId": self.resource_id,
            "resourceUri": self.resource_uri,
            "expiration": str(self.expiration_ms),
        }
        if self.token is not None:
            out["token"] = self.token
        return out


class Channels:
    def __init__(self, db: Persistence | None = None) -> None:
        self.db = db
        self.channels: dict[str, Channel] = {}
        self.max_ttl = MAX_TTL_SECONDS
        self.deliveries: list[dict[str, Any]] = []
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        if db is not None:
            self.channels = {k: Channel(**v) for k, v in db.records("channel")}

    def _save(self, channel: Channel) -> None:
        if self.db is not None:
            self.db.put("channel", channel.id, asdict(channel))

    def reset(self) -> None:
        self.channels.clear()
        self.deliveries.clear()
        self.max_ttl = MAX_TTL_SECONDS

    def watch(self, user: str, calendar_id: str, resource_uri: str, body: Any) -> Channel:
        if not isinstance(body, dict):
            raise GoogleError("required", "Required", location="resource")
        channel_id = body.get("id")
        if not isinstance(channel_id, str) or not channel_id:
            raise GoogleError("required", "Required", location="resource.id")
        if len(channel_id) > MAX_ID_LENGTH:
            raise GoogleError("invalid", "Invalid channel id.", location="resource.id")
        if body.get("type") not in ("web_hook", "webhook"):
            raise GoogleError(
                "invalid", f"Invalid value for type: {body.get('type')}", location="resource.type"
            )
        address = body.get("address")
        if not isinstance(address, str) or not address.startswith(("https://", "http://")):
            raise GoogleError("invalid", "Invalid value for address.", location="resource.address")
        if channel_id in self.channels:
            raise GoogleError("channelIdNotUnique", f"Channel id {channel_id} not unique", status=400)
        now_ms = int(time.time() * 1000)
        latest = now_ms + int(self.max_ttl * 1000)
        requested = body.get("expiration")
        try:
            expiration = min(int(requested), latest) if requested is not None else latest
        except (TypeError, ValueError):
            raise GoogleError("invalid", "Invalid expiration.", location="resource.expiration") from None
        if expiration <= now_ms:
            raise GoogleError("invalid", "Invalid ttl value for channel.", location="resource.expiration")
        channel = Channel(
            channel_id,
            resource_id=secrets.token_urlsafe(20),
            resource_uri=resource_uri,
            calendar_id=calendar_id,
            user=user,
            address=address,
            token=body.get("token"),
            expiration_ms=expiration,
        )
        self.channels[channel_id] = channel
        self._send(channel, "sync")
        return channel

    def stop(self, body: Any) -> None:
        if not isinstance(body, dict) or not body.get("id"):
            raise GoogleError("required", "Required", location="resource.id")
        channel = self.channels.get(str(body["id"]))
        if channel is None or channel.stopped or body.get("resourceId") != channel.resource_id:
            raise GoogleError("notFound", f"Channel '{body['id']}' not found for project 'emulator'")
        channel.stopped = True
        self._save(channel)

    def changed(self, calendar_id: str) -> None:
        for channel in self.channels.values():
            if channel.calendar_id == calendar_id and channel.active():
                self._send(channel, "exists")

    def _send(self, channel: Channel, state: str) -> None:
        channel.messages += 1
        self._save(channel)
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": formatdate(channel.expiration_ms / 1000, usegmt=True),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": channel.resource_uri,
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(channel.messages),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        lock = self._locks.setdefault(channel.id, asyncio.Lock())
        task = asyncio.get_running_loop().create_task(self._deliver(channel, headers, lock))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, channel: Channel, headers: dict[str, str], lock: asyncio.Lock) -> None:
        # The lock is FIFO, so a channel's messages arrive in the order they were numbered.
        async with lock:
            record: dict[str, Any] = {
                "channel_id": channel.id,
                "state": headers["X-Goog-Resource-State"],
                "message_number": int(headers["X-Goog-Message-Number"]),
                "address": channel.address,
                "time": time.time(),
            }
            try:
                async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT) as client:
                    answer = await client.post(channel.address, headers=headers, content=b"")
                record["status"] = answer.status_code
            except httpx.HTTPError as exc:
                record["status"] = None
                record["error"] = f"{type(exc).__name__}: {exc}"
            self.deliveries.append(record)
            if len(self.deliveries) > KEEP_DELIVERIES:
                del self.deliveries[: len(self.deliveries) - KEEP_DELIVERIES]

    async def drain(self) -> None:
        """Wait for deliveries under way (control API: tests read what was sent)."""
        with contextlib.suppress(Exception):
            await asyncio.gather(*list(self._tasks))
