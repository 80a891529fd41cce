"""``POST /v1/chat/completions``: request checks (including the strict ``json_schema`` rules the
real API enforces) and the completion, scripted or built from the schema."""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

from emulators.llm import AnswerScripts, SchemaInstance, estimate_tokens, quotable_sentences
from emulators.providers.openai.errors import OpenAIError, missing

SCHEMA_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# What the default answer to a `json_object` request looks like.
JSON_OBJECT: dict[str, Any] = {"type": "object", "properties": {"answer": {"type": "string"}}}
ROLES = {"system", "developer", "user", "assistant", "tool", "function"}


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def strict_schema_problem(schema: Any, context: tuple[str, ...] = ()) -> str | None:
    """The first rule of strict structured outputs the schema breaks: every object lists all its
    properties in ``required`` and sets ``additionalProperties: false``."""
    if not isinstance(schema, dict):
        return None
    is_object = schema.get("type") == "object" or (
        isinstance(schema.get("type"), list) and "object" in schema["type"]
    )
    if is_object or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return (
                f"In context={context!r}, 'additionalProperties' is required to be supplied and to be false."
            )
        required = schema.get("required") or []
        for key in schema.get("properties", {}):
            if key not in required:
                return (
                    f"In context={context!r}, 'required' is required to be supplied and to be an array "
                    f"including every key in properties. Missing '{key}'."
                )
    children: list[tuple[tuple[str, ...], Any]] = []
    for key, value in schema.get("properties", {}).items():
        children.append(((*context, "properties", key), value))
    for defs in ("$defs", "definitions"):
        for key, value in schema.get(defs, {}).items():
            children.append(((*context, defs, key), value))
    if isinstance(schema.get("items"), dict):
        children.append(((*context, "items"), schema["items"]))
    for combinator in ("anyOf", "allOf", "oneOf"):
        for i, value in enumerate(schema.get(combinator, [])):
            children.append(((*context, combinator, str(i)), value))
    for child_context, child in children:
        problem = strict_schema_problem(child, child_context)
        if problem:
            return problem
    return None


def _response_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The json_schema asked for (checked), ``JSON_OBJECT`` for json_object, None for text."""
    response_format = body.get("response_format")
    if response_format is None:
        return None
    if not isinstance(response_format, dict) or response_format.get("type") not in (
        "text",
        "json_object",
        "json_schema",
    ):
        raise OpenAIError(
            400,
            "Invalid value for 'response_format.type'.",
            param="response_format.type",
            code="invalid_value",
        )
    if response_format["type"] == "json_object":
        prompt = "\n".join(_text(m.get("content")) for m in body["messages"] if isinstance(m, dict))
        if "json" not in prompt.lower():
            raise OpenAIError(
                400,
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                "'json_object'.",
                param="messages",
            )
        return JSON_OBJECT
    if response_format["type"] != "json_schema":
        return None
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict) or "name" not in spec:
        raise missing("response_format.json_schema.name")
    name = spec["name"]
    if not isinstance(name, str) or not SCHEMA_NAME.match(name):
        raise OpenAIError(
            400,
            f"Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string "
            f"that matches the pattern '{SCHEMA_NAME.pattern}'.",
            param="response_format.json_schema.name",
            code="invalid_value",
        )
    schema = spec.get("schema") or {}
    if spec.get("strict"):
        problem = strict_schema_problem(schema)
        if problem:
            raise OpenAIError(
                400,
                f"Invalid schema for response_format '{name}': {problem}",
                param="response_format",
                code="invalid_json_schema",
            )
    return schema


def completion(body: Any, scripts: AnswerScripts) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise OpenAIError(400, "Invalid type for request body: expected an object.", code="invalid_type")
    if not body.get("model"):
        raise missing("model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise missing("messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise OpenAIError(
                400,
                f"Invalid value for 'messages[{i}].role'.",
                param=f"messages[{i}].role",
                code="invalid_value",
            )
    if body.get("stream"):
        raise OpenAIError(400, "The emulator does not stream: send stream=false.", param="stream")
    schema = _response_schema(body)
    prompt = "\n".join(_text(m.get("content")) for m in messages)
    user_text = "\n".join(_text(m.get("content")) for m in messages if m.get("role") == "user")
    scripted = scripts.pick(prompt)
    refusal = None
    finish_reason = "stop"
    if scripted is not None:
        content = scripted.content if isinstance(scripted.content, str) else json.dumps(scripted.content)
        refusal = scripted.refusal
        content = None if refusal is not None and scripted.content is None else content
        finish_reason = scripted.stop or finish_reason
    elif schema is not None:
        content = json.dumps(SchemaInstance(schema, quotable_sentences(user_text)).build())
    else:
        sentences = quotable_sentences(user_text)
        content = sentences[0] if sentences else "Understood."
    n = body.get("n") or 1
    # The structured output's schema is input the model reads, counted as the messages are.
    prompt_tokens = estimate_tokens(prompt + (json.dumps(schema) if schema is not None else ""))
    completion_tokens = estimate_tokens(content or refusal or "") * n
    message = {"role": "assistant", "content": content, "refusal": refusal, "annotations": []}
    return {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {"index": i, "message": message, "logprobs": None, "finish_reason": finish_reason}
            for i in range(n)
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_emulator",
    }
