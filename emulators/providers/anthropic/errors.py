"""Anthropic's error format: ``{"type": "error", "error": {"type", "message"}, "request_id"}``,
with a ``request-id`` header."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import JSONResponse

# status -> (error type, message) for the errors the API documents.
ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}


def request_id() -> str:
    return f"req_{secrets.token_hex(12)}"


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    kind, default = ERRORS.get(status, ("api_error", "Internal server error"))
    return {
        "type": "error",
        "error": {"type": kind, "message": message or default},
        "request_id": request_id(),
    }


class AnthropicError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> JSONResponse:
        body = error_body(self.status, self.message)
        return JSONResponse(body, status_code=self.status, headers={"request-id": body["request_id"]})


def invalid(message: str) -> AnthropicError:
    return AnthropicError(400, message)
