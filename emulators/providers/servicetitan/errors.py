"""ServiceTitan-style error bodies (ASP.NET Core ProblemDetails, as the real API answers)."""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

_TYPES = {
    400: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    401: "https://tools.ietf.org/html/rfc7235#section-3.1",
    403: "https://tools.ietf.org/html/rfc7231#section-6.5.3",
    404: "https://tools.ietf.org/html/rfc7231#section-6.5.4",
    409: "https://tools.ietf.org/html/rfc7231#section-6.5.8",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://tools.ietf.org/html/rfc7231#section-6.6.1",
    503: "https://tools.ietf.org/html/rfc7231#section-6.6.4",
}


def problem_body(
    status: int, title: str | None = None, errors: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body: dict[str, Any] = {
        "type": _TYPES.get(status, "about:blank"),
        "title": title or phrase,
        "status": status,
        "traceId": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00",
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem(
    status: int,
    title: str | None = None,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(problem_body(status, title, errors), status_code=status, headers=headers)


def validation_error(errors: dict[str, list[str]]) -> JSONResponse:
    return problem(400, "One or more validation errors occurred.", errors)
