"""An interview's processing: its recording transcribed, then the transcript analyzed into an
evidence-backed scorecard (InterviewWorkflow, `interview:{interview_id}`).

Each stage runs its providers in order: a provider that fails for good (a final error, or out of
attempts) hands over to the next. Google's recognition is started once (its operations are
stored as they start) and then polled on the workflow's clock, its progress in the query. A
recording nothing can be made of (undecodable, silent) ends the interview `failed` with the
reason, and no other provider is asked. When every analysis model fails, the interview is
`analysis_failed`; reanalyze starts a new run from the stored transcript.
"""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.interviews import NO_SPEECH, UNUSABLE_RECORDING, InterviewWork
    from domain.interviews.pipeline import (
        ANALYSIS_PROVIDERS,
        INTERVIEW_WORKFLOW,
        TRANSCRIPTION_QUEUE,
        AnalyzeRequest,
        InterviewStart,
        InterviewStatus,
        Progress,
        StatusRecord,
        TranscribeRequest,
    )
    from domain.interviews.webhooks import EventData, WebhookEvent
    from workflows import workflow_cancel
    from workflows.failures import cause_of
    from workflows.store_calls import store
    from workflows.webhook_delivery import announce

# Offline transcription runs at about a twentieth of real time here: an hour's recording in
# minutes. Heartbeats (every 2 s from the activity's thread-free loop) catch a dead worker.
TRANSCRIBE_TIMEOUT = timedelta(hours=1)
TRANSCRIBE_HEARTBEAT = timedelta(seconds=30)
TRANSCRIBE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=3,
    non_retryable_error_types=[NO_SPEECH, UNUSABLE_RECORDING],
)
ANALYZE_TIMEOUT = timedelta(minutes=5)
# The model's calls heartbeat: a cancel reaches them, and a dead worker is noticed.
ANALYZE_HEARTBEAT = timedelta(seconds=30)
# 429 and 5xx back off (Retry-After honoured through next_retry_delay); a few attempts, then the
# next model.
ANALYZE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1), maximum_attempts=4
)
FINAL = (NO_SPEECH, UNUSABLE_RECORDING)
# Google's recognition runs on Google's side: the activities only start it and ask, so a dead
# worker is noticed in seconds. Asked after 2 s, then twice as long each time up to 30 s; given
# up (the next provider runs) when it has not ended in six hours.
GOOGLE_CALL_TIMEOUT = timedelta(minutes=10)
GOOGLE_HEARTBEAT = timedelta(seconds=10)
FIRST_POLL = timedelta(seconds=2)
LONGEST_POLL = timedelta(seconds=30)
GOOGLE_DEADLINE = timedelta(hours=6)
# workflow.patched: runs recorded before webhooks announced nothing.
WEBHOOKS = "interview-webhooks"


@workflow.defn(name=INTERVIEW_WORKFLOW)
class InterviewWorkflow:
    @workflow.init
    def __init__(self, start: InterviewStart) -> None:
        self._start = start
        self._progress = Progress(status=InterviewStatus.CREATED)

    @workflow.query
    def progress(self) -> Progress:
        return self._progress

    @workflow.run
    async def run(self, start: InterviewStart) -> Progress:
        try:
            transcript_id = start.transcript_id or await self._transcribe()
            if transcript_id is not None:
                await self._analyze(transcript_id)
        except asyncio.CancelledError:
            await self._record(InterviewStatus.CANCELLED)
            raise
        return self._progress

    async def _transcribe(self) -> uuid.UUID | None:
        await self._record(InterviewStatus.TRANSCRIBING)
        for provider in self._start.transcription_providers:
            self._progress = self._progress.model_copy(update={"provider": provider, "percent": None})
            request = TranscribeRequest(recording_id=self._start.recording_id, provider=provider)
            try:
                transcript_id = await (
                    self._recognize_google(request) if provider == "google" else self._transcribe_by(request)
                )
            except ActivityError as error:
                workflow_cancel.raise_if_canceled(error)
                kind, message = cause_of(error)
                if kind in FINAL:
                    await self._record(InterviewStatus.FAILED, message)
                    return None
                self._failed(f"{provider}: {message}")
                continue
            if transcript_id is not None:
                await self._announce(WebhookEvent.TRANSCRIBED, transcript_id=transcript_id)
                return transcript_id
        await self._record(InterviewStatus.FAILED, "; ".join(self._progress.failures))
        return None

    async def _transcribe_by(self, request: TranscribeRequest) -> uuid.UUID:
        # Offline transcription takes a worker's CPU: it has a queue of its own.
        method, queue = (
            (InterviewWork.transcribe_local, TRANSCRIPTION_QUEUE)
            if request.provider == "local"
            else (InterviewWork.transcribe_openai, None)
        )
        done = await workflow.execute_activity_method(
            method,
            request,
            task_queue=queue,
            start_to_close_timeout=TRANSCRIBE_TIMEOUT,
            heartbeat_timeout=TRANSCRIBE_HEARTBEAT,
            retry_policy=TRANSCRIBE_RETRY,
            # A cancelled interview is recorded once the work has stopped, not while it runs on.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        return done.transcript_id

    async def _recognize_google(self, request: TranscribeRequest) -> uuid.UUID | None:
        """The transcript, or None (the failure noted) when Google has not ended in time."""
        await workflow.execute_activity_method(
            InterviewWork.start_google,
            request,
            start_to_close_timeout=GOOGLE_CALL_TIMEOUT,
            heartbeat_timeout=GOOGLE_HEARTBEAT,
            retry_policy=TRANSCRIBE_RETRY,
        )
        deadline = workflow.now() + GOOGLE_DEADLINE
        wait = FIRST_POLL
        while workflow.now() < deadline:
            polled = await workflow.execute_activity_method(
                InterviewWork.poll_google,
                request,
                start_to_close_timeout=GOOGLE_CALL_TIMEOUT,
                heartbeat_timeout=GOOGLE_HEARTBEAT,
                retry_policy=TRANSCRIBE_RETRY,
            )
            if polled.transcribed is not None:
                return polled.transcribed.transcript_id
            self._progress = self._progress.model_copy(update={"percent": polled.percent})
            await workflow.sleep(wait)
            wait = min(wait * 2, LONGEST_POLL)
        self._failed(f"google: no transcript after {GOOGLE_DEADLINE}")
        return None

    async def _analyze(self, transcript_id: uuid.UUID) -> None:
        await self._record(InterviewStatus.ANALYZING)
        for provider in ANALYSIS_PROVIDERS:
            self._progress = self._progress.model_copy(update={"provider": provider})
            try:
                analyzed = await workflow.execute_activity_method(
                    InterviewWork.analyze,
                    AnalyzeRequest(
                        interview_id=self._start.interview_id, transcript_id=transcript_id, provider=provider
                    ),
                    start_to_close_timeout=ANALYZE_TIMEOUT,
                    heartbeat_timeout=ANALYZE_HEARTBEAT,
                    retry_policy=ANALYZE_RETRY,
                    cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                )
                await self._record(InterviewStatus.ANALYZED)
                await self._announce(
                    WebhookEvent.ANALYZED,
                    transcript_id=transcript_id,
                    analysis_id=analyzed.analysis_id,
                    score=analyzed.score,
                )
                return
            except ActivityError as error:
                workflow_cancel.raise_if_canceled(error)
                self._failed(f"{provider}: {cause_of(error)[1]}")
        await self._record(InterviewStatus.ANALYSIS_FAILED, "; ".join(self._progress.failures))

    def _failed(self, why: str) -> None:
        self._progress = self._progress.model_copy(update={"failures": [*self._progress.failures, why[:300]]})

    async def _record(self, status: InterviewStatus, failure: str | None = None) -> None:
        self._progress = self._progress.model_copy(update={"status": status})
        await store(
            InterviewWork.record_status,
            StatusRecord(interview_id=self._start.interview_id, status=status, failure=failure),
        )
        if status in (InterviewStatus.FAILED, InterviewStatus.ANALYSIS_FAILED):
            await self._announce(WebhookEvent.FAILED, failure=failure)

    async def _announce(self, event: WebhookEvent, **facts: Any) -> None:
        if workflow.patched(WEBHOOKS):
            data = EventData(interview_id=self._start.interview_id, status=self._progress.status, **facts)
            await announce(self._start.tenant_id, event, data)
