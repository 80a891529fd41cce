"""POST /api/interviews/{id}/recordings over real HTTP: every accepted format probed right, the
same bytes twice one recording, and every bad upload a 4xx that keeps nothing (no row, no blob)."""

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client import REGISTRY

from core.settings import Settings
from tests.integration.live_api import serve
from tests.interviews.conftest import FIXTURES, stored_blobs, tenant_with_interview

SPEECH_SECONDS = 7.84

# fixture: (container, codec, sample rate)
FORMATS = {
    "speech.wav": ("wav", "pcm_s16le", 16_000),
    "speech.flac": ("flac", "flac", 16_000),
    "speech.mp3": ("mp3", "mp3", 16_000),
    "speech.m4a": ("mp4", "aac", 16_000),
    "speech.opus.ogg": ("ogg", "opus", 48_000),
    "speech.webm": ("webm", "opus", 48_000),
}


def _rows(settings: Settings) -> list[tuple]:
    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        return conn.execute("SELECT id, sha256, blob_key, status FROM interview_recordings").fetchall()


def _answered(status: str) -> float:
    labels = {"method": "POST", "route": "/api/interviews/{interview_id}/recordings", "status": status}
    return REGISTRY.get_sample_value("tempoline_http_requests_total", labels) or 0.0


def _damaged(name: str, keep: int) -> bytes:
    """The fixture's first `keep` bytes (its header), then bytes that are no audio."""
    data = (FIXTURES / name).read_bytes()
    return data[:keep] + bytes((i * 7919) % 251 for i in range(len(data) - keep))


@pytest.mark.parametrize("name", FORMATS)
async def test_each_format_is_probed(
    live: httpx.AsyncClient, admin_headers: dict[str, str], interview_settings: Settings, name: str
) -> None:
    headers, meeting = await tenant_with_interview(live, admin_headers, "acme")
    data = (FIXTURES / name).read_bytes()
    uploaded = await live.post(f"/api/interviews/{meeting['id']}/recordings", content=data, headers=headers)
    assert uploaded.status_code == 201, uploaded.text
    recording = uploaded.json()
    container, codec, rate = FORMATS[name]
    assert recording["format"]["container"] == container
    assert recording["format"]["codec"] == codec
    assert recording["format"]["sample_rate"] == rate
    assert recording["format"]["channels"] == 1
    assert recording["format"]["duration_seconds"] == pytest.approx(SPEECH_SECONDS, abs=0.05)
    assert (recording["status"], recording["size_bytes"]) == ("uploaded", len(data))
    assert recording["sha256"] == hashlib.sha256(data).hexdigest()
    # Committed before the answer, and the blob is the bytes sent.
    [(row_id, _, key, status)] = _rows(interview_settings)
    assert (str(row_id), status) == (recording["id"], "uploaded")
    assert (interview_settings.blob_path / key).read_bytes() == data
    assert stored_blobs(interview_settings.blob_path) == [interview_settings.blob_path / key]


def _webm_without_duration() -> bytes:
    """The WebM fixture with its Duration element blanked (an EBML Void of the same length), as
    browsers' MediaRecorder writes WebM: it streams, and never goes back to fill it in."""
    data = (FIXTURES / "speech.webm").read_bytes()
    at = data.index(b"\x44\x89")  # Duration, followed by its size (a one-byte vint) and a float
    length = 3 + (data[at + 2] & 0x7F)
    return data[:at] + b"\xec" + bytes([0x80 | (length - 2)]) + bytes(length - 2) + data[at + length :]


async def test_a_webm_without_its_duration_is_measured_by_its_packets(
    live: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    headers, meeting = await tenant_with_interview(live, admin_headers, "acme")
    data = _webm_without_duration()
    uploaded = await live.post(f"/api/interviews/{meeting['id']}/recordings", content=data, headers=headers)
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["format"]["duration_seconds"] == pytest.approx(SPEECH_SECONDS, abs=0.05)


async def test_the_same_bytes_twice_are_one_recording(
    live: httpx.AsyncClient, admin_headers: dict[str, str], interview_settings: Settings
) -> None:
    headers, meeting = await tenant_with_interview(live, admin_headers, "acme")
    url = f"/api/interviews/{meeting['id']}/recordings"
    data = (FIXTURES / "speech.mp3").read_bytes()
    first = await live.post(url, content=data, headers=headers)
    again = await live.post(url, content=data, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(_rows(interview_settings)) == 1
    assert len(stored_blobs(interview_settings.blob_path)) == 1
    # Other bytes are another recording; the list shows both.
    other = await live.post(url, content=(FIXTURES / "speech.flac").read_bytes(), headers=headers)
    assert other.status_code == 201
    listed = (await live.get(url, headers=headers)).json()["items"]
    assert [r["id"] for r in listed] == [first.json()["id"], other.json()["id"]]


async def test_the_same_bytes_at_once_are_one_recording(
    live: httpx.AsyncClient, admin_headers: dict[str, str], interview_settings: Settings
) -> None:
    headers, meeting = await tenant_with_interview(live, admin_headers, "acme")
    url = f"/api/interviews/{meeting['id']}/recordings"
    data = (FIXTURES / "speech.flac").read_bytes()
    answers = await asyncio.gather(*(live.post(url, content=data, headers=headers) for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [200, 200, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(_rows(interview_settings)) == 1 and len(stored_blobs(interview_settings.blob_path)) == 1


BAD = {
    "empty body": (b"", "Empty body"),
    "text": (b"Dear hiring manager,\n" * 200, "Unreadable audio"),
    "png image": (b"\x89PNG\r\n\x1a\n" + b"0" * 4000, "Not audio"),
    "flac damaged after its header": (_damaged("speech.flac", 200), "Corrupt audio"),
    "m4a truncated": ((FIXTURES / "speech.m4a").read_bytes()[:3000], "Unreadable audio"),
    "mp3 garbled": (_damaged("speech.mp3", 200), "Unreadable audio"),
    "vorbis (unsupported codec)": ((FIXTURES / "speech-vorbis.ogg").read_bytes(), "Unsupported audio format"),
    "a quarter second": ((FIXTURES / "speech.wav").read_bytes()[:44] + bytes(8000), "Audio too short"),
}


@pytest.mark.parametrize("case", BAD)
async def test_bad_uploads_are_refused_and_keep_nothing(
    live: httpx.AsyncClient, admin_headers: dict[str, str], interview_settings: Settings, case: str
) -> None:
    headers, meeting = await tenant_with_interview(live, admin_headers, "acme")
    data, title = BAD[case]
    refused = await live.post(f"/api/interviews/{meeting['id']}/recordings", content=data, headers=headers)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert refused.headers["content-type"] == "application/problem+json"
    assert problem["title"] == title and problem["detail"]
    assert _rows(interview_settings) == []
    assert stored_blobs(interview_settings.blob_path) == []


async def test_audio_longer_than_the_maximum_is_refused(
    interview_settings: Settings, clean_db: None, admin_headers: dict[str, str]
) -> None:
    short = interview_settings.model_copy(update={"interviews_max_audio_seconds": 5.0})
    async with serve(short) as url, httpx.AsyncClient(base_url=url, timeout=60) as api:
        headers, meeting = await tenant_with_interview(api, admin_headers, "acme")
        refused = await api.post(
            f"/api/interviews/{meeting['id']}/recordings",
            content=(FIXTURES / "speech.opus.ogg").read_bytes(),
            headers=headers,
        )
    assert refused.status_code == 422 and refused.json()["title"] == "Audio too long", refused.text
    assert "at most 5 s" in refused.json()["detail"]
    assert _rows(short) == [] and stored_blobs(short.blob_path) == []


async def test_a_body_over_the_upload_limit_is_refused_and_keeps_nothing(
    interview_settings: Settings, clean_db: None, admin_headers: dict[str, str]
) -> None:
    # 2 MiB: over the API's general limit (1 MiB), which this route does not apply.
    limit = 2 * 1024 * 1024
    small = interview_settings.model_copy(update={"interviews_max_upload_bytes": limit})
    wav = (FIXTURES / "speech.wav").read_bytes()
    fits = wav[:44] + bytes(limit - 44)  # a (silent) WAV of exactly the limit

    async def over() -> AsyncIterator[bytes]:  # no Content-Length: found too large while it streams in
        yield wav
        for _ in range(limit // 65536):
            yield bytes(65536)

    async with serve(small) as url, httpx.AsyncClient(base_url=url, timeout=60) as api:
        headers, meeting = await tenant_with_interview(api, admin_headers, "acme")
        path = f"/api/interviews/{meeting['id']}/recordings"
        declared = await api.post(path, content=fits + b"x", headers=headers)
        streamed = await api.post(path, content=over(), headers=headers)
        for refused in (declared, streamed):
            assert refused.status_code == 413, refused.text
            assert refused.json()["title"] == f"Request body too large: the limit is {limit} bytes."
        assert _rows(small) == [] and stored_blobs(small.blob_path) == []
        accepted = await api.post(path, content=fits, headers=headers)
        assert accepted.status_code == 201, accepted.text
        # Every other route keeps the general limit.
        big = {"name": "x" * (small.api_max_body_bytes + 1), "email": "a@example.com"}
        assert (await api.post("/api/interviews/candidates", json=big, headers=headers)).status_code == 413


async def test_a_form_is_refused(
    live: httpx.AsyncClient, admin_headers: dict[str, str], interview_settings: Settings
) -> None:
    headers, meeting = await tenant_with_interview(live, admin_headers, "acme")
    sent = await live.post(
        f"/api/interviews/{meeting['id']}/recordings",
        files={"file": ("speech.wav", (FIXTURES / "speech.wav").read_bytes(), "audio/wav")},
        headers=headers,
    )
    assert sent.status_code == 415, sent.text
    assert stored_blobs(interview_settings.blob_path) == []


async def test_another_tenants_interview_is_not_found_and_nothing_is_kept(
    live: httpx.AsyncClient, admin_headers: dict[str, str], interview_settings: Settings
) -> None:
    _, meeting = await tenant_with_interview(live, admin_headers, "acme")
    other, _ = await tenant_with_interview(live, admin_headers, "globex")
    url = f"/api/interviews/{meeting['id']}/recordings"
    sent = await live.post(url, content=(FIXTURES / "speech.wav").read_bytes(), headers=other)
    assert sent.status_code == 404, sent.text
    assert (await live.get(url, headers=other)).status_code == 404
    assert _rows(interview_settings) == [] and stored_blobs(interview_settings.blob_path) == []


async def test_an_upload_cut_off_by_the_client_keeps_nothing(
    live: httpx.AsyncClient, admin_headers: dict[str, str], interview_settings: Settings
) -> None:
    headers, meeting = await tenant_with_interview(live, admin_headers, "acme")
    wav = (FIXTURES / "speech.wav").read_bytes()
    partial: list[Path] = []

    async def cut_off() -> AsyncIterator[bytes]:
        for _ in range(8):  # 2 MB: some of it written to the blob under way
            yield wav
        await asyncio.sleep(0.5)
        partial.extend(stored_blobs(interview_settings.blob_path))
        raise ConnectionAbortedError("the client went away")

    before = _answered("400")
    with pytest.raises(ConnectionAbortedError):
        await live.post(f"/api/interviews/{meeting['id']}/recordings", content=cut_off(), headers=headers)
    assert [p.parent.name for p in partial] == [".incoming"]
    for _ in range(100):  # the server notices the closed connection on its own time
        if not stored_blobs(interview_settings.blob_path):
            break
        await asyncio.sleep(0.05)
    assert stored_blobs(interview_settings.blob_path) == [] and _rows(interview_settings) == []
    # Counted as the client's doing (the server is in this process), not as an error of ours.
    assert _answered("400") == before + 1 and _answered("500") == 0
