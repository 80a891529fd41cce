"""What an interview's processing made: its transcript and its scorecard (each the latest), and
reanalyze, which starts a new run of the interview's workflow from the stored transcript."""

import uuid

from fastapi import APIRouter, Request
from sqlalchemy import select
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.deps import Caller, Session, Temporal
from api.problems import ERROR_RESPONSES, TEMPORAL_UNAVAILABLE, ProblemError, responses
from api.routers.interviews.interviews import owned_interview
from api.temporal_calls import reaching_temporal
from core.crypto import Cipher
from domain.interviews.pipeline import (
    INTERVIEW_WORKFLOW,
    TASK_QUEUE,
    InterviewStart,
    InterviewStatus,
    workflow_id,
)
from domain.interviews.scorecard import Scorecard
from domain.interviews.transcripts import Transcript
from store import interviews as rows
from store.sealed import open_model

router = APIRouter(prefix="/api/interviews", tags=["interviews"], responses=ERROR_RESPONSES)
NOT_YET = responses({404: "No such interview, or nothing made yet"})


async def start_processing(client: Client, start: InterviewStart, *, again: bool = False) -> None:
    """The interview's workflow, after the row it works on was committed: a recording's upload
    starts it (a second upload while it runs joins the run), reanalyze starts it again."""
    await client.start_workflow(
        INTERVIEW_WORKFLOW,
        start,
        id=workflow_id(start.interview_id),
        task_queue=TASK_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL if again else WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )


async def _latest(
    session: Session, table: type[rows.Transcript] | type[rows.Analysis], interview_id: uuid.UUID
):  # type: ignore[no-untyped-def]
    return await session.scalar(
        select(table).where(table.interview_id == interview_id).order_by(table.created_at.desc()).limit(1)
    )


@router.get("/{interview_id}/transcript", response_model=Transcript, responses=NOT_YET)
async def get_transcript(
    interview_id: uuid.UUID, who: Caller, session: Session, request: Request
) -> Transcript:
    await owned_interview(session, who.tenant_id, interview_id)
    row = await _latest(session, rows.Transcript, interview_id)
    if row is None:
        raise ProblemError(404, "No transcript yet", "The recording has not been transcribed (yet).")
    cipher: Cipher = request.app.state.cipher
    return open_model(cipher, row.id, row.sealed, Transcript)


class AnalysisOut(Scorecard):
    id: uuid.UUID
    provider: str
    model: str
    transcript_id: uuid.UUID
    # The model call's cost as the provider counted it, and its time; null when not known.
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int | None


@router.get("/{interview_id}/analysis", response_model=AnalysisOut, responses=NOT_YET)
async def get_analysis(
    interview_id: uuid.UUID, who: Caller, session: Session, request: Request
) -> AnalysisOut:
    await owned_interview(session, who.tenant_id, interview_id)
    row = await _latest(session, rows.Analysis, interview_id)
    if row is None:
        raise ProblemError(404, "No analysis yet", "The interview has not been analyzed (yet).")
    card = open_model(request.app.state.cipher, row.id, row.sealed, Scorecard)
    return AnalysisOut(
        **card.model_dump(),
        id=row.id,
        provider=row.provider,
        model=row.model,
        transcript_id=row.transcript_id,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        latency_ms=row.latency_ms,
    )


@router.post(
    "/{interview_id}/reanalyze",
    status_code=202,
    response_model=None,
    responses={
        **responses({409: "Not analysis_failed, analyzed or cancelled, or still being processed"}),
        **TEMPORAL_UNAVAILABLE,
    },
)
async def reanalyze(interview_id: uuid.UUID, who: Caller, session: Session, client: Temporal) -> None:
    """Analyzes the stored transcript again (no new transcription): after every model failed,
    after a cancel, or to score it anew."""
    interview = await owned_interview(session, who.tenant_id, interview_id)
    # Analyzing: a reanalyze accepted whose start did not reach Temporal may be sent again.
    if interview.status not in (
        InterviewStatus.ANALYSIS_FAILED,
        InterviewStatus.ANALYZED,
        InterviewStatus.ANALYZING,
        InterviewStatus.CANCELLED,
    ):
        raise ProblemError(409, "Cannot reanalyze", f"The interview is {interview.status}.")
    transcript = await _latest(session, rows.Transcript, interview_id)
    if transcript is None:
        raise ProblemError(409, "Cannot reanalyze", "The interview has no transcript.")
    start = InterviewStart(
        interview_id=interview_id,
        tenant_id=who.tenant_id,
        recording_id=transcript.recording_id,
        transcript_id=transcript.id,
    )
    # Accepted, and so shown, before the answer leaves.
    interview.status, interview.failure = InterviewStatus.ANALYZING, None
    await session.commit()
    with reaching_temporal("Nothing was started; send the request again."):
        try:
            await start_processing(client, start, again=True)
        except WorkflowAlreadyStartedError:
            raise ProblemError(409, "Cannot reanalyze", "The interview is being processed.") from None
