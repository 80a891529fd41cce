"""A person's client for /api/interviews, what `tempoline interview upload` sends."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import BinaryIO

from pydantic import ValidationError

from cli.api_client import ApiClient
from clients.tempoline_api import ApiError
from domain.interviews.contracts import Recording

BLOCK = 1 << 20


class InterviewsApi(ApiClient):
    prefix = "/api/interviews"

    async def upload(
        self, interview_id: uuid.UUID, file: BinaryIO, size: int, sent: Callable[[int], None]
    ) -> tuple[Recording, bool]:
        """Streams the `size` bytes of `file` as the interview's recording (1 MiB at a time,
        never all of it in memory), calling `sent` with each block's size once it has been
        handed on; the recording, and whether it is new (False: the same bytes were uploaded
        before)."""

        async def blocks() -> AsyncIterator[bytes]:
            while block := await asyncio.to_thread(file.read, BLOCK):
                yield block
                sent(len(block))

        path = f"/{interview_id}/recordings"
        # Its length declared: a file over the API's limit is refused before it is sent.
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        response = await self._send("POST", path, content=blocks(), headers=headers)
        try:
            return Recording.model_validate_json(response.content), response.status_code == 201
        except ValidationError as exc:
            raise ApiError(
                f"POST {self.prefix}{path}", response.status_code, "unexpected response body", str(exc)
            ) from exc
