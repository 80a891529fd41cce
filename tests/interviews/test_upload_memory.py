"""A 300 MB upload streamed to the API in its own process (uvicorn, as deployed): stored whole,
with the process's memory growth under 64 MB. The WAV is generated while it is sent (no file);
bench.upload measures the same at 1 GB."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from bench.upload import CHANNELS, RATE, disk_write_seconds, peak_rss_growth, wav_seconds, wav_stream
from cli.processes import wait_for_port
from core.settings import Settings
from tests.conftest import ADMIN_KEY, free_port
from tests.interviews.conftest import FIXTURES, stored_blobs, tenant_with_interview

TOTAL = 300_000_000
LIMIT = 64 * 1024 * 1024


@pytest.fixture
def api_process(
    interview_settings: Settings, temporal: WorkflowEnvironment, clean_db: None, tmp_path: Path
) -> Iterator[tuple[str, int]]:
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
        with peak_rss_growth(pid) as growth:
            started = time.monotonic()
            uploaded = await api.post(
                path, content=wav_stream(TOTAL), headers={**headers, "Content-Type": "audio/wav"}
            )
            took = time.monotonic() - started
    assert uploaded.status_code == 201, uploaded.text
    recording = uploaded.json()
    assert recording["size_bytes"] == TOTAL
    assert recording["format"] == {
        "container": "wav",
        "codec": "pcm_s16le",
        "duration_seconds": pytest.approx(wav_seconds(TOTAL), abs=0.01),
        "channels": CHANNELS,
        "sample_rate": RATE,
        "bit_rate": RATE * CHANNELS * 16,
    }
    # The warm-up's blob and this one, whole.
    sizes = sorted(p.stat().st_size for p in stored_blobs(interview_settings.blob_path))
    assert sizes == [(FIXTURES / "speech.wav").stat().st_size, TOTAL]
    disk = disk_write_seconds(tmp_path / "disk-baseline", TOTAL)
    print(
        f"300 MB upload: {took:.1f} s ({TOTAL / took / 1e6:.0f} MB/s; the same bytes written to disk: "
        f"{TOTAL / disk / 1e6:.0f} MB/s, ratio {disk / took:.2f}), API RSS growth {growth[0] / 2**20:.1f} MiB"
    )
    assert growth[0] < LIMIT
