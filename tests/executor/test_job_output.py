"""Output batching with real processes: live delivery, storable text, ordering under backpressure."""

import asyncio
import os
import time
from collections.abc import Sequence
from pathlib import Path

from activities.job_output import JobOutput
from activities.process_group import ProcessGroup
from clients.tempoline_api import LogChunk

ENV = {"PATH": os.environ["PATH"]}


class Shipped:
    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[tuple[float, list[LogChunk]]] = []
        self.delay = delay

    async def __call__(self, chunks: Sequence[LogChunk]) -> None:
        await asyncio.sleep(self.delay)
        self.batches.append((time.monotonic(), list(chunks)))

    @property
    def chunks(self) -> list[LogChunk]:
        return [c for _, batch in self.batches for c in batch]


async def _run(tmp_path: Path, script: str, shipped: Shipped, **options: float) -> JobOutput:
    group = await ProcessGroup.start(["/bin/sh", "-c", script], ENV, tmp_path)
    output = JobOutput(shipped, **options)  # type: ignore[arg-type]
    await asyncio.gather(output.pump(group.stdout, group.stderr), group.wait())
    return output


async def test_a_quiet_jobs_lines_arrive_while_it_runs(tmp_path: Path):
    shipped = Shipped()
    started = time.monotonic()
    await _run(tmp_path, "echo one; sleep 1; echo two", shipped, linger_seconds=0.2)
    (first_at, first), (_, second) = shipped.batches
    assert [c.data for c in first] == ["one\n"] and [c.data for c in second] == ["two\n"]
    assert first_at - started < 0.8  # not held until the job ended (after 1 s)


async def test_text_is_storable_whatever_the_job_prints(tmp_path: Path):
    shipped = Shipped()
    # A NUL, a byte that is not UTF-8, and a multi-byte character split across two writes.
    output = await _run(tmp_path, r"printf 'a\000b\377c\303'; sleep 0.3; printf '\251!'", shipped)
    text = "".join(c.data for c in shipped.chunks)
    assert text == "a\ufffdb\ufffdcé!"
    assert output.tail == text


async def test_sequence_and_order_hold_under_backpressure(tmp_path: Path):
    shipped = Shipped(delay=0.02)  # a slow API: the readers stall, the job blocks on its pipes
    script = "i=0; while [ $i -lt 20000 ]; do echo line $i; i=$((i+1)); done"
    output = await _run(tmp_path, script, shipped, batch_bytes=16 * 1024)
    assert [c.seq for c in shipped.chunks] == list(range(len(shipped.chunks)))
    assert "".join(c.data for c in shipped.chunks) == "".join(f"line {i}\n" for i in range(20000))
    assert max(sum(len(c.data) for c in batch) for _, batch in shipped.batches) <= 16 * 1024 + 64 * 1024
    assert output.tail.endswith("line 19999\n") and len(output.tail) <= 4096
