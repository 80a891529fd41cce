"""Google Speech-to-Text v1 through the official client against the emulator: a diarized
transcript with speakers and word times, one start polled to the end by another client (a
restarted worker), chunks over the inline limit stitched with their times and speakers, and
refusals typed with whether and when to try again."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from clients.audio import flac, flac_chunks, pcm16
from clients.refusals import ProviderRefused
from clients.speech_google import (
    INLINE_MAX_BYTES,
    INLINE_MAX_SECONDS,
    OVERLAP_SECONDS,
    GoogleSpeech,
    Progress,
    Recognition,
)
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

LRR = "LongRunningRecognize"


def finish(speech: GoogleSpeech, recognition: Recognition) -> Transcript | NoSpeech:
    deadline = time.monotonic() + 30
    while isinstance(answer := speech.poll(recognition), Progress):
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)
    return answer


def test_a_diarized_transcript_started_once_is_polled_to_the_end_by_a_restarted_worker(
    settings: Settings, emulator: str
) -> None:
    words = spoken()
    # The candidate's tag comes first here: S1 is whoever speaks first, whatever Google calls them.
    script(emulator, "speech", flac(pcm16(TWO_SPEAKERS)), segments(words, swap=True), processing_seconds=1)
    before = calls(emulator, "speech", LRR)
    recognition = GoogleSpeech(settings).start(TWO_SPEAKERS, "en-US", speakers=2)
    assert len(recognition.operations) == 1 and recognition.duration == pytest.approx(21.95, abs=0.01)
    # The worker dies here; what it stored (a small model) is all the next one has.
    stored = Recognition.model_validate_json(recognition.model_dump_json())
    again = GoogleSpeech(settings)
    assert isinstance(first := again.poll(stored), Progress) and first.percent < 100
    transcript = finish(again, stored)
    assert calls(emulator, "speech", LRR) == before + 1

    assert isinstance(transcript, Transcript)
    assert (transcript.provider, transcript.language) == ("google", "en-US")
    assert [s.speaker for s in transcript.segments] == ["S1", "S2", "S1", "S2"]
    assert [w.text for s in transcript.segments for w in s.words] == [w.text for w in words]
    for got, want in zip((w for s in transcript.segments for w in s.words), words, strict=True):
        assert (got.start, got.end) == pytest.approx((want.start, want.end), abs=1e-3)
    assert transcript.segments[1].text.startswith("Sure. Last year")
    assert all(0 < s.confidence <= 1 for s in transcript.segments)

    request = httpx.get(f"{emulator}/_control/calls", params={"path": LRR, "limit": 1}).json()["calls"][0]
    config = request["json"]["config"]
    assert config["encoding"] == "FLAC" and config["sampleRateHertz"] == 16000
    assert config["languageCode"] == "en-US" and config["enableWordTimeOffsets"]
    assert config["enableAutomaticPunctuation"] and config["diarizationConfig"]["enableSpeakerDiarization"]


def test_audio_over_the_inline_limit_goes_in_chunks_stitched_with_times_and_speakers(
    settings: Settings, emulator: str, tmp_path: Path
) -> None:
    audio = recording(tmp_path / "long.wav", repeats=6)
    chunks = flac_chunks(
        pcm16(audio), INLINE_MAX_BYTES, max_seconds=INLINE_MAX_SECONDS, overlap=OVERLAP_SECONDS
    )
    assert len(chunks) == 3 and all(c.duration <= INLINE_MAX_SECONDS for c in chunks)
    words = spoken(repeats=6)
    for i, chunk in enumerate(chunks):
        # Each chunk is diarized on its own: every other one names the speakers the other way.
        script(emulator, "speech", chunk.data, segments(heard(chunk, words), chunk.offset, swap=i % 2 == 1))

    # The first attempt dies after its first operation started; its heartbeat held that one.
    heartbeats: list[Recognition] = []

    def crash(progress: Recognition) -> None:
        heartbeats.append(progress)
        raise RuntimeError("worker killed")

    before = calls(emulator, "speech", LRR)
    with pytest.raises(RuntimeError):
        GoogleSpeech(settings).start(audio, "en-US", 2, on_started=crash)
    recognition = GoogleSpeech(settings).start(audio, "en-US", 2, resume=heartbeats[-1])
    assert calls(emulator, "speech", LRR) == before + len(chunks)
    assert [op.offset for op in recognition.operations] == [c.offset for c in chunks]
    assert recognition.operations[0] == heartbeats[-1].operations[0]

    transcript = finish(GoogleSpeech(settings), recognition)
    assert isinstance(transcript, Transcript)
    got = [(w, s.speaker) for s in transcript.segments for w in s.words]
    assert [w.text for w, _ in got] == [w.text for w in words]
    for (word, speaker), want in zip(got, words, strict=True):
        assert (word.start, word.end) == pytest.approx((want.start, want.end), abs=2e-3)
        assert speaker == f"S{want.speaker}"
    assert len(transcript.segments) == len({w.turn for w in words})


def test_refusals_say_whether_and_when_to_try_again(settings: Settings, emulator: str) -> None:
    speech = GoogleSpeech(settings)
    fault(emulator, provider="speech", path=LRR, status=429, retry_after=7, count=1)
    with pytest.raises(ProviderRefused) as limited:
        speech.start(TWO_SPEAKERS, "en-US", 2)
    assert (limited.value.status, limited.value.retryable, limited.value.retry_after) == (429, True, 7.0)

    script(emulator, "speech", flac(pcm16(TWO_SPEAKERS)), segments(spoken()), processing_seconds=0)
    recognition = speech.start(TWO_SPEAKERS, "en-US", 2)
    fault(emulator, provider="speech", path="GetOperation", status=500, count=1)
    with pytest.raises(ProviderRefused) as down:
        speech.poll(recognition)
    assert (down.value.status, down.value.retryable) == (500, True)
    assert isinstance(speech.poll(recognition), Transcript)

    # No language: INVALID_ARGUMENT, which no retry can change.
    with pytest.raises(ProviderRefused) as bad:
        speech.start(TWO_SPEAKERS, "", 2)
    assert (bad.value.status, bad.value.retryable) == (400, False)
    gone = Recognition(
        language="en-US", duration=1.0, operations=[{"name": "404", "offset": 0, "duration": 1}]
    )
    with pytest.raises(ProviderRefused) as unknown:
        speech.poll(gone)
    assert (unknown.value.status, unknown.value.retryable) == (404, False)


def test_a_failed_operation_is_final_and_silence_is_no_speech(
    settings: Settings, emulator: str, tmp_path: Path
) -> None:
    speech = GoogleSpeech(settings)
    failing = recording(tmp_path / "twice.wav", repeats=2)
    script(
        emulator,
        "speech",
        flac(pcm16(failing)),
        [],
        processing_seconds=0,
        error={"code": 13, "message": "boom"},
    )
    with pytest.raises(ProviderRefused) as failed:
        speech.poll(speech.start(failing, "en-US", 2))
    assert (failed.value.status, failed.value.retryable) == (500, False) and "boom" in failed.value.reason

    silent = Path(__file__).parent / "fixtures" / "local-silence.wav"
    script(emulator, "speech", flac(pcm16(silent)), [], processing_seconds=0)
    assert isinstance(speech.poll(speech.start(silent, "en-US", 2)), NoSpeech)


@pytest.mark.parametrize(
    ("endpoint", "insecure", "plaintext"),
    [
        ("127.0.0.1:8401", None, True),
        ("localhost:8401", None, True),
        ("[::1]:8401", None, True),
        ("speech.googleapis.com", None, False),
        ("emulators:8401", None, False),
        ("emulators:8401", True, True),
        ("127.0.0.1:8401", False, False),
    ],
)
def test_plaintext_grpc_for_a_loopback_emulator_unless_told(
    endpoint: str, insecure: bool | None, plaintext: bool
) -> None:
    chosen = Settings(GOOGLE_SPEECH_ENDPOINT=endpoint, GOOGLE_SPEECH_INSECURE=insecure)
    assert chosen.google_speech_plaintext is plaintext
