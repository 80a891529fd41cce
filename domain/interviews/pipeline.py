"""The interview's processing: one workflow per interview (`interview:{interview_id}`, on the
`interviews` task queue) that transcribes its recording, then analyzes the transcript into a
scorecard. Transcripts and scorecards never travel in payloads: activities store them and answer
ids. Offline transcription is CPU-bound and has a task queue of its own with few slots."""

import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

TASK_QUEUE = "interviews"
TRANSCRIPTION_QUEUE = "interviews-transcription"
INTERVIEW_WORKFLOW = "Interview"
# The audio retention: one workflow a day, started by the schedule of the same id.
RETENTION_WORKFLOW = "InterviewAudioRetention"
RETENTION_ID = "interviews-audio-retention"
# Analysis models, in the order they are tried; the next one runs when one fails for good. (The
# transcription providers' order is the deployment's: INTERVIEWS_TRANSCRIPTION_PROVIDERS.)
ANALYSIS_PROVIDERS = ("openai", "anthropic")


def workflow_id(interview_id: uuid.UUID) -> str:
    return f"interview:{interview_id}"


class InterviewStatus(StrEnum):
    CREATED = "created"
    TRANSCRIBING = "transcribing"
    ANALYZING = "analyzing"
    ANALYZED = "analyzed"
    # Nothing can come of the recording (undecodable, silent): retrying cannot help.
    FAILED = "failed"
    # Every analysis model failed; the transcript is kept, and reanalyze starts from it.
    ANALYSIS_FAILED = "analysis_failed"
    # Temporal's cancel (the API's cancel): the work in flight was stopped.
    CANCELLED = "cancelled"


class PipelineModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InterviewStart(PipelineModel):
    interview_id: uuid.UUID
    tenant_id: uuid.UUID
    recording_id: uuid.UUID
    # Set by reanalyze: the analysis starts from this transcript, none is made again.
    transcript_id: uuid.UUID | None = None
    # In order; the next runs when one fails for good.
    transcription_providers: list[str] = ["local"]


class TranscribeRequest(PipelineModel):
    recording_id: uuid.UUID
    provider: str


class Transcribed(PipelineModel):
    transcript_id: uuid.UUID
    provider: str
    model: str


class Polled(PipelineModel):
    """A long-running recognition asked how far it is: the transcript once it is done."""

    percent: int
    transcribed: Transcribed | None = None


class AnalyzeRequest(PipelineModel):
    interview_id: uuid.UUID
    transcript_id: uuid.UUID
    provider: str


class Analyzed(PipelineModel):
    analysis_id: uuid.UUID
    provider: str
    score: float


class StatusRecord(PipelineModel):
    interview_id: uuid.UUID
    status: InterviewStatus
    failure: str | None = None


class Progress(PipelineModel):
    """The workflow's query: where the interview stands."""

    status: InterviewStatus
    provider: str | None = None
    # How much of the recording the provider has done, where it says (Google's recognition).
    percent: int | None = None
    failures: list[str] = []


class Purge(PipelineModel):
    """Delete the audio of interviews analyzed more than ``days`` ago."""

    days: int


class Purged(PipelineModel):
    recordings: int
