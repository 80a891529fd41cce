"""The Anthropic emulator through the official ``anthropic`` client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest
from pydantic import BaseModel, Field

from emulators.runner import RunningEmulator, start_in_thread
from tests.emulators.llm_prompts import SENTENCES, TRANSCRIPT

KEY = "emulator-anthropic-key"
MODEL = "claude-sonnet-5"


class Evidence(BaseModel):
    quote: str
    start_seconds: float = Field(ge=0)


class Score(BaseModel):
    competency: str
    score: int = Field(ge=1, le=4)
    evidence: list[Evidence] = Field(min_length=1)


class Scorecard(BaseModel):
    scores: list[Score]
    summary: str
    recommendation: str | None = None


TOOL = {
    "name": "record_scorecard",
    "description": "Record the interview's scorecard.",
    "input_schema": Scorecard.model_json_schema(),
}


@pytest.fixture
def emu(emulator_server: RunningEmulator) -> Iterator[RunningEmulator]:
    httpx.post(f"{emulator_server.url}/_control/reset?provider=anthropic").raise_for_status()
    yield emulator_server


def client_for(emu: RunningEmulator, **kwargs: object) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{emu.url}/anthropic", api_key=KEY, **{"max_retries": 0, **kwargs})


@pytest.fixture
def client(emu: RunningEmulator) -> anthropic.Anthropic:
    return client_for(emu)


def score(client: anthropic.Anthropic, **extra: object) -> anthropic.types.Message:
    return client.messages.create(
        model=MODEL,
        max_tokens=2048,
        system="You score interviews. Quote the transcript verbatim.",
        messages=[{"role": "user", "content": TRANSCRIPT}],
        tools=[TOOL],
        **{"tool_choice": {"type": "tool", "name": "record_scorecard"}, **extra},
    )


def test_tool_use_input_is_valid_for_the_tool_schema_and_quotes_the_transcript(emu, client) -> None:
    answer = score(client)
    assert answer.stop_reason == "tool_use"
    (block,) = answer.content
    assert block.type == "tool_use" and block.name == "record_scorecard" and block.id.startswith("toolu_")
    scorecard = Scorecard.model_validate(block.input)
    assert scorecard.scores[0].score in (1, 2, 3, 4)
    assert {e.quote for s in scorecard.scores for e in s.evidence} <= SENTENCES
    assert answer.usage.input_tokens > 0
    call = httpx.get(f"{emu.url}/_control/calls", params={"provider": "anthropic"}).json()["calls"][-1]
    # anthropic 2.x sends its API key as a bearer token, with its own API version
    assert call["headers"]["anthropic-version"] == "2026-10-21"
    assert call["headers"]["authorization"].endswith("***")
    assert httpx.get(f"{emu.url}/_control/anthropic/stats").json()["calls"]["messages"] == {
        "total": 1,
        "by_status": {"200": 1},
    }


def test_text_answer_without_tools_and_scripted_answers(emu, client) -> None:
    plain = client.messages.create(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": TRANSCRIPT}]
    )
    assert plain.stop_reason == "end_turn" and plain.content[0].text in SENTENCES
    scripted = {"pattern": "billing", "tool_input": {"scores": [], "summary": "Nothing quoted."}, "count": 1}
    httpx.post(f"{emu.url}/_control/anthropic/answers", json=scripted).raise_for_status()
    assert score(client).content[0].input == {"scores": [], "summary": "Nothing quoted."}
    assert Scorecard.model_validate(score(client).content[0].input).scores


def test_headers_and_body_are_checked(emu, client) -> None:
    with pytest.raises(anthropic.AuthenticationError) as denied:
        anthropic.Anthropic(
            base_url=f"{emu.url}/anthropic", api_key="sk-ant-wrong", max_retries=0
        ).messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert denied.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
        "request_id": denied.value.request_id,
    }
    old_style = httpx.post(
        f"{emu.url}/anthropic/v1/messages",
        headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
        json={"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert old_style.status_code == 200 and old_style.headers["request-id"].startswith("req_")
    bad_version = httpx.post(
        f"{emu.url}/anthropic/v1/messages",
        headers={"x-api-key": KEY, "anthropic-version": "2024-13-01"},
        json={"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert bad_version.json()["error"]["message"] == 'anthropic-version: "2024-13-01" is not a valid version'
    no_version = httpx.post(
        f"{emu.url}/anthropic/v1/messages",
        headers={"x-api-key": KEY},
        json={"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert no_version.status_code == 400
    assert no_version.json()["error"] == {
        "type": "invalid_request_error",
        "message": "anthropic-version: header is required",
    }
    with pytest.raises(anthropic.BadRequestError, match="max_tokens: Field required"):
        client.post("/v1/messages", body={"model": MODEL, "messages": []}, cast_to=object)
    with pytest.raises(anthropic.APIStatusError) as too_large:
        client.messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "x" * (32 * 1024 * 1024)}]
        )
    assert too_large.value.status_code == 413 and too_large.value.body["error"]["type"] == "request_too_large"
    with pytest.raises(anthropic.NotFoundError, match="model: gpt-4o"):
        client.messages.create(model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.BadRequestError, match="not found in provided tools"):
        score(client, tool_choice={"type": "tool", "name": "other"})


def test_models_are_listed_newest_first_in_pages_and_need_the_key(emu, client) -> None:
    listed = client.models.list()
    assert listed.data[0].id == "claude-sonnet-5-5"
    assert all(m.type == "model" and m.display_name for m in listed.data)
    first = client.models.list(limit=1)
    assert first.has_more and first.first_id == first.last_id == "claude-sonnet-5-5"
    rest = client.models.list(after_id="claude-sonnet-5-5")
    assert [m.id for m in rest.data] == [m.id for m in listed.data][1:] and not rest.has_more
    before = client.models.list(before_id=listed.data[-1].id, limit=1)
    assert [m.id for m in before.data] == [listed.data[-2].id] and before.has_more
    with pytest.raises(anthropic.BadRequestError, match="limit"):
        client.models.list(limit=0)
    wrong = anthropic.Anthropic(base_url=f"{emu.url}/anthropic", api_key="sk-ant-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError, match="invalid x-api-key"):
        wrong.models.list()


def test_overloaded_529_and_rate_limit_429_as_typed_errors(emu, client) -> None:
    httpx.post(
        f"{emu.url}/_control/faults", json={"provider": "anthropic", "status": 529, "count": 1}
    ).raise_for_status()
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        score(client)
    assert isinstance(overloaded.value, anthropic.InternalServerError)
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}

    httpx.post(
        f"{emu.url}/_control/faults",
        json={"provider": "anthropic", "status": 429, "retry_after": 7, "count": 1},
    ).raise_for_status()
    with pytest.raises(anthropic.RateLimitError) as limited:
        score(client)
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.body["error"]["type"] == "rate_limit_error"

    httpx.post(f"{emu.url}/_control/faults", json={"provider": "anthropic", "delay": 2, "count": 1})
    with pytest.raises(anthropic.APITimeoutError):
        score(client_for(emu, timeout=0.5))

    # The client's own retries honour Retry-After, then the answer comes.
    httpx.post(
        f"{emu.url}/_control/faults",
        json={"provider": "anthropic", "status": 529, "retry_after": 0.1, "count": 1},
    )
    assert score(client_for(emu, max_retries=1)).stop_reason == "tool_use"
    by_status = httpx.get(f"{emu.url}/_control/anthropic/stats").json()["calls"]["messages"]["by_status"]
    assert by_status["529"] == 2 and by_status["429"] == 1


def test_scripted_answers_survive_a_restart(tmp_path: Path) -> None:
    with start_in_thread(providers=["anthropic"], grpc_port=None, data_dir=tmp_path) as first:
        answer = {"pattern": "ping", "content": "pong"}
        httpx.post(f"{first.url}/_control/anthropic/answers", json=answer).raise_for_status()
    with start_in_thread(providers=["anthropic"], grpc_port=None, data_dir=tmp_path) as second:
        reply = client_for(second).messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "ping"}]
        )
        assert reply.content[0].text == "pong"
