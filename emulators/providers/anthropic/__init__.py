"""Anthropic emulator: the Messages API with tools and the model list, as the official
``anthropic`` client calls them with ANTHROPIC_BASE_URL=<emulator>/anthropic. Control API under
``/_control/anthropic``; docs/emulators.md says which behaviours follow the real API and where
that knowledge came from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from emulators.control import CallCounts
from emulators.llm import AnswerScripts
from emulators.persistence import RecordFile
from emulators.providers.anthropic.control import control_routes
from emulators.providers.anthropic.errors import AnthropicError, error_body, invalid, request_id
from emulators.providers.anthropic.messages import ApiKeys, message
from emulators.providers.anthropic.models import model_page
from emulators.providers.base import Provider

DB_FILE = "anthropic.sqlite3"
# "Messages API: 32 MB"; a larger request is refused (by Cloudflare) before the API sees it.
MAX_REQUEST_BYTES = 32 * 1024 * 1024
OPERATIONS = {"/v1/messages": "messages", "/v1/models": "models.list"}


class AnthropicProvider(Provider):
    name = "anthropic"

    def __init__(self, data_dir: Path | None = None) -> None:
        self.db = RecordFile(data_dir / DB_FILE) if data_dir is not None else None
        self.answers = AnswerScripts(self.db)
        self.keys = ApiKeys()
        self.calls = CallCounts()
        not_found = JSONResponse(error_body(404, "Not found"), status_code=404)
        self.app = Router(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ],
            default=not_found,
        )
        self.control_routes = control_routes(self)

    async def _messages(self, request: Request) -> Response:
        raw = await request.body()
        try:
            if len(raw) > MAX_REQUEST_BYTES:
                raise AnthropicError(413, "Request exceeds the maximum allowed number of bytes.")
            self.keys.check(request)
            try:
                body = json.loads(raw)
            except ValueError:
                raise invalid("There was an error parsing the body of your request as JSON.") from None
            answer = message(body, self.answers)
        except AnthropicError as error:
            return error.response()
        return JSONResponse(answer, headers={"request-id": request_id()})

    async def _models(self, request: Request) -> Response:
        try:
            self.keys.check(request)
            page = model_page(dict(request.query_params))
        except AnthropicError as error:
            return error.response()
        return JSONResponse(page, headers={"request-id": request_id()})

    def observe(self, method: str, path: str, status: int | None) -> None:
        self.calls.add(OPERATIONS.get(path, "other"), status)

    def reset(self) -> None:
        self.answers.clear()
        if self.db is not None:
            self.db.clear()
        self.keys.reset()
        self.calls.clear()

    def error_body(self, status: int, message: str) -> Any:
        return error_body(status)


def create_provider(data_dir: Path | None = None) -> AnthropicProvider:
    return AnthropicProvider(data_dir)
