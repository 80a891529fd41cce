"""A recording's upload: the body streams to the blob store (never all in memory), hashed on
the way; the file is probed, and its row committed before the answer. The same bytes uploaded
to the same interview again are the recording already there (200, nothing new kept).

The body is the file itself (`curl --data-binary @interview.m4a`), not a multipart form. Its
size limit is INTERVIEWS_MAX_UPLOAD_BYTES (api.middleware enforces it for this route, and
TEMPOLINE_API_MAX_BODY_BYTES for every other). A refused upload keeps nothing: the blob under
way is deleted.
"""

import asyncio
import hashlib
import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from starlette.requests import ClientDisconnect

from api import paging
from api.deps import Caller, Session, Temporal, database, replayed, replayed_response
from api.problems import ERROR_RESPONSES, ProblemError, responses
from api.routers.interviews.interviews import owned_interview
from api.routers.interviews.results import start_processing
from api.temporal_calls import reaching_temporal
from clients.audio import probe
from core.settings import Settings
from domain.interviews.contracts import Recording
from domain.interviews.pipeline import InterviewStart
from domain.interviews.recordings import AudioFacts, RecordingStatus, Refused, check
from store import interviews as rows
from store.blobs import BlobStore
from store.db import Database

router = APIRouter(prefix="/api/interviews", tags=["interviews: recordings"], responses=ERROR_RESPONSES)

# The route whose body limit is INTERVIEWS_MAX_UPLOAD_BYTES (api.app gives it to the middleware).
UPLOAD_PATH = re.compile(r"^/api/interviews/[0-9A-Fa-f-]{32,36}/recordings$")
# Bytes handed to the hash and the blob at a time: few thread hops, a bounded buffer.
BLOCK = 1 << 20
# A multipart form wraps the file in boundaries and headers: refused with the reason, rather than
# probed as a damaged file. (Any other content type is taken as the file's: `curl --data-binary`
# sends application/x-www-form-urlencoded unless told otherwise.)
_FORM = "multipart/form-data"


def recording_out(row: rows.Recording) -> Recording:
    return Recording(
        id=row.id,
        interview_id=row.interview_id,
        status=RecordingStatus(row.status),
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        format=AudioFacts(
            container=row.container,
            codec=row.codec,
            duration_seconds=row.duration_seconds,
            channels=row.channels,
            sample_rate=row.sample_rate,
            bit_rate=row.bit_rate,
        ),
        created_at=row.created_at,
    )


async def _receive(request: Request, blobs: BlobStore, key: str) -> tuple[str, int]:
    """Streams the body into the blob `key`; its SHA-256 and size."""
    digest, size = hashlib.sha256(), 0
    async with blobs.writing(key) as blob:
        pending: list[bytes] = []
        held = 0
        async for chunk in request.stream():
            pending.append(chunk)
            held += len(chunk)
            if held >= BLOCK:
                block = b"".join(pending)
                pending, held = [], 0
                await asyncio.to_thread(digest.update, block)
                await blob.write(block)
                size += len(block)
        if held:
            block = b"".join(pending)
            digest.update(block)
            await blob.write(block)
            size += len(block)
        if size == 0:
            raise ProblemError(422, "Empty body", "The request body is empty; send the recording's bytes.")
    return digest.hexdigest(), size


def _probe_blob(blobs: BlobStore, key: str) -> AudioFacts:
    with blobs.open(key) as file:
        return probe(file)


async def _existing(db: Database, interview_id: uuid.UUID, sha256: str) -> rows.Recording | None:
    async with db.transaction() as session:
        return await session.scalar(
            select(rows.Recording).where(
                rows.Recording.interview_id == interview_id, rows.Recording.sha256 == sha256
            )
        )


async def _insert(db: Database, values: dict[str, object]) -> rows.Recording | None:
    """The new recording's row, committed; None if the same bytes' row was there first."""
    async with db.transaction() as session:
        try:
            return await session.scalar(
                insert(rows.Recording)
                .values(**values)
                .on_conflict_do_nothing(constraint="uq_interview_recordings_interview_sha256")
                .returning(rows.Recording)
            )
        except IntegrityError:  # the interview was deleted meanwhile
            raise ProblemError(
                404, "Interview not found", f"No interview {values['interview_id']}."
            ) from None


@router.post(
    "/{interview_id}/recordings",
    status_code=201,
    response_model=Recording,
    responses={
        **replayed_response(Recording, "recording"),
        **responses(
            {
                413: "The body is larger than INTERVIEWS_MAX_UPLOAD_BYTES",
                415: "A multipart form was sent; send the file's bytes as the body",
                422: "Empty, corrupt, too short or too long audio, or not audio in an accepted format",
            }
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The recording's bytes: WAV (PCM), FLAC, MP3, M4A (AAC), Ogg or WebM (Opus)",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("application/octet-stream", "audio/*")
            },
        }
    },
)
async def upload_recording(
    interview_id: uuid.UUID,
    who: Caller,
    request: Request,
    response: Response,
    db: Annotated[Database, Depends(database)],
    client: Temporal,
) -> Recording:
    """Uploads a recording of the interview (streamed; the same bytes again are one recording)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == _FORM:
        raise ProblemError(415, "Unsupported media type", "Send the file's bytes as the body, not a form.")
    # Checked on a connection given back at once: none is held while the body streams in.
    async with db.transaction() as session:
        await owned_interview(session, who.tenant_id, interview_id)
    settings: Settings = request.app.state.settings
    blobs: BlobStore = request.app.state.blobs
    recording_id = uuid.uuid4()
    key = f"recordings/{who.tenant_id}/{interview_id}/{recording_id}"
    try:
        sha256, size = await _receive(request, blobs, key)
    except ClientDisconnect:
        # Nobody reads the answer; it says, in the access log, that this was the client's doing.
        raise ProblemError(
            400, "Upload cut off", "The connection closed before the whole body arrived."
        ) from None
    kept = False
    try:
        existing = await _existing(db, interview_id, sha256)
        if existing is None:
            try:
                facts = await asyncio.to_thread(_probe_blob, blobs, key)
                check(facts, settings.interviews_max_audio_seconds)
            except Refused as refused:
                raise ProblemError(422, refused.title, refused.detail) from None
            values = {
                "id": recording_id,
                "tenant_id": who.tenant_id,
                "interview_id": interview_id,
                "status": RecordingStatus.uploaded,
                "sha256": sha256,
                "size_bytes": size,
                "blob_key": key,
                **facts.model_dump(),
            }
            inserted = await _insert(db, values)
            if inserted is not None:
                kept = True
                start = InterviewStart(
                    interview_id=interview_id,
                    tenant_id=who.tenant_id,
                    recording_id=recording_id,
                    transcription_providers=list(settings.interviews_transcription_providers),
                )
                with reaching_temporal("The recording is stored; upload it again to start its processing."):
                    await start_processing(client, start)
                return recording_out(inserted)
            # Another upload of the same bytes committed first: that one is the recording.
            existing = await _existing(db, interview_id, sha256)
    finally:
        if not kept:
            await blobs.delete(key)
    if existing is None:  # the row its insert met went since, with its interview
        raise ProblemError(404, "Interview not found", f"No interview {interview_id}.")
    replayed(response)
    return recording_out(existing)


@router.get("/{interview_id}/recordings", response_model=paging.Page[Recording])
async def list_recordings(
    interview_id: uuid.UUID,
    who: Caller,
    session: Session,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[Recording]:
    await owned_interview(session, who.tenant_id, interview_id)
    query = select(rows.Recording).where(rows.Recording.interview_id == interview_id)
    found = list((await session.execute(paging.apply(query, rows.Recording, cursor, limit))).scalars())
    return paging.page(found, limit, recording_out)
