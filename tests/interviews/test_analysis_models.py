"""The analysis models through their official clients against the emulators: each answer is
parsed and checked into a scorecard whose every quote was said; invalid JSON, a schema violation
and an invented quote are refused, as are answers of a provider that is down, with whether to
try again and after how long."""

import json

import httpx
import pytest

from clients import llm
from clients.refusals import ProviderRefused
from core.settings import Settings
from domain.interviews.prompts import SYSTEM, render
from domain.interviews.scorecard import Refused, answer_schema, parse, scorecard
from tests.unit.test_scorecard import RUBRIC, WEIGHTS, _transcript

PROMPT = render(_transcript(), "Backend engineer", RUBRIC)
SCHEMA = answer_schema(RUBRIC)


async def _ask(provider: str, settings: Settings) -> str:
    return (await _answer(provider, settings)).text


async def _answer(provider: str, settings: Settings) -> llm.Answer:
    if provider == "openai":
        async with llm.openai_client(settings) as client:
            return await llm.ask_openai(client, settings.openai_analysis_model, SYSTEM, PROMPT, SCHEMA)
    async with llm.anthropic_client(settings) as other:
        return await llm.ask_anthropic(other, settings.anthropic_analysis_model, SYSTEM, PROMPT, SCHEMA)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_each_models_answer_becomes_a_scorecard_grounded_in_the_transcript(
    provider: str, settings: Settings, emulator: str
) -> None:
    card = scorecard(parse(await _ask(provider, settings)), _transcript(), RUBRIC)
    said = _transcript().text.casefold()
    quotes = [e.quote for r in card.ratings for e in r.evidence] + [
        e.quote for f in card.strengths + card.concerns for e in f.evidence
    ]
    assert quotes and all(q.casefold().rstrip(".?!") in said for q in quotes)
    assert {r.competency for r in card.ratings} == set(WEIGHTS) and 0 <= card.score <= 100


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_each_models_answer_comes_with_the_tokens_it_counted_and_its_time(
    provider: str, settings: Settings, emulator: str
) -> None:
    answer = await _answer(provider, settings)
    # The emulators count about four characters a token, as the providers' guides put it; the
    # answer's schema (a response format, a tool's input schema) is input the model reads too.
    read = len(PROMPT) + len(json.dumps(SCHEMA))
    assert answer.input_tokens is not None and answer.input_tokens >= read // 4
    assert answer.output_tokens is not None and answer.output_tokens >= len(answer.text) // 8
    assert answer.latency_ms >= 0


async def _script(emulator: str, provider: str, **answer: object) -> None:
    async with httpx.AsyncClient() as http:
        made = await http.post(f"{emulator}/_control/{provider}/answers", json={"count": 1, **answer})
        assert made.status_code in (200, 201), made.text


async def test_openai_answers_that_cannot_stand_are_refused_each_for_its_reason(
    settings: Settings, emulator: str
) -> None:
    good = parse(await _ask("openai", settings)).model_dump()
    invented = {**good, "concerns": [{"point": "Boastful", "quotes": ["I am the best engineer alive"]}]}
    for content, kind in (
        ("{not json", "invalid_json"),
        ({"ratings": {}}, "schema_violation"),
        (invented, "invented_quote"),
    ):
        await _script(emulator, "openai", content=content)
        with pytest.raises(Refused) as refused:
            scorecard(parse(await _ask("openai", settings)), _transcript(), RUBRIC)
        assert refused.value.kind == kind


async def test_a_provider_that_is_down_says_whether_and_when_to_try_again(
    settings: Settings, emulator: str
) -> None:
    async with httpx.AsyncClient() as http:
        faults = [
            {"provider": "openai", "path": "/chat/completions", "status": 429, "retry_after": 7, "count": 1},
            {"provider": "anthropic", "path": "/messages", "status": 529, "count": 1},
            {"provider": "openai", "path": "/chat/completions", "status": 400, "count": 1},
        ]
        for fault in faults:
            (await http.post(f"{emulator}/_control/faults", json=fault)).raise_for_status()
    with pytest.raises(ProviderRefused) as limited:
        await _ask("openai", settings)
    assert (limited.value.status, limited.value.retryable, limited.value.retry_after) == (429, True, 7.0)
    with pytest.raises(ProviderRefused) as overloaded:
        await _ask("anthropic", settings)
    assert (overloaded.value.status, overloaded.value.retryable) == (529, True)
    with pytest.raises(ProviderRefused) as bad:
        await _ask("openai", settings)
    assert (bad.value.status, bad.value.retryable) == (400, False)
