"""``POST /v1/messages``: the checks the real API makes (headers, required fields, tools) and the
answer: a scripted one, else a ``tool_use`` block whose input is valid for the tool's
``input_schema`` (the tool ``tool_choice`` names, else the first), else text quoting the prompt."""

from __future__ import annotations

import json
import os
import re
import secrets
from typing import Any

from starlette.requests import Request

from emulators.llm import AnswerScripts, SchemaInstance, estimate_tokens, quotable_sentences
from emulators.providers.anthropic.errors import AnthropicError, invalid

DEFAULT_KEY = "emulator-anthropic-key"
# The versions the API documents, and the one the pinned official client (anthropic 2.14) sends.
VERSIONS = ("2023-01-01", "2023-06-01", "2026-10-21")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")


class ApiKeys:
    """EMULATOR_ANTHROPIC_API_KEY (default ``emulator-anthropic-key``) and keys added by control,
    sent as ``x-api-key`` or (as anthropic 2.x sends an API key) ``Authorization: Bearer``."""

    def __init__(self) -> None:
        self._initial = {os.environ.get("EMULATOR_ANTHROPIC_API_KEY", DEFAULT_KEY)}
        self.keys = set(self._initial)

    def check(self, request: Request) -> None:
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        key = request.headers.get("x-api-key") or (bearer.strip() if scheme.lower() == "bearer" else "")
        if not key:
            raise AnthropicError(401, "x-api-key header is required")
        if key not in self.keys:
            raise AnthropicError(401, "invalid x-api-key")
        version = request.headers.get("anthropic-version")
        if not version:
            raise invalid("anthropic-version: header is required")
        if version not in VERSIONS:
            raise invalid(f'anthropic-version: "{version}" is not a valid version')

    def reset(self) -> None:
        self.keys = set(self._initial)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def _check(body: Any) -> None:
    if not isinstance(body, dict):
        raise invalid("Input should be an object")
    for field in ("model", "max_tokens", "messages"):
        if field not in body:
            raise invalid(f"{field}: Field required")
    if not str(body["model"]).startswith("claude-"):
        raise AnthropicError(404, f"model: {body['model']}")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        raise invalid("max_tokens: Input should be greater than or equal to 1")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise invalid("messages: at least one message is required")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or not TOOL_NAME.match(str(tool.get("name", ""))):
            raise invalid(f"tools.{i}.custom.name: String should match pattern '{TOOL_NAME.pattern}'")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise invalid(f"tools.{i}.custom.input_schema.type: Input should be 'object'")
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
            raise invalid(
                "tool_choice: Input tag does not match any of the expected tags: "
                "'auto', 'any', 'tool', 'none'"
            )
        if choice["type"] in ("any", "tool") and not body.get("tools"):
            raise invalid("tool_choice may only be specified while providing tools.")
        names = {t["name"] for t in body.get("tools") or []}
        if choice["type"] == "tool" and choice.get("name") not in names:
            raise invalid(f"Tool '{choice.get('name')}' not found in provided tools")


def _forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool the answer uses: the one tool_choice names, else the first; none for "none"."""
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {"type": "auto"}
    if not tools or choice["type"] == "none":
        return None
    if choice["type"] == "tool":
        return next(t for t in tools if t["name"] == choice["name"])
    return tools[0]


def _tool_use(tool: dict[str, Any], tool_input: Any) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": f"toolu_{secrets.token_hex(12)}",
        "name": tool["name"],
        "input": tool_input,
    }


def message(body: Any, scripts: AnswerScripts) -> dict[str, Any]:
    _check(body)
    system = _text(body.get("system"))
    texts = [_text(m.get("content")) for m in body["messages"]]
    prompt = "\n".join([system, *texts])
    user_text = "\n".join(t for m, t in zip(body["messages"], texts, strict=True) if m["role"] == "user")
    sentences = quotable_sentences(user_text)
    tool = _forced_tool(body)
    scripted = scripts.pick(prompt)
    content: list[dict[str, Any]]
    if scripted is not None:
        if scripted.tool_input is not None and tool is not None:
            content = [_tool_use(tool, scripted.tool_input)]
        elif isinstance(scripted.content, list):
            content = scripted.content
        else:
            content = [{"type": "text", "text": str(scripted.content or "")}]
    elif tool is not None:
        content = [_tool_use(tool, SchemaInstance(tool["input_schema"], sentences).build())]
    else:
        content = [{"type": "text", "text": sentences[0] if sentences else "Understood."}]
    uses_tool = any(block.get("type") == "tool_use" for block in content)
    stop = (scripted.stop if scripted is not None else None) or ("tool_use" if uses_tool else "end_turn")
    output = "".join(str(block.get("text") or block.get("input") or "") for block in content)
    return {
        "id": f"msg_{secrets.token_hex(12)}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            # Tool definitions (names, descriptions, schemas) are input tokens too.
            "input_tokens": estimate_tokens(prompt + json.dumps(body.get("tools") or [])),
            "output_tokens": estimate_tokens(output),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        },
    }
