"""A 300 MB upload streamed to the API in its own process (uvicorn, as deployed): stored whole,
with the process's memory growth under 64 MB. The WAV is generated while it is sent (no file)."""

import asyncio
import math
import os
import signal
import struct
import subprocess
import sys
import time
from array import array
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from cli.processes import wait_for_port
from core.settings import Settings
from tests.conftest import ADMIN_KEY, free_port
from tests.interviews.conftest import FIXTURES, stored_blobs, tenant_with_interview

TOTAL = 300_000_000
RATE, CHANNELS = 48_000, 2
LIMIT = 64 * 1024 * 1024
CHUNK_SECONDS = 5


def wav_header(total: int) -> bytes:
    data = total - 44
    return b"".join(
        [
            b"RIFF",
            struct.pack("<I", total - 8),
            b"WAVEfmt ",
            struct.pack("<IHHIIHH", 16, 1, CHANNELS, RATE, RATE * CHANNELS * 2, CHANNELS * 2, 16),
            b"data",
            struct.pack("<I", data),
        ]
    )


async def wav_stream(total: int) -> AsyncIterator[bytes]:
    """A 440 Hz tone as a WAV of `total` bytes, in chunks of a few seconds."""
    tone = array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / RATE)) for i in range(RATE)))
    second = array("h", (s for s in tone for _ in range(CHANNELS))).tobytes()
    chunk = second * CHUNK_SECONDS
    yield wav_header(total)
    left = total - 44
    while left:
        piece = chunk[:left]
        left -= len(piece)
        yield piece


@pytest.fixture
def api_process(interview_settings: Settings, clean_db: None, tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": interview_settings.database_url or "",
        "TEMPOLINE_ENCRYPTION_KEY": interview_settings.encryption_key or "",
        "TEMPOLINE_ADMIN_API_KEY": ADMIN_KEY,
        "TEMPORAL_ADDRESS": interview_settings.temporal_address,
        "TEMPOLINE_HOME": str(tmp_path / "home"),
        "TEMPOLINE_BLOB_DIR": str(interview_settings.blob_path),
        "TEMPOLINE_API_PORT": str(port),
        "TEMPOLINE_LOG_LEVEL": "WARNING",
    }
    with (tmp_path / "api.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        wait_for_port("127.0.0.1", port, process, 60, "API")
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)


def _disk_write_seconds(path: Path, total: int) -> float:
    """The same bytes written to a file (and synced), for comparison."""
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


@pytest.mark.slow
async def test_300_mb_upload_in_bounded_memory(
    api_process: tuple[str, int], interview_settings: Settings, admin_headers: dict[str, str], tmp_path: Path
) -> None:
    url, pid = api_process
    async with httpx.AsyncClient(base_url=url, timeout=120) as api:
        headers, meeting = await tenant_with_interview(api, admin_headers, "acme")
        path = f"/api/interviews/{meeting['id']}/recordings"
        # Warm: the route, PyAV and the thread pool have run once before the baseline.
        warm = await api.post(path, content=(FIXTURES / "speech.wav").read_bytes(), headers=headers)
        assert warm.status_code == 201, warm.text
        server = psutil.Process(pid)
        baseline = peak = server.memory_info().rss

        async def sample() -> None:
            nonlocal peak
            while True:
                peak = max(peak, server.memory_info().rss)
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        try:
            uploaded = await api.post(
                path, content=wav_stream(TOTAL), headers={**headers, "Content-Type": "audio/wav"}
            )
        finally:
            sampler.cancel()
        took = time.monotonic() - started
    assert uploaded.status_code == 201, uploaded.text
    recording = uploaded.json()
    assert recording["size_bytes"] == TOTAL
    assert recording["format"] == {
        "container": "wav",
        "codec": "pcm_s16le",
        "duration_seconds": pytest.approx((TOTAL - 44) / (RATE * CHANNELS * 2), abs=0.01),
        "channels": CHANNELS,
        "sample_rate": RATE,
        "bit_rate": RATE * CHANNELS * 16,
    }
    # The warm-up's blob and this one, whole.
    sizes = sorted(p.stat().st_size for p in stored_blobs(interview_settings.blob_path))
    assert sizes == [(FIXTURES / "speech.wav").stat().st_size, TOTAL]
    growth = peak - baseline
    disk = _disk_write_seconds(tmp_path / "disk-baseline", TOTAL)
    print(
        f"300 MB upload: {took:.1f} s ({TOTAL / took / 1e6:.0f} MB/s; the same bytes written to disk: "
        f"{TOTAL / disk / 1e6:.0f} MB/s, ratio {disk / took:.2f}), API RSS growth {growth / 2**20:.1f} MiB"
    )
    assert growth < LIMIT
