"""A recording's upload through the API as deployed (uvicorn in its own process): the API's
peak memory growth while a 1 GB WAV streams in, and the upload's throughput as a ratio to
writing the same bytes to the same disk (with the same fsync; the mean time of one write before
the upload and one after). Issue #15's targets: growth under 64 MB, ratio at least 0.5.

`python -m bench.upload [megabytes]`; the WAV is generated while it is sent (no file).
"""

import asyncio
import math
import os
import struct
import sys
import time
from array import array
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

from bench._stack import running_stack, tenant

RATE, CHANNELS = 48_000, 2
CHUNK_SECONDS = 5
RSS_TARGET_MB = 64
RATIO_TARGET = 0.5
RUBRIC = {
    "competencies": [
        {
            "name": "Any",
            "weight": 1,
            "levels": [{"score": 1, "description": "-"}, {"score": 5, "description": "+"}],
        }
    ]
}


def wav_seconds(total: int) -> float:
    """How long a WAV of `total` bytes from wav_stream lasts."""
    return (total - 44) / (RATE * CHANNELS * 2)


async def wav_stream(total: int) -> AsyncIterator[bytes]:
    """A 440 Hz tone, 48 kHz 16-bit stereo, as a WAV file of `total` bytes, a few seconds a chunk."""
    yield b"".join(
        [
            b"RIFF",
            struct.pack("<I", total - 8),
            b"WAVEfmt ",
            struct.pack("<IHHIIHH", 16, 1, CHANNELS, RATE, RATE * CHANNELS * 2, CHANNELS * 2, 16),
            b"data",
            struct.pack("<I", total - 44),
        ]
    )
    tone = array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / RATE)) for i in range(RATE)))
    chunk = array("h", (sample for sample in tone for _ in range(CHANNELS))).tobytes() * CHUNK_SECONDS
    left = total - 44
    while left:
        piece = chunk[:left]
        left -= len(piece)
        yield piece


@contextmanager
def peak_rss_growth(pid: int) -> Iterator[list[int]]:
    """Samples the process's RSS every 10 ms inside the block; on exit the list holds its peak
    growth over the RSS at entry, in bytes."""
    process = psutil.Process(pid)
    baseline = peak = process.memory_info().rss

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(0.01)

    sampler = asyncio.get_running_loop().create_task(sample())
    growth: list[int] = []
    try:
        yield growth
    finally:
        sampler.cancel()
        growth.append(max(peak, process.memory_info().rss) - baseline)


def disk_write_seconds(path: Path, total: int) -> float:
    """Seconds to write `total` bytes to a file and sync it, as the blob store does."""
    block = bytes(1 << 20)
    started = time.monotonic()
    with path.open("wb") as file:
        for _ in range(total // len(block)):
            file.write(block)
        file.write(block[: total % len(block)])
        file.flush()
        os.fsync(file.fileno())
    took = time.monotonic() - started
    path.unlink()
    return took


async def interview(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    person = {"name": "Bench", "email": "bench@example.com"}
    candidate = (await api.post("/api/interviews/candidates", json=person, headers=headers)).json()
    body = {"candidate_id": candidate["id"], "position": "Bench", "language": "en-US", "rubric": RUBRIC}
    created = await api.post("/api/interviews", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def run(megabytes: int) -> None:
    total = megabytes * 1_000_000
    async with running_stack() as stack, httpx.AsyncClient(base_url=stack.api_url, timeout=900) as api:
        headers = await tenant(api, stack.admin, "bench")
        path = f"/api/interviews/{await interview(api, headers)}/recordings"
        # Warm: the route, PyAV and the thread pool have run once before the baseline.
        warm = await api.post(path, content=wav_stream(RATE * CHANNELS * 2 * 2 + 44), headers=headers)
        assert warm.status_code == 201, warm.text
        [api_pid] = [pid for pid, role in stack.roles.items() if role == "api"]
        baseline = stack.settings.blob_path.parent / "disk-baseline"
        # The disk's speed drifts by a third between minutes here: timed before and after.
        disk_before = disk_write_seconds(baseline, total)
        with peak_rss_growth(api_pid) as growth:
            started = time.monotonic()
            uploaded = await api.post(path, content=wav_stream(total), headers=headers)
            took = time.monotonic() - started
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["size_bytes"] == total
        disk_after = disk_write_seconds(baseline, total)
    disk = (disk_before + disk_after) / 2
    rss_mb = growth[0] / 1e6
    print(f"BENCH upload megabytes {megabytes}")
    print(
        f"disk MB/s before the upload {total / disk_before / 1e6:.0f}, after {total / disk_after / 1e6:.0f}"
    )
    print(f"BENCH upload mb_per_s {total / took / 1e6:.0f} disk_mb_per_s {total / disk / 1e6:.0f}")
    print(f"BENCH upload rss_growth_mb {rss_mb:.1f} target <{RSS_TARGET_MB}")
    print(f"BENCH upload throughput_ratio {disk / took:.2f} target >={RATIO_TARGET}")


def main(megabytes: int = 1000) -> None:
    asyncio.run(run(megabytes))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
