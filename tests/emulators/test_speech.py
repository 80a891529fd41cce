"""The Speech-to-Text emulator through the official client (google-cloud-speech) over gRPC."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from google.api_core import exceptions
from google.cloud import speech
from google.cloud.speech_v1.services.speech.transports import SpeechGrpcTransport
from google.rpc import error_details_pb2

from emulators.audio import sha256
from emulators.runner import RunningEmulator, start_in_thread
from tests.emulators.speech_audio import wav

LONG_RUNNING = "/google.cloud.speech.v1.Speech/LongRunningRecognize"


def speech_client(target: str) -> speech.SpeechClient:
    """How the product points the official client at a plaintext endpoint: a transport over an
    insecure channel (client_options' api_endpoint alone would open a TLS channel)."""
    return speech.SpeechClient(transport=SpeechGrpcTransport(channel=grpc.insecure_channel(target)))


@pytest.fixture
def emu(emulator_server: RunningEmulator) -> Iterator[RunningEmulator]:
    httpx.post(f"{emulator_server.url}/_control/reset?provider=speech").raise_for_status()
    yield emulator_server


@pytest.fixture
def client(emu: RunningEmulator) -> speech.SpeechClient:
    assert emu.grpc_target is not None
    return speech_client(emu.grpc_target)


def config(**extra: object) -> speech.RecognitionConfig:
    return speech.RecognitionConfig(
        encoding=speech.RecognitionConfig.AudioEncoding.LINEAR16,
        sample_rate_hertz=16000,
        language_code="en-US",
        **extra,
    )


INTERVIEW = {
    "segments": [
        {
            "speaker": 1,
            "start": 0.0,
            "end": 2.0,
            "text": "Tell me about your last project.",
            "words": [
                {"word": "Tell", "start": 0.0, "end": 0.3},
                {"word": "me", "start": 0.3, "end": 0.5},
                {"word": "about", "start": 0.5, "end": 0.8},
                {"word": "your", "start": 0.8, "end": 1.0},
                {"word": "last", "start": 1.0, "end": 1.4},
                {"word": "project.", "start": 1.4, "end": 2.0},
            ],
        },
        {"speaker": 2, "start": 2.5, "end": 4.5, "text": "I rebuilt our billing system."},
    ],
}


def test_long_running_recognize_scripted_diarized_transcript(emu: RunningEmulator, client) -> None:
    audio = wav(5)
    script = {**INTERVIEW, "sha256": sha256(audio), "processing_seconds": 1.0}
    httpx.post(f"{emu.url}/_control/speech/transcripts", json=script).raise_for_status()

    operation = client.long_running_recognize(
        config=config(
            enable_word_time_offsets=True,
            enable_automatic_punctuation=True,
            diarization_config=speech.SpeakerDiarizationConfig(
                enable_speaker_diarization=True, min_speaker_count=2, max_speaker_count=2
            ),
        ),
        audio=speech.RecognitionAudio(content=audio),
    )
    name = operation.operation.name
    assert name.isdigit() and not operation.operation.done
    progress = []
    while not operation.done():
        progress.append(operation.metadata.progress_percent)
        time.sleep(0.1)
    assert progress == sorted(progress) and progress[-1] < 100 and len(set(progress)) > 1
    response = operation.result(timeout=5)
    assert operation.metadata.progress_percent == 100

    *sentences, diarized = response.results
    assert [r.alternatives[0].transcript for r in sentences] == [
        "Tell me about your last project.",
        "I rebuilt our billing system.",
    ]
    assert sentences[0].language_code == "en-us"
    first = list(sentences[0].alternatives[0].words)
    assert [(w.word, w.start_time.total_seconds(), w.end_time.total_seconds()) for w in first[:2]] == [
        ("Tell", 0.0, 0.3),
        ("me", 0.3, 0.5),
    ]
    # Speaker tags only in the last result, which carries every word.
    assert all(w.speaker_tag == 0 for r in sentences for w in r.alternatives[0].words)
    words = list(diarized.alternatives[0].words)
    assert diarized.alternatives[0].transcript == ""
    assert [w.word for w in words][:6] == ["Tell", "me", "about", "your", "last", "project."]
    assert {w.speaker_tag for w in words[:6]} == {1} and {w.speaker_tag for w in words[6:]} == {2}
    # words without scripted times share their segment evenly
    assert words[6].start_time.total_seconds() == 2.5 and words[-1].end_time.total_seconds() == 4.5
    assert response.total_billed_time.total_seconds() == 5

    # Another client (a restarted worker) polls the same operation by its name.
    again = speech_client(emu.grpc_target or "").get_operation(request={"name": name})
    assert again.done and again.name == name
    stats = httpx.get(f"{emu.url}/_control/speech/stats").json()["calls"]
    assert stats["LongRunningRecognize"] == {"total": 1, "by_status": {"200": 1}}
    assert stats["GetOperation"]["total"] >= 2
    call = httpx.get(f"{emu.url}/_control/calls", params={"provider": "speech", "path": LONG_RUNNING}).json()
    assert call["count"] == 1
    logged = call["calls"][0]
    assert logged["grpc_status"] == "OK" and logged["method"] == "POST"
    assert logged["json"]["audio"]["content"] == {"sha256": sha256(audio), "bytes": len(audio)}
    assert logged["json"]["config"]["diarizationConfig"]["enableSpeakerDiarization"] is True


def test_unscripted_audio_gets_a_deterministic_default(client) -> None:
    audio = wav(9)
    plain = config()
    first = client.recognize(config=plain, audio=speech.RecognitionAudio(content=audio))
    second = client.recognize(config=plain, audio=speech.RecognitionAudio(content=audio))
    assert first == second
    # one sentence per 4 s of audio, no punctuation unless asked, no words unless asked
    assert len(first.results) == 2
    assert all("." not in r.alternatives[0].transcript and not r.alternatives[0].words for r in first.results)
    punctuated = client.recognize(
        config=config(enable_automatic_punctuation=True), audio=speech.RecognitionAudio(content=audio)
    )
    assert punctuated.results[0].alternatives[0].transcript.endswith((".", "?"))
    silence = client.recognize(config=plain, audio=speech.RecognitionAudio(content=wav(5, silent=True)))
    assert list(silence.results) == []


def test_inline_audio_limits_are_answered_as_the_real_api_does(client) -> None:
    with pytest.raises(exceptions.InvalidArgument) as too_long:
        client.recognize(config=config(), audio=speech.RecognitionAudio(content=wav(61)), retry=None)
    assert "Sync input too long" in too_long.value.message
    # 60 s is still fine for Recognize; long audio goes through LongRunningRecognize
    assert client.recognize(config=config(), audio=speech.RecognitionAudio(content=wav(60)), retry=None)
    with pytest.raises(exceptions.InvalidArgument) as too_big:
        client.long_running_recognize(
            config=config(), audio=speech.RecognitionAudio(content=wav(330)), retry=None
        )
    assert "exceeds the limit: 10485760 bytes" in too_big.value.message
    # Inline audio over a minute is refused by LongRunningRecognize too: it needs a gs:// uri.
    with pytest.raises(exceptions.InvalidArgument) as inline:
        client.long_running_recognize(
            config=config(), audio=speech.RecognitionAudio(content=wav(61)), retry=None
        )
    assert "Please use a GCS URI" in inline.value.message
    with pytest.raises(exceptions.InvalidArgument):
        client.recognize(
            config=speech.RecognitionConfig(sample_rate_hertz=16000),
            audio=speech.RecognitionAudio(content=wav(1)),
            retry=None,
        )


def test_scripted_faults_come_back_as_grpc_errors(emu: RunningEmulator, client) -> None:
    fault = {
        "provider": "speech",
        "path": "LongRunningRecognize$",
        "status": 429,
        "retry_after": 3,
        "count": 1,
    }
    httpx.post(f"{emu.url}/_control/faults", json=fault).raise_for_status()
    audio = speech.RecognitionAudio(content=wav(2))
    with pytest.raises(exceptions.TooManyRequests) as limited:
        client.long_running_recognize(config=config(), audio=audio, retry=None)
    assert limited.value.grpc_status_code == grpc.StatusCode.RESOURCE_EXHAUSTED
    retry_info = [d for d in limited.value.details if isinstance(d, error_details_pb2.RetryInfo)]
    assert retry_info and retry_info[0].retry_delay.seconds == 3
    trailers = dict(limited.value.response.trailing_metadata())
    assert trailers["retry-after"] == "3"

    httpx.post(f"{emu.url}/_control/faults", json={"provider": "speech", "status": 500, "count": 1})
    with pytest.raises(exceptions.InternalServerError):
        client.recognize(config=config(), audio=audio, retry=None)
    httpx.post(f"{emu.url}/_control/faults", json={"provider": "speech", "malformed": True, "count": 1})
    with pytest.raises(exceptions.GoogleAPICallError):
        client.recognize(config=config(), audio=audio, retry=None)
    # and then it answers again
    assert client.recognize(config=config(), audio=audio, retry=None) is not None
    calls = httpx.get(f"{emu.url}/_control/calls", params={"provider": "speech"}).json()["calls"]
    assert [c["grpc_status"] for c in calls] == ["RESOURCE_EXHAUSTED", "INTERNAL", "OK", "OK"]
    assert [c["status"] for c in calls] == [429, 500, 200, 200]
    stats = httpx.get(f"{emu.url}/_control/speech/stats").json()["calls"]
    assert stats["LongRunningRecognize"] == {"total": 1, "by_status": {"429": 1}}


def test_a_scripted_failure_ends_the_operation_with_its_error(emu: RunningEmulator, client) -> None:
    audio = wav(3)
    script = {
        "sha256": sha256(audio),
        "processing_seconds": 0,
        "error": {"code": 3, "message": "Audio could not be diarized."},
    }
    httpx.post(f"{emu.url}/_control/speech/transcripts", json=script).raise_for_status()
    operation = client.long_running_recognize(config=config(), audio=speech.RecognitionAudio(content=audio))
    with pytest.raises(exceptions.GoogleAPICallError) as failed:
        operation.result(timeout=5)
    assert "Audio could not be diarized." in str(failed.value)


def test_operations_survive_an_emulator_restart(tmp_path: Path) -> None:
    audio = wav(4)
    with start_in_thread(providers=["speech"], data_dir=tmp_path) as first:
        httpx.post(f"{first.url}/_control/speech/settings", json={"processing_seconds": 0.5})
        operation = speech_client(first.grpc_target or "").long_running_recognize(
            config=config(), audio=speech.RecognitionAudio(content=audio)
        )
        name = operation.operation.name
        assert not operation.operation.done
    time.sleep(0.5)
    with start_in_thread(providers=["speech"], data_dir=tmp_path) as second:
        polled = speech_client(second.grpc_target or "").get_operation(request={"name": name})
        assert polled.done and polled.response.type_url.endswith("LongRunningRecognizeResponse")
        ops = httpx.get(f"{second.url}/_control/speech/operations").json()["operations"]
        assert [op["name"] for op in ops] == [name]


def test_a_start_whose_answer_is_lost_still_created_its_operation(emu: RunningEmulator, client) -> None:
    """The case a worker cannot tell apart from a failed start: the operation exists although the
    client saw UNAVAILABLE (or its deadline), so a blind second start would be a duplicate."""
    lost = {"provider": "speech", "path": "LongRunningRecognize$", "status": 503, "when": "after", "count": 1}
    httpx.post(f"{emu.url}/_control/faults", json=lost).raise_for_status()
    with pytest.raises(exceptions.ServiceUnavailable):
        client.long_running_recognize(
            config=config(), audio=speech.RecognitionAudio(content=wav(2)), retry=None
        )
    assert len(httpx.get(f"{emu.url}/_control/speech/operations").json()["operations"]) == 1

    # ... or the server finishes the start after answering
    late = {**lost, "when": "late", "apply_after": 0.3}
    httpx.post(f"{emu.url}/_control/faults", json=late).raise_for_status()
    with pytest.raises(exceptions.ServiceUnavailable):
        client.long_running_recognize(
            config=config(), audio=speech.RecognitionAudio(content=wav(3)), retry=None
        )
    assert len(httpx.get(f"{emu.url}/_control/speech/operations").json()["operations"]) == 1
    time.sleep(0.6)
    assert len(httpx.get(f"{emu.url}/_control/speech/operations").json()["operations"]) == 2

    slow = {"provider": "speech", "path": "GetOperation$", "delay": 1.0, "count": 1}
    httpx.post(f"{emu.url}/_control/faults", json=slow).raise_for_status()
    name = httpx.get(f"{emu.url}/_control/speech/operations").json()["operations"][0]["name"]  # the lost one
    with pytest.raises(exceptions.DeadlineExceeded):
        client.get_operation(request={"name": name}, timeout=0.3, retry=None)
    assert client.get_operation(request={"name": name}).name == name
    time.sleep(0.8)  # the slow call ends on the server once its delay is over
    polls = httpx.get(
        f"{emu.url}/_control/calls", params={"provider": "speech", "path": "GetOperation"}
    ).json()
    assert [c["grpc_status"] for c in polls["calls"]] == ["CANCELLED", "OK"]
