"""The interview workflow's activities: transcribe a recording (offline, by OpenAI, or by Google's
long-running recognition: started once, then polled), analyze a transcript with a model, and
record the interview's status. Each loads what it needs by id and stores what it made,
answering ids: transcripts and scorecards are personal data and stay out of workflow payloads.

What Temporal does with a failure is decided here: a recording that cannot be transcribed
(undecodable, silent) and an answer that cannot stand (invalid JSON, a schema violation, an
invented quote) are final for that provider; a provider that is down is retried after its
Retry-After.
"""

import asyncio
import functools
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any

import anthropic
import openai
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import heartbeat, interview_metrics
from activities.dependencies import Dependencies
from activities.interview_metrics import Stage, measured
from clients import llm
from clients.audio import UndecodableAudio
from clients.local_transcription import LocalTranscriber, UnsupportedLanguage
from clients.refusals import ProviderRefused
from clients.speech_google import GoogleSpeech, Progress, Recognition
from clients.transcription_openai import OpenAITranscriber
from domain.interviews.contracts import Panel
from domain.interviews.pipeline import (
    Analyzed,
    AnalyzeRequest,
    InterviewStatus,
    Polled,
    Purge,
    Purged,
    StatusRecord,
    Transcribed,
    TranscribeRequest,
)
from domain.interviews.prompts import SYSTEM, correction, parts, render
from domain.interviews.recordings import RecordingStatus
from domain.interviews.rubric import Rubric
from domain.interviews.scorecard import Refused, Scorecard, answer_schema, combine, parse, scorecard
from domain.interviews.transcripts import NoSpeech, Transcript
from store import interviews as tables
from store.blobs import LocalBlobs
from store.sealed import open_model, seal_model

# A call to the analysis model: prompt, answer schema, earlier exchange → answer.
Ask = Callable[[str, dict[str, Any], llm.Exchange], Awaitable[llm.Answer]]
# Recordings whose audio is deleted per transaction by the retention.
PURGE_BATCH = 200
# Error types the workflow decides by.
NO_SPEECH = "NoSpeech"
UNUSABLE_RECORDING = "UnusableRecording"
# The statuses a processing run ends in, counted as it records them.
ENDED = (InterviewStatus.ANALYZED, InterviewStatus.FAILED, InterviewStatus.ANALYSIS_FAILED)


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
        self._google: GoogleSpeech | None = None
        self._openai_llm: openai.AsyncOpenAI | None = None
        self._anthropic_llm: anthropic.AsyncAnthropic | None = None

    async def _source(self, request: TranscribeRequest) -> tuple[tables.Recording, tables.Interview]:
        """The recording to transcribe, and its interview (for the language)."""
        async with self._db.transaction() as session:
            recording = await session.get_one(tables.Recording, request.recording_id)
            return recording, await session.get_one(tables.Interview, recording.interview_id)

    @activity.defn(name="interviews.transcribe_local")
    @measured(Stage.TRANSCRIPTION)
    async def transcribe_local(self, request: TranscribeRequest) -> Transcribed:
        """Offline transcription (CPU-bound, in a thread; one model per worker process)."""
        recording, interview = await self._source(request)
        if self._local is None:
            self._local = await asyncio.to_thread(
                LocalTranscriber, threads=self._settings.local_transcription_threads
            )
        stop = threading.Event()
        work = asyncio.ensure_future(
            asyncio.to_thread(
                self._local.transcribe,
                self._blobs.path(recording.blob_key),
                language=interview.language,
                stop=stop,
            )
        )
        async with heartbeat.heartbeating():
            try:
                made = await asyncio.shield(work)
            except (UndecodableAudio, UnsupportedLanguage) as exc:
                raise ApplicationError(str(exc), type=UNUSABLE_RECORDING, non_retryable=True) from None
            except asyncio.CancelledError:
                # Cancelled (the interview's cancel, a timeout, the worker shutting down): the
                # thread would go on for minutes. It stops at Whisper's next segment, and the
                # cancel is reported once it has, so the CPU is free when the interview says so.
                stop.set()
                await asyncio.wait([work])
                work.exception()  # Stopped, most likely: retrieved, so it is not logged as lost
                raise
        return await self._kept(recording, interview, made)

    @activity.defn(name="interviews.transcribe_openai")
    @measured(Stage.TRANSCRIPTION)
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

    @activity.defn(name="interviews.start_google")
    # (Not the polls: each is a short call, and the recognition's time is Google's.)
    @measured(Stage.TRANSCRIPTION)
    async def start_google(self, request: TranscribeRequest) -> None:
        """Starts Google's long-running recognition of the recording, once: each operation's
        name is stored as soon as Google answers it, and an attempt that finds some stored (a
        retry, another worker after a crash) starts only the chunks after them."""
        recording, interview = await self._source(request)
        panel = open_model(self._cipher, interview.id, interview.sealed, Panel)
        started = await self._recognition(recording.id)
        loop = asyncio.get_running_loop()

        def keep(recognition: Recognition) -> None:
            # Called in the client's thread: stored (committed) before the next chunk starts.
            asyncio.run_coroutine_threadsafe(self._keep(recording, recognition), loop).result()

        async with heartbeat.heartbeating():
            try:
                await asyncio.to_thread(
                    self._speech().start,
                    self._blobs.path(recording.blob_key),
                    interview.language,
                    # Each interviewer and the candidate.
                    len(panel.interviewers) + 1,
                    resume=started,
                    on_started=keep,
                )
            except UndecodableAudio as exc:
                raise ApplicationError(str(exc), type=UNUSABLE_RECORDING, non_retryable=True) from None
            except ProviderRefused as exc:
                raise refused(exc) from None

    @activity.defn(name="interviews.poll_google")
    async def poll_google(self, request: TranscribeRequest) -> Polled:
        """How far Google's recognition is; once done, its transcript stored."""
        recording, interview = await self._source(request)
        started = await self._recognition(recording.id)
        if started is None:
            raise ApplicationError(f"no recognition started for recording {recording.id}", non_retryable=True)
        async with heartbeat.heartbeating():
            try:
                made = await asyncio.to_thread(self._speech().poll, started)
            except ProviderRefused as exc:
                raise refused(exc) from None
        if isinstance(made, Progress):
            return Polled(percent=made.percent)
        return Polled(percent=100, transcribed=await self._kept(recording, interview, made))

    def _speech(self) -> GoogleSpeech:
        if self._google is None:
            self._google = GoogleSpeech(self._settings)
        return self._google

    async def _recognition(self, recording_id: uuid.UUID) -> Recognition | None:
        async with self._db.transaction() as session:
            row = await session.get(tables.StartedRecognition, (recording_id, "google"))
        return Recognition.model_validate(row.operations) if row else None

    async def _keep(self, recording: tables.Recording, recognition: Recognition) -> None:
        values = recognition.model_dump(mode="json")
        row = {"recording_id": recording.id, "provider": "google", "tenant_id": recording.tenant_id}
        async with self._db.transaction() as session:
            await session.execute(
                insert(tables.StartedRecognition)
                .values(**row, operations=values)
                .on_conflict_do_update(index_elements=list(row)[:2], set_={"operations": values})
            )

    async def _kept(
        self, recording: tables.Recording, interview: tables.Interview, made: Transcript | NoSpeech
    ) -> Transcribed:
        """The provider's transcript, stored under an id derived from the recording and the
        provider (a retried activity writes it once); no speech is final."""
        if isinstance(made, NoSpeech):
            raise ApplicationError(made.reason, type=NO_SPEECH, non_retryable=True)
        transcript = made.model_copy(update={"language": interview.language})
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
    @measured(Stage.ANALYSIS)
    async def analyze(self, request: AnalyzeRequest) -> Analyzed:
        """One model's scorecard of the transcript, checked against it and the rubric. A
        transcript over the budget is analyzed in parts whose scorecards are combined. An answer
        that cannot stand is sent back once with why; a second one ends this model's attempt."""
        async with self._db.transaction() as session:
            interview = await session.get_one(tables.Interview, request.interview_id)
            stored = await session.get_one(tables.Transcript, request.transcript_id)
            chosen = await session.get(tables.TenantSettings, interview.tenant_id)
        recommend = chosen is not None and chosen.recommendation
        transcript = open_model(self._cipher, stored.id, stored.sealed, Transcript)
        rubric = Rubric.model_validate(interview.rubric)
        schema = answer_schema(rubric, recommend=recommend)
        pieces = parts(transcript, self._settings.interviews_analysis_max_transcript_chars)
        answers: list[llm.Answer] = []
        cards: list[tuple[Scorecard, float]] = []
        model, ask = self._model(request.provider)

        async def asked(prompt: str, earlier: llm.Exchange) -> str:
            answer = await ask(prompt, schema, earlier)
            interview_metrics.tokens(request.provider, model, answer.input_tokens, answer.output_tokens)
            answers.append(answer)
            return answer.text

        async with heartbeat.heartbeating():
            try:
                for n, piece in enumerate(pieces, start=1):
                    prompt = render(
                        piece, interview.position, rubric, recommend=recommend, part=(n, len(pieces))
                    )
                    text = await asked(prompt, ())
                    try:
                        card = scorecard(parse(text), piece, rubric, recommend=recommend)
                    except Refused as first:
                        again = await asked(prompt, [(text, correction(str(first)))])
                        card = scorecard(parse(again), piece, rubric, recommend=recommend)
                    cards.append((card, piece.segments[-1].end - piece.segments[0].start))
            except ProviderRefused as exc:
                raise refused(exc) from None
            except Refused as exc:
                # Told why once and still wrong: the same prompt tends to the same answer.
                raise ApplicationError(str(exc), type=exc.kind, non_retryable=True) from None
        card = cards[0][0] if len(cards) == 1 else combine(cards, rubric)
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
                    input_tokens=_total(a.input_tokens for a in answers),
                    output_tokens=_total(a.output_tokens for a in answers),
                    latency_ms=sum(a.latency_ms for a in answers),
                    sealed=seal_model(self._cipher, analysis_id, card),
                )
                .on_conflict_do_nothing()
            )
        return Analyzed(analysis_id=analysis_id, provider=request.provider, score=card.score)

    def _model(self, provider: str) -> tuple[str, Ask]:
        """The provider's analysis model and a call to it. Its client is made once per worker
        process and kept, so its connections stay open between analyses (the deployment's key,
        the same for every tenant)."""
        settings = self._settings
        if provider == "openai":
            if self._openai_llm is None:
                self._openai_llm = llm.openai_client(settings)
            model = settings.openai_analysis_model
            return model, functools.partial(llm.ask_openai, self._openai_llm, model, SYSTEM)
        if self._anthropic_llm is None:
            self._anthropic_llm = llm.anthropic_client(settings)
        model = settings.anthropic_analysis_model
        return model, functools.partial(llm.ask_anthropic, self._anthropic_llm, model, SYSTEM)

    @activity.defn(name="interviews.purge_audio")
    async def purge_audio(self, purge: Purge) -> Purged:
        """Deletes the audio of interviews analyzed more than ``purge.days`` ago, a batch at a
        time: each file first, then its recording marked purged (a file deleted whose mark was
        not committed is deleted again, harmlessly, by the next attempt)."""
        analyzed_before = select(tables.Analysis.interview_id).where(
            tables.Analysis.created_at < func.now() - timedelta(days=purge.days)
        )
        due = (
            select(tables.Recording.id, tables.Recording.blob_key)
            .join(tables.Interview, tables.Interview.id == tables.Recording.interview_id)
            .where(
                tables.Recording.status == RecordingStatus.uploaded,
                tables.Interview.status == InterviewStatus.ANALYZED,
                tables.Recording.interview_id.in_(analyzed_before),
            )
            .limit(PURGE_BATCH)
        )
        purged = 0
        while True:
            async with self._db.transaction() as session:
                batch = (await session.execute(due)).all()
            if not batch:
                return Purged(recordings=purged)
            for _, key in batch:
                await self._blobs.delete(key)
            async with self._db.transaction() as session:
                await session.execute(
                    update(tables.Recording)
                    .where(tables.Recording.id.in_([recording_id for recording_id, _ in batch]))
                    .values(status=RecordingStatus.purged)
                )
            purged += len(batch)
            activity.heartbeat(purged)

    @activity.defn(name="interviews.record_status")
    async def record_status(self, record: StatusRecord) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(tables.Interview)
                .where(tables.Interview.id == record.interview_id)
                .values(status=record.status.value, failure=record.failure)
            )
        if record.status in ENDED:
            interview_metrics.finished(record.status.value)


def _total(counts: Iterable[int | None]) -> int | None:
    """Tokens of every call, or None when a provider did not say for one."""
    known = list(counts)
    return None if None in known else sum(c for c in known if c is not None)


def refused(exc: ProviderRefused) -> ApplicationError:
    """A provider's refusal as Temporal should take it: retried after its Retry-After, or final."""
    delay = timedelta(seconds=exc.retry_after) if exc.retry_after else None
    return ApplicationError(
        str(exc), type="ProviderRefused", non_retryable=not exc.retryable, next_retry_delay=delay
    )
