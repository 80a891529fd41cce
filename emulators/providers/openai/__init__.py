"""OpenAI emulator: chat completions (strict ``json_schema`` structured outputs included),
audio transcriptions and the model list, as the official ``openai`` client calls them with
OPENAI_BASE_URL=<emulator>/openai/v1. Control API under ``/_control/openai``;
docs/emulators.md says which behaviours follow the real API and where that knowledge came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse
from starlette.routing import Router

from emulators.control import CallCounts
from emulators.llm import AnswerScripts
from emulators.persistence import RecordFile
from emulators.providers.base import Provider
from emulators.providers.openai.api import routes
from emulators.providers.openai.auth import ApiKeys
from emulators.providers.openai.control import control_routes
from emulators.providers.openai.errors import FAULTS, error_body
from emulators.transcripts import Transcript

DB_FILE = "openai.sqlite3"
OPERATIONS = {
    "/v1/chat/completions": "chat.completions",
    "/v1/audio/transcriptions": "audio.transcriptions",
    "/v1/models": "models.list",
}


class OpenAIProvider(Provider):
    name = "openai"

    def __init__(self, data_dir: Path | None = None) -> None:
        self.db = RecordFile(data_dir / DB_FILE) if data_dir is not None else None
        self.answers = AnswerScripts(self.db)
        self.transcripts: dict[str, Transcript] = {}
        if self.db is not None:
            self.transcripts = {k: Transcript.model_validate(v) for k, v in self.db.records("transcript")}
        self.keys = ApiKeys()
        self.calls = CallCounts()
        not_found = JSONResponse(error_body("Invalid URL", "invalid_request_error"), status_code=404)
        self.app = Router(routes=routes(self), default=not_found)
        self.control_routes = control_routes(self)

    def script_transcript(self, sha256: str, transcript: Transcript) -> None:
        self.transcripts[sha256] = transcript
        if self.db is not None:
            self.db.put("transcript", sha256, transcript.model_dump(mode="json"))

    def observe(self, method: str, path: str, status: int | None) -> None:
        self.calls.add(OPERATIONS.get(path, "other"), status)

    def reset(self) -> None:
        self.answers.clear()
        self.transcripts.clear()
        if self.db is not None:
            self.db.clear()
        self.keys.reset()
        self.calls.clear()

    def error_body(self, status: int, message: str) -> Any:
        text, type_, code = FAULTS.get(
            status, (message, "server_error" if status >= 500 else "invalid_request_error", None)
        )
        return error_body(text, type_, None, code)


def create_provider(data_dir: Path | None = None) -> OpenAIProvider:
    return OpenAIProvider(data_dir)
