"""Google Speech-to-Text v1 through its official client: long-running recognition with speaker
diarization, word times and confidences, automatic punctuation, in the interview's language.

Two steps, each one activity, so that a recognition is started once and only polled afterwards:

- :meth:`GoogleSpeech.start` converts the recording to mono 16 kHz FLAC, sends it inline (as
  chunks of at most INLINE_MAX_SECONDS: inline audio is refused past about a minute, longer audio
  must come from a Cloud Storage bucket, which is not supported here) and answers a
  :class:`Recognition` that names every operation. The caller stores it; nothing else ever
  starts them again.
- :meth:`GoogleSpeech.poll` asks each operation (GetOperation, through the Operations service on
  the same channel) and answers the progress, or the :class:`Transcript` once all are done. Any
  client object does this, in any worker process: a restarted worker polls the same operations.

Calls are blocking (gRPC, and PyAV decoding and encoding): run them in a thread (a sync activity).
The client's own retries are off (``retry=None``) and every call has a timeout: a refusal raises
ProviderRefused with whether and when Temporal should try again. docs/interviews-transcription.md
describes chunking and how chunks' speakers are made one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import grpc
from google.api_core import exceptions
from google.cloud import speech
from google.cloud.speech_v1.services.speech.transports import SpeechGrpcTransport
from google.cloud.speech_v1.types import cloud_speech
from google.longrunning import operations_pb2
from google.rpc import error_details_pb2
from pydantic import BaseModel, ConfigDict, Field

from clients.audio import RATE, flac_chunks, pcm16
from clients.refusals import ProviderRefused, retryable_status
from core.settings import Settings
from domain.interviews.transcripts import (
    NoSpeech,
    Segment,
    Transcript,
    Word,
    from_words,
    merge_turns,
    number_speakers,
    stitch_overlapping,
)

T = TypeVar("T")

PROVIDER = "google"
# No `model` is asked, so v1 uses its default model; recorded as such on the transcript.
MODEL = "default"
# Inline audio: "Audio longer than ~1 minute must use the uri field" (the API's own measure of a
# minute has refused 58.8 s), and at most 10 485 760 bytes of payload (55 s of FLAC is under 2 MB).
INLINE_MAX_SECONDS = 55.0
INLINE_MAX_BYTES = 10_000_000
# Chunks share 5 s: enough words to tell a chunk's speakers by the previous chunk's, at 10 % more
# audio billed.
OVERLAP_SECONDS = 5.0
# Uploading a chunk on a slow link takes a while; GetOperation is a small read.
START_TIMEOUT_SECONDS = 300.0
POLL_TIMEOUT_SECONDS = 30.0
# A speaker's words no further apart than this are one segment (a turn), as the local provider's.
TURN_GAP_SECONDS = 2.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChunkOperation(_Model):
    """One long-running recognition: ``duration`` seconds of the recording from ``offset``."""

    name: str
    offset: float = Field(ge=0)
    duration: float = Field(ge=0)


class Recognition(_Model):
    """What start answers and poll takes: small, kept in workflow state or the store."""

    language: str
    duration: float = Field(ge=0)
    operations: list[ChunkOperation]


class Progress(_Model):
    percent: int = Field(ge=0, le=99)


def speech_client(settings: Settings) -> speech.SpeechClient:
    """Plaintext gRPC for an emulator, else TLS with Application Default Credentials.

    An ``api_endpoint`` alone always makes the transport build a TLS channel, which a plaintext
    emulator cannot answer; a channel given to the transport is used as it is (docs/emulators.md).
    """
    endpoint = settings.google_speech_endpoint
    if settings.google_speech_plaintext:
        return speech.SpeechClient(transport=SpeechGrpcTransport(channel=grpc.insecure_channel(endpoint)))
    return speech.SpeechClient(client_options={"api_endpoint": endpoint})


class GoogleSpeech:
    def __init__(self, settings: Settings, client: speech.SpeechClient | None = None) -> None:
        self._client = client or speech_client(settings)

    def start(
        self,
        audio: Path,
        language: str,
        speakers: int,
        *,
        resume: Recognition | None = None,
        on_started: Callable[[Recognition], None] | None = None,
    ) -> Recognition:
        """Start recognising ``audio`` (any format PyAV decodes) in ``language`` (BCP-47) with at
        most ``speakers`` speakers.

        A recording over INLINE_MAX_SECONDS takes one operation per chunk. ``on_started`` is told
        after each one (the activity heartbeats it); a retried start passes what the last
        heartbeat held as ``resume`` and starts only the chunks after it. Raises
        clients.audio.UndecodableAudio (final) or ProviderRefused.
        """
        samples = pcm16(audio)
        started = list(resume.operations) if resume else []
        recognition = Recognition(language=language, duration=len(samples) / RATE, operations=started)
        config = _config(language, speakers)
        for chunk in flac_chunks(
            samples, INLINE_MAX_BYTES, max_seconds=INLINE_MAX_SECONDS, overlap=OVERLAP_SECONDS
        )[len(started) :]:
            operation = _call(
                self._client.long_running_recognize,
                config=config,
                audio=cloud_speech.RecognitionAudio(content=chunk.data),
                retry=None,
                timeout=START_TIMEOUT_SECONDS,
            )
            started.append(
                ChunkOperation(name=operation.operation.name, offset=chunk.offset, duration=chunk.duration)
            )
            recognition = recognition.model_copy(update={"operations": list(started)})
            if on_started is not None:
                on_started(recognition)
        return recognition

    def poll(self, recognition: Recognition) -> Progress | Transcript | NoSpeech:
        """The progress of every operation (weighted by audio length), or the transcript once
        all are done. Never starts anything. An operation that ended in an error raises a
        non-retryable ProviderRefused: polling again gives the same error."""
        operations = [
            _call(
                self._client.get_operation,
                request={"name": op.name},
                retry=None,
                timeout=POLL_TIMEOUT_SECONDS,
            )
            for op in recognition.operations
        ]
        if not all(operation.done for operation in operations):
            return Progress(percent=_percent(recognition.operations, operations))
        chunks = [
            _chunk_segments(chunk, operation)
            for chunk, operation in zip(recognition.operations, operations, strict=True)
        ]
        segments = stitch_overlapping(
            [(op.offset, op.duration, own) for op, own in zip(recognition.operations, chunks, strict=True)]
        )
        if not segments:
            return NoSpeech(provider=PROVIDER, model=MODEL, duration=recognition.duration)
        return Transcript(
            provider=PROVIDER,
            model=MODEL,
            language=recognition.language,
            duration=recognition.duration,
            segments=merge_turns(number_speakers(segments), max_gap=TURN_GAP_SECONDS),
        )


def _config(language: str, speakers: int) -> cloud_speech.RecognitionConfig:
    return cloud_speech.RecognitionConfig(
        encoding=cloud_speech.RecognitionConfig.AudioEncoding.FLAC,
        sample_rate_hertz=RATE,
        audio_channel_count=1,
        language_code=language,
        enable_word_time_offsets=True,
        enable_word_confidence=True,
        enable_automatic_punctuation=True,
        # The interview knows who takes part: bounds keep diarization from inventing speakers.
        diarization_config=cloud_speech.SpeakerDiarizationConfig(
            enable_speaker_diarization=True,
            min_speaker_count=min(2, speakers),
            max_speaker_count=speakers,
        ),
    )


def _percent(chunks: Sequence[ChunkOperation], operations: Sequence[operations_pb2.Operation]) -> int:
    total = sum(chunk.duration for chunk in chunks) or 1.0
    done = 0.0
    for chunk, operation in zip(chunks, operations, strict=True):
        if operation.done:
            done += chunk.duration
        else:
            metadata = cloud_speech.LongRunningRecognizeMetadata.deserialize(operation.metadata.value)
            done += chunk.duration * metadata.progress_percent / 100
    return min(99, int(100 * done / total))


def _chunk_segments(chunk: ChunkOperation, operation: operations_pb2.Operation) -> list[Segment]:
    """The chunk's words as turns in the chunk's own time, speakers named ``<offset>:<tag>``
    (unique per chunk until the chunks' speakers are aligned)."""
    if operation.HasField("error"):
        status = _http_status(operation.error.code)
        raise ProviderRefused(
            PROVIDER,
            status,
            f"operation {operation.name} failed: {operation.error.message}"[:300],
            retryable=False,
        )
    results = cloud_speech.LongRunningRecognizeResponse.deserialize(operation.response.value).results
    tagged = [
        (word, f"{chunk.offset}:{word.speaker_tag}") for word in _top_words([results[-1]] if results else [])
    ]
    if not any(word.speaker_tag for word, _ in tagged):
        # No diarized result: every word of the results, one speaker.
        tagged = [(word, f"{chunk.offset}:0") for word in _top_words(results)]
    confidences = [
        (r.result_end_time.total_seconds(), r.alternatives[0].confidence) for r in results if r.alternatives
    ]
    segments: list[Segment] = []
    turn: list[Word] = []
    speaker = ""
    for info, name in tagged:
        start, end = info.start_time.total_seconds(), info.end_time.total_seconds()
        word = Word(
            text=info.word,
            start=start,
            end=max(start, end),
            confidence=info.confidence or _near(confidences, end),
        )
        if turn and (name != speaker or word.start - turn[-1].end > TURN_GAP_SECONDS):
            segments.append(from_words(speaker, turn))
            turn = []
        turn.append(word)
        speaker = name
    if turn:
        segments.append(from_words(speaker, turn))
    return segments


def _top_words(results: Sequence[cloud_speech.SpeechRecognitionResult]) -> list[cloud_speech.WordInfo]:
    return [word for result in results if result.alternatives for word in result.alternatives[0].words]


def _near(confidences: Sequence[tuple[float, float]], time: float) -> float:
    """The confidence of the result a word falls in: v1 gives word confidences in the results,
    not always in the diarized one."""
    for end, confidence in confidences:
        if time <= end and confidence:
            return confidence
    return next((confidence for _, confidence in reversed(confidences) if confidence), 0.0)


def _call(method: Callable[..., T], **kwargs: object) -> T:
    try:
        return method(**kwargs)
    except exceptions.GoogleAPICallError as exc:
        raise _refused(exc) from None


def _refused(exc: exceptions.GoogleAPICallError) -> ProviderRefused:
    """RESOURCE_EXHAUSTED, UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED (a timeout) and ABORTED are
    worth another try, after the RetryInfo delay when Google sends one; the rest are final."""
    retry_after = None
    for detail in exc.details or ():
        if isinstance(detail, error_details_pb2.RetryInfo):
            retry_after = detail.retry_delay.ToTimedelta().total_seconds()
    status = exc.code if isinstance(exc.code, int) else None
    retryable = status is None or retryable_status(status)
    return ProviderRefused(
        PROVIDER, status, str(exc.message)[:300], retryable=retryable, retry_after=retry_after
    )


def _http_status(code: int) -> int | None:
    """The HTTP status Google maps a google.rpc.Code to (13 INTERNAL: 500)."""
    for status in grpc.StatusCode:
        if status.value[0] == code:
            return exceptions.exception_class_for_grpc_status(status).code
    return None
