"""Speech-to-Text v1 recognition: the request checks the real API makes (inline limits, required
config) and the results it answers with (words, time offsets, speaker tags, punctuation).

docs/emulators.md ("Speech-to-Text") gives the source of each behaviour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import grpc
from google.cloud.speech_v1.types import cloud_speech

from emulators.audio import AudioInfo, probe
from emulators.grpc_gateway import GrpcError
from emulators.transcripts import Transcript, without_punctuation

# Quotas and limits: "Audio sent to a synchronous request is limited to 10 MB or 1 minute".
INLINE_MAX_BYTES = 10 * 1024 * 1024
# Inline audio, for either method: "Audio longer than ~1 minute must use the uri field" (a
# Cloud Storage object, for up to about 480 minutes of audio: not checked, there is none here).
INLINE_MAX_SECONDS = 60.0
SYNC_TOO_LONG = (
    "Sync input too long. For audio longer than 1 min use LongRunningRecognize with a 'uri' parameter."
)
INLINE_TOO_LONG = "Inline audio exceeds duration limit. Please use a GCS URI."
PAYLOAD_TOO_LARGE = f"Request payload size exceeds the limit: {INLINE_MAX_BYTES} bytes."
DEFAULT_MAX_SPEAKERS = 6


def invalid(message: str) -> GrpcError:
    return GrpcError(grpc.StatusCode.INVALID_ARGUMENT, message)


@dataclass(frozen=True)
class Options:
    """What of a RecognitionConfig shapes the answer (kept with a long-running operation)."""

    language_code: str
    word_time_offsets: bool
    word_confidence: bool
    punctuation: bool
    diarization: bool
    min_speakers: int
    max_speakers: int

    @classmethod
    def of(cls, config: cloud_speech.RecognitionConfig) -> Options:
        diarization = config.diarization_config
        enabled = bool(diarization.enable_speaker_diarization)
        min_speakers = diarization.min_speaker_count or 2
        max_speakers = diarization.max_speaker_count or max(DEFAULT_MAX_SPEAKERS, min_speakers)
        if enabled and min_speakers > max_speakers:
            raise invalid("min_speaker_count must be less than or equal to max_speaker_count.")
        return cls(
            language_code=config.language_code,
            word_time_offsets=config.enable_word_time_offsets,
            word_confidence=config.enable_word_confidence,
            punctuation=config.enable_automatic_punctuation,
            diarization=enabled,
            min_speakers=min_speakers,
            max_speakers=max_speakers,
        )


def check_request(
    config: cloud_speech.RecognitionConfig, audio: cloud_speech.RecognitionAudio, *, sync: bool
) -> tuple[Options, AudioInfo | None]:
    """The options and the inline audio's facts (None for a ``uri``); raises the real API's
    INVALID_ARGUMENT errors."""
    if not config.language_code:
        raise invalid("Invalid recognition 'config': missing language_code.")
    options = Options.of(config)
    kind = cloud_speech.RecognitionAudio.pb(audio).WhichOneof("audio_source")
    if kind is None:
        raise invalid("RecognitionAudio not set.")
    if kind == "uri":
        return options, None
    content = audio.content
    if len(content) > INLINE_MAX_BYTES:
        raise invalid(PAYLOAD_TOO_LARGE)
    info = probe(
        content,
        encoding=cloud_speech.RecognitionConfig.AudioEncoding(config.encoding).name,
        sample_rate=config.sample_rate_hertz,
        channels=config.audio_channel_count,
    )
    if sync and info.duration > INLINE_MAX_SECONDS:
        raise invalid(SYNC_TOO_LONG)
    if not sync and info.duration > INLINE_MAX_SECONDS:
        raise invalid(INLINE_TOO_LONG)
    return options, info


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=round(value, 3))


def results(transcript: Transcript, options: Options) -> list[cloud_speech.SpeechRecognitionResult]:
    """One result per segment; with diarization, a last result whose top alternative holds every
    word of the audio with its speaker tag (and no transcript), as the v1 API answers."""
    language = options.language_code.lower()
    out = []
    tagged: list[cloud_speech.WordInfo] = []
    for segment in transcript.segments:
        text = segment.text if options.punctuation else without_punctuation(segment.text)
        words = []
        for word in segment.timed_words():
            info = cloud_speech.WordInfo(
                word=word.word if options.punctuation else without_punctuation(word.word)
            )
            if options.word_time_offsets or options.diarization:
                info.start_time = _seconds(word.start)
                info.end_time = _seconds(word.end)
            if options.word_confidence:
                info.confidence = word.confidence
            if options.diarization:
                speaker = min(segment.speaker, options.max_speakers)
                tagged.append(
                    cloud_speech.WordInfo(
                        word=info.word,
                        start_time=info.start_time,
                        end_time=info.end_time,
                        confidence=info.confidence,
                        speaker_tag=speaker,
                        speaker_label=str(speaker),
                    )
                )
            if options.word_time_offsets or options.word_confidence:
                words.append(info)
        alternative = cloud_speech.SpeechRecognitionAlternative(
            transcript=text, confidence=segment.confidence, words=words
        )
        out.append(
            cloud_speech.SpeechRecognitionResult(
                alternatives=[alternative], result_end_time=_seconds(segment.end), language_code=language
            )
        )
    if options.diarization and tagged:
        out.append(
            cloud_speech.SpeechRecognitionResult(
                alternatives=[cloud_speech.SpeechRecognitionAlternative(words=tagged)],
                result_end_time=_seconds(transcript.duration),
                language_code=language,
            )
        )
    return out


def billed(seconds: float) -> timedelta:
    return timedelta(seconds=math.ceil(seconds))
