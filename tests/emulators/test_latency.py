"""A provider's fixed latency (`/_control/latency`): every request to it, REST or gRPC, waits
that long before faults and the provider see it; other providers are not slowed."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from google.cloud import speech

from emulators.runner import RunningEmulator
from tests.emulators.speech_audio import wav
from tests.emulators.test_speech import config, speech_client

LATENCY = 0.3
CHAT = "/openai/v1/chat/completions"


async def _timed_post(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    answer = await client.post(path, json={})
    return answer, time.perf_counter() - started


async def test_a_rest_provider_answers_after_its_latency_and_faults_still_fire(client) -> None:
    put = await client.put("/_control/latency", json={"provider": "openai", "seconds": LATENCY})
    assert put.status_code == 200 and put.json() == {"latency": {"openai": LATENCY}}

    refused, took = await _timed_post(client, CHAT)  # no API key: the provider's own 401
    assert refused.status_code == 401 and took >= LATENCY
    fault = {"provider": "openai", "status": 429, "retry_after": 1, "count": 1}
    assert (await client.post("/_control/faults", json=fault)).status_code == 201
    limited, took = await _timed_post(client, CHAT)
    assert limited.status_code == 429 and took >= LATENCY
    # Another provider is not slowed.
    _, took = await _timed_post(client, "/servicetitan/auth/connect/token")
    assert took < LATENCY

    calls = (await client.get("/_control/calls", params={"provider": "openai"})).json()["calls"]
    assert [c["status"] for c in calls] == [401, 429]
    assert all(c["duration"] >= LATENCY for c in calls)

    cleared = await client.delete("/_control/latency", params={"provider": "openai"})
    assert cleared.json() == {"latency": {}}
    _, took = await _timed_post(client, CHAT)
    assert took < LATENCY


async def test_latency_for_every_provider_is_cleared_by_reset(client) -> None:
    everyone = await client.put("/_control/latency", json={"seconds": 0.05})
    assert set(everyone.json()["latency"]) == {"servicetitan", "google", "speech", "openai", "anthropic"}
    await client.post("/_control/reset", params={"provider": "google"})
    assert "google" not in (await client.get("/_control/latency")).json()["latency"]
    await client.post("/_control/reset")
    assert (await client.get("/_control/latency")).json() == {"latency": {}}


@pytest.mark.parametrize(
    "body",
    [{"provider": "nobody", "seconds": 1}, {"seconds": -1}, {"seconds": 61}, {"provider": "openai"}],
)
async def test_an_invalid_latency_is_refused(client, body: dict[str, object]) -> None:
    assert (await client.put("/_control/latency", json=body)).status_code == 400


@pytest.fixture
def slow_speech(emulator_server: RunningEmulator) -> Iterator[RunningEmulator]:
    url = f"{emulator_server.url}/_control/latency"
    httpx.put(url, json={"provider": "speech", "seconds": LATENCY}).raise_for_status()
    yield emulator_server
    httpx.delete(url, params={"provider": "speech"}).raise_for_status()


def test_the_grpc_speech_provider_answers_after_its_latency(slow_speech: RunningEmulator) -> None:
    client = speech_client(slow_speech.grpc_target or "")
    audio = speech.RecognitionAudio(content=wav(1))
    client.recognize(config=config(), audio=audio, retry=None)  # the channel is connected
    started = time.perf_counter()
    client.recognize(config=config(), audio=audio, retry=None)
    assert time.perf_counter() - started >= LATENCY
    calls = httpx.get(f"{slow_speech.url}/_control/calls", params={"provider": "speech", "limit": 2}).json()[
        "calls"
    ]
    assert [c["grpc_status"] for c in calls] == ["OK", "OK"]
    assert all(c["duration"] >= LATENCY for c in calls)
