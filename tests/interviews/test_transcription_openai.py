"""OpenAI transcription (whisper-1) through the official client against the emulator: segments
and word times of a scripted transcript, recordings over the upload limit in chunks stitched with
their times, and refusals typed with whether and when to try again."""

from __future__ import annotations

from pathlib import Path

import pytest

from clients.audio import flac, flac_chunks, pcm16
from clients.refusals import ProviderRefused
from clients.transcription_openai import OpenAITranscriber
from core.settings import Settings
from domain.interviews.transcripts import NoSpeech, Transcript
from tests.interviews.speech_scripts import (
    TWO_SPEAKERS,
    calls,
    fault,
    heard,
    recording,
    script,
    segments,
    spoken,
)

TRANSCRIPTIONS = "audio.transcriptions"


def test_a_scripted_transcript_comes_back_with_segments_and_word_times(
    settings: Settings, emulator: str
) -> None:
    words = spoken()
    script(emulator, "openai", flac(pcm16(TWO_SPEAKERS)), segments(words))
    transcript = OpenAITranscriber(settings).transcribe(TWO_SPEAKERS, "en-US")
    assert isinstance(transcript, Transcript)
    assert (transcript.provider, transcript.model, transcript.language) == ("openai", "whisper-1", "en-US")
    assert transcript.speakers == ["S1"]
    assert [s.text for s in transcript.segments][1].startswith("Sure. Last year")
    # Whisper's words come without punctuation; the segments' texts keep it.
    got = [w for s in transcript.segments for w in s.words]
    assert [w.text for w in got] == [w.text.strip(".,?!") for w in words]
    for word, want in zip(got, words, strict=True):
        assert (word.start, word.end) == pytest.approx((want.start, want.end), abs=1e-3)
    assert all(0 < s.confidence <= 1 for s in transcript.segments)


def test_audio_over_the_upload_limit_goes_in_chunks_stitched_with_times(
    settings: Settings, emulator: str, tmp_path: Path
) -> None:
    audio = recording(tmp_path / "long.wav", repeats=6)
    limited = settings.model_copy(update={"openai_transcription_max_bytes": 1_000_000})
    chunks = flac_chunks(pcm16(audio), 1_000_000)
    words = spoken(repeats=6)
    for chunk in chunks:
        script(emulator, "openai", chunk.data, segments(heard(chunk, words), chunk.offset))
    before = calls(emulator, "openai", TRANSCRIPTIONS)
    transcript = OpenAITranscriber(limited).transcribe(audio, "en-US")
    assert len(chunks) >= 3 and calls(emulator, "openai", TRANSCRIPTIONS) == before + len(chunks)
    assert isinstance(transcript, Transcript)
    got = [w for s in transcript.segments for w in s.words]
    assert [w.text for w in got] == [w.text.strip(".,?!") for w in words]
    for word, want in zip(got, words, strict=True):
        assert (word.start, word.end) == pytest.approx((want.start, want.end), abs=2e-3)
    assert transcript.duration == pytest.approx(6 * 21.9535625)


def test_refusals_say_whether_and_when_to_try_again(settings: Settings, emulator: str) -> None:
    transcriber = OpenAITranscriber(settings)
    fault(emulator, provider="openai", path="/audio/transcriptions", status=429, retry_after=7, count=1)
    with pytest.raises(ProviderRefused) as limited:
        transcriber.transcribe(TWO_SPEAKERS, "en-US")
    assert (limited.value.status, limited.value.retryable, limited.value.retry_after) == (429, True, 7.0)
    fault(emulator, provider="openai", path="/audio/transcriptions", status=500, count=1)
    with pytest.raises(ProviderRefused) as down:
        transcriber.transcribe(TWO_SPEAKERS, "en-US")
    assert (down.value.status, down.value.retryable) == (500, True)

    fault(emulator, provider="openai", path="/audio/transcriptions", status=400, count=1)
    with pytest.raises(ProviderRefused) as bad:
        transcriber.transcribe(TWO_SPEAKERS, "en-US")
    assert (bad.value.status, bad.value.retryable) == (400, False)
    wrong_key = OpenAITranscriber(settings.model_copy(update={"openai_api_key": "sk-wrong-key-0000"}))
    with pytest.raises(ProviderRefused) as unauthorized:
        wrong_key.transcribe(TWO_SPEAKERS, "en-US")
    assert (unauthorized.value.status, unauthorized.value.retryable) == (401, False)


def test_silence_is_no_speech(settings: Settings, emulator: str) -> None:
    silent = Path(__file__).parent / "fixtures" / "local-silence.wav"
    script(emulator, "openai", flac(pcm16(silent)), [])
    assert isinstance(OpenAITranscriber(settings).transcribe(silent, "en-US"), NoSpeech)
