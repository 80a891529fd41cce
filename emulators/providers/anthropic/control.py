"""Anthropic control endpoints, mounted under ``/_control/anthropic``: scripted answers (per
prompt pattern), API keys, call counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.control import control_endpoint, read_model
from emulators.llm import ScriptedAnswer

if TYPE_CHECKING:
    from emulators.providers.anthropic import AnthropicProvider


class KeyIn(BaseModel):
    key: str = Field(min_length=1)


def control_routes(provider: AnthropicProvider) -> list[Route]:
    async def add_answer(request: Request) -> Response:
        answer = provider.answers.add(await read_model(request, ScriptedAnswer))
        return JSONResponse(answer.model_dump(mode="json"), status_code=201)

    async def list_answers(request: Request) -> Response:
        return JSONResponse({"answers": [a.model_dump(mode="json") for a in provider.answers.answers]})

    async def clear_answers(request: Request) -> Response:
        provider.answers.clear()
        return JSONResponse({"deleted": "all"})

    async def add_key(request: Request) -> Response:
        provider.keys.keys.add((await read_model(request, KeyIn)).key)
        return JSONResponse({"keys": len(provider.keys.keys)}, status_code=201)

    async def stats(request: Request) -> Response:
        return JSONResponse({"calls": provider.calls.to_json()})

    return [
        Route("/answers", control_endpoint(add_answer), methods=["POST"]),
        Route("/answers", list_answers, methods=["GET"]),
        Route("/answers", clear_answers, methods=["DELETE"]),
        Route("/keys", control_endpoint(add_key), methods=["POST"]),
        Route("/stats", stats, methods=["GET"]),
    ]
