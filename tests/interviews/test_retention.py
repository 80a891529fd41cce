"""The audio retention: with INTERVIEWS_AUDIO_RETENTION_DAYS set, the worker keeps a daily
Temporal Schedule whose run deletes the audio of interviews analyzed longer ago than that (their
transcript and scorecard stay); unset, the schedule goes."""

import httpx
import psycopg
import pytest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.interviews.pipeline import RETENTION_ID
from registry import audio_retention
from tests.integration.live_api import serve
from tests.integration.routing_world import eventually
from tests.interviews.conftest import FIXTURES, interview_workers, stored_blobs, tenant_with_interview


async def _analyzed(api: httpx.AsyncClient, admin: dict[str, str], tenant: str) -> tuple[dict[str, str], str]:
    headers, meeting = await tenant_with_interview(api, admin, tenant)
    data = (FIXTURES / "local-two-speakers.wav").read_bytes()
    uploaded = await api.post(f"/api/interviews/{meeting['id']}/recordings", content=data, headers=headers)
    assert uploaded.status_code == 201, uploaded.text

    async def analyzed() -> bool:
        found = (await api.get(f"/api/interviews/{meeting['id']}", headers=headers)).json()
        assert found["status"] not in ("failed", "analysis_failed"), found
        return found["status"] == "analyzed"

    await eventually(analyzed, 60, "analyzed")
    return headers, meeting["id"]


async def _recording(api: httpx.AsyncClient, headers: dict[str, str], interview_id: str) -> dict:
    return (await api.get(f"/api/interviews/{interview_id}/recordings", headers=headers)).json()["items"][0]


async def test_audio_older_than_the_period_goes_and_its_transcript_stays(
    interview_settings: Settings,
    temporal: WorkflowEnvironment,
    admin_headers: dict[str, str],
    clean_db: None,
) -> None:
    kept = interview_settings.model_copy(
        update={"interviews_transcription_providers": ["openai"], "interviews_audio_retention_days": 30}
    )
    async with (
        interview_workers(kept, temporal.client),
        serve(kept) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as api,
    ):
        old_headers, old = await _analyzed(api, admin_headers, "acme")
        new_headers, new = await _analyzed(api, admin_headers, "globex")
        assert len(stored_blobs(kept.blob_path)) == 2
        with psycopg.connect(kept.database_url) as conn:  # type: ignore[arg-type]
            analyzed_long_ago = "UPDATE interview_analyses SET created_at = now() - interval '31 days'"
            conn.execute(analyzed_long_ago + " WHERE interview_id = %s", (old,))
        # Made, then made again by the next worker to start: one schedule, updated.
        await audio_retention(temporal.client, kept)
        await audio_retention(temporal.client, kept)
        schedule = temporal.client.get_schedule_handle(RETENTION_ID)
        await schedule.trigger()

        async def purged() -> dict | None:
            found = await _recording(api, old_headers, old)
            return found if found["status"] == "purged" else None

        await eventually(purged, 60, "the old interview's audio purged")
        assert (await _recording(api, new_headers, new))["status"] == "uploaded"
        assert len(stored_blobs(kept.blob_path)) == 1
        transcript = await api.get(f"/api/interviews/{old}/transcript", headers=old_headers)
        assert transcript.status_code == 200 and transcript.json()["segments"]
        assert (await api.get(f"/api/interviews/{old}/analysis", headers=old_headers)).status_code == 200
        runs = [
            run async for run in temporal.client.list_workflows("WorkflowType = 'InterviewAudioRetention'")
        ]
        assert len(runs) == 1

    # Unset: the schedule is deleted.
    await audio_retention(temporal.client, interview_settings)
    with pytest.raises(RPCError) as gone:
        await schedule.describe()
    assert gone.value.status == RPCStatusCode.NOT_FOUND
