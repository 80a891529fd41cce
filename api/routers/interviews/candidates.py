"""Candidates: who is interviewed. Their contact data is sealed at rest; deleting a candidate
deletes their interviews and recordings, the recordings' audio included."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import func, select

from api import paging
from api.deps import Caller, Session, database, idempotency_header, replayed, replayed_response, same_request
from api.problems import ERROR_RESPONSES, ProblemError
from api.routers.interviews.creation import insert_once, new_id, request_hash
from core.crypto import Cipher
from core.logging import get_logger
from domain.interviews.contracts import Candidate, CandidateIn, Contact
from store import interviews as rows
from store.blobs import BlobStore
from store.db import Database
from store.sealed import open_model, seal_model

router = APIRouter(
    prefix="/api/interviews/candidates", tags=["interviews: candidates"], responses=ERROR_RESPONSES
)
IdempotencyKey = idempotency_header("candidate")
log = get_logger(__name__)


def candidate_out(cipher: Cipher, row: rows.Candidate) -> Candidate:
    contact = open_model(cipher, row.id, row.sealed, Contact)
    return Candidate(id=row.id, created_at=row.created_at, updated_at=row.updated_at, **contact.model_dump())


async def owned_candidate(
    session: Session, tenant_id: uuid.UUID, candidate_id: uuid.UUID, *, for_update: bool = False
) -> rows.Candidate:
    query = select(rows.Candidate).where(rows.Candidate.id == candidate_id)
    row = await session.scalar(query.with_for_update() if for_update else query)
    if row is None or row.tenant_id != tenant_id:
        raise ProblemError(404, "Candidate not found", f"No candidate {candidate_id} in this tenant.")
    return row


@router.post(
    "", status_code=201, response_model=Candidate, responses=replayed_response(Candidate, "candidate")
)
async def create_candidate(
    body: CandidateIn,
    who: Caller,
    session: Session,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Candidate:
    candidate_id = new_id(who.tenant_id, idempotency_key)
    digest = request_hash(body)
    sealed = seal_model(request.app.state.cipher, candidate_id, body)
    values = {"id": candidate_id, "tenant_id": who.tenant_id, "request_hash": digest, "sealed": sealed}
    created = await insert_once(session, rows.Candidate, values)
    row = await owned_candidate(session, who.tenant_id, candidate_id)
    if not created:
        same_request(row.request_hash, digest, "candidate")
        replayed(response)
    return candidate_out(request.app.state.cipher, row)


@router.get("", response_model=paging.Page[Candidate])
async def list_candidates(
    who: Caller, session: Session, request: Request, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[Candidate]:
    query = select(rows.Candidate).where(rows.Candidate.tenant_id == who.tenant_id)
    found = list((await session.execute(paging.apply(query, rows.Candidate, cursor, limit))).scalars())
    return paging.page(found, limit, lambda row: candidate_out(request.app.state.cipher, row))


@router.get("/{candidate_id}", response_model=Candidate)
async def get_candidate(
    candidate_id: uuid.UUID, who: Caller, session: Session, request: Request
) -> Candidate:
    return candidate_out(
        request.app.state.cipher, await owned_candidate(session, who.tenant_id, candidate_id)
    )


@router.put("/{candidate_id}", response_model=Candidate)
async def replace_candidate(
    candidate_id: uuid.UUID, body: CandidateIn, who: Caller, session: Session, request: Request
) -> Candidate:
    """Replaces the candidate's contact data."""
    row = await owned_candidate(session, who.tenant_id, candidate_id, for_update=True)
    row.sealed = seal_model(request.app.state.cipher, candidate_id, body)
    row.updated_at = func.now()
    await session.flush()
    await session.refresh(row)
    return candidate_out(request.app.state.cipher, row)


@router.delete("/{candidate_id}", status_code=204)
async def delete_candidate(
    candidate_id: uuid.UUID, who: Caller, request: Request, db: Annotated[Database, Depends(database)]
) -> Response:
    """Deletes the candidate with their interviews and recordings (their audio too)."""
    # A transaction of its own: the audio goes only once the rows' deletion is committed.
    async with db.transaction() as session:
        await owned_candidate(session, who.tenant_id, candidate_id, for_update=True)
        # Locked, so no recording is added to them meanwhile (its insert waits, then finds
        # the interview gone): every blob to delete is listed here.
        interview_ids = select(rows.Interview.id).where(rows.Interview.candidate_id == candidate_id)
        await session.execute(interview_ids.with_for_update())
        keys = list(
            await session.scalars(
                select(rows.Recording.blob_key).where(rows.Recording.interview_id.in_(interview_ids))
            )
        )
        await session.execute(rows.Candidate.__table__.delete().where(rows.Candidate.id == candidate_id))
    blobs: BlobStore = request.app.state.blobs
    for key in keys:
        await blobs.delete(key)
    log.info("candidate deleted", candidate_id=str(candidate_id), recordings=len(keys))
    return Response(status_code=204)
