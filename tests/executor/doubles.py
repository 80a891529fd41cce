"""The executor's side of the API in memory: our own interface (clients.tempoline_api.AttemptApi),
so the run activity is tested before the real endpoints exist."""

import asyncio
from collections.abc import Sequence
from uuid import UUID

from clients.tempoline_api import AttemptFenced, AttemptSpec, LogChunk, NotFound


def spec(
    command: list[str] | None = None,
    script: str | None = None,
    *,
    env: dict[str, str] | None = None,
    run_timeout: float = 60.0,
    grace: float = 5.0,
) -> AttemptSpec:
    return AttemptSpec(
        command=command,
        script=script,
        env=env or {},
        run_timeout_seconds=run_timeout,
        grace_seconds=grace,
        cpu_millis=100,
        memory_mb=64,
    )


class MemoryAttempts:
    """Specs by (job, attempt); shipped chunks kept as the API would store them (by seq, once)."""

    def __init__(self, *, ship_delay: float = 0.0, keep_data: bool = True) -> None:
        self.specs: dict[tuple[UUID, int], AttemptSpec] = {}
        self.fenced: set[tuple[UUID, int]] = set()
        self.chunks: dict[tuple[UUID, int], dict[int, LogChunk]] = {}
        self.batches: list[int] = []  # data bytes per shipped batch
        self.bytes_by_stream: dict[str, int] = {"stdout": 0, "stderr": 0}
        self.ship_delay = ship_delay
        self.keep_data = keep_data  # off for huge outputs: only sizes are kept
        self.started: dict[tuple[UUID, int], int] = {}  # the pid each attempt reported

    async def attempt_spec(self, job_id: UUID, attempt: int) -> AttemptSpec:
        key = (job_id, attempt)
        if key in self.fenced:
            raise AttemptFenced("GET spec", 409, "attempt superseded")
        if key not in self.specs:
            raise NotFound("GET spec", 404, "no such attempt")
        return self.specs[key]

    async def attempt_started(self, job_id: UUID, attempt: int, pid: int) -> None:
        key = (job_id, attempt)
        if key in self.fenced:
            raise AttemptFenced("POST started", 409, "attempt superseded")
        self.started.setdefault(key, pid)

    async def ship_logs(self, job_id: UUID, attempt: int, chunks: Sequence[LogChunk]) -> None:
        key = (job_id, attempt)
        if key in self.fenced:
            raise AttemptFenced("POST logs", 409, "attempt superseded")
        if self.ship_delay:
            await asyncio.sleep(self.ship_delay)
        stored = self.chunks.setdefault(key, {})
        size = 0
        for chunk in chunks:
            size += len(chunk.data.encode())
            if chunk.seq not in stored:
                self.bytes_by_stream[chunk.stream] += len(chunk.data.encode())
                stored[chunk.seq] = chunk if self.keep_data else chunk.model_copy(update={"data": ""})
        self.batches.append(size)

    def output(self, job_id: UUID, attempt: int, stream: str | None = None) -> str:
        stored = self.chunks.get((job_id, attempt), {})
        assert sorted(stored) == list(range(len(stored))), "chunk sequence has gaps"
        return "".join(c.data for _, c in sorted(stored.items()) if stream in (None, c.stream))
