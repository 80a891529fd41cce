"""The interview workflow's activities: transcribe a recording (offline here; the cloud providers
join the chain as they land), analyze a transcript with a model, and record the interview's
status. Each loads what it needs by id and stores what it made, answering ids: transcripts and
scorecards are personal data and stay out of workflow payloads.

What Temporal does with a failure is decided here: a recording that cannot be transcribed
(undecodable, silent) and an answer that cannot stand (invalid JSON, a schema violation, an
invented quote) are final for that provider; a provider that is down is retried after its
Retry-After.
"""

import asyncio
import uuid
from datetime import timedelta

import anthropic
import openai
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import heartbeat
from activities.dependencies import Dependencies
from clients import llm
from clients.audio import UndecodableAudio
from clients.local_transcription import LocalTranscriber, UnsupportedLanguage
from clients.refusals import ProviderRefused
from clients.transcription_openai import OpenAITranscriber
from domain.interviews.pipeline import (
    Analyzed,
    AnalyzeRequest,
    StatusRecord,
    Transcribed,
    TranscribeRequest,
)
from domain.interviews.prompts import SYSTEM, render
from domain.interviews.rubric import Rubric
from domain.interviews.scorecard import Refused, answer_schema, parse, scorecard
from domain.interviews.transcripts import NoSpeech, Transcript
from store import interviews as tables
from store.blobs import LocalBlobs
from store.sealed import open_model, seal_model

# Error types the workflow decides by.
NO_SPEECH = "NoSpeech"
UNUSABLE_RECORDING = "UnusableRecording"


class InterviewWork:
    def __init__(self, deps: Dependencies) -> None:
        self._db = deps.database
        self._cipher = deps.cipher
        self._settings = deps.settings
        self._blobs = LocalBlobs(deps.settings.blob_path)
        # Made at the first call, kept by the worker process: a model load, a client's connections.
        # A client per call would cost each analysis its own SSL context and connection (about 20 ms
        # of CPU here; docs/benchmarks.md "Interviews processed").
        self._local: LocalTranscriber | None = None
        self._openai: OpenAITranscriber | None = None
        self._openai_chat: openai.AsyncOpenAI | None = None
        self._anthropic: anthropic.AsyncAnthropic | None = None

    async def _source(self, request: TranscribeRequest) -> tuple[tables.Recording, tables.Interview]:
        """The recording to transcribe, and its interview (for the language)."""
        async with self._db.transaction() as session:
            recording = await session.get_one(tables.Recording, request.recording_id)
            return recording, await session.get_one(tables.Interview, recording.interview_id)

    @activity.defn(name="interviews.transcribe_local")
    async def transcribe_local(self, request: TranscribeRequest) -> Transcribed:
        """Offline transcription (CPU-bound, in a thread; one model per worker process)."""
        recording, interview = await self._source(request)
        if self._local is None:
            self._local = await asyncio.to_thread(
                LocalTranscriber, threads=self._settings.local_transcription_threads
            )
        async with heartbeat.heartbeating():
            try:
                made = await asyncio.to_thread(
                    self._local.transcribe, self._blobs.path(recording.blob_key), language=interview.language
                )
            except (UndecodableAudio, UnsupportedLanguage) as exc:
                raise ApplicationError(str(exc), type=UNUSABLE_RECORDING, non_retryable=True) from None
        return await self._kept(recording, interview, made)

    @activity.defn(name="interviews.transcribe_openai")
    async def transcribe_openai(self, request: TranscribeRequest) -> Transcribed:
        """OpenAI's transcription (chunked under its size limit; no speakers: all S1)."""
        recording, interview = await self._source(request)
        async with heartbeat.heartbeating():
            try:
                if self._openai is None:
                    self._openai = OpenAITranscriber(self._settings)
                made = await asyncio.to_thread(
                    self._openai.transcribe,
                    self._blobs.path(recording.blob_key),
                    interview.language,
                )
            except UndecodableAudio as exc:
                raise ApplicationError(str(exc), type=UNUSABLE_RECORDING, non_retryable=True) from None
            except ProviderRefused as exc:
                raise refused(exc) from None
        return await self._kept(recording, interview, made)

    async def _kept(
        self, recording: tables.Recording, interview: tables.Interview, made: Transcript | NoSpeech
    ) -> Transcribed:
        if isinstance(made, NoSpeech):
            raise ApplicationError(made.reason, type=NO_SPEECH, non_retryable=True)
        transcript = made.model_copy(update={"language": interview.language})
        return await self._store_transcript(recording, transcript)

    async def _store_transcript(self, recording: tables.Recording, transcript: Transcript) -> Transcribed:
        transcript_id = uuid.uuid5(recording.id, f"transcript:{transcript.provider}")
        async with self._db.transaction() as session:
            await session.execute(
                insert(tables.Transcript)
                .values(
                    id=transcript_id,
                    tenant_id=recording.tenant_id,
                    interview_id=recording.interview_id,
                    recording_id=recording.id,
                    provider=transcript.provider,
                    model=transcript.model,
                    duration_seconds=transcript.duration,
                    sealed=seal_model(self._cipher, transcript_id, transcript),
                )
                .on_conflict_do_nothing()
            )
        return Transcribed(transcript_id=transcript_id, provider=transcript.provider, model=transcript.model)

    @activity.defn(name="interviews.analyze")
    async def analyze(self, request: AnalyzeRequest) -> Analyzed:
        """One model's scorecard of the transcript, checked against it and the rubric."""
        async with self._db.transaction() as session:
            interview = await session.get_one(tables.Interview, request.interview_id)
            stored = await session.get_one(tables.Transcript, request.transcript_id)
        transcript = open_model(self._cipher, stored.id, stored.sealed, Transcript)
        rubric = Rubric.model_validate(interview.rubric)
        prompt, schema = render(transcript, interview.position, rubric), answer_schema(rubric)
        settings = self._settings
        try:
            if request.provider == "openai":
                self._openai_chat = self._openai_chat or llm.openai_client(settings)
                model = settings.openai_analysis_model
                text = await llm.ask_openai(self._openai_chat, model, SYSTEM, prompt, schema)
            else:
                self._anthropic = self._anthropic or llm.anthropic_client(settings)
                model = settings.anthropic_analysis_model
                text = await llm.ask_anthropic(self._anthropic, model, SYSTEM, prompt, schema)
            card = scorecard(parse(text), transcript, rubric)
        except ProviderRefused as exc:
            raise refused(exc) from None
        except Refused as exc:
            # The same prompt tends to the same answer: this model's attempt is over.
            raise ApplicationError(str(exc), type=exc.kind, non_retryable=True) from None
        analysis_id = uuid.uuid5(stored.id, f"analysis:{request.provider}:{model}")
        async with self._db.transaction() as session:
            await session.execute(
                insert(tables.Analysis)
                .values(
                    id=analysis_id,
                    tenant_id=interview.tenant_id,
                    interview_id=interview.id,
                    transcript_id=stored.id,
                    provider=request.provider,
                    model=model,
                    score=card.score,
                    sealed=seal_model(self._cipher, analysis_id, card),
                )
                .on_conflict_do_nothing()
            )
        return Analyzed(analysis_id=analysis_id, provider=request.provider, score=card.score)

    @activity.defn(name="interviews.record_status")
    async def record_status(self, record: StatusRecord) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(tables.Interview)
                .where(tables.Interview.id == record.interview_id)
                .values(status=record.status.value, failure=record.failure)
            )


def refused(exc: ProviderRefused) -> ApplicationError:
    """A provider's refusal as Temporal should take it: retried after its Retry-After, or final."""
    delay = timedelta(seconds=exc.retry_after) if exc.retry_after else None
    return ApplicationError(
        str(exc), type="ProviderRefused", non_retryable=not exc.retryable, next_retry_delay=delay
    )
