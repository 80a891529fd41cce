"""Interviews: a candidate's interview for a position, in a language, by a panel, scored on a
rubric. The interviewers are sealed at rest; the rubric is stored normalised."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api import paging
from api.deps import Caller, Session, idempotency_header, replayed, replayed_response, same_request
from api.problems import ERROR_RESPONSES, ProblemError
from api.routers.interviews.candidates import owned_candidate
from api.routers.interviews.creation import insert_once, new_id, request_hash
from core.crypto import Cipher
from domain.interviews.contracts import Interview, InterviewIn, Panel
from domain.interviews.rubric import Rubric
from store import interviews as rows
from store.sealed import open_model, seal_model

router = APIRouter(prefix="/api/interviews", tags=["interviews"], responses=ERROR_RESPONSES)
IdempotencyKey = idempotency_header("interview")


def interview_out(cipher: Cipher, row: rows.Interview) -> Interview:
    panel = open_model(cipher, row.id, row.sealed, Panel)
    return Interview(
        id=row.id,
        candidate_id=row.candidate_id,
        position=row.position,
        language=row.language,
        scheduled_at=row.scheduled_at,
        time_zone=row.time_zone,
        rubric=Rubric.model_validate(row.rubric),
        interviewers=panel.interviewers,
        status=row.status,
        failure=row.failure,
        created_at=row.created_at,
    )


async def owned_interview(session: Session, tenant_id: uuid.UUID, interview_id: uuid.UUID) -> rows.Interview:
    row = await session.get(rows.Interview, interview_id)
    if row is None or row.tenant_id != tenant_id:
        raise ProblemError(404, "Interview not found", f"No interview {interview_id} in this tenant.")
    return row


@router.post(
    "", status_code=201, response_model=Interview, responses=replayed_response(Interview, "interview")
)
async def create_interview(
    body: InterviewIn,
    who: Caller,
    session: Session,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Interview:
    await owned_candidate(session, who.tenant_id, body.candidate_id)
    interview_id = new_id(who.tenant_id, idempotency_key)
    digest = request_hash(body)
    values = {
        "id": interview_id,
        "tenant_id": who.tenant_id,
        "candidate_id": body.candidate_id,
        "request_hash": digest,
        "position": body.position,
        "language": body.language,
        "scheduled_at": body.scheduled_at,
        "time_zone": body.time_zone,
        "rubric": body.rubric.model_dump(mode="json"),
        "sealed": seal_model(request.app.state.cipher, interview_id, Panel(interviewers=body.interviewers)),
    }
    try:
        created = await insert_once(session, rows.Interview, values)
    except IntegrityError:  # the candidate was deleted since it was read
        raise ProblemError(404, "Candidate not found", f"No candidate {body.candidate_id}.") from None
    row = await owned_interview(session, who.tenant_id, interview_id)
    if not created:
        same_request(row.request_hash, digest, "interview")
        replayed(response)
    return interview_out(request.app.state.cipher, row)


@router.get("", response_model=paging.Page[Interview])
async def list_interviews(
    who: Caller,
    session: Session,
    request: Request,
    candidate_id: Annotated[uuid.UUID | None, Query(description="Only this candidate's interviews")] = None,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[Interview]:
    query = select(rows.Interview).where(rows.Interview.tenant_id == who.tenant_id)
    if candidate_id is not None:
        query = query.where(rows.Interview.candidate_id == candidate_id)
    found = list((await session.execute(paging.apply(query, rows.Interview, cursor, limit))).scalars())
    return paging.page(found, limit, lambda row: interview_out(request.app.state.cipher, row))


@router.get("/{interview_id}", response_model=Interview)
async def get_interview(
    interview_id: uuid.UUID, who: Caller, session: Session, request: Request
) -> Interview:
    return interview_out(
        request.app.state.cipher, await owned_interview(session, who.tenant_id, interview_id)
    )
