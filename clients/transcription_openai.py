"""OpenAI transcription through its official client: ``whisper-1`` with ``verbose_json``, the one
model and format that give segment and word times.

The recording is converted to mono 16 kHz FLAC and sent in chunks of at most
OPENAI_TRANSCRIPTION_MAX_BYTES (the API refuses requests over 25 MB), overlapping by
clients.audio.CHUNK_OVERLAP_SECONDS and stitched at each overlap's middle. Whisper gives no
speakers: every segment is speaker S1, and the caller may assign speakers by another method
(clients/local_speakers.py) afterwards.

The call is synchronous (one request per chunk, each waited for): there is no operation to
resume, so a retried activity transcribes again from the start; the call blocks (PyAV, HTTP), so
run it in a thread (a sync activity). The client's own retries are off (``max_retries=0``):
refusals raise ProviderRefused with whether and when Temporal should try again.
"""

from __future__ import annotations

import math
from pathlib import Path

import openai
from openai.types.audio import TranscriptionSegment, TranscriptionVerbose, TranscriptionWord

from clients.audio import RATE, flac_chunks, pcm16
from clients.refusals import ProviderRefused, refused_by_status
from core.settings import Settings
from domain.interviews.transcripts import NoSpeech, Segment, Transcript, Word, stitch_overlapping

PROVIDER = "openai"
MODEL = "whisper-1"
SPEAKER = "S1"
# A 25 MB chunk is about 20 minutes of audio: its upload and transcription take minutes.
TIMEOUT_SECONDS = 600.0


def transcription_client(settings: Settings) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key,
        max_retries=0,
        timeout=TIMEOUT_SECONDS,
    )


class OpenAITranscriber:
    def __init__(self, settings: Settings, client: openai.OpenAI | None = None) -> None:
        self._client = client or transcription_client(settings)
        self._max_bytes = settings.openai_transcription_max_bytes

    def transcribe(self, audio: Path, language: str) -> Transcript | NoSpeech:
        """Transcribe ``audio`` (any format PyAV decodes) in ``language`` (BCP-47; Whisper takes
        its ISO 639-1 part). Raises clients.audio.UndecodableAudio (final) or ProviderRefused."""
        samples = pcm16(audio)
        duration = len(samples) / RATE
        chunks = [
            (chunk.offset, chunk.duration, self._chunk(chunk.data, language))
            for chunk in flac_chunks(samples, self._max_bytes)
        ]
        segments = stitch_overlapping(chunks)
        if not segments:
            return NoSpeech(provider=PROVIDER, model=MODEL, duration=duration)
        return Transcript(
            provider=PROVIDER, model=MODEL, language=language, duration=duration, segments=segments
        )

    def _chunk(self, data: bytes, language: str) -> list[Segment]:
        try:
            answer = self._client.audio.transcriptions.create(
                model=MODEL,
                file=("audio.flac", data, "audio/flac"),
                language=language.split("-")[0].lower(),
                response_format="verbose_json",
                timestamp_granularities=["word", "segment"],
            )
        except openai.APIStatusError as exc:
            raise refused_by_status(
                PROVIDER, exc.status_code, str(exc.message), exc.response.headers
            ) from None
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise ProviderRefused(PROVIDER, None, type(exc).__name__, retryable=True) from None
        return _segments(answer)


def _segments(answer: TranscriptionVerbose) -> list[Segment]:
    """Whisper's segments, each with the words whose middle falls in it. Whisper gives no word
    probabilities: a word has its segment's confidence, exp(avg_logprob)."""
    words = list(answer.words or [])
    segments = []
    for segment in answer.segments or []:
        text = segment.text.strip()
        if not text:
            continue
        confidence = _confidence(segment)
        own = [word for word in words if segment.start <= (word.start + word.end) / 2 < segment.end]
        segments.append(
            Segment(
                speaker=SPEAKER,
                start=segment.start,
                end=max(segment.start, segment.end),
                text=text,
                confidence=confidence,
                words=[_word(word, confidence) for word in own],
            )
        )
    return segments


def _confidence(segment: TranscriptionSegment) -> float:
    return min(1.0, max(0.0, math.exp(segment.avg_logprob)))


def _word(word: TranscriptionWord, confidence: float) -> Word:
    return Word(
        text=word.word.strip(), start=word.start, end=max(word.start, word.end), confidence=confidence
    )
