"""RFC 9457 problem+json for every error: a human reason, the field at fault, never a stack trace."""

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from core.logging import correlation_id, get_logger

log = get_logger(__name__)
MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    # Extension members (RFC 9457 §3.2), e.g. readiness lists its components.
    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None
    retryable: bool | None = Field(
        default=None, description="Set when known: whether sending the same request again may succeed"
    )
    correlation_id: str | None = None


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> JSONResponse:
    body = Problem(title=title, status=status, detail=detail, correlation_id=correlation_id.get(), **extra)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=MEDIA_TYPE)


class ProblemError(Exception):
    """Raised by routes and dependencies; rendered as problem+json with its own status."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        *,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers
        self.retryable = retryable


def _field(loc: tuple[Any, ...]) -> str:
    # ("body", "homeowner", "phone") → "homeowner.phone"; query/path/header keep their place.
    parts = [str(p) for p in loc]
    return ".".join(parts[1:] if parts and parts[0] == "body" else parts) or "body"


def responses(statuses: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses whose body is a Problem, one per status, with what it means there."""
    return {
        status: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": text}
        for status, text in statuses.items()
    }


# Documented on every route so the OpenAPI tells clients what an error looks like.
ERROR_RESPONSES = responses(
    {
        400: "The body could not be read (it is not UTF-8)",
        401: "Missing, unknown or revoked API key",
        403: "The key's role may not use this endpoint",
        404: "Not found (or not visible to this tenant)",
        413: "Request body too large",
        422: "Invalid input; `errors` names each field",
        500: "Unexpected error; quote `correlation_id` when reporting it",
    }
)
TEMPORAL_UNAVAILABLE = responses({503: "Temporal cannot be reached; `detail` says what did not happen"})


def _allowed_methods(request: Request) -> list[str]:
    # Asks the router itself which methods would be routed here (routers nest: no flat list).
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        response = problem(exc.status, exc.title, exc.detail, retryable=exc.retryable)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        for e in exc.errors():
            if e["type"] == "json_invalid":
                # FastAPI puts the character position where the field goes: it is no field.
                reason = f"{e.get('ctx', {}).get('error', 'invalid JSON')} at character {e['loc'][-1]}"
                return problem(
                    422,
                    "Invalid JSON",
                    f"The request body is not valid JSON: {reason}.",
                    errors=[FieldError(field="body", message=reason)],
                )
        errors = [FieldError(field=_field(tuple(e["loc"])), message=e["msg"]) for e in exc.errors()]
        names = ", ".join(dict.fromkeys(e.field for e in errors))
        return problem(422, "Invalid request", f"Invalid value for: {names}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        response = problem(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route on the path; each method is a route.
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if not exc.connection_invalidated:
            # Unexpected: api.middleware answers it with a 500 and logs it with the request's id.
            raise exc
        # Connections are not pinged before use (a round trip on every request): after a
        # database restart, the first statement on a pooled connection fails, the pool is
        # replaced, and the caller's retry finds fresh connections. Nothing was committed.
        log.warning("database connection lost", path=request.url.path, method=request.method)
        response = problem(
            503, "Database connection lost", "Nothing was changed; retry the request.", retryable=True
        )
        response.headers["Retry-After"] = "1"
        return response
