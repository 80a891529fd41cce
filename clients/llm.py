"""The analysis models through their official clients: OpenAI's chat completions with a strict
json_schema, Anthropic's messages with one tool whose input is the answer. Each call answers the
model's raw JSON text (domain.interviews.scorecard parses and checks it) or raises
ProviderRefused (clients/refusals.py) with what Temporal should do: the clients' own retries are
off (`max_retries=0`), so retrying, backing off (Retry-After honoured) and falling back are the
workflow's. With the text comes what the call cost: the tokens the provider counted (OpenAI's
`usage.prompt_tokens`/`completion_tokens`, Anthropic's `usage.input_tokens`/`output_tokens`) and
how long it took.
"""

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anthropic
import openai

from clients.refusals import ProviderRefused, refused_by_status
from core.settings import Settings

ANSWER_NAME = "scorecard"
# An analysis of an hour's transcript takes tens of seconds; a call that takes far longer is lost.
TIMEOUT_SECONDS = 180.0
MAX_TOKENS = 4096


@dataclass(frozen=True)
class Answer:
    text: str
    # None when the provider did not say (OpenAI's usage is optional).
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def openai_client(settings: Settings) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key,
        max_retries=0,
        timeout=TIMEOUT_SECONDS,
    )


def anthropic_client(settings: Settings) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=settings.anthropic_base_url,
        api_key=settings.anthropic_api_key,
        max_retries=0,
        timeout=TIMEOUT_SECONDS,
    )


# Earlier answers and what the model was told about each, (answer, reply) in order.
Exchange = Sequence[tuple[str, str]]


def _conversation(prompt: str, earlier: Exchange) -> list[Any]:
    """The prompt, then each earlier answer (as the assistant's text: for Anthropic, a tool_use
    block would need its tool_result first) and the reply to it."""
    turns: list[Any] = [{"role": "user", "content": prompt}]
    for answered, reply in earlier:
        turns += [{"role": "assistant", "content": answered}, {"role": "user", "content": reply}]
    return turns


async def ask_openai(
    client: openai.AsyncOpenAI,
    model: str,
    system: str,
    prompt: str,
    schema: dict[str, Any],
    earlier: Exchange = (),
) -> Answer:
    started = time.monotonic()
    turns = [{"role": "system", "content": system}, *_conversation(prompt, earlier)]
    try:
        answer = await client.chat.completions.create(
            model=model,
            messages=turns,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": ANSWER_NAME, "strict": True, "schema": schema},
            },
        )
    except openai.APIStatusError as exc:
        raise refused_by_status("openai", exc.status_code, str(exc.message), exc.response.headers) from None
    except (openai.APIConnectionError, openai.APITimeoutError) as exc:
        raise ProviderRefused("openai", None, type(exc).__name__, retryable=True) from None
    latency_ms = _since(started)
    choice = answer.choices[0]
    if choice.message.refusal:
        raise ProviderRefused("openai", None, f"refused: {choice.message.refusal[:200]}", retryable=False)
    usage = answer.usage
    return Answer(
        choice.message.content or "",
        usage.prompt_tokens if usage else None,
        usage.completion_tokens if usage else None,
        latency_ms,
    )


async def ask_anthropic(
    client: anthropic.AsyncAnthropic,
    model: str,
    system: str,
    prompt: str,
    schema: dict[str, Any],
    earlier: Exchange = (),
) -> Answer:
    started = time.monotonic()
    turns = _conversation(prompt, earlier)
    try:
        answer = await client.messages.create(
            model=model,
            max_tokens=MAX_TOKENS,
            system=system,
            messages=turns,
            tools=[{"name": ANSWER_NAME, "description": "The interview's scorecard", "input_schema": schema}],
            tool_choice={"type": "tool", "name": ANSWER_NAME},
        )
    except anthropic.APIStatusError as exc:
        raise refused_by_status(
            "anthropic", exc.status_code, str(exc.message), exc.response.headers
        ) from None
    except (anthropic.APIConnectionError, anthropic.APITimeoutError) as exc:
        raise ProviderRefused("anthropic", None, type(exc).__name__, retryable=True) from None
    latency_ms = _since(started)
    for block in answer.content:
        if block.type == "tool_use" and block.name == ANSWER_NAME:
            usage = answer.usage
            return Answer(json.dumps(block.input), usage.input_tokens, usage.output_tokens, latency_ms)
    raise ProviderRefused("anthropic", None, "answered without the scorecard tool", retryable=False)
