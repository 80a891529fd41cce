"""100 MB of output through the run activity: all of it shipped, the executor's memory bounded."""

import asyncio
import time

import psutil

from tests.executor.conftest import Executor
from tests.executor.doubles import spec

TOTAL = 100_000_000
LIMIT = 64 * 1024 * 1024


async def test_100_mb_of_output_in_bounded_memory(executor: Executor):
    executor.api.keep_data = False
    executor.api.ship_delay = 0.005  # a request's round trip
    line = "0123456789abcdef" * 4 + "\\n"  # 65 bytes a line
    job = executor.attempt(spec(script=f"yes '{line[:-2]}' | head -c {TOTAL}", run_timeout=300))
    me = psutil.Process()
    baseline = me.memory_info().rss
    peak = baseline

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, me.memory_info().rss)
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    try:
        result = await (await executor.start(job, start_to_close_seconds=300)).result()
    finally:
        sampler.cancel()
    took = time.monotonic() - started
    assert result.exit_code == 0
    assert executor.api.bytes_by_stream["stdout"] == TOTAL
    growth = peak - baseline
    print(
        f"100 MB of output: {took:.1f}s, {len(executor.api.batches)} batches, "
        f"largest {max(executor.api.batches)} bytes, RSS growth {growth / 2**20:.1f} MiB"
    )
    assert growth < LIMIT
    assert max(executor.api.batches) <= 1024 * 1024
