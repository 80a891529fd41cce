"""The executor's client for tempoline's API: the five executor endpoints of /api/platform.

Executors reach the API over HTTP and never PostgreSQL. Every failure becomes an `ApiError`
subclass that names what the API said (problem+json `title` and `detail`), so callers decide by
type: the run activity turns `AttemptFenced` into AttemptSuperseded and lets Temporal handle the
rest; the executor process treats `BootstrapRefused` as fatal.

No retry loop here. A call that fails raises; inside the run activity that fails the activity
(Temporal, and the job workflow's attempts, take it from there). `connect_retries` is httpx's
own retry of a connection that could not be made, with exponential backoff from 0.5 s: nothing
was sent, so it is safe even for the one-time registration. cli/executor.py says how many each
client gets and why.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PREFIX = "/api/platform"
# The contract's ceiling for one log batch's data.
MAX_BATCH_BYTES = 1024 * 1024


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Registration(_Model):
    bootstrap_token: str
    worker_type: str
    capabilities: list[str]
    slots: int
    cpu_millis: int
    memory_mb: int
    hostname: str


class Registered(_Model):
    worker_id: UUID
    api_key: str = Field(repr=False)
    task_queue: str
    heartbeat_interval_seconds: float


class HeartbeatAnswer(_Model):
    status: Literal["available", "busy", "draining", "offline"]
    drain: bool


class AttemptSpec(_Model):
    command: list[str] | None
    script: str | None
    env: dict[str, str] = Field(repr=False)  # secret values in plaintext
    run_timeout_seconds: float
    grace_seconds: float
    cpu_millis: int
    memory_mb: int


class LogChunk(_Model):
    seq: int
    stream: Literal["stdout", "stderr"]
    data: str
    at: datetime


class _LogBatch(_Model):
    chunks: Sequence[LogChunk]


# -- errors ---------------------------------------------------------------------------------------


class ApiError(Exception):
    """The API refused a call, or could not be reached (`status` None)."""

    def __init__(self, where: str, status: int | None, title: str, detail: str | None = None) -> None:
        self.where, self.status, self.title, self.detail = where, status, title, detail
        said = f"{title}: {detail}" if detail else title
        super().__init__(f"{where} answered {status}: {said}" if status else f"{where} failed: {said}")


class BootstrapRefused(ApiError):
    """Registration refused: the token is unknown, revoked, expired or already used (401/410/422)."""


class Unauthorized(ApiError):
    """The worker's key was refused (401, 403): revoked, or another worker's."""


class NotFound(ApiError):
    """404: the API does not know this worker or attempt."""


class AttemptFenced(ApiError):
    """409: this worker no longer holds the attempt (another attempt took over, or the job ended)."""


class ApiUnavailable(ApiError):
    """The API could not be reached, or answered 5xx or something unexpected."""


def problem_reason(response: httpx.Response) -> tuple[str, str | None]:
    """The title and detail of a problem+json answer, each field error appended to the detail."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("title"), str):
        detail = body.get("detail")
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            fields = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, dict))
            detail = f"{detail}; {fields}" if detail else fields
        return body["title"], detail if isinstance(detail, str) else None
    return response.reason_phrase or "no reason given", None


def _error(response: httpx.Response, *, registering: bool = False) -> ApiError:
    status = response.status_code
    where = f"POST {response.request.url.path}" if registering else _where(response)
    title, detail = problem_reason(response)
    if registering and status in (401, 410, 422):
        kind: type[ApiError] = BootstrapRefused
    elif status in (401, 403):
        kind = Unauthorized
    elif status == 404:
        kind = NotFound
    elif status == 409:
        kind = AttemptFenced
    else:
        kind = ApiUnavailable
    return kind(where, status, title, detail)


def _where(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url.path}"


# -- the interface the run activity needs ---------------------------------------------------------


class AttemptApi(Protocol):
    """What the run activity asks of the API; `TempolineApi` over HTTP, anything else in tests."""

    async def attempt_spec(self, job_id: UUID, attempt: int) -> AttemptSpec:
        """The attempt's command, env and limits. NotFound, AttemptFenced."""
        ...

    async def attempt_started(self, job_id: UUID, attempt: int, pid: int) -> None:
        """Records the job RUNNING (idempotent). AttemptFenced."""
        ...

    async def ship_logs(self, job_id: UUID, attempt: int, chunks: Sequence[LogChunk]) -> None:
        """Stores a batch of output chunks (idempotent by seq). AttemptFenced."""
        ...


class TempolineApi:
    """The executor endpoints over HTTP. `api_key` is the worker's key (after registration)."""

    def __init__(self, http: httpx.AsyncClient, api_key: str | None = None) -> None:
        self._http = http
        self._api_key = api_key

    @staticmethod
    def http_client(base_url: str, *, connect_retries: int = 0, timeout: float = 30.0) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(retries=connect_retries)
        return httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=5.0),
        )

    def _headers(self) -> dict[str, str]:
        if self._api_key is None:
            raise RuntimeError("the executor has no API key: register first")
        return {"Authorization": f"Bearer {self._api_key}"}

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        auth: bool = True,
        registering: bool = False,
    ) -> httpx.Response:
        headers = self._headers() if auth else {}
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = await self._http.request(
                method, PREFIX + path, json=json, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            detail = str(exc) or None
            raise ApiUnavailable(f"{method} {PREFIX}{path}", None, type(exc).__name__, detail) from exc
        if response.is_error:
            raise _error(response, registering=registering)
        return response

    @staticmethod
    def _parse(model: type[BaseModel], response: httpx.Response) -> Any:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise ApiUnavailable(
                _where(response), response.status_code, "unexpected response body", str(exc)
            ) from exc

    async def register(self, registration: Registration) -> Registered:
        """Consumes the bootstrap token; the returned key authenticates every later call."""
        response = await self._send(
            "POST", "/workers/register", json=registration.model_dump(), auth=False, registering=True
        )
        registered: Registered = self._parse(Registered, response)
        self._api_key = registered.api_key
        return registered

    async def heartbeat(self, worker_id: UUID, *, running: int, draining: bool) -> HeartbeatAnswer:
        response = await self._send(
            "POST", f"/workers/{worker_id}/heartbeat", json={"running": running, "draining": draining}
        )
        answer: HeartbeatAnswer = self._parse(HeartbeatAnswer, response)
        return answer

    async def deregister(self, worker_id: UUID) -> None:
        await self._send("POST", f"/workers/{worker_id}/deregister")

    async def attempt_spec(self, job_id: UUID, attempt: int) -> AttemptSpec:
        response = await self._send("GET", f"/executor/attempts/{job_id}/{attempt}")
        spec: AttemptSpec = self._parse(AttemptSpec, response)
        return spec

    async def attempt_started(self, job_id: UUID, attempt: int, pid: int) -> None:
        await self._send("POST", f"/executor/attempts/{job_id}/{attempt}/started", json={"pid": pid})

    async def ship_logs(self, job_id: UUID, attempt: int, chunks: Sequence[LogChunk]) -> None:
        body = _LogBatch(chunks=chunks).model_dump_json().encode()
        await self._send("POST", f"/executor/attempts/{job_id}/{attempt}/logs", content=body)
