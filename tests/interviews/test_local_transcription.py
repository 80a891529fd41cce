"""The offline provider on real speech: espeak-ng voices (tests/interviews/fixtures/make_speech.sh)
transcribed by the real tiny.en model, one CPU thread so the suite's other work keeps its cores."""

from __future__ import annotations

import csv
import difflib
import re
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from clients.local_transcription import (
    MODEL,
    PROVIDER,
    LocalTranscriber,
    UndecodableAudio,
    UnsupportedLanguage,
)
from domain.interviews.transcripts import NoSpeech, Transcript

FIXTURES = Path(__file__).parent / "fixtures"
TWO_SPEAKERS = FIXTURES / "local-two-speakers.wav"


@dataclass(frozen=True)
class Turn:
    speaker: str
    start: float
    end: float
    text: str


TURNS = [
    Turn(row[0], float(row[1]), float(row[2]), row[3])
    for row in csv.reader((FIXTURES / "local-two-speakers.tsv").open(), delimiter="\t")
]


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def true_speaker(at: float) -> str:
    """The fixture's speaker at ``at`` seconds (the nearest turn, for times in a pause)."""
    return min(TURNS, key=lambda turn: max(turn.start - at, at - turn.end, 0.0)).speaker


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def write_stereo(path: Path, left: np.ndarray, right: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(np.column_stack([left, right]).astype(np.int16).tobytes())
    return path


def encode(samples: np.ndarray, path: Path, codec: str, rate: int) -> Path:
    """``samples`` (16 kHz mono int16) in another container and codec, encoded by PyAV."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
        frame.sample_rate = 16_000
        for converted in resampler.resample(frame) + resampler.resample(None):
            container.mux(stream.encode(converted))
        container.mux(stream.encode(None))
    return path


def matched_words(transcript: Transcript) -> tuple[int, int]:
    """How many of the fixture's words the transcript has, in order, and how many there are."""
    expected = [word for turn in TURNS for word in words_of(turn.text)]
    heard = words_of(transcript.text)
    blocks = difflib.SequenceMatcher(a=expected, b=heard).get_matching_blocks()
    return sum(block.size for block in blocks), len(expected)


@pytest.fixture(scope="module")
def transcriber() -> LocalTranscriber:
    started = time.perf_counter()
    loaded = LocalTranscriber(threads=1)
    print(f"local transcription: model loaded in {time.perf_counter() - started:.2f} s")
    return loaded


@pytest.fixture(scope="module")
def two_speakers(transcriber: LocalTranscriber) -> Transcript:
    started = time.perf_counter()
    result = transcriber.transcribe(TWO_SPEAKERS, language="en-US")
    elapsed = time.perf_counter() - started
    assert isinstance(result, Transcript)
    rtf = elapsed / result.duration
    print(f"local transcription: {result.duration:.1f} s of audio in {elapsed:.2f} s (RTF {rtf:.3f})")
    return result


def test_the_real_model_transcribes_the_expected_words(two_speakers: Transcript) -> None:
    matched, expected = matched_words(two_speakers)
    # tiny.en mishears a word or two of espeak-ng ("led" as "learned"): most, in order, is the bar.
    assert matched >= 0.9 * expected, (matched, expected, two_speakers.text)
    assert abs(len(words_of(two_speakers.text)) - expected) <= 3
    assert (two_speakers.provider, two_speakers.model, two_speakers.language) == (PROVIDER, MODEL, "en-US")
    assert two_speakers.duration == pytest.approx(TURNS[-1].end, abs=0.05)


def test_word_times_increase_and_lie_inside_the_clip_and_their_segment(two_speakers: Transcript) -> None:
    words = [word for segment in two_speakers.segments for word in segment.words]
    assert len(words) >= 50
    starts = [word.start for word in words]
    assert starts == sorted(starts)
    assert len(set(starts)) > 0.9 * len(starts)
    for segment in two_speakers.segments:
        assert segment.words
        assert segment.start == segment.words[0].start and segment.end == segment.words[-1].end
        for word in segment.words:
            assert 0 <= word.start <= word.end <= two_speakers.duration
            assert 0 < word.confidence <= 1
    # Each spoken turn ends before the next begins: the times are the audio's, not Whisper's windows.
    for turn in TURNS:
        inside = [word for word in words if turn.start - 0.3 <= word.start <= turn.end]
        assert len(inside) >= 0.9 * len(words_of(turn.text))


def test_two_voices_are_two_speakers_by_voice(two_speakers: Transcript) -> None:
    assert two_speakers.speakers == ["S1", "S2"]
    assert [segment.speaker for segment in two_speakers.segments] == ["S1", "S2", "S1", "S2"]
    words = [(segment.speaker, word) for segment in two_speakers.segments for word in segment.words]
    wrong = [
        word.text
        for label, word in words
        if {"S1": "interviewer", "S2": "candidate"}[label] != true_speaker((word.start + word.end) / 2)
    ]
    assert len(wrong) <= 1, wrong


def test_at_most_max_speakers(transcriber: LocalTranscriber) -> None:
    result = transcriber.transcribe(TWO_SPEAKERS, language="en", max_speakers=1)
    assert isinstance(result, Transcript)
    assert result.speakers == ["S1"]
    assert len(result.segments) == 1


def test_two_channels_give_the_speakers_whatever_the_voices(
    transcriber: LocalTranscriber, tmp_path: Path
) -> None:
    # The first two turns (both voices) on the left, the last two on the right: speakers follow the
    # channels, so the method by voice (which would alternate) is shown not to have run.
    mono = read_wav(TWO_SPEAKERS)
    cut = int((TURNS[1].end + TURNS[2].start) / 2 * 16_000)
    left, right = mono.copy(), mono.copy()
    left[cut:] = 0
    right[:cut] = 0
    result = transcriber.transcribe(write_stereo(tmp_path / "call.wav", left, right), language="en-US")
    assert isinstance(result, Transcript)
    assert [(segment.speaker, segment.start < cut / 16_000) for segment in result.segments] == [
        ("S1", True),
        ("S2", False),
    ]


def test_identical_channels_fall_back_to_voices(transcriber: LocalTranscriber, tmp_path: Path) -> None:
    mono = read_wav(TWO_SPEAKERS)
    result = transcriber.transcribe(write_stereo(tmp_path / "room.wav", mono, mono), language="en-US")
    assert isinstance(result, Transcript)
    assert [segment.speaker for segment in result.segments] == ["S1", "S2", "S1", "S2"]


@pytest.mark.parametrize(
    ("name", "codec", "rate"),
    [
        ("interview.flac", "flac", 16_000),
        ("interview.mp3", "libmp3lame", 44_100),
        ("interview.m4a", "aac", 48_000),
        ("interview.ogg", "libopus", 48_000),
        ("interview.webm", "libopus", 48_000),
    ],
)
def test_the_usual_formats_decode_to_the_same_words_and_speakers(
    transcriber: LocalTranscriber, tmp_path: Path, name: str, codec: str, rate: int
) -> None:
    recording = encode(read_wav(TWO_SPEAKERS), tmp_path / name, codec, rate)
    result = transcriber.transcribe(recording, language="en-US")
    assert isinstance(result, Transcript)
    matched, expected = matched_words(result)
    assert matched >= 0.9 * expected, (name, result.text)
    assert [segment.speaker for segment in result.segments] == ["S1", "S2", "S1", "S2"]


def test_silence_is_no_speech(transcriber: LocalTranscriber) -> None:
    result = transcriber.transcribe(FIXTURES / "local-silence.wav", language="en-US")
    assert result == NoSpeech(provider=PROVIDER, model=MODEL, duration=3.0)


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not audio at all " * 40, b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 8],
    ids=["empty", "text", "broken-wav-header"],
)
def test_undecodable_input_is_a_typed_error(
    transcriber: LocalTranscriber, tmp_path: Path, content: bytes
) -> None:
    corrupt = tmp_path / "recording.wav"
    corrupt.write_bytes(content)
    with pytest.raises(UndecodableAudio):
        transcriber.transcribe(corrupt, language="en-US")


def test_a_language_the_model_does_not_know_is_a_typed_error(transcriber: LocalTranscriber) -> None:
    with pytest.raises(UnsupportedLanguage):
        transcriber.transcribe(TWO_SPEAKERS, language="de-DE")
