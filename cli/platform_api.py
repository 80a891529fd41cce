"""A person's client for /api/platform, what the `tempoline job|worker|token|schedule` commands
send: jobs (create, list, get, cancel, retry, logs paged or followed), the tenant's job events,
workers, bootstrap tokens and cron schedules. Answers are parsed with the API's own response
models; request bodies go as given, so the API alone judges them (its 422 names the field and
the reason).

Every failure is an `ApiError`: `status` is the HTTP status with the problem+json title and
detail, or None when the API could not be reached (`where` then names the URL tried).
"""

import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from api.paging import Page
from api.routers.platform.jobs import JobOut, JobSummary, LogPage, StatusOut
from api.routers.platform.schedules import ScheduleOut, ScheduleSummary
from api.routers.platform.tokens import TokenCreated, TokenOut
from api.routers.platform.workers import WorkerOut
from clients import sse
from clients.tempoline_api import ApiError, problem_reason

PREFIX = "/api/platform"
M = TypeVar("M", bound=BaseModel)


class PlatformApi:
    def __init__(self, http: httpx.AsyncClient, api_key: str) -> None:
        self._http = http
        self._auth = {"Authorization": f"Bearer {api_key}"}

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    def _unreachable(self, method: str, path: str, exc: httpx.TransportError) -> ApiError:
        url = f"{str(self._http.base_url).rstrip('/')}{PREFIX}{path}"
        return ApiError(f"{method} {url}", None, "could not reach the API", str(exc) or type(exc).__name__)

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.is_error:
            title, detail = problem_reason(response)
            where = f"{response.request.method} {response.request.url.path}"
            raise ApiError(where, response.status_code, title, detail)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = await self._http.request(
                method, PREFIX + path, params=query, json=json, headers={**self._auth, **(headers or {})}
            )
        except httpx.TransportError as exc:
            raise self._unreachable(method, path, exc) from exc
        self._check(response)
        return response

    async def _call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> M:
        response = await self._send(method, path, params=params, json=json, headers=headers)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            where = f"{method} {PREFIX}{path}"
            raise ApiError(where, response.status_code, "unexpected response body", str(exc)) from exc

    async def _follow(
        self, path: str, params: dict[str, str] | None, after: str | None
    ) -> AsyncIterator[sse.Message]:
        try:
            async for message in sse.follow(
                self._http,
                PREFIX + path,
                params=params,
                headers=self._auth,
                last_event_id=after,
                check=self._check,
            ):
                yield message
        except httpx.TransportError as exc:  # the (re)connection itself failed
            raise self._unreachable("GET", path, exc) from exc

    # -- jobs -------------------------------------------------------------------------------------

    async def create_job(self, body: dict[str, Any], idempotency_key: str | None = None) -> JobOut:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return await self._call("POST", "/jobs", JobOut, json=body, headers=headers)

    async def list_jobs(self, **filters: Any) -> Page[JobSummary]:
        return await self._call("GET", "/jobs", Page[JobSummary], params=filters)

    async def get_job(self, job_id: uuid.UUID) -> JobOut:
        return await self._call("GET", f"/jobs/{job_id}", JobOut)

    async def cancel_job(self, job_id: uuid.UUID) -> StatusOut:
        return await self._call("POST", f"/jobs/{job_id}/cancel", StatusOut)

    async def retry_job(self, job_id: uuid.UUID) -> StatusOut:
        return await self._call("POST", f"/jobs/{job_id}/retry", StatusOut)

    async def log_page(
        self, job_id: uuid.UUID, *, cursor: str | None = None, attempt: int | None = None, limit: int = 1000
    ) -> LogPage:
        params = {"cursor": cursor, "attempt": attempt, "limit": limit}
        return await self._call("GET", f"/jobs/{job_id}/logs", LogPage, params=params)

    def follow_logs(self, job_id: uuid.UUID, after: str | None = None) -> AsyncIterator[sse.Message]:
        """The job's output chunks (event stdout|stderr, id `attempt.seq`) after `after`, live,
        until the job has ended."""
        return self._follow(f"/jobs/{job_id}/logs", {"follow": "true"}, after)

    def events(self, after: str | None = None) -> AsyncIterator[sse.Message]:
        """The tenant's job lifecycle events (id: the audit row's id) after `after`; endless."""
        return self._follow("/events", None, after)

    # -- workers and tokens -----------------------------------------------------------------------

    async def list_workers(self, *, limit: int | None = None, cursor: str | None = None) -> Page[WorkerOut]:
        return await self._call("GET", "/workers", Page[WorkerOut], params={"limit": limit, "cursor": cursor})

    async def create_token(self, *, ttl_seconds: int | None = None, name: str | None = None) -> TokenCreated:
        body = {k: v for k, v in {"ttl_seconds": ttl_seconds, "name": name}.items() if v is not None}
        return await self._call("POST", "/tokens", TokenCreated, json=body)

    async def list_tokens(self, *, limit: int | None = None, cursor: str | None = None) -> Page[TokenOut]:
        return await self._call("GET", "/tokens", Page[TokenOut], params={"limit": limit, "cursor": cursor})

    async def revoke_token(self, token_id: uuid.UUID) -> TokenOut:
        return await self._call("POST", f"/tokens/{token_id}/revoke", TokenOut)

    # -- cron schedules ---------------------------------------------------------------------------

    async def create_schedule(self, body: dict[str, Any], idempotency_key: str | None = None) -> ScheduleOut:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return await self._call("POST", "/schedules", ScheduleOut, json=body, headers=headers)

    async def list_schedules(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[ScheduleSummary]:
        params = {"limit": limit, "cursor": cursor}
        return await self._call("GET", "/schedules", Page[ScheduleSummary], params=params)

    async def get_schedule(self, schedule_id: uuid.UUID) -> ScheduleOut:
        return await self._call("GET", f"/schedules/{schedule_id}", ScheduleOut)

    async def act_on_schedule(
        self,
        schedule_id: uuid.UUID,
        action: Literal["pause", "resume", "trigger", "backfill"],
        body: dict[str, Any] | None = None,
    ) -> ScheduleOut:
        """pause, resume, trigger or backfill (`body`: that action's request, if any)."""
        return await self._call("POST", f"/schedules/{schedule_id}/{action}", ScheduleOut, json=body)

    async def delete_schedule(self, schedule_id: uuid.UUID) -> None:
        await self._send("DELETE", f"/schedules/{schedule_id}")
