"""An interview's processing as its user follows it: Google's recognition in the provider chain,
its progress in percent, a worker killed while Google recognizes (the same operation is polled to
the end: LongRunningRecognize called once), and cancel, which stops the offline transcription's
CPU work before the interview says `cancelled`."""

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from clients.audio import flac, pcm16
from core.settings import Settings
from domain.interviews.pipeline import workflow_id
from tests.integration.live_api import serve
from tests.integration.routing_world import eventually
from tests.interviews.conftest import interview_workers, tenant_with_interview
from tests.interviews.speech_scripts import TWO_SPEAKERS, calls, recording, script, segments, spoken
from tests.worker_process import StartWorker, worker_processes

LRR = "LongRunningRecognize"
ENDED = ("analyzed", "failed", "analysis_failed", "cancelled")


@pytest.fixture
def google_first(interview_settings: Settings) -> Settings:
    return interview_settings.model_copy(update={"interviews_transcription_providers": ["google", "local"]})


@pytest.fixture
async def api(
    google_first: Settings, temporal: WorkflowEnvironment, clean_db: None
) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(google_first) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
        yield client


@pytest.fixture
async def workers(google_first: Settings, temporal: WorkflowEnvironment) -> AsyncIterator[None]:
    async with interview_workers(google_first, temporal.client):
        yield


@pytest.fixture
def start_worker(
    google_first: Settings, temporal: WorkflowEnvironment, tmp_path: Path
) -> Iterator[StartWorker]:
    with worker_processes(google_first, tmp_path, "interviews") as start:
        yield start


async def _upload(api: httpx.AsyncClient, admin: dict[str, str], audio: Path) -> tuple[dict[str, str], str]:
    headers, meeting = await tenant_with_interview(api, admin, "acme")
    uploaded = await api.post(
        f"/api/interviews/{meeting['id']}/recordings",
        content=await asyncio.to_thread(audio.read_bytes),
        headers=headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    return headers, meeting["id"]


async def _status(api: httpx.AsyncClient, headers: dict[str, str], interview_id: str) -> dict:
    return (await api.get(f"/api/interviews/{interview_id}", headers=headers)).json()


async def _ends(api: httpx.AsyncClient, headers: dict[str, str], interview_id: str) -> dict:
    async def ended() -> dict | None:
        found = await _status(api, headers, interview_id)
        return found if found["status"] in ENDED else None

    return await eventually(ended, 120, f"interview {interview_id} ended")


def _script_google(emulator: str, seconds: float) -> None:
    script(emulator, "speech", flac(pcm16(TWO_SPEAKERS)), segments(spoken()), processing_seconds=seconds)


async def test_google_recognizes_with_speakers_and_reports_its_progress(
    api: httpx.AsyncClient, admin_headers: dict[str, str], emulator: str, workers: None
) -> None:
    _script_google(emulator, 6)
    before = calls(emulator, "speech", LRR)
    headers, interview_id = await _upload(api, admin_headers, TWO_SPEAKERS)

    async def part_done() -> dict | None:
        now = (await api.get(f"/api/interviews/{interview_id}/progress", headers=headers)).json()
        return now if now["provider"] == "google" and (now["percent"] or 0) > 0 else None

    midway = await eventually(part_done, 30, "Google's progress reported")
    assert midway["status"] == "transcribing" and midway["percent"] < 100, midway
    done = await _ends(api, headers, interview_id)
    assert done["status"] == "analyzed", done
    transcript = (await api.get(f"/api/interviews/{interview_id}/transcript", headers=headers)).json()
    assert transcript["provider"] == "google"
    assert [s["speaker"] for s in transcript["segments"]] == ["S1", "S2", "S1", "S2"]
    assert calls(emulator, "speech", LRR) == before + 1
    # At rest, the stored status answers (no workflow is asked); there is nothing to cancel.
    assert (await api.get(f"/api/interviews/{interview_id}/progress", headers=headers)).json()["status"] == (
        "analyzed"
    )
    refused = await api.post(f"/api/interviews/{interview_id}/cancel", headers=headers)
    assert refused.status_code == 409 and "analyzed" in refused.json()["detail"]


async def test_a_worker_killed_while_google_recognizes_polls_the_same_operation(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    emulator: str,
    google_first: Settings,
    start_worker: StartWorker,
) -> None:
    _script_google(emulator, 8)
    before = calls(emulator, "speech", LRR)
    worker = start_worker()
    headers, interview_id = await _upload(api, admin_headers, TWO_SPEAKERS)

    def started() -> bool:
        with psycopg.connect(google_first.database_url) as conn:  # type: ignore[arg-type]
            return bool(conn.execute("SELECT count(*) FROM interview_recognitions").fetchone()[0])  # type: ignore[index]

    await eventually(lambda: asyncio.to_thread(started), 60, "the recognition started")
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    start_worker()
    done = await _ends(api, headers, interview_id)
    assert done["status"] == "analyzed", done
    transcript = (await api.get(f"/api/interviews/{interview_id}/transcript", headers=headers)).json()
    assert transcript["provider"] == "google" and len(transcript["segments"]) == 4
    assert calls(emulator, "speech", LRR) == before + 1


async def test_cancel_stops_the_offline_transcription_then_says_cancelled(
    interview_settings: Settings,
    temporal: WorkflowEnvironment,
    live: httpx.AsyncClient,
    admin_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    # Eleven minutes of speech: half a minute's work for the offline model here.
    long = recording(tmp_path / "long.wav", repeats=30)
    async with interview_workers(interview_settings, temporal.client):
        headers, interview_id = await _upload(live, admin_headers, long)

        async def transcribing() -> dict | None:
            now = (await live.get(f"/api/interviews/{interview_id}/progress", headers=headers)).json()
            return now if now["status"] == "transcribing" and now["attempt"] == 1 else None

        assert (await eventually(transcribing, 60, "the transcription running"))["provider"] == "local"
        await asyncio.sleep(1)  # well into it
        asked = time.monotonic()
        cancelled = await live.post(f"/api/interviews/{interview_id}/cancel", headers=headers)
        assert cancelled.status_code == 202, cancelled.text
        done = await _ends(live, headers, interview_id)
        took = time.monotonic() - asked
        # Said once the work stopped: this process (the worker's) is idle from then on, where the
        # transcription would have kept a core busy for the rest of the recording.
        cpu = time.process_time()
        await asyncio.sleep(2)
        used = time.process_time() - cpu
        history = await temporal.client.get_workflow_handle(workflow_id(interview_id)).fetch_history()
    assert done["status"] == "cancelled", done
    # The next heartbeat's answer brings the cancel; Whisper stops at its next segment.
    assert took < 8, f"cancelled {took:.1f} s after the request"
    assert used < 0.5, f"{used:.2f} CPU-s in 2 s after the cancel"
    events = {event.event_type for event in history.events}
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED in events
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED in events
    again = await live.post(f"/api/interviews/{interview_id}/cancel", headers=headers)
    assert again.status_code == 409
