"""`tempoline interview upload` as a person runs it (the real CLI as a subprocess, the API on a
real port), and the progress it reports."""

import json
import os
import uuid
from pathlib import Path

import httpx

from cli.interviews_api import InterviewsApi
from core.settings import Settings
from tests.interviews.conftest import FIXTURES, stored_blobs, tenant_with_interview
from tests.platform.test_cli import Cli


async def test_upload_prints_what_the_probe_found_and_a_refusal_its_reason(
    live: httpx.AsyncClient, admin_headers: dict[str, str], interview_settings: Settings, tmp_path: Path
) -> None:
    headers, meeting = await tenant_with_interview(live, admin_headers, "acme")
    env = {**os.environ, "TEMPOLINE_API_URL": str(live.base_url), "COLUMNS": "250"}
    cli = Cli(env, tmp_path).with_key(headers["Authorization"].removeprefix("Bearer "))
    m4a = str(FIXTURES / "speech.m4a")

    first = await cli("interview", "upload", meeting["id"], m4a)
    assert first.code == 0, first.stderr
    said, _, facts = first.stdout.strip().partition(": ")
    assert said.startswith("uploaded ")
    assert facts == f"mp4 aac, 7.8 s, 1 ch, 16000 Hz, {(FIXTURES / 'speech.m4a').stat().st_size} bytes"
    again = await cli("interview", "upload", meeting["id"], m4a, "--json")
    assert again.code == 0, again.stderr
    assert json.loads(again.stdout)["id"] == said.removeprefix("uploaded ")

    damaged = tmp_path / "damaged.m4a"
    damaged.write_bytes((FIXTURES / "speech.m4a").read_bytes()[:3000])
    refused = await cli("interview", "upload", meeting["id"], str(damaged))
    # A 422 is bad input (exit 2, as every command's); a refusal otherwise exits 1.
    assert refused.code == 2 and "Unreadable audio" in refused.stderr, refused.stderr
    unknown = await cli("interview", "upload", str(uuid.uuid4()), m4a)
    assert unknown.code == 1 and "Interview not found" in unknown.stderr, unknown.stderr
    assert len(stored_blobs(interview_settings.blob_path)) == 1


async def test_upload_reports_progress_block_by_block(
    live: httpx.AsyncClient, admin_headers: dict[str, str], tmp_path: Path
) -> None:
    headers, meeting = await tenant_with_interview(live, admin_headers, "acme")
    # 3.5 MiB of a WAV (its header, then silence): four blocks.
    wav = tmp_path / "long.wav"
    wav.write_bytes((FIXTURES / "speech.wav").read_bytes()[:44] + bytes(3 * 2**20 + 2**19 - 44))
    sent: list[int] = []
    api = InterviewsApi(live, headers["Authorization"].removeprefix("Bearer "))
    with wav.open("rb") as reader:
        recording, created = await api.upload(
            uuid.UUID(meeting["id"]), reader, wav.stat().st_size, sent.append
        )
    assert created and recording.size_bytes == wav.stat().st_size
    assert sent == [2**20, 2**20, 2**20, 2**19]
