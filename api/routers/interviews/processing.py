"""An interview's processing as it happens: where it stands (the workflow's query, with the
attempt of the provider call in flight from Temporal's description) and cancel (Temporal's own,
which stops the transcription in flight and is recorded as `cancelled`)."""

import uuid

from fastapi import APIRouter
from pydantic import BaseModel
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.service import RPCError, RPCStatusCode

from api.deps import Caller, Session, Temporal
from api.problems import ERROR_RESPONSES, TEMPORAL_UNAVAILABLE, ProblemError, responses
from api.routers.interviews.interviews import owned_interview
from api.temporal_calls import reaching_temporal
from domain.interviews.pipeline import InterviewStatus, Progress, workflow_id

router = APIRouter(prefix="/api/interviews", tags=["interviews"], responses=ERROR_RESPONSES)
# Nothing runs for an interview in these: the stored row says all there is.
AT_REST = (
    InterviewStatus.CREATED,
    InterviewStatus.ANALYZED,
    InterviewStatus.FAILED,
    InterviewStatus.ANALYSIS_FAILED,
    InterviewStatus.CANCELLED,
)


class ProcessingProgress(BaseModel):
    status: InterviewStatus
    # The provider at work (or the last one that was), and how far it says it is.
    provider: str | None = None
    percent: int | None = None
    # The provider call in flight: its attempt (1 the first), and why the one before failed.
    attempt: int | None = None
    last_failure: str | None = None
    # Providers that failed for good, each with its reason; and why the interview failed.
    failures: list[str] = []
    failure: str | None = None


@router.get("/{interview_id}/progress", response_model=ProcessingProgress)
async def get_progress(
    interview_id: uuid.UUID, who: Caller, session: Session, client: Temporal
) -> ProcessingProgress:
    """The stage, the provider, its attempt, and the percent where the provider reports one
    (Google's recognition)."""
    interview = await owned_interview(session, who.tenant_id, interview_id)
    stored = ProcessingProgress(status=InterviewStatus(interview.status), failure=interview.failure)
    if stored.status in AT_REST:
        return stored
    handle = client.get_workflow_handle(workflow_id(interview_id))
    with reaching_temporal("Try again, or read the interview's status."):
        try:
            now = await handle.query("progress", result_type=Progress)
            described = await handle.describe()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            return stored  # ended between the read and the query
    pending = [
        activity
        for activity in described.raw_description.pending_activities
        if activity.state != PendingActivityState.PENDING_ACTIVITY_STATE_UNSPECIFIED
    ]
    current = pending[0] if pending else None
    return ProcessingProgress(
        status=now.status,
        provider=now.provider,
        percent=now.percent,
        attempt=current.attempt if current else None,
        last_failure=(current.last_failure.message or None)
        if current and current.HasField("last_failure")
        else None,
        failures=now.failures,
        failure=interview.failure,
    )


@router.post(
    "/{interview_id}/cancel",
    status_code=202,
    response_model=None,
    responses={**responses({409: "Nothing is being processed for the interview"}), **TEMPORAL_UNAVAILABLE},
)
async def cancel(interview_id: uuid.UUID, who: Caller, session: Session, client: Temporal) -> None:
    """Stops the interview's processing: the transcription in flight stops, and the interview
    becomes `cancelled` once it has (Google's recognition cannot be stopped at Google: it ends
    there unread). Reanalyze starts the analysis again when the transcript was made."""
    interview = await owned_interview(session, who.tenant_id, interview_id)
    if interview.status in AT_REST:
        raise ProblemError(409, "Nothing to cancel", f"The interview is {interview.status}.")
    with reaching_temporal("Nothing was cancelled; send the request again."):
        try:
            await client.get_workflow_handle(workflow_id(interview_id)).cancel()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            raise ProblemError(409, "Nothing to cancel", "The interview's processing has ended.") from None
