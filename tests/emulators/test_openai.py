"""The OpenAI emulator through the official ``openai`` client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from pydantic import BaseModel, Field, ValidationError

from emulators.audio import sha256
from emulators.runner import RunningEmulator, start_in_thread
from tests.emulators.llm_prompts import SENTENCES, TRANSCRIPT
from tests.emulators.speech_audio import wav

KEY = "emulator-openai-key"


class Evidence(BaseModel):
    quote: str
    timestamp: str


class Competency(BaseModel):
    name: str
    score: int = Field(ge=1, le=5)
    evidence: list[Evidence] = Field(min_length=1)
    reasoning: str


class Scorecard(BaseModel):
    competencies: list[Competency]
    strengths: list[str]
    concerns: list[str]
    summary: str
    recommendation: str | None


@pytest.fixture
def emu(emulator_server: RunningEmulator) -> Iterator[RunningEmulator]:
    httpx.post(f"{emulator_server.url}/_control/reset?provider=openai").raise_for_status()
    yield emulator_server


def client_for(emu: RunningEmulator, **kwargs: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{emu.url}/openai/v1", api_key=KEY, **{"max_retries": 0, **kwargs})


@pytest.fixture
def client(emu: RunningEmulator) -> openai.OpenAI:
    return client_for(emu)


def analyze(client: openai.OpenAI) -> openai.types.chat.ParsedChatCompletion[Scorecard]:
    return client.chat.completions.parse(
        model="gpt-4o-2024-08-06",
        messages=[
            {"role": "system", "content": "You score interviews. Quote the transcript verbatim."},
            {"role": "user", "content": TRANSCRIPT},
        ],
        response_format=Scorecard,
    )


def test_strict_json_schema_answer_is_schema_valid_and_quotes_the_transcript(emu, client) -> None:
    completion = analyze(client)
    scorecard = completion.choices[0].message.parsed
    assert isinstance(scorecard, Scorecard)
    assert 1 <= scorecard.competencies[0].score <= 5
    quotes = [e.quote for c in scorecard.competencies for e in c.evidence]
    assert quotes and set(quotes) <= SENTENCES
    assert scorecard.summary in SENTENCES
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    # The request the emulator saw: a strict json_schema derived from the model.
    call = httpx.get(f"{emu.url}/_control/calls", params={"provider": "openai"}).json()["calls"][-1]
    assert call["json"]["response_format"]["json_schema"]["strict"] is True
    assert httpx.get(f"{emu.url}/_control/openai/stats").json()["calls"]["chat.completions"]["total"] == 1


def test_a_schema_that_is_not_strict_is_refused_as_the_real_api_does(client) -> None:
    schema = {"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]}
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "card", "schema": schema, "strict": True},
            },
        )
    assert refused.value.code == "invalid_json_schema"
    assert "In context=(), 'additionalProperties' is required to be supplied and to be false." in str(
        refused.value
    )


def test_json_object_mode_needs_the_word_json(client) -> None:
    with pytest.raises(openai.BadRequestError, match="must contain the word 'json'"):
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": TRANSCRIPT}],
            response_format={"type": "json_object"},
        )
    answer = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": TRANSCRIPT}],
        response_format={"type": "json_object"},
    )
    assert json.loads(answer.choices[0].message.content or "")["answer"] in SENTENCES


def test_scripted_answers_per_prompt_pattern_then_the_default(emu, client) -> None:
    invented = {
        "competencies": [
            {
                "name": "Delivery",
                "score": 5,
                "evidence": [{"quote": "I single-handedly rewrote the kernel.", "timestamp": "00:00:05"}],
                "reasoning": "Strong.",
            }
        ],
        "strengths": [],
        "concerns": [],
        "summary": "Great.",
        "recommendation": None,
    }
    for content in ('{"competencies": [', {"summary": "no scores"}, invented):
        answer = {"pattern": "billing system", "content": content, "count": 1}
        httpx.post(f"{emu.url}/_control/openai/answers", json=answer).raise_for_status()
    with pytest.raises(ValidationError):  # invalid JSON
        analyze(client)
    with pytest.raises(ValidationError):  # valid JSON, not the schema
        analyze(client)
    made_up = analyze(client).choices[0].message.parsed
    assert made_up is not None and made_up.competencies[0].evidence[0].quote not in TRANSCRIPT
    assert {
        e.quote for c in analyze(client).choices[0].message.parsed.competencies for e in c.evidence
    } <= SENTENCES
    answers = httpx.get(f"{emu.url}/_control/openai/answers").json()["answers"]
    assert [a["applied"] for a in answers] == [1, 1, 1]


def test_api_key_is_checked(emu) -> None:
    wrong = openai.OpenAI(base_url=f"{emu.url}/openai/v1", api_key="sk-proj-abcdefghijklmnop", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as denied:
        wrong.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert denied.value.code == "invalid_api_key"
    assert "sk-proj-************mnop" in denied.value.message


def test_models_list_the_models_tempoline_asks_for_and_needs_the_key(emu, client) -> None:
    models = {m.id: m for m in client.models.list()}
    assert models["gpt-4o-2024-08-06"].object == "model" and models["gpt-4o-2024-08-06"].owned_by == "system"
    assert {"whisper-1", "gpt-4o-transcribe"} <= set(models)
    wrong = openai.OpenAI(base_url=f"{emu.url}/openai/v1", api_key="sk-proj-abcdefghijklmnop", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as denied:
        wrong.models.list()
    assert denied.value.code == "invalid_api_key"
    stats = httpx.get(f"{emu.url}/_control/openai/stats").json()["calls"]["models.list"]
    assert stats["by_status"] == {"200": 1, "401": 1}


def test_rate_limit_server_error_timeout_and_malformed_body(emu, client) -> None:
    chat = "/v1/chat/completions$"
    httpx.post(
        f"{emu.url}/_control/faults",
        json={"provider": "openai", "path": chat, "status": 429, "retry_after": 2, "count": 1},
    ).raise_for_status()
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert limited.value.response.headers["retry-after"] == "2"
    assert limited.value.code == "rate_limit_exceeded"

    httpx.post(f"{emu.url}/_control/faults", json={"provider": "openai", "status": 500, "count": 1})
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])

    httpx.post(f"{emu.url}/_control/faults", json={"provider": "openai", "delay": 2, "count": 1})
    with pytest.raises(openai.APITimeoutError):
        client_for(emu, timeout=0.5).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )

    httpx.post(f"{emu.url}/_control/faults", json={"provider": "openai", "malformed": True, "count": 1})
    with pytest.raises((openai.APIResponseValidationError, json.JSONDecodeError)):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])

    # The client's own retries honour Retry-After and then get the answer.
    httpx.post(
        f"{emu.url}/_control/faults",
        json={"provider": "openai", "path": chat, "status": 429, "retry_after": 0.2, "count": 1},
    )
    answer = client_for(emu, max_retries=1).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": TRANSCRIPT}]
    )
    assert answer.choices[0].message.content in SENTENCES
    stats = httpx.get(f"{emu.url}/_control/openai/stats").json()["calls"]["chat.completions"]
    assert stats["by_status"]["429"] == 2 and stats["by_status"]["500"] == 1


def test_transcription_verbose_json_with_words(emu, client) -> None:
    audio = wav(6)
    script = {
        "sha256": sha256(audio),
        "segments": [
            {"speaker": 1, "start": 0.0, "end": 2.0, "text": "How did you test it?"},
            {"speaker": 2, "start": 2.5, "end": 5.5, "text": "We replayed production traffic."},
        ],
    }
    httpx.post(f"{emu.url}/_control/openai/transcripts", json=script).raise_for_status()
    verbose = client.audio.transcriptions.create(
        model="whisper-1",
        file=("interview.wav", audio),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
        language="en",
    )
    assert verbose.text == "How did you test it? We replayed production traffic."
    assert verbose.language == "english" and verbose.duration == 6.0
    assert [(s.start, s.end, s.text) for s in verbose.segments or []] == [
        (0.0, 2.0, " How did you test it?"),
        (2.5, 5.5, " We replayed production traffic."),
    ]
    assert [w.word for w in verbose.words or []][:3] == ["How", "did", "you"]
    logged = httpx.get(f"{emu.url}/_control/calls", params={"provider": "openai"}).json()["calls"][-1]
    assert logged["form"]["model"] == "whisper-1"
    assert logged["form"]["timestamp_granularities[]"] == ["word", "segment"]
    assert logged["form"]["file"] == {
        "filename": "interview.wav",
        "bytes": len(audio),
        "sha256": sha256(audio),
    }
    plain = client.audio.transcriptions.create(model="gpt-4o-transcribe", file=("a.wav", audio))
    assert plain.text == verbose.text
    # unscripted audio: the deterministic default
    other = client.audio.transcriptions.create(model="gpt-4o-transcribe", file=("b.wav", wav(9)))
    assert (
        other.text
        and other.text
        == client.audio.transcriptions.create(model="gpt-4o-transcribe", file=("b.wav", wav(9))).text
    )


def test_transcription_limits_and_rules(client) -> None:
    with pytest.raises(openai.BadRequestError) as incompatible:
        client.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=("a.wav", wav(1)), response_format="verbose_json"
        )
    assert "is not compatible with model 'gpt-4o-transcribe'" in incompatible.value.message
    with pytest.raises(openai.BadRequestError) as bad_format:
        client.audio.transcriptions.create(model="whisper-1", file=("a.txt", wav(1)))
    assert "Invalid file format" in bad_format.value.message
    with pytest.raises(openai.APIStatusError) as too_big:
        client.audio.transcriptions.create(model="whisper-1", file=("big.wav", wav(820)))
    assert too_big.value.status_code == 413
    assert "Maximum content size limit (26214400) exceeded" in too_big.value.message


def test_scripted_answers_survive_a_restart(tmp_path: Path) -> None:
    with start_in_thread(providers=["openai"], grpc_port=None, data_dir=tmp_path) as first:
        answer = {"pattern": "ping", "content": "pong"}
        httpx.post(f"{first.url}/_control/openai/answers", json=answer).raise_for_status()
    with start_in_thread(providers=["openai"], grpc_port=None, data_dir=tmp_path) as second:
        reply = client_for(second).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "ping"}]
        )
        assert reply.choices[0].message.content == "pong"
